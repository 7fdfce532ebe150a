//! Ground truth and predictions as the nuScenes devkit evaluates them
//! (`nuscenes/eval/common/loaders.py`: `load_gt`, `load_prediction`,
//! `add_center_dist`, `filter_eval_boxes`).
//!
//! - Ground truth: every instance of a sample set of a detection class
//!   (ignored classes dropped), through [`LidarBox::from_instance`] and
//!   [`LidarBox::to_global`] into the global frame; its point count is
//!   `num_lidar_pts + num_radar_pts` and its velocity stays NaN where the set
//!   says it is unknown (as `NuScenes.box_velocity` gives it). Sample sets
//!   carry no attributes, so every box's attribute is empty (AAE is 1).
//! - Predictions: a [`Submission`], checked as the devkit checks it (known
//!   class and attribute names, finite values, positive sizes, at most
//!   `max_boxes_per_sample` per sample, the same samples as the ground truth).
//! - Both are filtered alike: a box is kept when its centre is nearer the
//!   ego than its class range (`ego_translation` = box translation − ego
//!   position of the sample's `ego2global`, xy norm), and — ground truth
//!   only, predictions count −1 points — when it holds any point. The
//!   devkit's third filter, bicycles and motorcycles inside a
//!   `static_object.bicycle_rack` box, has nothing to act on: sample sets
//!   have no bicycle-rack annotations.

use std::collections::HashMap;

use cairn_core::samples::{SampleInfo, SampleSet};

use super::{CLASSES, DetectionBox, DetectionConfig, LidarBox, Submission, class_label};
use crate::{Error, Result};

/// The nuScenes attribute names a box may carry (or none: empty).
pub const ATTRIBUTE_NAMES: [&str; 8] = [
    "pedestrian.moving",
    "pedestrian.sitting_lying_down",
    "pedestrian.standing",
    "cycle.with_rider",
    "cycle.without_rider",
    "vehicle.moving",
    "vehicle.parked",
    "vehicle.stopped",
];

/// A box as the evaluation sees it (the devkit's `DetectionBox` with its
/// `ego_translation` and `num_pts`).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalBox {
    /// The global-frame box.
    pub detection: DetectionBox,
    /// Its class label, an index into [`CLASSES`].
    pub label: usize,
    /// Box centre minus the ego position (global frame, metres).
    pub ego_translation: [f64; 3],
    /// LiDAR + radar points inside (ground truth), −1 for a prediction.
    pub num_pts: i64,
}

impl EvalBox {
    /// Distance of the box centre from the ego in the ground plane.
    pub fn ego_dist(&self) -> f64 {
        self.ego_translation[0].hypot(self.ego_translation[1])
    }
}

/// The boxes of one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleBoxes {
    /// The sample's token.
    pub token: String,
    /// Its boxes, in file order (ties in matching go to the earlier one).
    pub boxes: Vec<EvalBox>,
}

/// Boxes per sample, in sample order (the devkit's `EvalBoxes`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EvalBoxes {
    /// One entry per sample.
    pub samples: Vec<SampleBoxes>,
}

impl EvalBoxes {
    /// All boxes, sample by sample (the devkit's `EvalBoxes.all`).
    pub fn all(&self) -> impl Iterator<Item = &EvalBox> {
        self.samples.iter().flat_map(|s| &s.boxes)
    }

    /// Token → position in `samples`.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.samples.iter().enumerate().map(|(i, s)| (s.token.as_str(), i)).collect()
    }

    /// Keeps the boxes inside their class range that hold any point
    /// (`filter_eval_boxes`).
    pub fn filter(&mut self, config: &DetectionConfig) {
        for sample in &mut self.samples {
            sample.boxes.retain(|b| b.ego_dist() < config.range(b.label) && b.num_pts != 0);
        }
    }
}

/// The position of the ego in the global frame (the translation of
/// `ego2global`, as the devkit reads the LiDAR's ego pose).
fn ego_position(sample: &SampleInfo) -> [f64; 3] {
    let rows = &sample.ego2global;
    [rows[0][3], rows[1][3], rows[2][3]]
}

fn offset(translation: &[f64; 3], ego: &[f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| translation[i] - ego[i])
}

/// Every ground-truth box of a detection class, in the global frame,
/// before filtering.
pub fn all_ground_truth(set: &SampleSet) -> Result<EvalBoxes> {
    let mut samples = Vec::with_capacity(set.data_list.len());
    for sample in &set.data_list {
        let ego = ego_position(sample);
        let mut boxes = Vec::with_capacity(sample.instances.len());
        for instance in &sample.instances {
            let Some(mut lidar_box) = LidarBox::from_instance(instance) else { continue };
            // The devkit keeps an unknown velocity as NaN (left out of AVE).
            lidar_box.velocity = instance.velocity;
            let detection = lidar_box.to_global(sample)?;
            boxes.push(EvalBox {
                ego_translation: offset(&detection.translation, &ego),
                label: lidar_box.label,
                num_pts: instance.num_lidar_pts + instance.num_radar_pts,
                detection,
            });
        }
        samples.push(SampleBoxes { token: sample.token.clone(), boxes });
    }
    Ok(EvalBoxes { samples })
}

/// The evaluated ground truth: [`all_ground_truth`], filtered.
pub fn ground_truth(set: &SampleSet, config: &DetectionConfig) -> Result<EvalBoxes> {
    let mut boxes = all_ground_truth(set)?;
    boxes.filter(config);
    Ok(boxes)
}

/// The evaluated predictions of a submission for the samples of `set`:
/// checked, given their ego offsets, filtered. Samples keep the
/// submission's (token) order, the order in which the devkit reads them.
pub fn predictions(submission: &Submission, set: &SampleSet, config: &DetectionConfig) -> Result<EvalBoxes> {
    let egos: HashMap<&str, [f64; 3]> = set.data_list.iter().map(|s| (s.token.as_str(), ego_position(s))).collect();
    let missing: Vec<&str> =
        set.data_list.iter().map(|s| s.token.as_str()).filter(|t| !submission.results.contains_key(*t)).collect();
    if let Some(first) = missing.first() {
        return Err(Error::Input(format!(
            "the predictions lack {} of the {} ground-truth samples (first: {first}); as in the devkit, every \
             sample needs an entry (an empty list when nothing was detected)",
            missing.len(),
            set.data_list.len()
        )));
    }
    let mut samples = Vec::with_capacity(submission.results.len());
    for (token, detections) in &submission.results {
        let ego = egos.get(token.as_str()).ok_or_else(|| {
            Error::Input(format!("prediction sample token {token} is not a sample of the ground-truth set"))
        })?;
        if detections.len() > config.max_boxes_per_sample {
            return Err(Error::Input(format!(
                "sample {token} has {} predicted boxes; the nuScenes evaluation allows at most {} per sample",
                detections.len(),
                config.max_boxes_per_sample
            )));
        }
        let mut boxes = Vec::with_capacity(detections.len());
        for (i, detection) in detections.iter().enumerate() {
            let label =
                check_prediction(detection, token).map_err(|e| Error::Input(format!("{token} box {i}: {e}")))?;
            boxes.push(EvalBox {
                ego_translation: offset(&detection.translation, ego),
                label,
                num_pts: -1,
                detection: detection.clone(),
            });
        }
        samples.push(SampleBoxes { token: token.clone(), boxes });
    }
    let mut boxes = EvalBoxes { samples };
    boxes.filter(config);
    Ok(boxes)
}

/// Checks a predicted box as the devkit's `DetectionBox` does; its label.
fn check_prediction(detection: &DetectionBox, token: &str) -> std::result::Result<usize, String> {
    let label = class_label(&detection.detection_name).ok_or_else(|| {
        format!(
            "unknown class name {:?} (the nuScenes detection classes: {})",
            detection.detection_name,
            CLASSES.join(", ")
        )
    })?;
    if !detection.attribute_name.is_empty() && !ATTRIBUTE_NAMES.contains(&detection.attribute_name.as_str()) {
        return Err(format!("unknown attribute name {:?}", detection.attribute_name));
    }
    if detection.sample_token != token {
        return Err(format!("its sample_token {} differs from the sample it is listed under", detection.sample_token));
    }
    let values = detection.translation.iter().chain(&detection.size).chain(&detection.rotation);
    if values.chain(&detection.velocity).chain([&detection.detection_score]).any(|v| !v.is_finite()) {
        return Err("a NaN or infinite value".into());
    }
    if detection.size.iter().any(|s| *s <= 0.0) {
        return Err(format!("size {:?} is not positive", detection.size));
    }
    if detection.rotation.iter().all(|q| *q == 0.0) {
        return Err("rotation is the zero quaternion".into());
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::SubmissionMeta;
    use cairn_core::samples::Instance;
    use std::collections::BTreeMap;

    fn instance(label: i64, x: f64, y: f64, points: i64, velocity: [f64; 2]) -> Instance {
        Instance {
            bbox_label: label,
            bbox_3d: [x, y, -1.0, 4.0, 2.0, 1.5, 0.0],
            bbox_3d_isvalid: points > 0,
            bbox_label_3d: label,
            num_lidar_pts: points,
            num_radar_pts: 0,
            velocity,
            visibility: None,
        }
    }

    /// One sample with the ego at (100, 200) in the world, the LiDAR at the
    /// ego's origin.
    fn set(instances: Vec<Instance>) -> SampleSet {
        let json = serde_json::json!({
            "sample_idx": 0, "token": "t0", "timestamp": 0.0,
            "ego2global": [[1.0, 0.0, 0.0, 100.0], [0.0, 1.0, 0.0, 200.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
            "images": {},
            "lidar_points": {"num_pts_feats": 5, "lidar_path": "x.pcd.bin",
                "lidar2ego": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.8], [0.0, 0.0, 0.0, 1.0]]},
            "instances": [], "cam_instances": {}
        });
        let mut set = SampleSet::new("test", "v");
        let mut sample: SampleInfo = serde_json::from_value(json).expect("a sample");
        sample.instances = instances;
        set.data_list.push(sample);
        set
    }

    #[test]
    fn ground_truth_drops_ignored_classes_empty_boxes_and_boxes_out_of_range() {
        let set = set(vec![
            instance(0, 10.0, 0.0, 5, [1.0, 0.0]),            // car at 10 m: kept
            instance(0, 49.0, 10.0, 5, [f64::NAN, f64::NAN]), // car at 50.01 m: out of range
            instance(8, 29.0, 0.0, 5, [0.0, 0.0]),            // cone at 29 m: kept
            instance(8, 31.0, 0.0, 5, [0.0, 0.0]),            // cone at 31 m: out
            instance(7, 5.0, 0.0, 0, [0.0, 0.0]),             // pedestrian with no points: out
            instance(-1, 5.0, 0.0, 9, [0.0, 0.0]),            // ignored class
            instance(1, 3.0, 4.0, 1, [f64::NAN, f64::NAN]),   // truck, unknown velocity: kept
        ]);
        let all = all_ground_truth(&set).expect("converts");
        assert_eq!(all.all().count(), 6);
        let gt = ground_truth(&set, &DetectionConfig::default()).expect("converts");
        let kept: Vec<(&str, f64)> =
            gt.all().map(|b| (b.detection.detection_name.as_str(), b.detection.translation[0])).collect();
        assert_eq!(kept, [("car", 110.0), ("traffic_cone", 129.0), ("truck", 103.0)]);
        let truck = gt.all().nth(2).expect("a truck");
        assert!((truck.ego_dist() - 5.0).abs() < 1e-12);
        assert!(truck.detection.velocity.iter().all(|v| v.is_nan()), "an unknown velocity stays unknown");
        assert_eq!(truck.num_pts, 1);
    }

    fn prediction(name: &str, x: f64) -> DetectionBox {
        DetectionBox {
            sample_token: "t0".into(),
            translation: [100.0 + x, 200.0, 0.5],
            size: [2.0, 4.0, 1.5],
            rotation: [1.0, 0.0, 0.0, 0.0],
            velocity: [0.0, 0.0],
            detection_name: name.into(),
            detection_score: 0.5,
            attribute_name: String::new(),
        }
    }

    fn submission(results: Vec<(&str, Vec<DetectionBox>)>) -> Submission {
        let meta =
            SubmissionMeta { use_camera: true, use_lidar: true, use_radar: false, use_map: false, use_external: false };
        Submission { meta, results: results.into_iter().map(|(t, b)| (t.to_string(), b)).collect::<BTreeMap<_, _>>() }
    }

    #[test]
    fn predictions_are_filtered_by_range_and_checked() {
        let set = set(Vec::new());
        let config = DetectionConfig::default();
        let boxes = vec![prediction("car", 10.0), prediction("car", 60.0), prediction("barrier", 35.0)];
        let preds = predictions(&submission(vec![("t0", boxes)]), &set, &config).expect("valid");
        assert_eq!(preds.all().count(), 1);
        assert_eq!(preds.all().next().map(|b| b.num_pts), Some(-1));

        let error = |s: Submission| predictions(&s, &set, &config).unwrap_err().to_string();
        assert!(error(submission(vec![("t0", vec![prediction("cat", 1.0)])])).contains("unknown class name \"cat\""));
        assert!(error(submission(vec![("t0", vec![]), ("t9", vec![])])).contains("t9 is not a sample"));
        assert!(error(submission(vec![])).contains("lack 1 of the 1"));
        let too_many = vec![prediction("car", 1.0); 501];
        assert!(error(submission(vec![("t0", too_many)])).contains("at most 500"));
        let flat = DetectionBox { size: [0.0, 1.0, 1.0], ..prediction("car", 1.0) };
        assert!(error(submission(vec![("t0", vec![flat])])).contains("not positive"));
        let odd = DetectionBox { attribute_name: "vehicle.flying".into(), ..prediction("car", 1.0) };
        assert!(error(submission(vec![("t0", vec![odd])])).contains("attribute"));
        let infinite = DetectionBox { detection_score: f64::INFINITY, ..prediction("car", 1.0) };
        assert!(error(submission(vec![("t0", vec![infinite])])).contains("infinite"));
    }
}
