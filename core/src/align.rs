//! Umeyama alignment of an estimated trajectory to a reference.
//!
//! Umeyama, "Least-squares estimation of transformation parameters between
//! two point patterns", IEEE PAMI 1991. Equation numbers below are the
//! paper's; the steps follow evo's `geometry.umeyama_alignment` so that
//! results agree with evo to rounding.

use nalgebra::{Matrix3, Rotation3, UnitQuaternion, Vector3};

use crate::trajectory::Trajectory;
use crate::{Error, Result};

/// How the estimate is aligned to the reference before computing errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alignment {
    /// No alignment.
    None,
    /// Rotation and translation (evo `-a`).
    #[default]
    Se3,
    /// Rotation, translation and scale (evo `-as`).
    Sim3,
}

impl std::str::FromStr for Alignment {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "se3" => Ok(Self::Se3),
            "sim3" => Ok(Self::Sim3),
            _ => Err(Error::InvalidArgument(format!("alignment {s:?}: expected none, se3 or sim3"))),
        }
    }
}

/// A similarity transform `p_in_ref = scale · rotation · p_in_est + translation`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sim3 {
    /// Rotation part.
    pub rotation: Rotation3<f64>,
    /// Translation part.
    pub translation: Vector3<f64>,
    /// Scale factor (1 for SE(3)).
    pub scale: f64,
}

impl Sim3 {
    /// The identity transform.
    pub fn identity() -> Self {
        Self { rotation: Rotation3::identity(), translation: Vector3::zeros(), scale: 1.0 }
    }
}

/// Least-squares similarity (or rigid, if `with_scale` is false) transform
/// mapping the points `x` onto `y`. Errors for mismatched lengths and for
/// degenerate input (fewer than 3 points, or all points collinear).
pub fn umeyama(x: &[Vector3<f64>], y: &[Vector3<f64>], with_scale: bool) -> Result<Sim3> {
    if x.len() != y.len() {
        return Err(Error::Geometry(format!("point sets differ in size: {} vs {}", x.len(), y.len())));
    }
    if x.is_empty() {
        return Err(Error::Geometry("no points to align".into()));
    }
    let n = x.len() as f64;
    // Means, Eq. (34), (35).
    let mean_x = x.iter().sum::<Vector3<f64>>() / n;
    let mean_y = y.iter().sum::<Vector3<f64>>() / n;
    // Variance of x, Eq. (36).
    let sigma_x = x.iter().map(|p| (p - mean_x).norm_squared()).sum::<f64>() / n;
    // Covariance, Eq. (38).
    let mut outer_sum = Matrix3::zeros();
    for (px, py) in x.iter().zip(y) {
        outer_sum += (py - mean_y) * (px - mean_x).transpose();
    }
    let cov_xy = outer_sum * (1.0 / n);
    let svd = cov_xy.svd(true, true);
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else {
        return Err(Error::Geometry("SVD of the covariance failed".into()));
    };
    let d = svd.singular_values; // sorted in decreasing order
    // evo's rank test (count of d > eps must be ≥ m − 1), plus a relative one
    // so that exactly collinear input is rejected whatever its magnitude.
    let tiny = f64::EPSILON.max(d[0] * 1e-12);
    if d.iter().filter(|&&s| s > tiny).count() < 2 {
        return Err(Error::Geometry(
            "degenerate covariance rank (fewer than 3 non-collinear positions), Umeyama alignment is not possible"
                .into(),
        ));
    }
    // S, Eq. (43): keep a right-handed rotation.
    let mut s = Vector3::new(1.0, 1.0, 1.0);
    if u.determinant() * v_t.determinant() < 0.0 {
        s[2] = -1.0;
    }
    // Rotation, Eq. (40); scale, Eq. (42); translation, Eq. (41).
    let rotation = Rotation3::from_matrix_unchecked(u * Matrix3::from_diagonal(&s) * v_t);
    let scale = if with_scale { d.dot(&s) / sigma_x } else { 1.0 };
    let translation = mean_y - scale * (rotation * mean_x);
    Ok(Sim3 { rotation, translation, scale })
}

/// Aligns `estimate` onto `reference` (same length, already associated) by
/// Umeyama on their positions, and returns the moved estimate with the
/// transform used. As evo does, the scale multiplies translations first, then
/// the rigid part is applied to every pose.
pub fn align_trajectory(
    reference: &Trajectory,
    estimate: &Trajectory,
    alignment: Alignment,
) -> Result<(Trajectory, Sim3)> {
    if alignment == Alignment::None {
        return Ok((estimate.clone(), Sim3::identity()));
    }
    let x: Vec<_> = estimate.positions().collect();
    let y: Vec<_> = reference.positions().collect();
    let sim3 = umeyama(&x, &y, alignment == Alignment::Sim3)?;
    let rotation = UnitQuaternion::from_rotation_matrix(&sim3.rotation);
    let mut aligned = estimate.clone();
    for world_from_body in &mut aligned.world_from_body {
        world_from_body.translation.vector =
            sim3.rotation * (world_from_body.translation.vector * sim3.scale) + sim3.translation;
        world_from_body.rotation = rotation * world_from_body.rotation;
    }
    Ok((aligned, sim3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cloud(n: usize, seed: u64) -> Vec<Vector3<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| Vector3::new(rng.random_range(-2.0..2.0), rng.random_range(-1.0..1.0), rng.random_range(0.0..3.0)))
            .collect()
    }

    #[test]
    fn recovers_a_known_similarity() {
        let x = cloud(50, 1);
        let rotation = Rotation3::from_euler_angles(0.4, -1.2, 2.5);
        let translation = Vector3::new(1.0, -2.0, 0.5);
        let y: Vec<_> = x.iter().map(|p| 0.7 * (rotation * p) + translation).collect();
        let sim3 = umeyama(&x, &y, true).unwrap();
        assert_relative_eq!(sim3.scale, 0.7, epsilon = 1e-12);
        assert_relative_eq!(sim3.rotation, rotation, epsilon = 1e-12);
        assert_relative_eq!(sim3.translation, translation, epsilon = 1e-12);
        // Without scale the rotation is still exact for a pure similarity.
        let rigid = umeyama(&x, &y, false).unwrap();
        assert_eq!(rigid.scale, 1.0);
        assert_relative_eq!(rigid.rotation, rotation, epsilon = 1e-12);
    }

    #[test]
    fn planar_points_still_align_with_a_proper_rotation() {
        // Rank-2 covariance (all z = 0) is fine; a reflection must not appear.
        let x: Vec<_> = cloud(20, 2).into_iter().map(|p| Vector3::new(p.x, p.y, 0.0)).collect();
        let rotation = Rotation3::from_euler_angles(0.0, 0.0, 0.9);
        let y: Vec<_> = x.iter().map(|p| rotation * p).collect();
        let sim3 = umeyama(&x, &y, false).unwrap();
        assert_relative_eq!(sim3.rotation.matrix().determinant(), 1.0, epsilon = 1e-12);
        assert_relative_eq!(sim3.rotation, rotation, epsilon = 1e-10);
    }

    #[test]
    fn degenerate_input_is_an_error() {
        let line: Vec<_> = (0..10).map(|i| Vector3::new(i as f64, 2.0 * i as f64, 0.5)).collect();
        let err = umeyama(&line, &line, true).unwrap_err();
        assert!(err.to_string().contains("degenerate"), "{err}");
        assert!(umeyama(&line[..1], &line[..1], false).is_err());
        assert!(umeyama(&[], &[], false).is_err());
        assert!(umeyama(&line[..3], &line[..2], false).is_err());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let same: Vec<_> = (0..5).map(|_| Vector3::repeat(rng.random::<f64>() * 0.0 + 1.0)).collect();
        assert!(umeyama(&same, &same, false).is_err());
    }

    #[test]
    fn parses_alignment_names() {
        assert_eq!("sim3".parse::<Alignment>().unwrap(), Alignment::Sim3);
        assert!("se(3)".parse::<Alignment>().is_err());
    }
}
