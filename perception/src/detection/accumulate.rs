//! The devkit's `accumulate` (`nuscenes/eval/detection/algo.py`): for one
//! class and one centre-distance threshold, predictions sorted by score are
//! matched greedily to the nearest unmatched ground truth of the class;
//! precision and the per-match errors are interpolated on 101 recall
//! points ([`MetricData`]).
//!
//! The interpolation is numpy's `interp` (the same bracketing and formula),
//! and ties are broken as the devkit breaks them: equal scores go
//! later-listed first, equal distances to the earlier-listed ground truth.

use super::box_errors::{attr_acc, center_distance, scale_iou, velocity_l2, yaw_diff};
use super::gt::EvalBoxes;

/// Number of recall points (0 %, 1 %, …, 100 %).
pub const NELEM: usize = 101;

/// Accumulated precision, confidence and TP errors on [`NELEM`] recall
/// points (the devkit's `DetectionMetricData`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricData {
    /// Recall points, 0 to 1.
    pub recall: Vec<f64>,
    /// Interpolated precision at each recall.
    pub precision: Vec<f64>,
    /// Interpolated score at each recall (0 beyond the highest recall).
    pub confidence: Vec<f64>,
    /// Cumulative mean translation error (m).
    pub trans_err: Vec<f64>,
    /// Cumulative mean velocity error (m/s).
    pub vel_err: Vec<f64>,
    /// Cumulative mean scale error (1 − IoU).
    pub scale_err: Vec<f64>,
    /// Cumulative mean orientation error (rad).
    pub orient_err: Vec<f64>,
    /// Cumulative mean attribute error (1 − accuracy).
    pub attr_err: Vec<f64>,
}

/// numpy's `linspace(0, 1, 101)`: `i · (1/100)`, the last point exactly 1.
pub fn recall_points() -> Vec<f64> {
    let step = 1.0 / (NELEM - 1) as f64;
    let mut points: Vec<f64> = (0..NELEM).map(|i| i as f64 * step).collect();
    points[NELEM - 1] = 1.0;
    points
}

impl MetricData {
    /// The data of a class without ground truth or without any match: zero
    /// precision and confidence, errors of 1.
    pub fn no_predictions() -> MetricData {
        let ones = vec![1.0; NELEM];
        MetricData {
            recall: recall_points(),
            precision: vec![0.0; NELEM],
            confidence: vec![0.0; NELEM],
            trans_err: ones.clone(),
            vel_err: ones.clone(),
            scale_err: ones.clone(),
            orient_err: ones.clone(),
            attr_err: ones,
        }
    }

    /// Index of the highest recall reached: the last non-zero confidence
    /// (0 when there is none).
    pub fn max_recall_ind(&self) -> usize {
        self.confidence.iter().rposition(|c| *c != 0.0).unwrap_or(0)
    }
}

/// numpy's `interp(x, xp, fp, left, right)` for ascending `xp` (repeats
/// allowed): `fp[0]`/`left` below, `right` above, `fp[-1]` at the last
/// point, else linear between the bracketing points `xp[j] ≤ x < xp[j+1]`.
pub fn interp(x: &[f64], xp: &[f64], fp: &[f64], left: f64, right: f64) -> Vec<f64> {
    let n = xp.len().min(fp.len());
    if n == 0 {
        return vec![f64::NAN; x.len()];
    }
    x.iter()
        .map(|&v| {
            if v.is_nan() {
                v
            } else if v > xp[n - 1] {
                right
            } else if v < xp[0] {
                left
            } else if v == xp[n - 1] {
                fp[n - 1]
            } else {
                // Largest j with xp[j] <= v; v < xp[n-1] so j + 1 < n.
                let j = xp[..n].partition_point(|p| *p <= v) - 1;
                let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
                let mut y = slope * (v - xp[j]) + fp[j];
                if y.is_nan() {
                    y = slope * (v - xp[j + 1]) + fp[j + 1];
                    if y.is_nan() && fp[j] == fp[j + 1] {
                        y = fp[j];
                    }
                }
                y
            }
        })
        .collect()
}

/// The devkit's NaN-aware cumulative mean: NaNs are skipped, positions
/// before the first number are 0, and an all-NaN (or empty) input gives ones.
pub fn cummean(x: &[f64]) -> Vec<f64> {
    if x.iter().all(|v| v.is_nan()) {
        return vec![1.0; x.len()];
    }
    let (mut sum, mut count) = (0.0, 0usize);
    x.iter()
        .map(|v| {
            if !v.is_nan() {
                sum += v;
                count += 1;
            }
            if count == 0 { 0.0 } else { sum / count as f64 }
        })
        .collect()
}

/// Errors of the matched predictions, in match order.
#[derive(Default)]
struct Matches {
    trans: Vec<f64>,
    vel: Vec<f64>,
    scale: Vec<f64>,
    orient: Vec<f64>,
    attr: Vec<f64>,
    conf: Vec<f64>,
}

/// Accumulates `class` (a [`CLASSES`](super::CLASSES) name) at one
/// centre-distance threshold (metres).
pub fn accumulate(gt: &EvalBoxes, pred: &EvalBoxes, class: &str, dist_th: f64) -> MetricData {
    let npos = gt.all().filter(|b| b.detection.detection_name == class).count();
    if npos == 0 {
        return MetricData::no_predictions();
    }
    let preds: Vec<(usize, &super::EvalBox)> = pred
        .samples
        .iter()
        .enumerate()
        .flat_map(|(s, sample)| sample.boxes.iter().map(move |b| (s, b)))
        .filter(|(_, b)| b.detection.detection_name == class)
        .collect();
    // sorted((score, index))[::-1]: score descending, ties by later index first.
    let mut order: Vec<usize> = (0..preds.len()).collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (preds[a].1.detection.detection_score, preds[b].1.detection.detection_score);
        sb.total_cmp(&sa).then(b.cmp(&a))
    });
    let gt_index = gt.index();
    let mut taken: Vec<Vec<bool>> = gt.samples.iter().map(|s| vec![false; s.boxes.len()]).collect();
    let period_of = if class == "barrier" { std::f64::consts::PI } else { std::f64::consts::TAU };
    let (mut tp, mut fp, mut conf) = (Vec::new(), Vec::new(), Vec::new());
    let mut matches = Matches::default();
    for &k in &order {
        let (s, pred_box) = preds[k];
        let score = pred_box.detection.detection_score;
        let g = gt_index.get(pred.samples[s].token.as_str()).copied();
        let mut best: Option<(usize, f64)> = None;
        if let Some(g) = g {
            for (i, gt_box) in gt.samples[g].boxes.iter().enumerate() {
                if gt_box.detection.detection_name != class || taken[g][i] {
                    continue;
                }
                let distance = center_distance(&gt_box.detection, &pred_box.detection);
                if best.is_none_or(|(_, d)| distance < d) {
                    best = Some((i, distance));
                }
            }
        }
        let matched = match (g, best) {
            (Some(g), Some((i, distance))) if distance < dist_th => Some((g, i)),
            _ => None,
        };
        tp.push(if matched.is_some() { 1.0 } else { 0.0 });
        fp.push(if matched.is_some() { 0.0 } else { 1.0 });
        conf.push(score);
        if let Some((g, i)) = matched {
            taken[g][i] = true;
            let (gt_box, p) = (&gt.samples[g].boxes[i].detection, &pred_box.detection);
            matches.trans.push(center_distance(gt_box, p));
            matches.vel.push(velocity_l2(gt_box, p));
            matches.scale.push(1.0 - scale_iou(gt_box, p));
            matches.orient.push(yaw_diff(gt_box, p, period_of));
            matches.attr.push(1.0 - attr_acc(gt_box, p));
            matches.conf.push(score);
        }
    }
    if matches.conf.is_empty() {
        return MetricData::no_predictions();
    }
    interpolate(&tp, &fp, &conf, npos, &matches)
}

/// Precision/recall from the TP/FP flags, then everything on the 101
/// recall points.
fn interpolate(tp: &[f64], fp: &[f64], conf: &[f64], npos: usize, matches: &Matches) -> MetricData {
    let cumsum = |v: &[f64]| {
        v.iter()
            .scan(0.0, |acc, x| {
                *acc += x;
                Some(*acc)
            })
            .collect::<Vec<f64>>()
    };
    let (tp, fp) = (cumsum(tp), cumsum(fp));
    let precision: Vec<f64> = tp.iter().zip(&fp).map(|(t, f)| t / (f + t)).collect();
    let recall_reached: Vec<f64> = tp.iter().map(|t| t / npos as f64).collect();
    let recall = recall_points();
    let precision = interp(&recall, &recall_reached, &precision, precision[0], 0.0);
    let confidence = interp(&recall, &recall_reached, conf, conf[0], 0.0);
    // Each error's cumulative mean, resampled at the interpolated scores
    // (reversed: interp needs ascending scores).
    let conf_up: Vec<f64> = confidence.iter().rev().copied().collect();
    let match_conf_up: Vec<f64> = matches.conf.iter().rev().copied().collect();
    let resample = |errors: &[f64]| {
        let mean_up: Vec<f64> = cummean(errors).into_iter().rev().collect();
        let (first, last) = (mean_up[0], mean_up[mean_up.len() - 1]);
        let mut out = interp(&conf_up, &match_conf_up, &mean_up, first, last);
        out.reverse();
        out
    };
    MetricData {
        trans_err: resample(&matches.trans),
        vel_err: resample(&matches.vel),
        scale_err: resample(&matches.scale),
        orient_err: resample(&matches.orient),
        attr_err: resample(&matches.attr),
        recall,
        precision,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detection::DetectionBox;
    use crate::detection::gt::{EvalBox, SampleBoxes};

    #[test]
    fn interp_matches_numpy_including_repeated_points() {
        // np.interp([0, .5, 1, 1.5, 2, 2.5, 3, 4], [1, 1, 2, 3], [10, 20, 30, 40], left=-1, right=99)
        let y = interp(
            &[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0],
            &[1.0, 1.0, 2.0, 3.0],
            &[10.0, 20.0, 30.0, 40.0],
            -1.0,
            99.0,
        );
        assert_eq!(y, [-1.0, -1.0, 20.0, 25.0, 30.0, 35.0, 40.0, 99.0]);
        assert_eq!(interp(&[0.5, 1.0, 2.0], &[1.0], &[7.0], 0.0, 9.0), [0.0, 7.0, 9.0]);
    }

    #[test]
    fn cummean_skips_nan_and_gives_ones_when_all_are_nan() {
        let nan = f64::NAN;
        assert_eq!(cummean(&[nan, 2.0, nan, 4.0]), [0.0, 2.0, 2.0, 3.0]);
        assert_eq!(cummean(&[nan, nan]), [1.0, 1.0]);
        assert_eq!(recall_points()[100], 1.0);
        assert_eq!(recall_points()[3], 3.0 * 0.01);
    }

    fn eval_box(token: &str, x: f64, score: f64) -> EvalBox {
        EvalBox {
            detection: DetectionBox {
                sample_token: token.into(),
                translation: [x, 0.0, 0.0],
                size: [2.0, 4.0, 1.5],
                rotation: [1.0, 0.0, 0.0, 0.0],
                velocity: [0.0, 0.0],
                detection_name: "car".into(),
                detection_score: score,
                attribute_name: String::new(),
            },
            label: 0,
            ego_translation: [x, 0.0, 0.0],
            num_pts: 1,
        }
    }

    fn boxes(boxes: Vec<EvalBox>) -> EvalBoxes {
        EvalBoxes { samples: vec![SampleBoxes { token: "t".into(), boxes }] }
    }

    #[test]
    fn one_hit_one_duplicate_one_miss() {
        // GT cars at x = 0 and 10; predictions: 0.3 m off the first (0.9), a
        // duplicate of it (0.8), nothing near the second.
        let gt = boxes(vec![eval_box("t", 0.0, -1.0), eval_box("t", 10.0, -1.0)]);
        let pred = boxes(vec![eval_box("t", 0.3, 0.9), eval_box("t", 0.1, 0.8)]);
        let md = accumulate(&gt, &pred, "car", 1.0);
        // Recall reaches 0.5 with precision 1, then 0.5 at the duplicate
        // (same recall): numpy's interp takes the last value at a repeat.
        assert_eq!(md.precision[0], 1.0);
        assert_eq!(md.precision[49], 1.0);
        assert_eq!(md.precision[50], 0.5);
        assert_eq!(md.precision[51], 0.0);
        assert_eq!(md.max_recall_ind(), 50);
        assert!((md.trans_err[20] - 0.3).abs() < 1e-12);
        assert_eq!(md.attr_err[20], 1.0, "no attributes: error 1");
        assert_eq!(accumulate(&gt, &pred, "truck", 1.0), MetricData::no_predictions());
        assert_eq!(accumulate(&gt, &pred, "car", 0.05), MetricData::no_predictions(), "no match within 5 cm");
    }

    #[test]
    fn ties_are_broken_as_the_devkit_breaks_them() {
        // Equal scores: the later-listed prediction is ranked first, so it
        // takes the ground truth (its error, 0.4 m, is the one measured).
        let gt = boxes(vec![eval_box("t", 0.0, -1.0)]);
        let pred = boxes(vec![eval_box("t", 0.1, 0.5), eval_box("t", 0.4, 0.5)]);
        let md = accumulate(&gt, &pred, "car", 1.0);
        assert!((md.trans_err[50] - 0.4).abs() < 1e-12, "{}", md.trans_err[50]);
        // Equal distances: the earlier-listed ground truth is taken first.
        let gt = boxes(vec![
            EvalBox {
                detection: DetectionBox { size: [1.0, 4.0, 1.5], ..eval_box("t", -1.0, -1.0).detection },
                ..eval_box("t", -1.0, -1.0)
            },
            eval_box("t", 1.0, -1.0),
        ]);
        let md = accumulate(&gt, &boxes(vec![eval_box("t", 0.0, 0.9)]), "car", 2.0);
        assert!((md.scale_err[20] - 0.5).abs() < 1e-12, "matched the first (half as wide) box: {}", md.scale_err[20]);
    }
}
