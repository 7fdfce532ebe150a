//! Sliding-window optimisation over the most recent keyframes, after
//! RESLAM: the poses of the last `window.size` keyframes are refined
//! jointly by reprojecting each keyframe's edge points into every other
//! window keyframe's distance field and minimising the Huber cost of the
//! distances, exactly the tracking residual of [`crate::align`].
//!
//! **Simplification (named):** RESLAM also refines the edge depths and the
//! camera intrinsics; here edge depths and intrinsics are held fixed and
//! only poses move (a 6·(N−1)-dimensional problem instead of thousands of
//! depths), with the oldest window keyframe fixed as the gauge.
//!
//! With world poses `T_i = world_from_i` perturbed on the left,
//! `T_i ← Exp(δ_i)·T_i`, the pose of keyframe `i` in keyframe `j`'s camera is
//! `C = T_j⁻¹·T_i`, and to first order `C ← Exp(Ad(T_j⁻¹)·(δ_i − δ_j))·C`.
//! So with `a = ∂r/∂ε` from [`residual_and_jacobian`] (left twist on `C`):
//! `∂r/∂δ_i = Ad(T_j⁻¹)ᵀ·a` and `∂r/∂δ_j = −Ad(T_j⁻¹)ᵀ·a`.

use cairn_core::transform::Rigid3;
use nalgebra::{DMatrix, DVector, Matrix3, Matrix6, Vector3, Vector6};

use crate::align::{LevelTarget, exp_twist, residual_and_jacobian};
use crate::config::{TrackingConfig, WindowConfig};
use crate::distance::DistanceField;
use crate::keyframe::subsample;
use crate::projection::LevelCamera;

/// One keyframe of the window: its pose, edge points and distance field
/// (finest pyramid level).
#[derive(Debug, Clone)]
pub struct WindowKeyframe {
    /// Keyframe id.
    pub id: usize,
    /// Current pose estimate.
    pub world_from_keyframe: Rigid3,
    /// Edge points `p_in_keyframe` (m), subsampled to `window.max_points`.
    pub points: Vec<Vector3<f64>>,
    /// Distance transform of the keyframe image's edges (level 0).
    pub field: DistanceField,
}

impl WindowKeyframe {
    /// A window keyframe from a tracking keyframe's level-0 points and its
    /// frame's level-0 distance field.
    pub fn new(
        id: usize,
        world_from_keyframe: Rigid3,
        points: &[Vector3<f64>],
        field: DistanceField,
        config: &WindowConfig,
    ) -> Self {
        let points = subsample(points, config.max_points).copied().collect();
        WindowKeyframe { id, world_from_keyframe, points, field }
    }
}

/// What one window optimisation did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WindowReport {
    /// Keyframe pairs `(i → j)` with enough overlap to enter the problem.
    pub pairs: usize,
    /// Gauss-Newton iterations (accepted or not).
    pub iterations: usize,
    /// Robust cost before and after.
    pub initial_cost: f64,
    /// See `initial_cost`.
    pub final_cost: f64,
}

/// Normal equations of the whole window at the current poses.
struct Normal {
    hessian: DMatrix<f64>,
    gradient: DVector<f64>,
    cost: f64,
}

/// Refines the poses of `keyframes[1..]` (keyframe 0 is the gauge) in
/// place; see the module documentation. The residual, Huber threshold and
/// outlier cut are tracking's (`tracking.huber_delta_px`,
/// `tracking.max_residual_px`).
pub fn optimize(
    keyframes: &mut [WindowKeyframe],
    camera: &LevelCamera,
    window: &WindowConfig,
    tracking: &TrackingConfig,
) -> WindowReport {
    let mut report = WindowReport::default();
    if keyframes.len() < 2 {
        return report;
    }
    let pairs = overlapping_pairs(keyframes, camera, window.min_overlap);
    report.pairs = pairs.len();
    if pairs.is_empty() {
        return report;
    }
    let mut current = linearize(keyframes, &pairs, camera, tracking);
    report.initial_cost = current.cost;
    let mut lambda = 1e-4;
    while report.iterations < window.max_iterations {
        report.iterations += 1;
        let mut damped = current.hessian.clone();
        for i in 0..damped.nrows() {
            damped[(i, i)] += lambda * current.hessian[(i, i)].max(1e-9);
        }
        let Some(cholesky) = damped.cholesky() else { break };
        let step = -cholesky.solve(&current.gradient);
        if !step.iter().all(|s| s.is_finite()) {
            break;
        }
        let saved: Vec<Rigid3> = keyframes.iter().map(|k| k.world_from_keyframe).collect();
        for (k, keyframe) in keyframes.iter_mut().enumerate().skip(1) {
            let delta = Vector6::from_fn(|r, _| step[6 * (k - 1) + r]);
            keyframe.world_from_keyframe = exp_twist(&delta) * keyframe.world_from_keyframe;
            keyframe.world_from_keyframe.rotation.renormalize();
        }
        let candidate = linearize(keyframes, &pairs, camera, tracking);
        if candidate.cost < current.cost {
            let converged = current.cost - candidate.cost < 1e-4 * current.cost;
            current = candidate;
            lambda = (lambda * 0.1).max(1e-7);
            if converged {
                break;
            }
        } else {
            for (keyframe, pose) in keyframes.iter_mut().zip(saved) {
                keyframe.world_from_keyframe = pose;
            }
            lambda *= 10.0;
            if lambda > 1e4 {
                break;
            }
        }
    }
    report.final_cost = current.cost;
    report
}

/// Ordered pairs `(i, j)` where at least `min_overlap` of keyframe `i`'s
/// points project onto keyframe `j`'s image at the current poses.
fn overlapping_pairs(keyframes: &[WindowKeyframe], camera: &LevelCamera, min_overlap: f64) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for (i, source) in keyframes.iter().enumerate() {
        for (j, target) in keyframes.iter().enumerate() {
            if i == j || source.points.is_empty() {
                continue;
            }
            let target_from_source = target.world_from_keyframe.inverse() * source.world_from_keyframe;
            let level = LevelTarget { camera: *camera, field: &target.field };
            let projected = source
                .points
                .iter()
                .filter(|p| residual_and_jacobian(p, &target_from_source, &level).is_some())
                .count();
            if projected as f64 >= min_overlap * source.points.len() as f64 {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// Builds the normal equations over all `pairs` (Huber IRLS weights;
/// residuals at or above `max_residual_px`, and points that leave the
/// image, cost a constant and have no gradient, as in tracking).
fn linearize(
    keyframes: &[WindowKeyframe],
    pairs: &[(usize, usize)],
    camera: &LevelCamera,
    tracking: &TrackingConfig,
) -> Normal {
    let n = 6 * (keyframes.len() - 1);
    let mut hessian = DMatrix::zeros(n, n);
    let mut gradient = DVector::zeros(n);
    let delta = tracking.huber_delta_px;
    let outlier_cost = delta * (tracking.max_residual_px - 0.5 * delta);
    let mut cost = 0.0;
    for &(i, j) in pairs {
        let (source, target) = (&keyframes[i], &keyframes[j]);
        let world_from_target = target.world_from_keyframe;
        let target_from_source = world_from_target.inverse() * source.world_from_keyframe;
        let adjoint_t = inverse_adjoint(&world_from_target).transpose();
        let level = LevelTarget { camera: *camera, field: &target.field };
        let mut pair_hessian = Matrix6::zeros();
        let mut pair_gradient = Vector6::zeros();
        for p in &source.points {
            let Some((r, a)) = residual_and_jacobian(p, &target_from_source, &level) else {
                cost += outlier_cost;
                continue;
            };
            if r >= tracking.max_residual_px {
                cost += outlier_cost;
                continue;
            }
            let (rho, weight) = if r <= delta { (0.5 * r * r, 1.0) } else { (delta * (r - 0.5 * delta), delta / r) };
            cost += rho;
            pair_hessian += a * a.transpose() * weight;
            pair_gradient += a * (weight * r);
        }
        // d r/d δ_i = Aᵀa, d r/d δ_j = −Aᵀa (A = Ad(T_j⁻¹)).
        let h = adjoint_t * pair_hessian * adjoint_t.transpose();
        let g = adjoint_t * pair_gradient;
        let blocks = [(i, 1.0), (j, -1.0)];
        for &(bi, si) in &blocks {
            let Some(oi) = bi.checked_sub(1).map(|k| 6 * k) else { continue };
            gradient.rows_mut(oi, 6).axpy(si, &g, 1.0);
            for &(bj, sj) in &blocks {
                let Some(oj) = bj.checked_sub(1).map(|k| 6 * k) else { continue };
                let mut block = hessian.view_mut((oi, oj), (6, 6));
                block += h * (si * sj);
            }
        }
    }
    Normal { hessian, gradient, cost }
}

/// `Ad(T⁻¹)` for twists `(v, ω)` under the left perturbation of
/// [`exp_twist`]: `[[Rᵀ, −Rᵀ[t]ₓ], [0, Rᵀ]]` for `T = (R, t)`.
fn inverse_adjoint(transform: &Rigid3) -> Matrix6<f64> {
    let rt: Matrix3<f64> = transform.rotation.to_rotation_matrix().matrix().transpose();
    let t = transform.translation.vector;
    let mut adjoint = Matrix6::zeros();
    adjoint.fixed_view_mut::<3, 3>(0, 0).copy_from(&rt);
    adjoint.fixed_view_mut::<3, 3>(0, 3).copy_from(&(-rt * t.cross_matrix()));
    adjoint.fixed_view_mut::<3, 3>(3, 3).copy_from(&rt);
    adjoint
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use nalgebra::Point3;

    #[test]
    fn inverse_adjoint_moves_a_left_twist_into_the_other_frame() {
        // T⁻¹·Exp(δ)·T = Exp(Ad(T⁻¹)·δ) to first order.
        let transform = Rigid3::new(Vector3::new(0.3, -0.2, 0.5), Vector3::new(0.1, 0.4, -0.2));
        let delta = Vector6::new(1e-6, -2e-6, 0.5e-6, 1e-6, 0.7e-6, -1.2e-6);
        let left = transform.inverse() * exp_twist(&delta) * transform;
        let mapped = exp_twist(&(inverse_adjoint(&transform) * delta));
        for p in [Point3::new(0.2, 0.1, 1.5), Point3::new(-1.0, 0.4, 2.0)] {
            assert!((left * p - mapped * p).norm() < 1e-11);
        }
    }
}
