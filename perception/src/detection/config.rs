//! The detection evaluation settings: the devkit's `DetectionConfig`, with
//! the defaults of its `detection_cvpr_2019.json` (the nuScenes detection
//! challenge's configuration, which every published nuScenes mAP/NDS uses).

use serde::{Deserialize, Serialize};

use super::CLASS_RANGES;
use crate::{Error, Result};

/// How detections are evaluated (`detection_cvpr_2019` by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionConfig {
    /// Evaluation range per class, in [`CLASSES`](super::CLASSES) order: boxes whose centre
    /// is this far or farther from the ego (xy, metres) are dropped, ground
    /// truth and predictions alike. Default [`CLASS_RANGES`] (50 m vehicles,
    /// 40 m pedestrians and two-wheelers, 30 m cones and barriers).
    pub class_range: [f64; 10],
    /// Centre-distance thresholds (metres) of a match; AP is averaged over
    /// them. Default 0.5, 1, 2, 4.
    pub dist_ths: Vec<f64>,
    /// The threshold at which the true-positive errors are measured
    /// (one of `dist_ths`). Default 2 m.
    pub dist_th_tp: f64,
    /// Recalls up to this are left out of AP and the TP errors. Default 0.1.
    pub min_recall: f64,
    /// Precision below this counts as zero in AP. Default 0.1.
    pub min_precision: f64,
    /// A submission with more boxes than this in one sample is rejected.
    /// Default 500.
    pub max_boxes_per_sample: usize,
    /// Weight of mAP in NDS against the five TP scores. Default 5.
    pub mean_ap_weight: f64,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        DetectionConfig {
            class_range: CLASS_RANGES,
            dist_ths: vec![0.5, 1.0, 2.0, 4.0],
            dist_th_tp: 2.0,
            min_recall: 0.1,
            min_precision: 0.1,
            max_boxes_per_sample: 500,
            mean_ap_weight: 5.0,
        }
    }
}

impl DetectionConfig {
    /// Checks the settings (the devkit's asserts, and ranges).
    pub fn validate(&self) -> Result<()> {
        let bad = |what: String| Err(Error::Config(what));
        if self.class_range.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
            return bad(format!("class_range {:?}: every range must be a positive distance", self.class_range));
        }
        if self.dist_ths.is_empty() || self.dist_ths.iter().any(|d| !(d.is_finite() && *d > 0.0)) {
            return bad(format!("dist_ths {:?}: positive distances are needed", self.dist_ths));
        }
        if !self.dist_ths.contains(&self.dist_th_tp) {
            return bad(format!("dist_th_tp {} is not one of dist_ths {:?}", self.dist_th_tp, self.dist_ths));
        }
        if !(0.0..=1.0).contains(&self.min_recall) {
            return bad(format!("min_recall {} is not in [0, 1]", self.min_recall));
        }
        if !(0.0..1.0).contains(&self.min_precision) {
            return bad(format!("min_precision {} is not in [0, 1)", self.min_precision));
        }
        if !(self.mean_ap_weight.is_finite() && self.mean_ap_weight >= 0.0) {
            return bad(format!("mean_ap_weight {} must be a non-negative number", self.mean_ap_weight));
        }
        Ok(())
    }

    /// The evaluation range of a class label.
    pub fn range(&self, label: usize) -> f64 {
        self.class_range.get(label).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_challenge_configuration_and_bad_settings_are_named() {
        let config = DetectionConfig::default();
        config.validate().expect("valid");
        assert_eq!(config.range(0), 50.0);
        assert_eq!(config.range(8), 30.0);
        let wrong_tp = DetectionConfig { dist_th_tp: 3.0, ..config.clone() };
        assert!(wrong_tp.validate().unwrap_err().to_string().contains("dist_th_tp"));
        let wrong_precision = DetectionConfig { min_precision: 1.0, ..config };
        assert!(wrong_precision.validate().unwrap_err().to_string().contains("min_precision"));
    }
}
