//! Absolute trajectory error (ATE) and relative pose error (RPE), with the
//! statistics evo prints (rmse, mean, median, std, min, max, sse).
//!
//! The pipeline is evo's: associate by timestamp (TUM) or require equal
//! lengths (KITTI) → align (Umeyama) → per-pose or per-pair errors →
//! statistics. ATE is evo's APE w.r.t. the translation part; RPE follows the
//! TUM RGB-D benchmark's definition `E = (Q_i⁻¹ Q_j)⁻¹ (P_i⁻¹ P_j)`.

use crate::align::{Alignment, Sim3, align_trajectory};
use crate::sync::{DEFAULT_MAX_DIFF, associate};
use crate::trajectory::Trajectory;
use crate::transform::rotation_angle;
use crate::{Error, Result};

/// Options shared by ATE and RPE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalOptions {
    /// Alignment of the estimate to the reference.
    pub align: Alignment,
    /// Largest stamp difference (s) for a match (evo `--t_max_diff`).
    pub max_diff: f64,
    /// Seconds added to the estimate's stamps (evo `--t_offset`).
    pub offset: f64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { align: Alignment::Se3, max_diff: DEFAULT_MAX_DIFF, offset: 0.0 }
    }
}

/// Which part of the relative error pose is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Relation {
    /// Norm of the translation (m); evo `-r trans_part`.
    #[default]
    Translation,
    /// Rotation angle (degrees); evo `-r angle_deg`.
    RotationDeg,
}

/// Unit of the RPE step between the two poses of a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeltaUnit {
    /// Every `delta`-th pose (evo `--delta_unit f`).
    #[default]
    Frames,
    /// Travelled path length of the estimate in metres (evo `--delta_unit m`).
    Meters,
}

/// RPE settings (evo's defaults: delta 1 frame, translation part).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RpeOptions {
    /// Step between the poses of a pair.
    pub delta: f64,
    /// Unit of `delta`.
    pub unit: DeltaUnit,
    /// Translation or rotation error.
    pub relation: Relation,
}

impl Default for RpeOptions {
    fn default() -> Self {
        Self { delta: 1.0, unit: DeltaUnit::Frames, relation: Relation::Translation }
    }
}

/// Summary statistics of an error series, as evo computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Root mean square.
    pub rmse: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Population standard deviation.
    pub std: f64,
    /// Smallest error.
    pub min: f64,
    /// Largest error.
    pub max: f64,
    /// Sum of squared errors.
    pub sse: f64,
    /// Number of pose pairs the errors come from.
    pub pairs: usize,
}

impl Stats {
    /// Statistics of a non-empty error series.
    pub fn from_errors(errors: &[f64]) -> Result<Self> {
        if errors.is_empty() {
            return Err(Error::Metric("no errors to summarise".into()));
        }
        let n = errors.len() as f64;
        let sse: f64 = errors.iter().map(|e| e * e).sum();
        let mean = errors.iter().sum::<f64>() / n;
        let variance = errors.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / n;
        let mut sorted = errors.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 };
        Ok(Self {
            rmse: (sse / n).sqrt(),
            mean,
            median,
            std: variance.sqrt(),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            sse,
            pairs: errors.len(),
        })
    }
}

/// The outcome of an ATE or RPE evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReport {
    /// Statistics of `errors`.
    pub stats: Stats,
    /// `"m"` or `"deg"`.
    pub unit: &'static str,
    /// One error per pose (ATE) or per pose pair (RPE).
    pub errors: Vec<f64>,
    /// The alignment applied to the estimate.
    pub alignment: Sim3,
}

/// Associates (or checks equal lengths) and aligns: evo's steps before any
/// metric. Returns `(reference, aligned estimate, alignment)`.
pub fn prepare(
    reference: &Trajectory,
    estimate: &Trajectory,
    options: &EvalOptions,
) -> Result<(Trajectory, Trajectory, Sim3)> {
    let (reference, estimate) = match (&reference.stamps, &estimate.stamps) {
        (Some(_), Some(_)) => associate(reference, estimate, options.max_diff, options.offset)?,
        _ if reference.len() == estimate.len() => (reference.clone(), estimate.clone()),
        _ => {
            return Err(Error::Association(format!(
                "without timestamps the trajectories must have the same number of poses: {} has {}, {} has {}",
                reference.name,
                reference.len(),
                estimate.name,
                estimate.len()
            )));
        }
    };
    let (estimate, alignment) = align_trajectory(&reference, &estimate, options.align)?;
    Ok((reference, estimate, alignment))
}

/// Absolute trajectory error: distance between associated positions after
/// alignment (evo `evo_ape … -r trans_part`).
pub fn ate(reference: &Trajectory, estimate: &Trajectory, options: &EvalOptions) -> Result<ErrorReport> {
    let (reference, estimate, alignment) = prepare(reference, estimate, options)?;
    let errors: Vec<f64> = reference.positions().zip(estimate.positions()).map(|(r, e)| (e - r).norm()).collect();
    Ok(ErrorReport { stats: Stats::from_errors(&errors)?, unit: "m", errors, alignment })
}

/// Relative pose error over pose pairs `delta` apart.
pub fn rpe(
    reference: &Trajectory,
    estimate: &Trajectory,
    options: &EvalOptions,
    rpe: &RpeOptions,
) -> Result<ErrorReport> {
    let (reference, estimate, alignment) = prepare(reference, estimate, options)?;
    let pairs = pair_ids(&estimate, rpe.delta, rpe.unit)?;
    let (q, p) = (&reference.world_from_body, &estimate.world_from_body);
    let errors: Vec<f64> = pairs
        .iter()
        .map(|&(i, j)| {
            let error = (q[i].inverse() * q[j]).inverse() * (p[i].inverse() * p[j]);
            match rpe.relation {
                Relation::Translation => error.translation.vector.norm(),
                Relation::RotationDeg => rotation_angle(&error.rotation).to_degrees(),
            }
        })
        .collect();
    let unit = match rpe.relation {
        Relation::Translation => "m",
        Relation::RotationDeg => "deg",
    };
    Ok(ErrorReport { stats: Stats::from_errors(&errors)?, unit, errors, alignment })
}

/// Consecutive index pairs `delta` apart, as evo's `id_pairs_from_delta`
/// (without `--all_pairs`): every `delta`-th frame, or each point where the
/// estimate's travelled path since the previous pair start reaches `delta` m.
pub fn pair_ids(trajectory: &Trajectory, delta: f64, unit: DeltaUnit) -> Result<Vec<(usize, usize)>> {
    let ids: Vec<usize> = match unit {
        DeltaUnit::Frames => {
            if !(delta >= 1.0 && delta.fract() == 0.0 && delta.is_finite()) {
                return Err(Error::Metric(format!("delta must be a positive integer for frames, got {delta}")));
            }
            (0..trajectory.len()).step_by(delta as usize).collect()
        }
        DeltaUnit::Meters => {
            if !(delta > 0.0 && delta.is_finite()) {
                return Err(Error::Metric(format!("delta must be a positive number of metres, got {delta}")));
            }
            let positions: Vec<_> = trajectory.positions().collect();
            let mut ids = vec![0];
            let mut path = 0.0;
            for i in 1..positions.len() {
                path += (positions[i] - positions[i - 1]).norm();
                if path >= delta {
                    ids.push(i);
                    path = 0.0;
                }
            }
            ids
        }
    };
    let pairs: Vec<_> = ids.windows(2).map(|w| (w[0], w[1])).collect();
    if pairs.is_empty() {
        let unit = if unit == DeltaUnit::Frames { "frames" } else { "m" };
        return Err(Error::Metric(format!(
            "delta = {delta} ({unit}) produced no pose pair among {} poses - try a lower value",
            trajectory.len()
        )));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Rigid3;
    use approx::assert_relative_eq;
    use nalgebra::{Translation3, UnitQuaternion};

    fn line(n: usize, step: f64, stamps_from: f64) -> Trajectory {
        let poses = (0..n)
            .map(|i| {
                let t = i as f64 * step;
                Rigid3::from_parts(
                    Translation3::new(t, (t * 3.0).sin(), 0.1 * t * t),
                    UnitQuaternion::from_euler_angles(0.0, 0.0, 0.1 * t),
                )
            })
            .collect();
        Trajectory::with_stamps("line", (0..n).map(|i| stamps_from + i as f64 * 0.1).collect(), poses).unwrap()
    }

    #[test]
    fn stats_match_hand_computed_values() {
        let s = Stats::from_errors(&[1.0, 2.0, 4.0, 3.0]).unwrap();
        assert_relative_eq!(s.mean, 2.5);
        assert_relative_eq!(s.median, 2.5);
        assert_relative_eq!(s.sse, 30.0);
        assert_relative_eq!(s.rmse, 7.5f64.sqrt());
        assert_relative_eq!(s.std, 1.25f64.sqrt());
        assert_eq!((s.min, s.max, s.pairs), (1.0, 4.0, 4));
        assert_eq!(Stats::from_errors(&[3.0, 1.0, 2.0]).unwrap().median, 2.0);
        assert!(Stats::from_errors(&[]).is_err());
    }

    #[test]
    fn ate_is_zero_after_aligning_a_rigidly_moved_copy() {
        let gt = line(40, 0.1, 0.0);
        let mut est = gt.clone();
        let moved =
            Rigid3::from_parts(Translation3::new(3.0, -1.0, 2.0), UnitQuaternion::from_euler_angles(0.3, 0.2, -1.0));
        for p in &mut est.world_from_body {
            *p = moved * *p;
        }
        let ate_se3 = ate(&gt, &est, &EvalOptions::default()).unwrap();
        assert!(ate_se3.stats.rmse < 1e-12);
        let unaligned = ate(&gt, &est, &EvalOptions { align: Alignment::None, ..Default::default() }).unwrap();
        assert!(unaligned.stats.rmse > 1.0);
        // RPE is invariant to the rigid motion even without alignment.
        let rpe_none =
            rpe(&gt, &est, &EvalOptions { align: Alignment::None, ..Default::default() }, &RpeOptions::default())
                .unwrap();
        assert!(rpe_none.stats.max < 1e-12);
    }

    #[test]
    fn sim3_removes_scale_and_se3_does_not() {
        let gt = line(30, 0.2, 0.0);
        let mut est = gt.clone();
        for p in &mut est.world_from_body {
            p.translation.vector *= 1.5;
        }
        let sim3 = ate(&gt, &est, &EvalOptions { align: Alignment::Sim3, ..Default::default() }).unwrap();
        assert!(sim3.stats.rmse < 1e-10);
        assert_relative_eq!(sim3.alignment.scale, 1.0 / 1.5, epsilon = 1e-12);
        assert!(ate(&gt, &est, &EvalOptions::default()).unwrap().stats.rmse > 0.01);
    }

    #[test]
    fn rpe_measures_a_known_relative_error() {
        let gt = line(11, 0.1, 0.0);
        let mut est = gt.clone();
        // A 2 cm body-frame translation error on every step from pose 5 on.
        for i in 5..est.len() {
            est.world_from_body[i] *= Translation3::new(0.0, 0.02, 0.0);
        }
        let options = EvalOptions { align: Alignment::None, ..Default::default() };
        let report = rpe(&gt, &est, &options, &RpeOptions::default()).unwrap();
        assert_eq!(report.stats.pairs, 10);
        assert_relative_eq!(report.stats.max, 0.02, epsilon = 1e-12);
        let rot = RpeOptions { relation: Relation::RotationDeg, ..Default::default() };
        assert!(rpe(&gt, &est, &options, &rot).unwrap().stats.max < 1e-9);
        assert_eq!(report.unit, "m");
    }

    #[test]
    fn pair_ids_by_frames_and_metres() {
        let t = line(10, 1.0, 0.0);
        assert_eq!(pair_ids(&t, 3.0, DeltaUnit::Frames).unwrap(), vec![(0, 3), (3, 6), (6, 9)]);
        let straight = Trajectory::with_stamps(
            "s",
            (0..6).map(f64::from).collect(),
            (0..6).map(|i| Rigid3::translation(f64::from(i) * 0.5, 0.0, 0.0)).collect(),
        )
        .unwrap();
        assert_eq!(pair_ids(&straight, 1.0, DeltaUnit::Meters).unwrap(), vec![(0, 2), (2, 4)]);
        assert!(pair_ids(&t, 0.5, DeltaUnit::Frames).is_err());
        assert!(pair_ids(&t, 20.0, DeltaUnit::Frames).unwrap_err().to_string().contains("no pose pair"));
        assert!(pair_ids(&t, -1.0, DeltaUnit::Meters).is_err());
    }

    #[test]
    fn kitti_needs_equal_lengths() {
        let mut a = line(5, 0.1, 0.0);
        a.stamps = None;
        let b = a.select(&[0, 1, 2]);
        assert!(ate(&a, &b, &EvalOptions::default()).unwrap_err().to_string().contains("same number of poses"));
        assert!(ate(&a, &a, &EvalOptions::default()).unwrap().stats.rmse < 1e-12);
    }
}
