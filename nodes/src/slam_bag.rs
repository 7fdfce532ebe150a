//! Frames for `cairn slam` from a rosbag2 bag: colour and depth image
//! topics paired by stamp, the calibration from the camera_info topic (or
//! `--calib`), and the ground truth from a `/tf` edge when the bag has one.
//!
//! Two passes over the bag: the first reads stamps, the calibration and the
//! ground truth and pairs each colour image with the nearest depth image
//! (within [`MAX_DIFFERENCE`](cairn_core::tum::MAX_DIFFERENCE), as for TUM folders); the second streams the
//! images and hands out the pairs in order, holding an image only until its
//! partner arrives.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use cairn_bags::cdr;
use cairn_bags::dataset::tum_topics;
use cairn_bags::msg::sensor_msgs::{CameraInfo, Image};
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::storage::Bag;
use cairn_core::tum::nearest;
use cairn_core::{Calibration, DepthImage, RgbImage, Trajectory};

pub use cairn_bags::storage::is_bag;

/// The topics `cairn slam` reads from a bag (default: TUM's own bags').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlamTopics {
    /// Colour images (`sensor_msgs/Image`, rgb8/bgr8/mono8).
    pub rgb: String,
    /// Depth images (32FC1 metres, or 16UC1 millimetres per REP-118).
    pub depth: String,
    /// The colour camera's `sensor_msgs/CameraInfo`.
    pub camera_info: String,
}

impl Default for SlamTopics {
    fn default() -> Self {
        SlamTopics {
            rgb: tum_topics::RGB.into(),
            depth: tum_topics::DEPTH.into(),
            camera_info: tum_topics::CAMERA_INFO.into(),
        }
    }
}

/// A bag opened for SLAM: what the first pass found.
pub struct BagFrames {
    bag: Bag,
    topics: SlamTopics,
    /// The camera calibration.
    pub calibration: Calibration,
    /// `world → kinect` from `/tf`, when present.
    pub groundtruth: Option<Trajectory>,
    /// `(colour message ordinal, depth message ordinal, colour stamp)`, in
    /// colour order.
    pairs: Vec<(usize, usize, f64)>,
}

impl BagFrames {
    /// First pass: stamps, calibration (`calib` overrides the bag's
    /// camera_info) and ground truth.
    pub fn open(path: &Path, calib: Option<&Path>, topics: &SlamTopics) -> Result<Self> {
        let bag = Bag::open(path)?;
        for topic in [&topics.rgb, &topics.depth] {
            if bag.connection_index(topic).is_none() {
                let available: Vec<&str> = bag.connections.iter().map(|c| c.topic.as_str()).collect();
                bail!(
                    "no topic {topic} in {} (it has: {}); choose others with --rgb-topic / --depth-topic",
                    path.display(),
                    available.join(", ")
                );
            }
        }
        let mut calibration = calib.map(Calibration::from_yaml_file).transpose()?;
        let (mut rgb, mut depth, mut poses) = (Vec::new(), Vec::new(), Vec::new());
        let wanted = [topics.rgb.as_str(), topics.depth.as_str(), topics.camera_info.as_str(), tum_topics::TF];
        for message in bag.messages(&wanted)? {
            let message = message?;
            let topic = bag.connections[message.connection].topic.as_str();
            if topic == topics.rgb || topic == topics.depth {
                let image: Image = cdr::decode(&message.data)?;
                let list = if topic == topics.rgb { &mut rgb } else { &mut depth };
                list.push(image.header.stamp.as_secs_f64());
            } else if topic == topics.camera_info {
                if calibration.is_none() {
                    calibration = Some(cdr::decode::<CameraInfo>(&message.data)?.to_calibration()?);
                }
            } else {
                let tf: TFMessage = cdr::decode(&message.data)?;
                poses.extend(tf.edge_poses(tum_topics::WORLD_FRAME, tum_topics::CAMERA_FRAME)?);
            }
        }
        let calibration = calibration
            .ok_or_else(|| anyhow!("no {} in {}; pass --calib or --info-topic", topics.camera_info, path.display()))?;
        let groundtruth = (!poses.is_empty())
            .then(|| {
                poses.sort_by(|a, b| a.0.total_cmp(&b.0));
                let (stamps, world_from_kinect) = poses.into_iter().unzip();
                Trajectory::with_stamps("/tf world → kinect", stamps, world_from_kinect)
            })
            .transpose()?;
        Ok(BagFrames { bag, topics: topics.clone(), calibration, groundtruth, pairs: pair_by_stamp(&rgb, &depth) })
    }

    /// Colour frames that have a depth partner.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True when no colour frame has a depth partner.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Second pass: calls `frame(stamp, rgb, depth)` for the first `limit`
    /// pairs, in colour order, stopping at the first error.
    pub fn for_each(&self, limit: usize, mut frame: impl FnMut(f64, RgbImage, DepthImage) -> Result<()>) -> Result<()> {
        let pairs = &self.pairs[..limit.min(self.pairs.len())];
        // How many pairs still need each depth image.
        let mut uses: HashMap<usize, usize> = HashMap::new();
        for &(_, d, _) in pairs {
            *uses.entry(d).or_default() += 1;
        }
        let wanted_rgb: HashMap<usize, usize> = pairs.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
        let (mut rgb_held, mut depth_held) = (HashMap::new(), HashMap::new());
        let (mut rgb_seen, mut depth_seen, mut next) = (0, 0, 0);
        for message in self.bag.messages(&[self.topics.rgb.as_str(), self.topics.depth.as_str()])? {
            if next == pairs.len() {
                break;
            }
            let message = message?;
            let image: Image = cdr::decode(&message.data)?;
            if self.bag.connections[message.connection].topic == self.topics.rgb {
                if wanted_rgb.contains_key(&rgb_seen) {
                    rgb_held.insert(rgb_seen, image.to_rgb().with_context(|| format!("colour image {rgb_seen}"))?);
                }
                rgb_seen += 1;
            } else {
                if uses.contains_key(&depth_seen) {
                    depth_held
                        .insert(depth_seen, image.to_depth().with_context(|| format!("depth image {depth_seen}"))?);
                }
                depth_seen += 1;
            }
            // Hand out every pair whose two images are here, in order.
            while let Some(&(r, d, stamp)) = pairs.get(next) {
                if !(rgb_held.contains_key(&r) && depth_held.contains_key(&d)) {
                    break;
                }
                let rgb = rgb_held.remove(&r).ok_or_else(|| anyhow!("colour image {r} vanished"))?;
                let remaining = uses.get_mut(&d).map(|n| {
                    *n -= 1;
                    *n
                });
                let depth = match remaining {
                    Some(0) => depth_held.remove(&d),
                    _ => depth_held.get(&d).cloned(),
                }
                .ok_or_else(|| anyhow!("depth image {d} vanished"))?;
                frame(stamp, rgb, depth)?;
                next += 1;
            }
        }
        if next < pairs.len() {
            bail!("the bag ended after {next} of {} frames", pairs.len());
        }
        Ok(())
    }
}

/// Pairs each colour stamp with the nearest depth stamp within
/// [`MAX_DIFFERENCE`](cairn_core::tum::MAX_DIFFERENCE): `(colour ordinal, depth ordinal, colour stamp)`.
fn pair_by_stamp(rgb: &[f64], depth: &[f64]) -> Vec<(usize, usize, f64)> {
    let mut sorted: Vec<(f64, usize)> = depth.iter().copied().zip(0..).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let stamps: Vec<f64> = sorted.iter().map(|d| d.0).collect();
    let mut pairs: Vec<(usize, usize, f64)> = rgb
        .iter()
        .enumerate()
        .filter_map(|(r, &stamp)| nearest(&stamps, stamp).map(|k| (r, sorted[k].1, stamp)))
        .collect();
    pairs.sort_by(|a, b| a.2.total_cmp(&b.2));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_nearest_depth_within_the_limit() {
        let rgb = [0.0, 0.033, 0.066, 0.2];
        let depth = [0.034, 0.001, 0.07];
        let pairs = pair_by_stamp(&rgb, &depth);
        assert_eq!(pairs.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), [(0, 1), (1, 0), (2, 2)]);
    }
}
