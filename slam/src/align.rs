//! SE(3) alignment of keyframe edge points to the current frame's distance
//! transforms, the tracking step of RESLAM (Schenk & Fraundorfer, ICRA 2019).
//!
//! For keyframe points `p_k` and the pose `camera_from_keyframe = T`, the
//! residual of a point is the current frame's distance transform at its
//! projection, `r_k = DT(π(T·p_k))` (pixels), and the pose minimises
//! `Σ ρ(r_k)` with the Huber kernel `ρ`. Residuals above
//! `max_residual_px`, and points that leave the image, cost the constant
//! `ρ(max_residual_px)` and have no gradient (so costs stay comparable
//! across poses). Levenberg–Marquardt on a twist `δ = (v, ω)` applied on the
//! left, `T ← Exp(δ)·T`, with the analytic Jacobian
//!
//! ```text
//! ∂r/∂δ = ∇DT(u) · ∂π/∂p'(p') · [ I₃ | −[p']ₓ ],   p' = T·p_k
//! ```
//!
//! runs coarse-to-fine over the pyramid, each level starting where the
//! coarser one ended. `∇DT` is the direction of the interpolated
//! central-difference gradient at unit length (the eikonal property of a
//! Euclidean distance transform), which keeps Gauss-Newton steps from
//! overshooting near the edges, where the raw differences are shortened.

use cairn_core::transform::Rigid3;
use nalgebra::{Cholesky, Matrix6, Vector3, Vector6};

use crate::config::TrackingConfig;
use crate::distance::DistanceField;
use crate::projection::LevelCamera;

/// How well a pose explains the keyframe points on one level.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ResidualStats {
    /// Keyframe points on the level.
    pub total: usize,
    /// Points that project into the frame (in front, on the image).
    pub valid: usize,
    /// Valid points with a residual below the inlier threshold.
    pub inliers: usize,
    /// Mean residual (pixels of the level) over the valid points, each
    /// truncated at `max_residual_px`.
    pub mean_residual: f64,
    /// Total robust cost (out-of-image points included).
    pub cost: f64,
}

/// The outcome of [`align`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alignment {
    /// The estimated `camera_from_keyframe`.
    pub camera_from_keyframe: Rigid3,
    /// Residual statistics on the finest level at that pose.
    pub stats: ResidualStats,
    /// LM iterations over all levels (accepted or not).
    pub iterations: usize,
}

/// The current frame on one pyramid level: its camera and distance field.
#[derive(Debug, Clone, Copy)]
pub struct LevelTarget<'a> {
    /// Camera of the level.
    pub camera: LevelCamera,
    /// Distance transform of the level's edges.
    pub field: &'a DistanceField,
}

/// Huber kernel `ρ(r)` and its IRLS weight `ρ'(r)/r`.
#[inline]
fn huber(r: f64, delta: f64) -> (f64, f64) {
    let a = r.abs();
    if a <= delta { (0.5 * r * r, 1.0) } else { (delta * (a - 0.5 * delta), delta / a) }
}

/// The residual of one keyframe point and its Jacobian with respect to the
/// left twist `(v, ω)`; `None` when the point does not project onto the
/// level's distance field.
#[inline]
pub fn residual_and_jacobian(
    p_in_keyframe: &Vector3<f64>,
    camera_from_keyframe: &Rigid3,
    target: &LevelTarget<'_>,
) -> Option<(f64, Vector6<f64>)> {
    let p = camera_from_keyframe.rotation * p_in_keyframe + camera_from_keyframe.translation.vector;
    let (pixel, d_pixel_d_p) = target.camera.project_with_jacobian(&p)?;
    let [r, du, dv] = target.field.sample(pixel.x, pixel.y)?;
    if !r.is_finite() {
        return None;
    }
    // A Euclidean distance transform has a unit gradient (|∇DT| = 1) away
    // from the edges themselves; the interpolated central differences are
    // shorter within a pixel of an edge (they average the two sides of the
    // V), which would make Gauss-Newton overshoot. Use their direction with
    // unit length.
    let norm = du.hypot(dv);
    let (du, dv) = if norm > 1e-6 { (du / norm, dv / norm) } else { (0.0, 0.0) };
    // ∇DT · ∂π/∂p' (1×3), then [I | −[p']ₓ]: the ω part is p' × (∂r/∂p').
    let d_r_d_p = d_pixel_d_p.row(0).transpose() * du + d_pixel_d_p.row(1).transpose() * dv;
    let d_r_d_omega = p.cross(&d_r_d_p);
    Some((r, Vector6::new(d_r_d_p.x, d_r_d_p.y, d_r_d_p.z, d_r_d_omega.x, d_r_d_omega.y, d_r_d_omega.z)))
}

/// The residual alone (for numerical checks and evaluation).
pub fn residual(p_in_keyframe: &Vector3<f64>, camera_from_keyframe: &Rigid3, target: &LevelTarget<'_>) -> Option<f64> {
    residual_and_jacobian(p_in_keyframe, camera_from_keyframe, target).map(|(r, _)| r)
}

/// The update `Exp(δ)` for the left twist `δ = (v, ω)`: rotation by the
/// axis-angle `ω`, then translation by `v` (the SO(3) × ℝ³ retraction; it
/// agrees with the SE(3) exponential to first order, which is all the
/// Jacobian `[I | −[p']ₓ]` assumes).
pub fn exp_twist(delta: &Vector6<f64>) -> Rigid3 {
    Rigid3::new(Vector3::new(delta[0], delta[1], delta[2]), Vector3::new(delta[3], delta[4], delta[5]))
}

/// Gauss-Newton normal equations at one pose.
struct Normal {
    hessian: Matrix6<f64>,
    gradient: Vector6<f64>,
    stats: ResidualStats,
}

/// Builds the weighted normal equations of all `points` at `pose`.
fn linearize(
    points: &[Vector3<f64>],
    pose: &Rigid3,
    target: &LevelTarget<'_>,
    config: &TrackingConfig,
    inlier_threshold: f64,
) -> Normal {
    let (outlier_cost, _) = huber(config.max_residual_px, config.huber_delta_px);
    let mut hessian = Matrix6::zeros();
    let mut gradient = Vector6::zeros();
    let mut stats = ResidualStats { total: points.len(), ..Default::default() };
    let mut residual_sum = 0.0;
    for p in points {
        let Some((r, jacobian)) = residual_and_jacobian(p, pose, target) else {
            stats.cost += outlier_cost;
            continue;
        };
        stats.valid += 1;
        residual_sum += r.min(config.max_residual_px);
        if r < inlier_threshold {
            stats.inliers += 1;
        }
        if r >= config.max_residual_px {
            stats.cost += outlier_cost;
            continue;
        }
        let (cost, weight) = huber(r, config.huber_delta_px);
        stats.cost += cost;
        let weighted = jacobian * weight;
        hessian += weighted * jacobian.transpose();
        gradient += weighted * r;
    }
    stats.mean_residual = if stats.valid > 0 { residual_sum / stats.valid as f64 } else { f64::INFINITY };
    Normal { hessian, gradient, stats }
}

/// Levenberg–Marquardt on one level from `pose`; returns the pose and the
/// number of iterations.
fn solve_level(
    points: &[Vector3<f64>],
    mut pose: Rigid3,
    target: &LevelTarget<'_>,
    config: &TrackingConfig,
) -> (Rigid3, usize) {
    let mut current = linearize(points, &pose, target, config, config.max_residual_px);
    let mut lambda = 1e-4;
    let mut iterations = 0;
    while iterations < config.max_iterations {
        iterations += 1;
        // (H + λ·diag(H)) δ = −g
        let mut damped = current.hessian;
        for i in 0..6 {
            damped[(i, i)] += lambda * current.hessian[(i, i)].max(1e-9);
        }
        let Some(cholesky) = Cholesky::new(damped) else { break };
        let step = -cholesky.solve(&current.gradient);
        if !step.iter().all(|s| s.is_finite()) {
            break;
        }
        let mut candidate_pose = exp_twist(&step) * pose;
        // Composition drifts off the unit quaternion by rounding; without
        // this, chained poses amplify it (×2.4 per frame through the
        // constant-velocity model).
        candidate_pose.rotation.renormalize();
        let candidate = linearize(points, &candidate_pose, target, config, config.max_residual_px);
        if candidate.stats.cost < current.stats.cost {
            let decrease = current.stats.cost - candidate.stats.cost;
            let converged = decrease < config.convergence_decrease * current.stats.cost;
            pose = candidate_pose;
            current = candidate;
            lambda = (lambda * 0.1).max(1e-7);
            if converged {
                break;
            }
        } else {
            // A rejected step that is already small means the cost is at its
            // noise floor (edge quantisation, points entering or leaving the
            // image): more damping would only spend iterations.
            lambda *= 10.0;
            if lambda > 1e4 || step.norm() < 10.0 * config.convergence_step {
                break;
            }
        }
        if step.norm() < config.convergence_step {
            break;
        }
    }
    (pose, iterations)
}

/// Aligns keyframe points (`points[l]` for level `l`) to the current frame
/// (`targets[l]`), coarse to fine, from `initial` (`camera_from_keyframe`).
/// Levels missing on either side are skipped. The returned statistics are
/// those of the finest level, with inliers counted against
/// `config.inlier_threshold_px`.
pub fn align(
    points: &[Vec<Vector3<f64>>],
    targets: &[LevelTarget<'_>],
    initial: Rigid3,
    config: &TrackingConfig,
) -> Alignment {
    let levels = points.len().min(targets.len());
    let mut pose = initial;
    let mut iterations = 0;
    for level in (0..levels).rev() {
        if points[level].len() < 6 {
            continue;
        }
        let (refined, used) = solve_level(&points[level], pose, &targets[level], config);
        pose = refined;
        iterations += used;
    }
    let stats = match (points.first(), targets.first()) {
        (Some(finest), Some(target)) => linearize(finest, &pose, target, config, config.inlier_threshold_px).stats,
        _ => ResidualStats::default(),
    };
    Alignment { camera_from_keyframe: pose, stats, iterations }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use crate::edges::EdgeMap;
    use cairn_core::{Distortion, PinholeCamera};
    use nalgebra::{Point2, UnitQuaternion};

    fn camera() -> PinholeCamera {
        PinholeCamera {
            distortion: Distortion::plumb_bob([0.2624, -0.9531, -0.0054, 0.0026, 1.1633]),
            ..PinholeCamera::new(640, 480, 517.3, 516.5, 318.6, 255.3)
        }
    }

    /// Distance fields of a mask that is `true` where `edge(u, v)`.
    fn field(edge: impl Fn(usize, usize) -> bool) -> DistanceField {
        let (width, height) = (640, 480);
        let mask = (0..width * height).map(|i| edge(i % width, i / width)).collect();
        DistanceField::new(&EdgeMap { width, height, mask, pixels: vec![] })
    }

    #[test]
    fn analytic_jacobian_matches_numerical() {
        // Fields where bilinear interpolation is exact (one vertical or one
        // horizontal edge line: the distance is linear beside it, with a unit
        // gradient) must match to 1e-6; a single far edge point (a smooth
        // cone) to 1 %, the difference between the interpolant's slope and
        // the unit gradient direction.
        let fields =
            [(field(|u, _| u == 2), 1e-6), (field(|_, v| v == 477), 1e-6), (field(|u, v| (u, v) == (5, 5)), 1e-2)];
        let pose = Rigid3::from_parts(
            nalgebra::Translation3::new(0.05, -0.02, 0.1),
            UnitQuaternion::from_euler_angles(0.02, -0.03, 0.01),
        );
        let points = [Vector3::new(0.3, 0.2, 1.5), Vector3::new(-0.4, 0.1, 2.2), Vector3::new(0.1, -0.25, 1.1)];
        for (field, tolerance) in &fields {
            let target = LevelTarget { camera: LevelCamera::new(&camera(), 0, 640, 480), field };
            for p in &points {
                let (_, analytic) = residual_and_jacobian(p, &pose, &target).unwrap();
                for axis in 0..6 {
                    let h = 1e-5;
                    let mut delta = Vector6::zeros();
                    delta[axis] = h;
                    let plus = residual(p, &(exp_twist(&delta) * pose), &target).unwrap();
                    let minus = residual(p, &(exp_twist(&-delta) * pose), &target).unwrap();
                    let numeric = (plus - minus) / (2.0 * h);
                    assert!(
                        (analytic[axis] - numeric).abs() <= tolerance * (1.0 + numeric.abs()),
                        "axis {axis}: analytic {} vs numeric {numeric}",
                        analytic[axis]
                    );
                }
            }
        }
    }

    #[test]
    fn pixel_jacobian_chain_is_exact() {
        // The geometric part of the chain (projection × SE(3)) against
        // central differences of the projected pixel, to 1e-6 relative.
        let level = LevelCamera::new(&camera(), 1, 320, 240);
        let pose = Rigid3::new(Vector3::new(0.02, 0.01, -0.03), Vector3::new(0.01, 0.02, -0.01));
        let p_in_keyframe = Vector3::new(0.2, -0.1, 1.3);
        let p = pose.rotation * p_in_keyframe + pose.translation.vector;
        let (_, d_pixel_d_p) = level.project_with_jacobian(&p).unwrap();
        let skew = p.cross_matrix();
        for axis in 0..6 {
            let mut delta = Vector6::zeros();
            delta[axis] = 1e-6;
            let project = |d: &Vector6<f64>| {
                let moved = exp_twist(d) * pose;
                let q = moved.rotation * p_in_keyframe + moved.translation.vector;
                level.project_with_jacobian(&q).unwrap().0
            };
            let numeric = (project(&delta) - project(&-delta)) / 2e-6;
            let d_p = if axis < 3 { Vector3::ith(axis, 1.0) } else { -skew * Vector3::ith(axis - 3, 1.0) };
            let analytic = d_pixel_d_p * d_p;
            assert!((analytic - numeric).norm() < 1e-6 * (1.0 + numeric.norm()), "axis {axis}");
        }
    }

    #[test]
    fn recovers_a_known_motion_from_synthetic_edges() {
        // Keyframe points on a textured plane; the current frame's edges are
        // their projections under a known motion.
        let camera = camera();
        let truth = Rigid3::from_parts(
            nalgebra::Translation3::new(0.03, -0.015, 0.02),
            UnitQuaternion::from_euler_angles(0.01, -0.02, 0.015),
        );
        // Edge lines at irregular spacings (no periodic ambiguity), sampled
        // every pixel, each at its own depth (a single plane would leave
        // rotation and translation nearly interchangeable).
        let mut points: Vec<Vector3<f64>> = Vec::new();
        let depths = [1.0, 2.6, 1.7, 3.2, 1.3, 2.1, 2.9, 1.5];
        for (k, u) in [40.0, 95.0, 170.0, 230.0, 330.0, 410.0, 470.0, 560.0].into_iter().enumerate() {
            points.extend((20..460).map(|v| camera.unproject(Point2::new(u, f64::from(v)), depths[k]).coords));
        }
        for (k, v) in [50.0, 120.0, 200.0, 260.0, 350.0, 420.0].into_iter().enumerate() {
            points.extend((20..620).map(|u| camera.unproject(Point2::new(f64::from(u), v), depths[k + 2]).coords));
        }
        let mut targets_owned = Vec::new();
        let mut level_points = Vec::new();
        for level in 0..3 {
            let (width, height) = (640 >> level, 480 >> level);
            let level_camera = LevelCamera::new(&camera, level, width, height);
            let mut mask = vec![false; width * height];
            for p in &points {
                let (pixel, _) =
                    level_camera.project_with_jacobian(&(truth * nalgebra::Point3::from(*p)).coords).unwrap();
                let (u, v) = (pixel.x.round(), pixel.y.round());
                if u >= 0.0 && v >= 0.0 && (u as usize) < width && (v as usize) < height {
                    mask[v as usize * width + u as usize] = true;
                }
            }
            targets_owned.push((level_camera, DistanceField::new(&EdgeMap { width, height, mask, pixels: vec![] })));
            level_points.push(points.iter().step_by(2 << level).copied().collect::<Vec<_>>());
        }
        let targets: Vec<LevelTarget<'_>> =
            targets_owned.iter().map(|(camera, field)| LevelTarget { camera: *camera, field }).collect();
        let result = align(&level_points, &targets, Rigid3::identity(), &TrackingConfig::default());
        let error = truth.inverse() * result.camera_from_keyframe;
        // Edge pixels are rounded to the grid (±0.5 px ≈ ±1.5 mm at 1.5 m).
        assert!(error.translation.vector.norm() < 1.5e-3, "translation error {}", error.translation.vector.norm());
        assert!(error.rotation.angle() < 1e-3, "rotation error {}", error.rotation.angle());
        assert!(result.stats.inliers as f64 > 0.9 * result.stats.valid as f64);
    }
}
