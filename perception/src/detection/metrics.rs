//! nuScenes detection metrics as the devkit computes them
//! (`nuscenes/eval/detection/{algo.py,evaluate.py,data_classes.py}`):
//! per class AP at each centre-distance threshold ([`calc_ap`]), the five
//! true-positive errors at `dist_th_tp` ([`calc_tp`]), and the summary
//! ([`DetectionMetrics`]: mAP, mean TP errors, NDS).
//!
//! NDS = (w·mAP + Σ max(0, 1 − mean TP error)) / (w + 5) with w = 5. The
//! TP errors a class cannot have are left out of the mean (NaN): a traffic
//! cone has no attribute, velocity or orientation error, a barrier no
//! attribute or velocity error. Sample sets carry no attributes, so every
//! AAE is 1, its TP score 0, and NDS is at most 0.9.

use serde_json::{Map, Value, json};

use super::CLASSES;
use super::accumulate::{MetricData, accumulate};
use super::config::DetectionConfig;
use super::gt::EvalBoxes;
use crate::Result;

/// The five true-positive metrics, in the devkit's order.
pub const TP_METRICS: [&str; 5] = ["trans_err", "scale_err", "orient_err", "vel_err", "attr_err"];
/// Their usual short names (mATE, … are their means over classes).
pub const TP_SHORT_NAMES: [&str; 5] = ["ATE", "ASE", "AOE", "AVE", "AAE"];

/// A true-positive metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpMetric {
    /// Translation error (m), ATE.
    Trans,
    /// Scale error (1 − aligned IoU), ASE.
    Scale,
    /// Orientation error (rad), AOE.
    Orient,
    /// Velocity error (m/s), AVE.
    Vel,
    /// Attribute error (1 − accuracy), AAE.
    Attr,
}

impl TpMetric {
    /// All five, in [`TP_METRICS`] order.
    pub const ALL: [TpMetric; 5] = [TpMetric::Trans, TpMetric::Scale, TpMetric::Orient, TpMetric::Vel, TpMetric::Attr];

    /// The devkit's name (`trans_err`, …).
    pub fn name(self) -> &'static str {
        TP_METRICS[self as usize]
    }

    /// Its accumulated curve.
    pub fn curve(self, md: &MetricData) -> &[f64] {
        match self {
            TpMetric::Trans => &md.trans_err,
            TpMetric::Scale => &md.scale_err,
            TpMetric::Orient => &md.orient_err,
            TpMetric::Vel => &md.vel_err,
            TpMetric::Attr => &md.attr_err,
        }
    }
}

/// Python's `round(100 · min_recall) + 1`: the first recall index used
/// (the minimum-recall bin itself is left out). Python rounds halves to even.
fn first_index(min_recall: f64) -> usize {
    (100.0 * min_recall).round_ties_even().max(0.0) as usize + 1
}

/// numpy's `mean`: NaN for an empty slice.
fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// Average precision: the mean over recalls above `min_recall` of the
/// precision above `min_precision`, normalised to [0, 1].
pub fn calc_ap(md: &MetricData, min_recall: f64, min_precision: f64) -> f64 {
    let from = first_index(min_recall).min(md.precision.len());
    let clipped: Vec<f64> = md.precision[from..].iter().map(|p| (p - min_precision).max(0.0)).collect();
    mean(&clipped) / (1.0 - min_precision)
}

/// A true-positive error: the mean of the metric's curve from just above
/// `min_recall` to the highest recall reached; 1 when that range is empty.
pub fn calc_tp(md: &MetricData, min_recall: f64, metric: TpMetric) -> f64 {
    let first = first_index(min_recall);
    let last = md.max_recall_ind();
    if last < first {
        return 1.0;
    }
    let curve = metric.curve(md);
    mean(&curve[first..=last.min(curve.len() - 1)])
}

/// Whether the devkit measures a TP metric for a class.
pub fn tp_defined(class: &str, metric: TpMetric) -> bool {
    match class {
        "traffic_cone" => !matches!(metric, TpMetric::Attr | TpMetric::Vel | TpMetric::Orient),
        "barrier" => !matches!(metric, TpMetric::Attr | TpMetric::Vel),
        _ => true,
    }
}

/// The results of an evaluation (the devkit's `DetectionMetrics`).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionMetrics {
    /// The settings used.
    pub config: DetectionConfig,
    /// AP per class ([`CLASSES`] order) per threshold (`config.dist_ths` order).
    pub label_aps: Vec<Vec<f64>>,
    /// TP errors per class ([`TP_METRICS`] order); NaN where undefined.
    pub label_tp_errors: Vec<[f64; 5]>,
}

/// numpy's `nanmean`: the mean of the numbers, NaN when there are none.
fn nanmean(values: impl Iterator<Item = f64>) -> f64 {
    let numbers: Vec<f64> = values.filter(|v| !v.is_nan()).collect();
    mean(&numbers)
}

impl DetectionMetrics {
    /// AP of each class, averaged over the thresholds.
    pub fn mean_dist_aps(&self) -> Vec<f64> {
        self.label_aps.iter().map(|aps| mean(aps)).collect()
    }

    /// mAP: the mean over classes and thresholds.
    pub fn mean_ap(&self) -> f64 {
        mean(&self.mean_dist_aps())
    }

    /// Each TP error averaged over the classes that define it.
    pub fn tp_errors(&self) -> [f64; 5] {
        std::array::from_fn(|m| nanmean(self.label_tp_errors.iter().map(|errors| errors[m])))
    }

    /// `max(0, 1 − error)` of each mean TP error.
    pub fn tp_scores(&self) -> [f64; 5] {
        self.tp_errors().map(|e| (1.0 - e).max(0.0))
    }

    /// The nuScenes detection score.
    pub fn nd_score(&self) -> f64 {
        let scores: f64 = self.tp_scores().iter().sum();
        (self.config.mean_ap_weight * self.mean_ap() + scores) / (self.config.mean_ap_weight + TP_METRICS.len() as f64)
    }

    /// The devkit's `metrics_summary.json` fields (`label_aps`,
    /// `mean_dist_aps`, `mean_ap`, `label_tp_errors`, `tp_errors`,
    /// `tp_scores`, `nd_score`); thresholds keyed as Python prints them
    /// (`"0.5"`, `"1.0"`), NaN as null.
    pub fn to_json(&self) -> Value {
        let number = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let by_metric = |values: &[f64; 5]| {
            TP_METRICS.iter().zip(values).map(|(m, v)| (m.to_string(), number(*v))).collect::<Map<_, _>>()
        };
        let mut label_aps = Map::new();
        let mut label_tp_errors = Map::new();
        let mut mean_dist_aps = Map::new();
        for (c, class) in CLASSES.iter().enumerate() {
            let aps = self.config.dist_ths.iter().zip(&self.label_aps[c]);
            label_aps.insert(class.to_string(), aps.map(|(d, ap)| (format!("{d:?}"), number(*ap))).collect());
            label_tp_errors.insert(class.to_string(), Value::Object(by_metric(&self.label_tp_errors[c])));
            mean_dist_aps.insert(class.to_string(), number(self.mean_dist_aps()[c]));
        }
        json!({
            "label_aps": label_aps,
            "mean_dist_aps": mean_dist_aps,
            "mean_ap": number(self.mean_ap()),
            "label_tp_errors": label_tp_errors,
            "tp_errors": by_metric(&self.tp_errors()),
            "tp_scores": by_metric(&self.tp_scores()),
            "nd_score": number(self.nd_score()),
        })
    }
}

/// Evaluates filtered predictions against filtered ground truth (both from
/// [`super::gt`]): every class at every threshold.
pub fn evaluate(gt: &EvalBoxes, pred: &EvalBoxes, config: &DetectionConfig) -> Result<DetectionMetrics> {
    config.validate()?;
    let mut label_aps = Vec::with_capacity(CLASSES.len());
    let mut label_tp_errors = Vec::with_capacity(CLASSES.len());
    for class in CLASSES {
        let mut aps = Vec::with_capacity(config.dist_ths.len());
        let mut at_tp = None;
        for &dist_th in &config.dist_ths {
            let md = accumulate(gt, pred, class, dist_th);
            aps.push(calc_ap(&md, config.min_recall, config.min_precision));
            if dist_th == config.dist_th_tp {
                at_tp = Some(md);
            }
        }
        let md = at_tp.unwrap_or_else(|| accumulate(gt, pred, class, config.dist_th_tp));
        label_tp_errors.push(std::array::from_fn(|m| {
            let metric = TpMetric::ALL[m];
            if tp_defined(class, metric) { calc_tp(&md, config.min_recall, metric) } else { f64::NAN }
        }));
        label_aps.push(aps);
    }
    Ok(DetectionMetrics { config: config.clone(), label_aps, label_tp_errors })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::accumulate::NELEM;

    fn curve(precision_until: usize) -> MetricData {
        let mut md = MetricData::no_predictions();
        for i in 0..=precision_until {
            md.precision[i] = 1.0;
            md.confidence[i] = 0.5;
            md.trans_err[i] = 0.2;
        }
        md
    }

    #[test]
    fn ap_and_tp_follow_the_devkit_formulas() {
        // Precision 1 up to recall 0.6: indices 11..=60 count, 50 of 90.
        let md = curve(60);
        assert!((calc_ap(&md, 0.1, 0.1) - 50.0 * 0.9 / 90.0 / 0.9).abs() < 1e-12);
        assert!((calc_tp(&md, 0.1, TpMetric::Trans) - 0.2).abs() < 1e-12);
        // Recall never above 0.1: no TP error measured, 1.
        assert_eq!(calc_tp(&curve(10), 0.1, TpMetric::Trans), 1.0);
        assert_eq!(calc_ap(&MetricData::no_predictions(), 0.1, 0.1), 0.0);
        assert!(calc_ap(&curve(NELEM - 1), 1.0, 0.1).is_nan(), "nothing above recall 1: numpy's mean of nothing");
    }

    #[test]
    fn nds_leaves_undefined_errors_out_and_tops_out_at_0_9_without_attributes() {
        let config = DetectionConfig::default();
        let perfect = |class: &str| {
            std::array::from_fn(|m| {
                let metric = TpMetric::ALL[m];
                if !tp_defined(class, metric) {
                    f64::NAN
                } else if metric == TpMetric::Attr {
                    1.0
                } else {
                    0.0
                }
            })
        };
        let metrics = DetectionMetrics {
            label_aps: vec![vec![1.0; 4]; 10],
            label_tp_errors: CLASSES.iter().map(|c| perfect(c)).collect(),
            config,
        };
        assert_eq!(metrics.mean_ap(), 1.0);
        assert_eq!(metrics.tp_errors(), [0.0, 0.0, 0.0, 0.0, 1.0]);
        assert!((metrics.nd_score() - 0.9).abs() < 1e-12);
        let json = metrics.to_json();
        assert_eq!(json["label_aps"]["car"]["1.0"], 1.0);
        assert!(json["label_tp_errors"]["traffic_cone"]["orient_err"].is_null());
        assert_eq!(json["label_tp_errors"]["barrier"]["orient_err"], 0.0);
    }
}
