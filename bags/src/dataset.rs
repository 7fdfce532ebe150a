//! Dataset folders ↔ rosbag2 bags.
//!
//! - [`tum_to_bag`]: a TUM RGB-D folder (real, or written by `cairn sim
//!   rgbd`) becomes a bag with the topics of TUM's own bags:
//!   `/camera/rgb/image_color` (`rgb8`), `/camera/depth/image` (`32FC1`,
//!   metres, missing depth NaN as the openni driver publishes it),
//!   `/camera/rgb/camera_info`, and the ground truth on `/tf` as
//!   `world → kinect`.
//! - [`bag_to_tum`]: colour and depth image topics (any encoding that
//!   [`Image::to_rgb`] / [`Image::to_depth`] reads; `16UC1` is millimetres
//!   per REP-118) become a TUM folder with ×5000 depth PNGs, `calib.yaml`
//!   from the camera_info topic, and `groundtruth.txt` from a `/tf` edge.
//! - [`samples_to_bag`]: a multi-modal sample set ([`SampleSet`]) becomes
//!   `/CAM_*/image_raw` + `/CAM_*/camera_info`, `/LIDAR_TOP` (PointCloud2:
//!   x, y, z, intensity, ring), `/tf_static` (`base_link → CAM_*`,
//!   `base_link → LIDAR_TOP`, transient-local like a robot_state_publisher),
//!   `/tf` (`world → base_link` per sample) and the ground-truth boxes on
//!   `/LIDAR_TOP/gt_boxes` (vision_msgs Detection3DArray in the LiDAR frame).
//!   Images are decoded once (PNG or JPEG → `rgb8`), so a node sees the
//!   pixels `cairn detect` reads from the files. Sample stamps strictly
//!   increase: samples sharing a timestamp are spread
//!   [`SAMPLE_SPACING_S`] apart.
//!
//! Every message's log time is its header stamp. A conversion that fails
//! half-way still finishes the bag it was writing (everything before the
//! failure stays readable) and then reports the error.

use std::path::{Path, PathBuf};

use cairn_core::samples::{Instance, SampleSet};
use cairn_core::transform::Rigid3;
use cairn_core::tum::{TumWriter, read_list};
use cairn_core::{Calibration, DepthImage, PinholeCamera, RgbImage, Trajectory};
use nalgebra::{UnitQuaternion, Vector3 as NVector3};

use crate::cdr;
use crate::convert::cloud::RingCloud;
use crate::msg::RosMessage;
use crate::msg::builtin_interfaces::Time;
use crate::msg::geometry_msgs::{Pose, PoseWithCovariance, TransformStamped, Vector3};
use crate::msg::sensor_msgs::{CameraInfo, Image, PointCloud2};
use crate::msg::std_msgs::Header;
use crate::msg::tf2_msgs::TFMessage;
use crate::msg::vision_msgs::{
    BoundingBox3D, Detection3D, Detection3DArray, ObjectHypothesis, ObjectHypothesisWithPose,
};
use crate::storage::{Bag, BagWriter, Connection, StorageKind};
use crate::{Error, Result};

/// Topic names of TUM RGB-D's own bags.
pub mod tum_topics {
    /// Colour images (`rgb8`).
    pub const RGB: &str = "/camera/rgb/image_color";
    /// Depth images (`32FC1`, metres).
    pub const DEPTH: &str = "/camera/depth/image";
    /// The colour camera's calibration.
    pub const CAMERA_INFO: &str = "/camera/rgb/camera_info";
    /// Transforms; the ground truth is `world → kinect`.
    pub const TF: &str = "/tf";
    /// Parent frame of the ground truth.
    pub const WORLD_FRAME: &str = "world";
    /// Child frame of the ground truth.
    pub const CAMERA_FRAME: &str = "kinect";
    /// Frame of the images (registered depth shares it).
    pub const OPTICAL_FRAME: &str = "openni_rgb_optical_frame";
}

/// Progress of a conversion: `(done, total)` units of work.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// What a conversion wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversionSummary {
    /// Messages (to a bag) or files (to a folder) per topic or kind.
    pub counts: Vec<(String, u64)>,
    /// Where the output is.
    pub out: PathBuf,
    /// What stopped a `--recover` read early (the output holds everything
    /// before it).
    pub problem: Option<String>,
}

impl ConversionSummary {
    /// One line per count, `name: n`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (name, n) in &self.counts {
            out.push_str(&format!("  {name}: {n}\n"));
        }
        out
    }
}

/// rosbag2's QoS profile text for a latched (`transient_local`) topic such
/// as `/tf_static`, in the distribution's format.
#[cfg(not(feature = "humble"))]
const LATCHED_QOS: &str = "- history: keep_last\n  depth: 1\n  reliability: reliable\n  durability: transient_local\n  \
    deadline:\n    sec: 9223372036\n    nsec: 854775807\n  lifespan:\n    sec: 9223372036\n    nsec: 854775807\n  \
    liveliness: automatic\n  liveliness_lease_duration:\n    sec: 9223372036\n    nsec: 854775807\n  \
    avoid_ros_namespace_conventions: false\n";
#[cfg(feature = "humble")]
const LATCHED_QOS: &str = "- history: 3\n  depth: 0\n  reliability: 1\n  durability: 1\n  deadline:\n    sec: 9223372036\n    \
    nsec: 854775807\n  lifespan:\n    sec: 9223372036\n    nsec: 854775807\n  liveliness: 1\n  \
    liveliness_lease_duration:\n    sec: 9223372036\n    nsec: 854775807\n  avoid_ros_namespace_conventions: false\n";

/// A bag being written with typed topics, counting messages per topic.
struct TypedWriter {
    writer: BagWriter,
    topics: Vec<(String, usize, u64)>,
}

impl TypedWriter {
    fn create(out: &Path) -> Result<Self> {
        Self::create_as(out, StorageKind::Mcap)
    }

    fn create_as(out: &Path, kind: StorageKind) -> Result<Self> {
        Ok(TypedWriter { writer: BagWriter::create_as(out, kind)?, topics: Vec::new() })
    }

    fn write<T: RosMessage>(&mut self, topic: &str, stamp: &Time, msg: &T) -> Result<()> {
        self.write_with_qos(topic, stamp, msg, "")
    }

    fn write_with_qos<T: RosMessage>(&mut self, topic: &str, stamp: &Time, msg: &T, qos: &str) -> Result<()> {
        let slot = match self.topics.iter().position(|(t, _, _)| t == topic) {
            Some(i) => i,
            None => {
                let connection = self.writer.add_connection(Connection {
                    topic: topic.to_owned(),
                    type_name: T::TYPE_NAME.to_owned(),
                    definition: T::definition(),
                    serialization_format: "cdr".to_owned(),
                    offered_qos_profiles: qos.to_owned(),
                })?;
                self.topics.push((topic.to_owned(), connection, 0));
                self.topics.len() - 1
            }
        };
        let (_, connection, count) = &mut self.topics[slot];
        self.writer.write(*connection, stamp.to_nanos()?, &cdr::encode(msg)?)?;
        *count += 1;
        Ok(())
    }

    /// Finishes the bag; with `failure`, finishes it anyway and returns the
    /// failure (saying the bag keeps what came before).
    fn finish(self, failure: Option<Error>) -> Result<ConversionSummary> {
        let counts = self.topics.iter().map(|(t, _, n)| (t.clone(), *n)).collect();
        let out = self.writer.finish()?;
        match failure {
            None => Ok(ConversionSummary { counts, out, problem: None }),
            Some(e) => Err(Error::Unsupported(format!(
                "{e} (the bag {} was finished with the messages written before this)",
                out.display()
            ))),
        }
    }
}

fn header(stamp: Time, frame_id: &str) -> Header {
    Header { stamp, frame_id: frame_id.to_owned() }
}

fn transform_stamped(stamp: Time, parent: &str, child: &str, parent_from_child: &Rigid3) -> TransformStamped {
    TransformStamped {
        header: header(stamp, parent),
        child_frame_id: child.to_owned(),
        transform: crate::msg::geometry_msgs::Transform::from_rigid(parent_from_child),
    }
}

/// Converts the TUM RGB-D folder `dir` (calibration: `calib`, else
/// `dir/calib.yaml`, else fr1/fr2/fr3 from the folder name) into a bag at
/// `out` with TUM's topics ([`tum_topics`]).
pub fn tum_to_bag(dir: &Path, calib: Option<&Path>, out: &Path, progress: Progress) -> Result<ConversionSummary> {
    let calibration = cairn_core::tum::resolve_calibration(dir, calib)?;
    let rgb = read_list(dir, "rgb.txt")?;
    let depth = read_list(dir, "depth.txt")?;
    let gt_path = dir.join("groundtruth.txt");
    let groundtruth = if gt_path.is_file() { Some(Trajectory::read(&gt_path, Default::default())?) } else { None };
    if rgb.is_empty() && depth.is_empty() {
        return Err(Error::Core(cairn_core::Error::Dataset {
            path: dir.to_path_buf(),
            message: "rgb.txt and depth.txt list no frames".into(),
        }));
    }
    // All streams merged by stamp, so the bag is written in log-time order.
    enum Item<'a> {
        Rgb(&'a str),
        Depth(&'a str),
        Pose(&'a Rigid3),
    }
    let mut items: Vec<(f64, Item)> = Vec::new();
    items.extend(rgb.iter().map(|(t, f)| (*t, Item::Rgb(f))));
    items.extend(depth.iter().map(|(t, f)| (*t, Item::Depth(f))));
    if let Some(gt) = &groundtruth {
        let stamps = gt.stamps.as_deref().unwrap_or(&[]);
        items.extend(stamps.iter().zip(&gt.world_from_body).map(|(t, p)| (*t, Item::Pose(p))));
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut bag = TypedWriter::create(out)?;
    let total = items.len() as u64;
    let camera = calibration.camera();
    let mut run = || -> Result<()> {
        for (done, (t, item)) in items.iter().enumerate() {
            let stamp = Time::from_secs_f64(*t)?;
            match item {
                Item::Rgb(file) => {
                    let image = RgbImage::load(dir.join(file))?;
                    check_size(&camera, image.width, image.height, &dir.join(file))?;
                    let h = header(stamp, tum_topics::OPTICAL_FRAME);
                    bag.write(tum_topics::RGB, &stamp, &Image::from_rgb(&image, h.clone()))?;
                    bag.write(tum_topics::CAMERA_INFO, &stamp, &CameraInfo::from_calibration(&calibration, h))?;
                }
                Item::Depth(file) => {
                    let depth = DepthImage::load_png(dir.join(file), calibration.depth_scale)?;
                    check_size(&camera, depth.width, depth.height, &dir.join(file))?;
                    let h = header(stamp, tum_topics::OPTICAL_FRAME);
                    bag.write(tum_topics::DEPTH, &stamp, &Image::from_depth_32fc1(&depth, h))?;
                }
                Item::Pose(world_from_camera) => {
                    let edge =
                        transform_stamped(stamp, tum_topics::WORLD_FRAME, tum_topics::CAMERA_FRAME, world_from_camera);
                    bag.write(tum_topics::TF, &stamp, &TFMessage { transforms: vec![edge] })?;
                }
            }
            progress(done as u64 + 1, total);
        }
        Ok(())
    };
    let failure = run().err();
    bag.finish(failure)
}

fn check_size(camera: &PinholeCamera, width: u32, height: u32, path: &Path) -> Result<()> {
    if (width, height) != (camera.width, camera.height) {
        return Err(Error::Convert(format!(
            "{}: {width}×{height} image, but the calibration is for {}×{} (wrong --calib?)",
            path.display(),
            camera.width,
            camera.height
        )));
    }
    Ok(())
}

/// Topics and frames [`bag_to_tum`] reads.
#[derive(Debug, Clone)]
pub struct ToTumOptions {
    /// Colour image topic.
    pub rgb_topic: String,
    /// Depth image topic.
    pub depth_topic: String,
    /// Camera info topic for `calib.yaml` (skipped when absent from the bag).
    pub camera_info_topic: String,
    /// The `/tf` edge `(parent, child)` written as `groundtruth.txt`
    /// (skipped when the bag has no such edge).
    pub groundtruth_edge: (String, String),
    /// Keep going past a corrupt part of the bag: everything before it is
    /// written and the problem reported in the summary.
    pub recover: bool,
}

impl Default for ToTumOptions {
    fn default() -> Self {
        ToTumOptions {
            rgb_topic: tum_topics::RGB.to_owned(),
            depth_topic: tum_topics::DEPTH.to_owned(),
            camera_info_topic: tum_topics::CAMERA_INFO.to_owned(),
            groundtruth_edge: (tum_topics::WORLD_FRAME.to_owned(), tum_topics::CAMERA_FRAME.to_owned()),
            recover: false,
        }
    }
}

/// Writes the colour and depth topics of `bag_path` as a TUM RGB-D folder
/// at `out` (see the module docs).
pub fn bag_to_tum(
    bag_path: &Path,
    options: &ToTumOptions,
    out: &Path,
    progress: Progress,
) -> Result<ConversionSummary> {
    let bag = if options.recover { Bag::open_recover(bag_path)? } else { Bag::open(bag_path)? };
    let mut problem = bag.problems.first().map(|p| p.to_string());
    for topic in [&options.rgb_topic, &options.depth_topic] {
        if bag.connection_index(topic).is_none() {
            let topics: Vec<&str> = bag.connections.iter().map(|c| c.topic.as_str()).collect();
            return Err(Error::Unsupported(format!(
                "no topic {topic} in {} (topics: {}); choose with --rgb/--depth",
                bag_path.display(),
                topics.join(", ")
            )));
        }
    }
    let mut topics = vec![options.rgb_topic.as_str(), options.depth_topic.as_str()];
    let has_info = bag.connection_index(&options.camera_info_topic).is_some();
    if has_info {
        topics.push(&options.camera_info_topic);
    }
    let tf_topic = bag.connection_index(tum_topics::TF).map(|_| tum_topics::TF);
    topics.extend(tf_topic);
    let total: u64 = bag.info().topics.iter().filter(|t| topics.contains(&t.name.as_str())).map(|t| t.count).sum();

    let mut writer = TumWriter::create_uncalibrated(out)?;
    let mut calibrated = false;
    let (parent, child) = (options.groundtruth_edge.0.as_str(), options.groundtruth_edge.1.as_str());
    let mut done = 0;
    for message in bag.messages(&topics)? {
        let message = match message {
            Ok(m) => m,
            Err(e) if options.recover => {
                problem = Some(e.to_string());
                break;
            }
            Err(e) => return Err(e),
        };
        let topic = bag.connections[message.connection].topic.as_str();
        let context = |e: Error| Error::Convert(format!("message {done} on {topic}: {e}"));
        if topic == options.rgb_topic {
            let image: Image = cdr::decode(&message.data).map_err(context)?;
            let rgb = image.to_rgb().map_err(context)?;
            writer.write_rgb(image.header.stamp.as_secs_f64(), &rgb)?;
        } else if topic == options.depth_topic {
            let image: Image = cdr::decode(&message.data).map_err(context)?;
            let depth = image.to_depth().map_err(context)?;
            writer.write_depth(image.header.stamp.as_secs_f64(), &depth)?;
        } else if topic == options.camera_info_topic {
            if !calibrated {
                let info: CameraInfo = cdr::decode(&message.data).map_err(context)?;
                let mut calibration: Calibration = info.to_calibration().map_err(context)?;
                calibration.camera_name = info.header.frame_id.trim_start_matches('/').to_owned();
                writer.set_calibration(&calibration)?;
                calibrated = true;
            }
        } else {
            let tf: TFMessage = cdr::decode(&message.data).map_err(context)?;
            for (stamp, world_from_camera) in tf.edge_poses(parent, child).map_err(context)? {
                writer.push_pose(stamp, &world_from_camera);
            }
        }
        done += 1;
        progress(done, total);
    }
    let (rgb, depth, poses) = writer.counts();
    writer.finish()?;
    let mut counts = vec![("rgb".to_owned(), rgb as u64), ("depth".to_owned(), depth as u64)];
    if poses > 0 {
        counts.push(("groundtruth".to_owned(), poses as u64));
    }
    counts.push(("calib.yaml".to_owned(), u64::from(calibrated)));
    Ok(ConversionSummary { counts, out: out.to_path_buf(), problem })
}

/// The frame of the ego vehicle in sample-set bags.
pub const EGO_FRAME: &str = "base_link";
/// The frame of the LiDAR (and its topic name without the slash).
pub const LIDAR_FRAME: &str = "LIDAR_TOP";
/// The global frame of `world → base_link`.
pub const GLOBAL_FRAME: &str = "world";
/// Spacing of sample-set bag stamps when samples share a timestamp
/// (seconds; nuScenes' keyframe rate).
pub const SAMPLE_SPACING_S: f64 = 0.5;
/// Ground-truth boxes topic of sample-set bags.
pub const GT_BOXES_TOPIC: &str = "/LIDAR_TOP/gt_boxes";

/// Converts the sample set at `dir` (`DIR/sample_info.json`, see
/// [`cairn_core::samples`]) into an MCAP bag at `out` (see the module docs).
pub fn samples_to_bag(dir: &Path, out: &Path, progress: Progress) -> Result<ConversionSummary> {
    samples_to_bag_as(dir, out, StorageKind::Mcap, progress)
}

/// [`samples_to_bag`] in the storage format `kind` (MCAP or sqlite3).
pub fn samples_to_bag_as(dir: &Path, out: &Path, kind: StorageKind, progress: Progress) -> Result<ConversionSummary> {
    let set = SampleSet::read(dir)?;
    if set.data_list.is_empty() {
        return Err(Error::Unsupported(format!("{}: the sample set has no samples", dir.display())));
    }
    let mut samples: Vec<&cairn_core::samples::SampleInfo> = set.data_list.iter().collect();
    samples.sort_by(|a, b| a.timestamp.total_cmp(&b.timestamp));
    let mut bag = TypedWriter::create_as(out, kind)?;
    let total = samples.len() as u64;
    let mut run = || -> Result<()> {
        // The rig, once, latched: base_link → each camera and the LiDAR.
        let first = samples[0];
        let start = Time::from_secs_f64(first.images.values().map(|c| c.timestamp).fold(first.timestamp, f64::min))?;
        let mut rig = vec![transform_stamped(start, EGO_FRAME, LIDAR_FRAME, &first.lidar_points.ego_from_lidar()?)];
        for (name, camera) in &first.images {
            rig.push(transform_stamped(start, EGO_FRAME, name, &camera.ego_from_camera()?));
        }
        bag.write_with_qos("/tf_static", &start, &TFMessage { transforms: rig }, LATCHED_QOS)?;
        let mut previous = f64::NEG_INFINITY;
        for (done, sample) in samples.iter().enumerate() {
            // Stamps strictly increase: a sample stamped like the one before
            // it (synthetic sets) moves SAMPLE_SPACING_S later, its cameras along.
            let shift = if sample.timestamp > previous { 0.0 } else { previous + SAMPLE_SPACING_S - sample.timestamp };
            previous = sample.timestamp + shift;
            // Messages in time order: cameras and the sweep by their stamps.
            let mut events: Vec<(f64, Option<&str>)> = vec![(previous, None)];
            events.extend(sample.images.iter().map(|(name, c)| (c.timestamp + shift, Some(name.as_str()))));
            events.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (t, camera) in events {
                let stamp = Time::from_secs_f64(t)?;
                match camera {
                    Some(name) => {
                        let info = &sample.images[name];
                        let path = set.file(&info.img_path);
                        let image = RgbImage::load(&path)?;
                        let (fx, fy, cx, cy) = info.intrinsics();
                        let camera = PinholeCamera::new(image.width, image.height, fx, fy, cx, cy);
                        camera.validate().map_err(|e| Error::Convert(format!("{}: {e}", path.display())))?;
                        let h = header(stamp, name);
                        bag.write(&format!("/{name}/image_raw"), &stamp, &Image::from_rgb(&image, h.clone()))?;
                        bag.write(&format!("/{name}/camera_info"), &stamp, &CameraInfo::from_camera(&camera, h))?;
                    }
                    None => {
                        let ego = transform_stamped(stamp, GLOBAL_FRAME, EGO_FRAME, &sample.global_from_ego()?);
                        bag.write("/tf", &stamp, &TFMessage { transforms: vec![ego] })?;
                        let sweep = set.read_lidar(sample)?;
                        let cloud =
                            RingCloud { cloud: sweep.cloud, ring: (!sweep.ring.is_empty()).then_some(sweep.ring) };
                        let h = header(stamp, LIDAR_FRAME);
                        bag.write(&format!("/{LIDAR_FRAME}"), &stamp, &PointCloud2::from_ring_cloud(&cloud, h)?)?;
                        let boxes = gt_boxes(&set, &sample.instances, header(stamp, LIDAR_FRAME));
                        bag.write(GT_BOXES_TOPIC, &stamp, &boxes)?;
                    }
                }
            }
            progress(done as u64 + 1, total);
        }
        Ok(())
    };
    let failure = run().err();
    bag.finish(failure)
}

/// The boxes of one sample as a Detection3DArray (box centre = bottom
/// centre + h/2; size = l, w, h; class name as `class_id`, score 1; the
/// instance index as `id`).
pub fn gt_boxes(set: &SampleSet, instances: &[Instance], header: Header) -> Detection3DArray {
    let detections = instances
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let [x, y, z, l, w, h, yaw] = b.bbox_3d;
            let lidar_from_box = Rigid3::from_parts(
                NVector3::new(x, y, z + h / 2.0).into(),
                UnitQuaternion::from_axis_angle(&NVector3::z_axis(), yaw),
            );
            let center = Pose::from_rigid(&lidar_from_box);
            let class_id = set.metainfo.class_name(b.bbox_label_3d).unwrap_or("ignore").to_owned();
            Detection3D {
                header: header.clone(),
                results: vec![ObjectHypothesisWithPose {
                    hypothesis: ObjectHypothesis { class_id, score: 1.0 },
                    pose: PoseWithCovariance { pose: center, covariance: [0.0; 36] },
                }],
                bbox: BoundingBox3D { center, size: Vector3 { x: l, y: w, z: h } },
                id: i.to_string(),
            }
        })
        .collect();
    Detection3DArray { header, detections }
}
