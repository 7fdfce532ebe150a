//! The detection node's core, free of any transport: messages in
//! ([`DetectInput`]), [`DetectOutputs`] out — `cairn node detect` feeds it
//! from DDS.
//!
//! Per message: CameraInfo → the camera's intrinsics (the first valid one
//! stays); /tf_static → the rig (ego ← LiDAR, ego ← cameras); /tf → map ←
//! ego; images and sweeps, decoded and checked, → [`SensorSync`]. Per
//! synchronised set ([`DetectPipeline::process`]): an in-memory
//! [`SampleInfo`] + [`SensorData`] (the rig as a sample set holds it) →
//! `cmt::batch::inputs_from_data` (the tensors `cairn detect` builds from
//! files) → the network → boxes in the output frame. A bad message is
//! dropped and its cause logged once ([`Problems`]); nothing here panics.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use cairn_bags::cdr;
use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::sensor_msgs::{CameraInfo, Image, PointCloud2};
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::vision_msgs::Detection3DArray;
use cairn_bags::msg::visualization_msgs::MarkerArray;
use cairn_bags::storage::Bag;
use cairn_core::PointCloud;
use cairn_core::samples::{CameraSample, LidarSample, SampleInfo, SampleSet, rows_from_rigid};
use cairn_core::transform::Rigid3;
use cairn_perception::cmt::Cmt;
use cairn_perception::cmt::batch::{Modality, SensorData, inputs_from_data};
use cairn_perception::detection::LidarBox;

use super::detect_params::{DetectParams, NODE_NAME};
use super::detect_sync::{SensorSync, SyncedSet};
use super::detections::{box_markers, detection_array};
use super::pipeline::Problems;

/// A message for the detector, already decoded from CDR.
#[derive(Debug, Clone)]
pub enum DetectInput {
    /// An image of camera `.0` (index into `cameras`).
    Image(usize, Image),
    /// The CameraInfo of camera `.0`.
    CameraInfo(usize, Box<CameraInfo>),
    /// A LiDAR sweep.
    Points(PointCloud2),
    /// On /tf.
    Tf(TFMessage),
    /// On /tf_static.
    TfStatic(TFMessage),
}

/// Feeds the detector's messages of a bag (the topics `params` names), in
/// bag order, to `take` with each message's log time (seconds); other
/// topics are skipped. A message that cannot be read or decoded is an
/// error naming its topic.
pub fn for_each_bag_input(
    bag: &Bag,
    params: &DetectParams,
    mut take: impl FnMut(DetectInput, f64) -> Result<()>,
) -> Result<()> {
    let camera = |pattern: &str, topic: &str| {
        params.cameras.iter().position(|c| DetectParams::camera_topic(pattern, c) == topic)
    };
    for message in bag.messages(&[])? {
        let message = message?;
        let topic = bag.connections.get(message.connection).map_or("?", |c| c.topic.as_str());
        let decoded = |what: &str| format!("decoding {what} on {topic}");
        let input = if topic == params.topics.tf_static {
            DetectInput::TfStatic(cdr::decode(&message.data).with_context(|| decoded("TFMessage"))?)
        } else if topic == params.topics.tf {
            DetectInput::Tf(cdr::decode(&message.data).with_context(|| decoded("TFMessage"))?)
        } else if topic == params.topics.points {
            DetectInput::Points(cdr::decode(&message.data).with_context(|| decoded("PointCloud2"))?)
        } else if let Some(k) = camera(&params.topics.image, topic) {
            DetectInput::Image(k, cdr::decode(&message.data).with_context(|| decoded("Image"))?)
        } else if let Some(k) = camera(&params.topics.camera_info, topic) {
            DetectInput::CameraInfo(k, Box::new(cdr::decode(&message.data).with_context(|| decoded("CameraInfo"))?))
        } else {
            continue;
        };
        take(input, message.log_time as f64 * 1e-9)?;
    }
    Ok(())
}

/// What the node publishes per processed set.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectOutputs {
    /// The boxes.
    pub detections: Detection3DArray,
    /// One cube per box.
    pub markers: MarkerArray,
}

/// A set ready for the network.
pub type Set = SyncedSet<PointCloud, image::RgbImage>;

/// The detector's state (see the module docs).
pub struct DetectPipeline {
    params: DetectParams,
    network: Cmt,
    sync: SensorSync<PointCloud, image::RgbImage>,
    infos: Vec<Option<CameraInfo>>,
    lidar_frame: String,
    /// child → (parent, parent_from_child), from /tf_static.
    static_tf: BTreeMap<String, (String, Rigid3)>,
    /// `(stamp, map_from_ego)` from /tf, newest last.
    map_from_ego: VecDeque<(f64, Rigid3)>,
    /// The first sample of `calibration`, when given.
    rig: Option<SampleInfo>,
    /// Sets processed with LiDAR and without.
    pub processed: [usize; 2],
    /// Dropped messages and failures by cause.
    pub problems: Problems,
}

impl DetectPipeline {
    /// A detector with these parameters and network; reads `calibration`.
    pub fn new(params: DetectParams, network: Cmt) -> Result<Self> {
        let rig = match params.calibration.as_str() {
            "" => None,
            path => {
                let set = SampleSet::read(Path::new(path)).with_context(|| format!("reading calibration {path}"))?;
                Some(set.data_list.into_iter().next().ok_or_else(|| anyhow!("calibration {path} has no sample"))?)
            }
        };
        let n = &params.node;
        let sync = SensorSync::new(params.cameras.len(), n.sync_slop, n.lidar_timeout, n.camera_timeout, n.queue_size);
        Ok(DetectPipeline {
            infos: vec![None; params.cameras.len()],
            lidar_frame: params.frames.lidar.clone(),
            params,
            network,
            sync,
            static_tf: BTreeMap::new(),
            map_from_ego: VecDeque::new(),
            rig,
            processed: [0, 0],
            problems: Problems::of_node(NODE_NAME),
        })
    }

    /// Takes in one message received at `received` (seconds, the node's
    /// monotonic clock).
    pub fn push(&mut self, input: DetectInput, received: f64) {
        match input {
            DetectInput::Image(k, image) => self.push_image(k, &image, received),
            DetectInput::CameraInfo(k, info) => self.set_camera(k, *info),
            DetectInput::Points(cloud) => match cloud.to_cloud() {
                Ok(points) => {
                    self.lidar_frame.clone_from(&cloud.header.frame_id);
                    let reset = self.sync.push_cloud(cloud.header.stamp.as_secs_f64(), received, points);
                    self.note_reset(reset);
                }
                Err(error) => self.problems.report("bad point cloud", &error.to_string()),
            },
            DetectInput::Tf(tf) => {
                let (map, ego) = (&self.params.frames.map, &self.params.frames.ego);
                match tf.edge_poses(map, ego) {
                    Ok(poses) => self.map_from_ego.extend(poses),
                    Err(error) => self.problems.report("bad /tf transform", &error.to_string()),
                }
                while self.map_from_ego.len() > 1000 {
                    self.map_from_ego.pop_front();
                }
            }
            DetectInput::TfStatic(tf) => {
                for t in tf.transforms {
                    match t.transform.to_rigid() {
                        Ok(parent_from_child) => {
                            self.static_tf.insert(t.child_frame_id, (t.header.frame_id, parent_from_child));
                        }
                        Err(error) => self.problems.report("bad /tf_static transform", &error.to_string()),
                    }
                }
            }
        }
    }

    fn note_reset(&mut self, reset: bool) {
        if reset {
            self.problems.report("stamps jumped back", "a bag started over? the synchronisation was reset");
        }
    }

    fn push_image(&mut self, k: usize, image: &Image, received: f64) {
        let name = self.params.cameras.get(k).map_or("?", String::as_str);
        let rgb = match image.to_rgb() {
            Ok(rgb) => rgb,
            Err(error) => return self.problems.report("bad image", &format!("{name}: {error}")),
        };
        if let Some(info) = self.infos.get(k).and_then(Option::as_ref)
            && (info.width, info.height) != (rgb.width, rgb.height)
        {
            let detail =
                format!("{name}: {}×{} image, camera_info {}×{}", rgb.width, rgb.height, info.width, info.height);
            return self.problems.report("image size differs from its camera_info", &detail);
        }
        let Some(rgb) = image::RgbImage::from_raw(rgb.width, rgb.height, rgb.data) else {
            return self.problems.report("bad image", &format!("{name}: pixel data does not fill the image"));
        };
        let reset = self.sync.push_image(k, image.header.stamp.as_secs_f64(), received, rgb);
        self.note_reset(reset);
    }

    fn set_camera(&mut self, k: usize, info: CameraInfo) {
        let Some(slot) = self.infos.get_mut(k) else { return };
        if let Some(known) = slot {
            if (known.k, known.width, known.height) != (info.k, info.width, info.height) {
                self.problems.report("camera_info changed", "the first calibration stays in use");
            }
            return;
        }
        match info.to_camera() {
            Ok(_) => *slot = Some(info),
            Err(error) => {
                let name = self.params.cameras.get(k).map_or("?", String::as_str);
                self.problems.report("bad camera_info", &format!("{name}: {error}"));
            }
        }
    }

    /// `ego_from_frame` through the /tf_static tree.
    fn ego_from(&self, frame: &str) -> Option<Rigid3> {
        let (mut at, mut ego_from) = (frame.trim_start_matches('/'), Rigid3::identity());
        for _ in 0..16 {
            if at == self.params.frames.ego {
                return Some(ego_from);
            }
            let (parent, parent_from_at) = self.static_tf.get(at)?;
            ego_from = parent_from_at * ego_from;
            at = parent.trim_start_matches('/');
        }
        None
    }

    /// `(cam2img, ego_from_camera)` of camera `k`, when known.
    fn camera_geometry(&self, k: usize) -> Option<([[f64; 3]; 3], Rigid3)> {
        let name = self.params.cameras.get(k)?;
        let rig_camera = self.rig.as_ref().and_then(|rig| rig.images.get(name));
        let info = self.infos.get(k)?.as_ref();
        let cam2img = match (info, rig_camera) {
            (Some(info), _) => std::array::from_fn(|r| std::array::from_fn(|c| info.k[3 * r + c])),
            (None, Some(camera)) => camera.cam2img,
            (None, None) => return None,
        };
        let ego_from_camera = match rig_camera {
            Some(camera) => camera.ego_from_camera().ok()?,
            None => self.ego_from(&info?.header.frame_id)?,
        };
        Some((cam2img, ego_from_camera))
    }

    fn ego_from_lidar(&self) -> Option<Rigid3> {
        match &self.rig {
            Some(rig) => rig.lidar_points.ego_from_lidar().ok(),
            None => self.ego_from(&self.lidar_frame),
        }
    }

    /// The next synchronised set at time `now`, logging mode changes and
    /// cameras left out.
    pub fn next_set(&mut self, now: f64) -> Option<Set> {
        if let Some(line) = self.sync.update_mode(now) {
            eprintln!("[{NODE_NAME}] {line}");
        }
        let calibrated: Vec<bool> = (0..self.params.cameras.len()).map(|k| self.camera_geometry(k).is_some()).collect();
        let set = self.sync.pop(now, &|k| calibrated.get(k).copied().unwrap_or(false))?;
        for &k in &set.left_out {
            let name = self.params.cameras.get(k).map_or("?", String::as_str);
            self.problems.report("camera silent past node.camera_timeout", &format!("{name}: detecting without it"));
        }
        Some(set)
    }

    /// Counts a set the caller chose not to process (it fell behind).
    pub fn skip(&mut self) {
        self.problems.report("set skipped: detection fell behind the sensors", "the newest set is processed");
    }

    /// Messages pushed out of full synchronisation queues.
    pub fn overflowed(&self) -> usize {
        self.sync.overflowed
    }

    /// The set as a sample (the rig as a sample set holds it) and its data.
    fn sample(&self, set: &Set) -> Result<(SampleInfo, SensorData)> {
        let ego_from_lidar = self
            .ego_from_lidar()
            .ok_or_else(|| anyhow!("no transform {} ← {}", self.params.frames.ego, self.lidar_frame))?;
        let mut sample = SampleInfo {
            sample_idx: 0,
            token: format!("{:.6}", set.stamp),
            timestamp: set.stamp,
            ego2global: rows_from_rigid(&Rigid3::identity()),
            images: BTreeMap::new(),
            lidar_points: LidarSample {
                num_pts_feats: 4,
                lidar_path: String::new(),
                lidar2ego: rows_from_rigid(&ego_from_lidar),
            },
            instances: Vec::new(),
            cam_instances: BTreeMap::new(),
        };
        let mut data = SensorData { cloud: set.cloud.clone().unwrap_or_default(), ..Default::default() };
        for (k, image) in &set.images {
            let (Some(name), Some((cam2img, ego_from_camera))) =
                (self.params.cameras.get(*k), self.camera_geometry(*k))
            else {
                continue;
            };
            let camera = CameraSample {
                img_path: name.clone(),
                cam2img,
                cam2ego: rows_from_rigid(&ego_from_camera),
                lidar2cam: rows_from_rigid(&(ego_from_camera.inverse() * ego_from_lidar)),
                sample_data_token: String::new(),
                timestamp: set.stamp,
            };
            sample.images.insert(name.clone(), camera);
            data.images.insert(name.clone(), image.clone());
        }
        Ok((sample, data))
    }

    /// Detects on one set; `None` when it had to be dropped (reported).
    pub fn process(&mut self, set: &Set) -> Option<DetectOutputs> {
        let modality = if set.cloud.is_some() { Modality::Fusion } else { Modality::Camera };
        let detected = self.sample(set).and_then(|(sample, data)| {
            let host = inputs_from_data(&[(&sample, &data)], self.network.config(), modality)?;
            let boxes = crate::detect::run_network(&self.network, &host)?;
            Ok((sample, boxes.into_iter().next().unwrap_or_default()))
        });
        let (sample, boxes) = match detected {
            Ok(found) => found,
            Err(error) => {
                self.problems.report("detection failed", &format!("{error:#}"));
                return None;
            }
        };
        self.processed[usize::from(modality == Modality::Camera)] += 1;
        let kept: Vec<LidarBox> = boxes.into_iter().filter(|b| b.score >= self.params.score_threshold).collect();
        let ego_from_lidar = sample.lidar_points.ego_from_lidar().unwrap_or_else(|_| Rigid3::identity());
        let (frame, frame_from_lidar) = match self.output_from_ego(set.stamp) {
            Some(map_from_ego) => (self.params.frames.map.clone(), map_from_ego * ego_from_lidar),
            None => (self.params.frames.ego.clone(), ego_from_lidar),
        };
        let stamp = Time::from_secs_f64(set.stamp).unwrap_or_default();
        let detections = detection_array(stamp, &frame, &kept, &frame_from_lidar);
        let markers = box_markers(&detections);
        Some(DetectOutputs { detections, markers })
    }

    /// The /tf pose `map_from_ego` nearest to `stamp`, within 0.5 s.
    fn map_pose(&self, stamp: f64) -> Option<Rigid3> {
        self.map_from_ego
            .iter()
            .filter(|(t, _)| (t - stamp).abs() <= 0.5)
            .min_by(|a, b| (a.0 - stamp).abs().total_cmp(&(b.0 - stamp).abs()))
            .map(|(_, pose)| *pose)
    }

    /// Detects on one set offline (`cairn detect BAG`): the set as a sample
    /// (its `ego2global` from /tf when the bag has the map pose, identity
    /// otherwise), its decoded data, the boxes (LiDAR frame, every score)
    /// and whether the LiDAR was part of it.
    pub fn detect_sample(&self, set: &Set) -> Result<(SampleInfo, SensorData, Vec<LidarBox>, Modality)> {
        let modality = if set.cloud.is_some() { Modality::Fusion } else { Modality::Camera };
        let (mut sample, data) = self.sample(set)?;
        if let Some(map_from_ego) = self.map_pose(set.stamp) {
            sample.ego2global = rows_from_rigid(&map_from_ego);
        }
        let host = inputs_from_data(&[(&sample, &data)], self.network.config(), modality)?;
        let boxes = crate::detect::run_network(&self.network, &host)?.into_iter().next().unwrap_or_default();
        Ok((sample, data, boxes, modality))
    }

    /// `map_from_ego` at `stamp` when the output frame is the map (the /tf
    /// pose nearest in stamp, within 0.5 s); a missing one is reported and
    /// the boxes stay in the ego frame.
    fn output_from_ego(&mut self, stamp: f64) -> Option<Rigid3> {
        if self.params.output_frame != self.params.frames.map {
            return None;
        }
        let nearest = self.map_pose(stamp);
        if nearest.is_none() {
            let detail = format!(
                "{} ← {} at {stamp:.3}: boxes stay in {}",
                self.params.frames.map, self.params.frames.ego, self.params.frames.ego
            );
            self.problems.report("no map pose on /tf", &detail);
        }
        nearest
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use std::path::PathBuf;

    use cairn_bags::dataset::samples_to_bag;
    use cairn_bags::msg::sensor_msgs::PointField;
    use cairn_perception::cmt::CmtConfig;
    use cairn_perception::cmt::batch::inputs;
    use cairn_perception::cmt::model::init_weights;
    use cairn_sim::drive::{DriveOptions, write_drive};
    use cairn_sim::rig::Rig;

    use super::*;

    /// A 2-sample drive, its bag and an untrained small CMT.
    fn fixture(name: &str) -> (PathBuf, SampleSet, PathBuf, Cmt) {
        let dir = std::env::temp_dir().join(format!("cairn-detect-pipeline-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 2, seed: 1002, image_scale: 0.2, ..Default::default() };
        let set = write_drive(&options, &Rig::nuscenes().unwrap(), &dir.join("data"), |_| {}).unwrap();
        samples_to_bag(&dir.join("data"), &dir.join("bag"), &mut |_, _| {}).unwrap();
        let config = CmtConfig::small();
        let network = Cmt::new(config.clone(), &init_weights(&config, 0)).unwrap();
        (dir.clone(), set, dir.join("bag"), network)
    }

    /// The bag's messages as the node receives them, in bag order.
    fn messages(bag: &std::path::Path, params: &DetectParams) -> Vec<DetectInput> {
        let mut out = Vec::new();
        for_each_bag_input(&Bag::open(bag).unwrap(), params, |input, _| {
            out.push(input);
            Ok(())
        })
        .unwrap();
        out
    }

    /// Pushes every message (1 ms apart) and processes each set as it is decided.
    fn run(pipeline: &mut DetectPipeline, inputs: Vec<DetectInput>, t0: f64) -> Vec<(Set, DetectOutputs)> {
        let mut done = Vec::new();
        for (i, input) in inputs.into_iter().enumerate() {
            let now = t0 + i as f64 * 1e-3;
            pipeline.push(input, now);
            while let Some(set) = pipeline.next_set(now) {
                let outputs = pipeline.process(&set).unwrap();
                done.push((set, outputs));
            }
        }
        done
    }

    fn count(pipeline: &DetectPipeline, cause: &str) -> usize {
        pipeline.problems.counts().find(|(c, _)| *c == cause).map_or(0, |(_, n)| n)
    }

    #[test]
    fn bag_messages_give_the_boxes_of_cairn_detect() {
        let (dir, set, bag, network) = fixture("parity");
        let params = DetectParams { score_threshold: 0.0, ..DetectParams::default() };
        let config = network.config().clone();
        let offline = Cmt::new(config.clone(), &network.host_weights().unwrap()).unwrap();
        let mut pipeline = DetectPipeline::new(params.clone(), network).unwrap();
        let done = run(&mut pipeline, messages(&bag, &params), 0.0);
        assert_eq!(done.len(), 2, "one set per sample");
        for ((synced, outputs), sample) in done.iter().zip(&set.data_list) {
            assert_eq!((synced.images.len(), synced.cloud.is_some()), (6, true));
            let host = inputs(&set, &[sample], &config, Modality::Fusion).unwrap();
            let expected = crate::detect::run_network(&offline, &host).unwrap().remove(0);
            let ego_from_lidar = sample.lidar_points.ego_from_lidar().unwrap();
            let array = detection_array(Time::default(), "base_link", &expected, &ego_from_lidar);
            let got = &outputs.detections;
            assert_eq!(got.header.frame_id, "base_link");
            assert!((got.header.stamp.as_secs_f64() - sample.timestamp).abs() < 1e-6);
            assert_eq!(got.detections.len(), array.detections.len());
            for (a, b) in got.detections.iter().zip(&array.detections) {
                let (p, q) = (&a.bbox.center.position, &b.bbox.center.position);
                assert!((p.x - q.x).abs() + (p.y - q.y).abs() + (p.z - q.z).abs() < 1e-6);
                assert_eq!(a.results[0].hypothesis.class_id, b.results[0].hypothesis.class_id);
                assert!((a.results[0].hypothesis.score - b.results[0].hypothesis.score).abs() < 1e-7);
            }
            assert_eq!(outputs.markers.markers.len(), got.detections.len() + 1);
        }
        assert_eq!(pipeline.processed, [2, 0]);
        assert_eq!(pipeline.problems.counts().count(), 0, "{:?}", pipeline.problems.counts().collect::<Vec<_>>());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_silent_camera_is_masked_and_boxes_can_go_to_the_map_frame() {
        let (dir, set, bag, network) = fixture("dropout");
        let params = DetectParams { score_threshold: 0.0, output_frame: "world".into(), ..DetectParams::default() };
        let config = network.config().clone();
        let offline = Cmt::new(config.clone(), &network.host_weights().unwrap()).unwrap();
        let mut pipeline = DetectPipeline::new(params.clone(), network).unwrap();
        let back = params.cameras.iter().position(|c| c == "CAM_BACK").unwrap();
        let without_back: Vec<DetectInput> = messages(&bag, &params)
            .into_iter()
            .filter(|m| !matches!(m, DetectInput::Image(k, _) if *k == back))
            .collect();
        // Messages 1 ms apart; the first set waits node.camera_timeout for CAM_BACK.
        let mut done = run(&mut pipeline, without_back, 0.0);
        let late = 10.0;
        while let Some(set) = pipeline.next_set(late) {
            let outputs = pipeline.process(&set).unwrap();
            done.push((set, outputs));
        }
        assert_eq!(done.len(), 2);
        assert_eq!(count(&pipeline, "camera silent past node.camera_timeout"), 1, "given up on once");
        for ((synced, outputs), sample) in done.iter().zip(&set.data_list) {
            assert_eq!(synced.images.len(), 5);
            // cairn detect on the sample without that camera: its tokens masked alike.
            let mut fewer = sample.clone();
            fewer.images.remove("CAM_BACK");
            let host = inputs(&set, &[&fewer], &config, Modality::Fusion).unwrap();
            let expected = crate::detect::run_network(&offline, &host).unwrap().remove(0);
            let got = &outputs.detections;
            assert_eq!((got.header.frame_id.as_str(), got.detections.len()), ("world", expected.len()));
            for (d, e) in got.detections.iter().zip(&expected) {
                let global = e.to_global(sample).unwrap();
                let p = &d.bbox.center.position;
                let error = (p.x - global.translation[0]).abs() + (p.y - global.translation[1]).abs();
                assert!(error + (p.z - global.translation[2]).abs() < 1e-6, "{p:?} vs {:?}", global.translation);
                assert!((d.results[0].hypothesis.score - e.score).abs() < 1e-7);
            }
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn bad_inputs_are_logged_once_dropped_and_the_node_carries_on() {
        let (dir, _, bag, network) = fixture("bad");
        let params = DetectParams::default();
        let mut pipeline = DetectPipeline::new(params.clone(), network).unwrap();
        let good = messages(&bag, &params);
        let mut bad = Vec::new();
        for input in &good {
            match input {
                // An uncalibrated CameraInfo first: dropped, the good one follows.
                DetectInput::CameraInfo(k, info) => {
                    let mut zero = info.clone();
                    zero.k[0] = 0.0;
                    bad.push(DetectInput::CameraInfo(*k, zero));
                }
                // A cloud without x/y/z, and an image half the calibrated size.
                DetectInput::Points(cloud) => {
                    let mut no_xyz = cloud.clone();
                    no_xyz.fields.retain(|f: &PointField| f.name == "intensity");
                    bad.push(DetectInput::Points(no_xyz));
                }
                _ => {}
            }
            bad.push(input.clone());
            if let DetectInput::Image(k, image) = input {
                let mut small = image.clone();
                small.width /= 2;
                small.step /= 2;
                small.data.truncate(small.data.len() / 2);
                bad.push(DetectInput::Image(*k, small));
            }
        }
        let done = run(&mut pipeline, bad, 0.0);
        assert_eq!(done.len(), 2, "every sample detected despite the bad messages");
        assert!(done.iter().all(|(set, _)| set.images.len() == 6 && set.cloud.is_some()));
        assert_eq!(count(&pipeline, "bad camera_info"), 6, "one uncalibrated CameraInfo per camera");
        assert_eq!(count(&pipeline, "bad point cloud"), 2);
        assert!(count(&pipeline, "image size differs from its camera_info") >= 6);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn without_sweeps_it_detects_from_the_cameras_alone() {
        let (dir, set, bag, network) = fixture("camera");
        let params = DetectParams { score_threshold: 0.0, ..DetectParams::default() };
        let config = network.config().clone();
        let offline = Cmt::new(config.clone(), &network.host_weights().unwrap()).unwrap();
        let mut pipeline = DetectPipeline::new(params.clone(), network).unwrap();
        let all = messages(&bag, &params);
        assert_eq!(run(&mut pipeline, all.clone(), 0.0).len(), 2);
        // The bag again without its sweeps, 5 s later: cameras alone.
        let cameras_only: Vec<DetectInput> = all.into_iter().filter(|m| !matches!(m, DetectInput::Points(_))).collect();
        let done = run(&mut pipeline, cameras_only, 5.0);
        assert_eq!(done.len(), 2);
        assert_eq!(pipeline.processed, [2, 2]);
        let host = inputs(&set, &[&set.data_list[0]], &config, Modality::Camera).unwrap();
        let expected = crate::detect::run_network(&offline, &host).unwrap().remove(0);
        let got = &done[0].1.detections.detections;
        assert_eq!(got.len(), expected.len());
        assert!((got[0].results[0].hypothesis.score - expected[0].score).abs() < 1e-7);
        std::fs::remove_dir_all(&dir).ok();
    }
}
