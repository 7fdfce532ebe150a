//! 3D detections as nuScenes sees them: the ten detection classes and
//! their evaluation ranges, a detector's box in the LiDAR frame
//! ([`LidarBox`]), the global-frame box of the nuScenes submission format
//! ([`DetectionBox`]) and the submission file itself ([`Submission`]).
//!
//! A [`LidarBox`] goes to the global frame through the sample's
//! `ego2global · lidar2ego`, as mmdetection3d writes its nuScenes
//! submissions: the centre is transformed, the box's heading (its length
//! axis, yaw about LiDAR +z) is rotated into a quaternion, and the velocity
//! (x, y, 0) is rotated and its x, y kept.
//!
//! # Evaluation (nuScenes mAP / NDS, as the nuscenes-devkit computes them)
//! - [`gt`]: a sample set's ground truth and a submission's predictions as
//!   the devkit's evaluation boxes (global frame, ego offsets, class-range
//!   and empty-box filtering, the devkit's input checks).
//! - [`accumulate()`]: greedy centre-distance matching of one class at one
//!   threshold, precision and TP errors on 101 recall points
//!   ([`box_errors`]: the per-match errors).
//! - [`metrics`]: AP, TP errors, mAP and NDS ([`DetectionMetrics`]) with
//!   the settings of [`DetectionConfig`] (`detection_cvpr_2019`).
//!
//! `cairn eval det --gt DIR --pred FILE` runs it; the oracle test
//! (`perception/tests/devkit_metrics.rs`) compares every number with the
//! devkit's own functions.

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::samples::{Instance, SampleInfo};
use nalgebra::{Point3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub mod accumulate;
pub mod box_errors;
pub mod config;
pub mod gt;
pub mod metrics;

pub use accumulate::{MetricData, accumulate};
pub use config::DetectionConfig;
pub use gt::{EvalBox, EvalBoxes};
pub use metrics::{DetectionMetrics, evaluate};

/// The ten nuScenes detection classes, in label order (the label of a box
/// is its index here; `metainfo.categories` of a sample set agrees).
pub const CLASSES: [&str; 10] = cairn_core::samples::NUSCENES_CLASSES;

/// The devkit's evaluation range of each class (metres from the ego in the
/// ground plane; `detection_cvpr_2019`), in [`CLASSES`] order.
pub const CLASS_RANGES: [f64; 10] = [50.0, 50.0, 50.0, 50.0, 50.0, 40.0, 40.0, 40.0, 30.0, 30.0];

/// The label of a class name.
pub fn class_label(name: &str) -> Option<usize> {
    CLASSES.iter().position(|c| *c == name)
}

/// A detected (or ground-truth) box in the LiDAR frame of its sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LidarBox {
    /// Box centre (metres; the *centre*, not mmdet3d's bottom centre).
    pub centre: [f64; 3],
    /// Width (across the heading), length (along it), height (metres): the
    /// nuScenes `size` order.
    pub size: [f64; 3],
    /// Heading about LiDAR +z (radians; the length axis, as [`Instance`]).
    pub yaw: f64,
    /// Velocity in the LiDAR frame, x and y (m/s).
    pub velocity: [f64; 2],
    /// Class label, an index into [`CLASSES`].
    pub label: usize,
    /// Detection score in [0, 1] (1 for ground truth).
    pub score: f64,
}

impl LidarBox {
    /// The box of a sample-set instance (mmdet3d's `[x, y, z_bottom, l, w,
    /// h, yaw]`), with score 1; `None` for an ignored class.
    pub fn from_instance(instance: &Instance) -> Option<LidarBox> {
        let label = usize::try_from(instance.bbox_label_3d).ok().filter(|l| *l < CLASSES.len())?;
        let [x, y, z, l, w, h, yaw] = instance.bbox_3d;
        let velocity = instance.velocity.map(|v| if v.is_finite() { v } else { 0.0 });
        Some(LidarBox { centre: [x, y, z + h / 2.0], size: [w, l, h], yaw, velocity, label, score: 1.0 })
    }

    /// The box in the global frame of `sample`, as the submission format
    /// holds it.
    pub fn to_global(&self, sample: &SampleInfo) -> Result<DetectionBox> {
        let global_from_lidar = sample.global_from_ego()? * sample.lidar_points.ego_from_lidar()?;
        let [x, y, z] = self.centre;
        let centre = global_from_lidar * Point3::new(x, y, z);
        let heading = global_from_lidar.rotation * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), self.yaw);
        let velocity = global_from_lidar.rotation * Vector3::new(self.velocity[0], self.velocity[1], 0.0);
        let name = CLASSES
            .get(self.label)
            .ok_or_else(|| Error::Input(format!("box label {} is not a nuScenes detection class", self.label)))?;
        Ok(DetectionBox {
            sample_token: sample.token.clone(),
            translation: [centre.x, centre.y, centre.z],
            size: self.size,
            rotation: [heading.w, heading.i, heading.j, heading.k],
            velocity: [velocity.x, velocity.y],
            detection_name: name.to_string(),
            detection_score: self.score,
            attribute_name: String::new(),
        })
    }
}

/// One box of a nuScenes detection submission (global frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionBox {
    /// The sample's token.
    pub sample_token: String,
    /// Box centre in the global frame (metres).
    pub translation: [f64; 3],
    /// Width, length, height (metres).
    pub size: [f64; 3],
    /// Orientation quaternion `[w, x, y, z]` (global from box).
    pub rotation: [f64; 4],
    /// Velocity in the global frame, x and y (m/s).
    pub velocity: [f64; 2],
    /// One of [`CLASSES`].
    pub detection_name: String,
    /// Score in [0, 1].
    pub detection_score: f64,
    /// nuScenes attribute; empty when none (cairn's detector predicts none).
    #[serde(default)]
    pub attribute_name: String,
}

/// What a submission used (the devkit's `meta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionMeta {
    /// Camera input.
    pub use_camera: bool,
    /// LiDAR input.
    pub use_lidar: bool,
    /// Radar input.
    pub use_radar: bool,
    /// Map input.
    pub use_map: bool,
    /// External data.
    pub use_external: bool,
}

/// A nuScenes detection submission: `{"meta": …, "results": {token: [box…]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// What the detector used.
    pub meta: SubmissionMeta,
    /// Boxes per sample token.
    pub results: BTreeMap<String, Vec<DetectionBox>>,
}

impl Submission {
    /// Reads a submission JSON file. NaN or infinite numbers (which Python's
    /// `json` writes as bare `NaN`/`Infinity`) are an error that says so.
    pub fn read(path: &Path) -> Result<Submission> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| {
            let hint = if ["NaN", "Infinity"].iter().any(|token| text.contains(token)) {
                " (it holds NaN or Infinity: every number of a submission must be finite)"
            } else {
                ""
            };
            Error::Input(format!("{}: not a nuScenes detection submission: {e}{hint}", path.display()))
        })
    }

    /// Writes the submission as JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string(self).map_err(|e| Error::Input(format!("submission: {e}")))?;
        std::fs::write(path, text).map_err(|e| Error::Input(format!("{}: {e}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(yaw_of_ego: f64) -> SampleInfo {
        let (s, c) = yaw_of_ego.sin_cos();
        let json = serde_json::json!({
            "sample_idx": 0, "token": "t0", "timestamp": 0.0,
            "ego2global": [[c, -s, 0.0, 100.0], [s, c, 0.0, 200.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
            "images": {},
            "lidar_points": {"num_pts_feats": 5, "lidar_path": "x.pcd.bin",
                "lidar2ego": [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0], [0.0, 0.0, 0.0, 1.0]]},
            "instances": [], "cam_instances": {}
        });
        serde_json::from_value(json).expect("a valid sample")
    }

    #[test]
    fn a_box_goes_to_the_global_frame_through_ego2global_and_lidar2ego() {
        let quarter = std::f64::consts::FRAC_PI_2;
        let lidar_box = LidarBox {
            centre: [1.0, 0.0, 0.5],
            size: [2.0, 4.0, 1.5],
            yaw: 0.0,
            velocity: [1.0, 0.0],
            label: 0,
            score: 0.5,
        };
        let global = lidar_box.to_global(&sample(quarter)).expect("converts");
        // LiDAR (1, 0, 0.5) → ego (2, 0, 2.5) → global, turned 90°: (100, 202, 2.5).
        for (got, want) in global.translation.iter().zip([100.0, 202.0, 2.5]) {
            assert!((got - want).abs() < 1e-12, "{:?}", global.translation);
        }
        // Heading +x of the LiDAR is +y of the world: yaw 90°.
        let [w, _, _, z] = global.rotation;
        assert!((2.0 * z.atan2(w) - quarter).abs() < 1e-12);
        assert!(global.velocity[0].abs() < 1e-12 && (global.velocity[1] - 1.0).abs() < 1e-12);
        assert_eq!(global.detection_name, "car");
        assert_eq!(global.size, [2.0, 4.0, 1.5]);
    }

    #[test]
    fn an_instance_becomes_a_centred_box_in_nuscenes_size_order() {
        let instance = Instance {
            bbox_label: 7,
            bbox_3d: [1.0, 2.0, -1.0, 0.8, 0.6, 1.8, 0.3],
            bbox_3d_isvalid: true,
            bbox_label_3d: 7,
            num_lidar_pts: 3,
            num_radar_pts: 0,
            velocity: [f64::NAN, 1.0],
            visibility: None,
        };
        let lidar_box = LidarBox::from_instance(&instance).expect("a detection class");
        assert_eq!(lidar_box.centre, [1.0, 2.0, -1.0 + 1.8 / 2.0]);
        assert_eq!(lidar_box.size, [0.6, 0.8, 1.8]);
        assert_eq!(lidar_box.velocity, [0.0, 1.0]);
        assert_eq!(CLASSES[lidar_box.label], "pedestrian");
        assert!(LidarBox::from_instance(&Instance { bbox_label_3d: -1, ..instance }).is_none());
    }

    #[test]
    fn a_submission_survives_a_round_trip_and_a_corrupt_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("cairn-submission-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("preds.json");
        let lidar_box = LidarBox {
            centre: [1.0, 0.0, 0.5],
            size: [2.0, 4.0, 1.5],
            yaw: 0.2,
            velocity: [0.0, 0.0],
            label: 9,
            score: 0.9,
        };
        let meta =
            SubmissionMeta { use_camera: true, use_lidar: true, use_radar: false, use_map: false, use_external: false };
        let results = BTreeMap::from([("t0".to_string(), vec![lidar_box.to_global(&sample(0.0)).expect("converts")])]);
        let submission = Submission { meta, results };
        submission.write(&path).expect("writes");
        assert_eq!(Submission::read(&path).expect("reads"), submission);
        std::fs::write(&path, "{\"meta\": 3}").expect("writes");
        assert!(Submission::read(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
