//! Point-to-plane ICP: refines a coarse registration (RANSAC on descriptor
//! matches, accurate to about a voxel) on every point of the two clouds,
//! and measures how well they fit (`fitness`: the fraction of source points
//! with a target point within the correspondence distance, as Open3D's
//! `evaluate_registration` reports).
//!
//! Each iteration pairs every moved source point with its nearest target
//! point (when closer than `max_distance_m` and the target has a normal),
//! then solves the linearised point-to-plane problem (Chen & Medioni 1992;
//! Low 2004): minimise `Σ (nᵢ · (pᵢ + v + ω × pᵢ − qᵢ))²` over the twist
//! `(v, ω)`, applied on the left.

use cairn_core::transform::Rigid3;
use nalgebra::{Matrix6, Point3, Vector3, Vector6};

use crate::describe::DescribedCloud;

/// ICP settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IcpConfig {
    /// Correspondences farther apart than this are ignored (m).
    pub max_distance_m: f64,
    /// Most iterations.
    pub max_iterations: usize,
    /// Stop when an update moves less than this (twist norm, m and rad).
    pub min_step: f64,
}

/// The refined registration and its fit.
#[derive(Debug, Clone, PartialEq)]
pub struct IcpResult {
    /// Refined `target_from_source`.
    pub target_from_source: Rigid3,
    /// Fraction of source points with a correspondence at the end.
    pub fitness: f64,
    /// RMS point-to-plane distance of the correspondences (m).
    pub rmse_m: f64,
    /// Correspondences at the end.
    pub correspondences: usize,
    /// Iterations run.
    pub iterations: usize,
}

/// Refines `initial` (`target_from_source`) by point-to-plane ICP of every
/// source point onto the target's points and normals.
pub fn refine(target: &DescribedCloud, source: &DescribedCloud, initial: &Rigid3, config: &IcpConfig) -> IcpResult {
    let mut estimate = *initial;
    let mut iterations = 0;
    while iterations < config.max_iterations {
        iterations += 1;
        let (mut hessian, mut gradient) = (Matrix6::zeros(), Vector6::zeros());
        for_each_correspondence(target, source, &estimate, config.max_distance_m, |p, q, n| {
            // ∂r/∂v = n, ∂r/∂ω = p × n.
            let c = p.cross(&n);
            let jacobian = Vector6::new(n.x, n.y, n.z, c.x, c.y, c.z);
            let residual = n.dot(&(p - q));
            hessian += jacobian * jacobian.transpose();
            gradient += jacobian * residual;
        });
        let Some(step) = hessian.cholesky().map(|c| -c.solve(&gradient)) else { break };
        let update = Rigid3::new(step.fixed_rows::<3>(0).into(), step.fixed_rows::<3>(3).into());
        estimate = update * estimate;
        if step.norm() < config.min_step {
            break;
        }
    }
    let (mut count, mut squared) = (0usize, 0.0);
    for_each_correspondence(target, source, &estimate, config.max_distance_m, |p, q, n| {
        count += 1;
        squared += n.dot(&(p - q)).powi(2);
    });
    IcpResult {
        target_from_source: estimate,
        fitness: count as f64 / source.cloud.points().len().max(1) as f64,
        rmse_m: if count > 0 { (squared / count as f64).sqrt() } else { f64::INFINITY },
        correspondences: count,
        iterations,
    }
}

/// Calls `f(p, q, n)` for each source point moved by `target_from_source`
/// (`p`) whose nearest target point `q` is within `max_distance_m` and has
/// a normal `n`.
fn for_each_correspondence(
    target: &DescribedCloud,
    source: &DescribedCloud,
    target_from_source: &Rigid3,
    max_distance_m: f64,
    mut f: impl FnMut(Vector3<f64>, Vector3<f64>, Vector3<f64>),
) {
    let target_points = target.cloud.points();
    for s in source.cloud.points() {
        let p = target_from_source * s.cast::<f64>();
        let (index, distance) = target.cloud.nearest(&Point3::from(p.coords.cast::<f32>()));
        if f64::from(distance) > max_distance_m {
            continue;
        }
        if let Some(n) = target.normals[index] {
            f(p.coords, target_points[index].coords.cast(), n);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::describe::{DescribeConfig, Fpfh, describe_cloud};
    use crate::fpfh::Orientation;

    /// Three bumpy walls of a corner, 1 m each, points every 2 cm.
    fn corner() -> Vec<Point3<f32>> {
        let mut points = Vec::new();
        for i in 0..50 {
            for j in 0..50 {
                let (a, b) = (i as f32 * 0.02, j as f32 * 0.02);
                let bump = 0.05 * (7.0 * a).sin() * (5.0 * b).cos();
                points.push(Point3::new(a, b, bump));
                points.push(Point3::new(a, bump, b));
                points.push(Point3::new(bump, a, b));
            }
        }
        points
    }

    #[test]
    fn a_slightly_wrong_start_is_corrected() {
        let config = DescribeConfig {
            normal_radius_m: 0.06,
            normal_max_neighbours: 30,
            orientation: Orientation::Convex,
            keypoints: 10,
            seed: 0,
        };
        let descriptor = Fpfh { radius_m: 0.1, max_neighbours: 50 };
        let truth = Rigid3::new(Vector3::new(0.05, 0.02, -0.03), Vector3::new(0.02, -0.03, 0.04));
        let target = describe_cloud(corner(), &descriptor, &config).unwrap();
        let moved = corner().iter().map(|p| (truth.inverse() * p.cast::<f64>()).cast()).collect();
        let source = describe_cloud(moved, &descriptor, &config).unwrap();
        let icp = IcpConfig { max_distance_m: 0.15, max_iterations: 30, min_step: 1e-7 };
        let result = refine(&target, &source, &Rigid3::identity(), &icp);
        let error = result.target_from_source * truth.inverse();
        assert!(error.translation.vector.norm() < 1e-3 && error.rotation.angle() < 1e-3, "{error:?} {result:?}");
        assert!(result.fitness > 0.95 && result.rmse_m < 1e-3, "{result:?}");
    }
}
