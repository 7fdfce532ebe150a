//! Hungarian matching of one sample's anchor queries to its ground-truth
//! boxes, as the official `HungarianAssigner3D` (junjie18/CMT) does:
//!
//! cost(q, g) = class_weight · focal cost of g's class at q
//!            + box_weight · Σₖ₍₀..₈₎ |w_k · pred_k(q) − w_k · gt_k(g)|
//!
//! with the focal cost of mmdet's `FocalLossCost` (p = σ(logit),
//! `α (1−p)^γ (−ln(p+ε)) − (1−α) p^γ (−ln(1−p+ε))`, ε = 1e-12), the L1 cost
//! of `BBox3DL1Cost` on the first 8 values of the box code (the velocity is
//! not matched on) scaled by the code weights, and the official weights
//! (2 and 0.25, the loss weights). The assignment minimises the summed cost
//! exactly ([`assign`]: shortest augmenting paths with potentials, the
//! Jonker–Volgenant form of the Hungarian method, O(n²m) in f64) — the
//! `scipy.optimize.linear_sum_assignment` the official code calls.
//! Matching reads detached host values; the losses stay differentiable.

use std::collections::BTreeMap;

use cairn_train::host::{HostMap, HostTensor};
use cairn_train::model::{TensorMap, input};
use candle_core::DType;

use crate::cmt::boxes::CODE_SIZE;
use crate::cmt::config::TrainConfig;
use crate::{Error, Result};

/// Box code values the matching cost looks at (centre, sizes, yaw; not the
/// velocity).
pub const MATCHED_CODE: usize = 8;

/// One sample's ground truth, in box code (see [`crate::cmt::boxes`]);
/// a microbatch's travels in the targets map as `gt_codes`, `gt_labels`,
/// `gt_valid` ([`ground_truth_map`], [`read_targets`]; see
/// [`crate::cmt::loss`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// Box codes, one per box.
    pub codes: Vec<[f64; CODE_SIZE]>,
    /// Class labels, one per box.
    pub labels: Vec<usize>,
}

/// One sample's predictions of one decoder layer (host copies): logits
/// `[queries, classes]` and box codes `[queries, 10]`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Predictions<'a> {
    /// Class logits, `queries · classes` values.
    pub logits: &'a [f32],
    /// Box codes, `queries · 10` values.
    pub codes: &'a [f32],
    /// Classes per query.
    pub classes: usize,
}

impl Predictions<'_> {
    /// Queries predicted.
    pub fn queries(&self) -> usize {
        self.codes.len() / CODE_SIZE
    }
}

/// The cost matrix `[queries, boxes]` (row-major) of the official
/// assigner.
pub fn cost_matrix(predictions: &Predictions, targets: &Targets, train: &TrainConfig) -> Result<Vec<f64>> {
    let queries = predictions.queries();
    if predictions.codes.len() != queries * CODE_SIZE || predictions.logits.len() != queries * predictions.classes {
        return Err(Error::Input(format!(
            "matching: {} logits and {} code values do not make {queries} queries of {} classes",
            predictions.logits.len(),
            predictions.codes.len(),
            predictions.classes
        )));
    }
    if let Some(label) = targets.labels.iter().find(|l| **l >= predictions.classes) {
        return Err(Error::Input(format!("matching: label {label} of {} classes", predictions.classes)));
    }
    let (alpha, gamma, eps) = (train.focal_alpha, train.focal_gamma, 1e-12);
    let mut cost = Vec::with_capacity(queries * targets.codes.len());
    for q in 0..queries {
        let logits = &predictions.logits[q * predictions.classes..(q + 1) * predictions.classes];
        let code = &predictions.codes[q * CODE_SIZE..(q + 1) * CODE_SIZE];
        for (gt, label) in targets.codes.iter().zip(&targets.labels) {
            let p = 1.0 / (1.0 + (-f64::from(logits[*label])).exp());
            let positive = -(p + eps).ln() * alpha * (1.0 - p).powf(gamma);
            let negative = -(1.0 - p + eps).ln() * (1.0 - alpha) * p.powf(gamma);
            let l1: f64 = (0..MATCHED_CODE).map(|k| (train.code_weights[k] * (f64::from(code[k]) - gt[k])).abs()).sum();
            cost.push(train.class_weight * (positive - negative) + train.box_weight * l1);
        }
    }
    Ok(cost)
}

/// Matches queries to boxes: `(query, box)` pairs, one per box (all boxes
/// are matched when there are at least as many queries), sorted by query.
pub fn match_queries(predictions: &Predictions, targets: &Targets, train: &TrainConfig) -> Result<Vec<(usize, usize)>> {
    let cost = cost_matrix(predictions, targets, train)?;
    assign(&cost, predictions.queries(), targets.codes.len())
}

/// The minimum-cost assignment of a `rows × cols` cost matrix (row-major):
/// `min(rows, cols)` `(row, col)` pairs, each row and column used at most
/// once, sorted by row. A non-finite cost is an error.
pub fn assign(cost: &[f64], rows: usize, cols: usize) -> Result<Vec<(usize, usize)>> {
    if cost.len() != rows * cols {
        return Err(Error::Input(format!("assignment: {} costs for {rows}×{cols}", cost.len())));
    }
    if cost.iter().any(|c| !c.is_finite()) {
        return Err(Error::Input("assignment: a cost is not finite (NaN in the predictions?)".into()));
    }
    if rows == 0 || cols == 0 {
        return Ok(Vec::new());
    }
    let mut pairs = if rows <= cols {
        shortest_augmenting_paths(|r, c| cost[r * cols + c], rows, cols)
    } else {
        let transposed = shortest_augmenting_paths(|r, c| cost[c * cols + r], cols, rows);
        transposed.into_iter().map(|(c, r)| (r, c)).collect()
    };
    pairs.sort_unstable();
    Ok(pairs)
}

/// Hungarian method by shortest augmenting paths with row and column
/// potentials for `n ≤ m`: every row is assigned. Returns `(row, col)`.
fn shortest_augmenting_paths(cost: impl Fn(usize, usize) -> f64, n: usize, m: usize) -> Vec<(usize, usize)> {
    // 1-based with a virtual column 0, as in the classic formulation.
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let mut row_of = vec![0usize; m + 1]; // the row assigned to a column (0: none)
    let mut way = vec![0usize; m + 1];
    for row in 1..=n {
        row_of[0] = row;
        let mut column = 0;
        let mut min_to = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        // Grow the alternating tree until it reaches a free column.
        loop {
            used[column] = true;
            let (r, mut delta, mut next) = (row_of[column], f64::INFINITY, 0);
            for c in 1..=m {
                if used[c] {
                    continue;
                }
                let reduced = cost(r - 1, c - 1) - u[r] - v[c];
                if reduced < min_to[c] {
                    min_to[c] = reduced;
                    way[c] = column;
                }
                if min_to[c] < delta {
                    delta = min_to[c];
                    next = c;
                }
            }
            for c in 0..=m {
                if used[c] {
                    u[row_of[c]] += delta;
                    v[c] -= delta;
                } else {
                    min_to[c] -= delta;
                }
            }
            column = next;
            if row_of[column] == 0 {
                break;
            }
        }
        // Flip the path's edges back to the root.
        while column != 0 {
            let previous = way[column];
            row_of[column] = row_of[previous];
            column = previous;
        }
    }
    (1..=m).filter(|c| row_of[*c] != 0).map(|c| (row_of[c] - 1, c - 1)).collect()
}

/// The ground truth of a microbatch as the targets map's `gt_*` entries.
pub fn ground_truth_map(samples: &[Targets]) -> Result<HostMap> {
    let g = samples.iter().map(|s| s.codes.len()).max().unwrap_or(0).max(1);
    let b = samples.len();
    let mut codes = HostTensor::zeros(&[b, g, CODE_SIZE]);
    let mut labels = HostTensor::zeros(&[b, g]);
    let mut valid = HostTensor::zeros(&[b, g]);
    for (s, sample) in samples.iter().enumerate() {
        if sample.codes.len() != sample.labels.len() {
            return Err(Error::Input("targets: one label per box code".into()));
        }
        for (i, (code, label)) in sample.codes.iter().zip(&sample.labels).enumerate() {
            let row = s * g + i;
            for (k, value) in code.iter().enumerate() {
                codes.data[row * CODE_SIZE + k] = *value as f32;
            }
            labels.data[row] = *label as f32;
            valid.data[row] = 1.0;
        }
    }
    Ok(BTreeMap::from([("gt_codes".into(), codes), ("gt_labels".into(), labels), ("gt_valid".into(), valid)]))
}

/// The per-sample ground truth back from the targets map.
pub fn read_targets(targets: &TensorMap) -> Result<Vec<Targets>> {
    let codes = input(targets, "gt_codes")?.to_dtype(DType::F32)?.to_vec3::<f32>()?;
    let labels = input(targets, "gt_labels")?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let valid = input(targets, "gt_valid")?.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    if labels.len() != codes.len() || valid.len() != codes.len() {
        return Err(Error::Input("targets: gt_codes, gt_labels and gt_valid disagree on the batch".into()));
    }
    let mut samples = Vec::with_capacity(codes.len());
    for (s, sample_codes) in codes.iter().enumerate() {
        let mut sample = Targets { codes: Vec::new(), labels: Vec::new() };
        for (i, code) in sample_codes.iter().enumerate() {
            let (label, valid) = (labels[s].get(i).copied(), valid[s].get(i).copied());
            let (Some(label), Some(valid), Ok(code)) = (label, valid, <[f32; CODE_SIZE]>::try_from(code.as_slice()))
            else {
                return Err(Error::Input("targets: gt_codes, gt_labels and gt_valid disagree in shape".into()));
            };
            if valid > 0.5 {
                sample.codes.push(code.map(f64::from));
                sample.labels.push(label as usize);
            }
        }
        samples.push(sample);
    }
    Ok(samples)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Uniform numbers in [0, 1) from a seed.
    fn rng(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = cairn_train::host::splitmix64(state);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The least total cost over every injective map of the smaller side.
    fn brute_force(cost: &[f64], rows: usize, cols: usize) -> f64 {
        fn go(cost: &[f64], rows: usize, cols: usize, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == rows {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for c in 0..cols {
                if !used[c] {
                    used[c] = true;
                    best = best.min(cost[row * cols + c] + go(cost, rows, cols, row + 1, used));
                    used[c] = false;
                }
            }
            best
        }
        if rows <= cols {
            go(cost, rows, cols, 0, &mut vec![false; cols])
        } else {
            let transposed: Vec<f64> = (0..cols * rows).map(|i| cost[(i % rows) * cols + i / rows]).collect();
            go(&transposed, cols, rows, 0, &mut vec![false; rows])
        }
    }

    #[test]
    fn the_assignment_is_optimal_on_random_matrices() {
        let mut next = rng(7);
        for trial in 0..300 {
            let (rows, cols) = (1 + trial % 6, 1 + (trial / 6) % 7);
            // Integers in half the trials: ties must not break optimality.
            let cost: Vec<f64> = (0..rows * cols)
                .map(|_| if trial % 2 == 0 { (next() * 10.0).floor() } else { next() * 4.0 - 1.0 })
                .collect();
            let pairs = assign(&cost, rows, cols).unwrap();
            assert_eq!(pairs.len(), rows.min(cols));
            let mut seen_rows: Vec<usize> = pairs.iter().map(|p| p.0).collect();
            let mut seen_cols: Vec<usize> = pairs.iter().map(|p| p.1).collect();
            seen_rows.dedup();
            seen_cols.sort_unstable();
            seen_cols.dedup();
            assert_eq!((seen_rows.len(), seen_cols.len()), (pairs.len(), pairs.len()));
            let total: f64 = pairs.iter().map(|(r, c)| cost[r * cols + c]).sum();
            let best = brute_force(&cost, rows, cols);
            assert!((total - best).abs() < 1e-9, "{rows}×{cols}: {total} vs brute force {best}");
        }
    }

    #[test]
    fn empty_and_bad_matrices() {
        assert!(assign(&[], 0, 5).unwrap().is_empty());
        assert!(assign(&[1.0, 2.0], 1, 3).is_err());
        assert!(assign(&[1.0, f64::NAN], 1, 2).is_err());
    }

    #[test]
    fn each_box_takes_the_query_that_predicts_it() {
        let train = TrainConfig::paper();
        // Query 0 predicts box 1 (class 2), query 2 predicts box 0 (class 0),
        // query 1 predicts nothing.
        let box_a = [10.0, 5.0, 0.6, 1.5, 0.0, 0.4, 0.0, 1.0, 0.0, 0.0];
        let box_b = [-20.0, 3.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        let mut logits = vec![-4.0f32; 3 * 3];
        logits[2] = 3.0; // query 0, class 2
        logits[2 * 3] = 3.0; // query 2, class 0
        let codes: Vec<f32> = [box_b, [0.0; 10], box_a].iter().flatten().map(|v| *v as f32).collect();
        let predictions = Predictions { logits: &logits, codes: &codes, classes: 3 };
        let targets = Targets { codes: vec![box_a, box_b], labels: vec![0, 2] };
        assert_eq!(match_queries(&predictions, &targets, &train).unwrap(), vec![(0, 1), (2, 0)]);
        let cost = cost_matrix(&predictions, &targets, &train).unwrap();
        // The right class lowers the cost: focal cost is negative for a confident positive.
        assert!(cost[2 * 2] < 0.0 && cost[2] > 0.0);
        let bad = Targets { codes: vec![box_a], labels: vec![3] };
        assert!(match_queries(&predictions, &bad, &train).is_err());
    }

    #[test]
    fn velocity_does_not_change_the_match_cost() {
        let train = TrainConfig::paper();
        let logits = [0.5f32, -0.5];
        let mut code = [1.0f32, 2.0, 0.1, 0.2, 0.3, 0.4, 0.0, 1.0, 0.0, 0.0];
        let targets = Targets { codes: vec![[0.0; 10]], labels: vec![1] };
        let before = cost_matrix(&Predictions { logits: &logits, codes: &code, classes: 2 }, &targets, &train).unwrap();
        code[8] = 9.0;
        let after = cost_matrix(&Predictions { logits: &logits, codes: &code, classes: 2 }, &targets, &train).unwrap();
        assert_eq!(before, after);
        // L1 part: 0.25 · (2·1 + 2·2 + 0.1 + 0.2 + 0.3 + 0.4 + 0 + 1).
        let p = 1.0 / (1.0 + 0.5f64.exp());
        let focal = -(p + 1e-12).ln() * 0.25 * (1.0 - p).powi(2) + (1.0 - p + 1e-12).ln() * 0.75 * p.powi(2);
        let expected = 2.0 * focal + 0.25 * (2.0 + 4.0 + 0.1 + 0.2 + 0.3 + 0.4 + 1.0);
        assert!((before[0] - expected).abs() < 1e-6, "{} vs {expected}", before[0]);
    }
}
