//! Projection into a pyramid level, with its analytic Jacobian.
//!
//! Pixel `u` of level `l` relates to level 0 by `u_l = (u_0 + 0.5)·s − 0.5`
//! with `s = 2^−l` (see [`crate::pyramid`]), so a level has intrinsics
//! `fx·s, fy·s, (cx + 0.5)·s − 0.5, (cy + 0.5)·s − 0.5` and the same lens
//! distortion (which acts on normalised coordinates).

use cairn_core::PinholeCamera;
use nalgebra::{Matrix2, Matrix2x3, Vector2, Vector3};

/// The camera of one pyramid level, ready for fast projection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelCamera {
    /// Focal length along u (level pixels).
    pub fx: f64,
    /// Focal length along v (level pixels).
    pub fy: f64,
    /// Principal point u (level pixels).
    pub cx: f64,
    /// Principal point v (level pixels).
    pub cy: f64,
    /// Plumb-bob coefficients `k1 k2 p1 p2 k3` (zeros: none).
    pub distortion: [f64; 5],
    /// Level width in pixels.
    pub width: usize,
    /// Level height in pixels.
    pub height: usize,
}

impl LevelCamera {
    /// The camera of level `level` of `camera`'s image pyramid, for a level
    /// image of `width × height`.
    pub fn new(camera: &PinholeCamera, level: usize, width: usize, height: usize) -> Self {
        let s = 0.5f64.powi(level as i32);
        LevelCamera {
            fx: camera.fx * s,
            fy: camera.fy * s,
            cx: (camera.cx + 0.5) * s - 0.5,
            cy: (camera.cy + 0.5) * s - 0.5,
            distortion: camera.distortion.coefficients(),
            width,
            height,
        }
    }

    /// Plumb-bob distortion of a normalised point and its 2×2 Jacobian
    /// (the model of [`cairn_core::camera`]).
    #[inline]
    pub fn distort(&self, x: f64, y: f64) -> (Vector2<f64>, Matrix2<f64>) {
        let [k1, k2, p1, p2, k3] = self.distortion;
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let radial_r2 = k1 + r2 * (2.0 * k2 + 3.0 * r2 * k3);
        let distorted = Vector2::new(
            x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
            y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
        );
        let cross = 2.0 * x * y * radial_r2 + 2.0 * p1 * x + 2.0 * p2 * y;
        let jacobian = Matrix2::new(
            radial + 2.0 * x * x * radial_r2 + 2.0 * p1 * y + 6.0 * p2 * x,
            cross,
            cross,
            radial + 2.0 * y * y * radial_r2 + 6.0 * p1 * y + 2.0 * p2 * x,
        );
        (distorted, jacobian)
    }

    /// The pixel of `p_in_camera` and `∂pixel/∂p_in_camera`; `None` when
    /// the point is not in front of the camera.
    #[inline]
    pub fn project_with_jacobian(&self, p_in_camera: &Vector3<f64>) -> Option<(Vector2<f64>, Matrix2x3<f64>)> {
        let z = p_in_camera.z;
        if z.partial_cmp(&1e-6) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        let inv_z = 1.0 / z;
        let (x, y) = (p_in_camera.x * inv_z, p_in_camera.y * inv_z);
        // ∂(x, y)/∂p for the perspective division.
        let division = Matrix2x3::new(inv_z, 0.0, -x * inv_z, 0.0, inv_z, -y * inv_z);
        let (distorted, lens) = self.distort(x, y);
        let pixel = Vector2::new(self.fx * distorted.x + self.cx, self.fy * distorted.y + self.cy);
        let focal = Matrix2::new(self.fx, 0.0, 0.0, self.fy);
        Some((pixel, focal * lens * division))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use cairn_core::Distortion;
    use nalgebra::{Point2, Point3};

    fn tum_fr1() -> PinholeCamera {
        PinholeCamera {
            distortion: Distortion::plumb_bob([0.2624, -0.9531, -0.0054, 0.0026, 1.1633]),
            ..PinholeCamera::new(640, 480, 517.3, 516.5, 318.6, 255.3)
        }
    }

    #[test]
    fn level_zero_matches_cairn_core_and_levels_scale_pixel_centres() {
        let camera = tum_fr1();
        let p = Vector3::new(0.3, -0.2, 1.4);
        let core = camera.project(Point3::from(p)).unwrap();
        let (pixel, _) = LevelCamera::new(&camera, 0, 640, 480).project_with_jacobian(&p).unwrap();
        assert!((pixel - core.coords).norm() < 1e-9);
        let (coarse, _) = LevelCamera::new(&camera, 2, 160, 120).project_with_jacobian(&p).unwrap();
        let expected = Point2::new((core.x + 0.5) / 4.0 - 0.5, (core.y + 0.5) / 4.0 - 0.5);
        assert!((coarse - expected.coords).norm() < 1e-9);
        assert!(LevelCamera::new(&camera, 0, 640, 480).project_with_jacobian(&Vector3::new(0.0, 0.0, -1.0)).is_none());
    }

    #[test]
    fn projection_jacobian_matches_central_differences() {
        let level = LevelCamera::new(&tum_fr1(), 1, 320, 240);
        for p in [Vector3::new(0.3, -0.2, 1.4), Vector3::new(-0.9, 0.6, 2.0), Vector3::new(0.01, 0.02, 0.5)] {
            let (_, analytic) = level.project_with_jacobian(&p).unwrap();
            for axis in 0..3 {
                let h = 1e-6;
                let mut plus = p;
                plus[axis] += h;
                let mut minus = p;
                minus[axis] -= h;
                let numeric = (level.project_with_jacobian(&plus).unwrap().0
                    - level.project_with_jacobian(&minus).unwrap().0)
                    / (2.0 * h);
                let column = analytic.column(axis);
                assert!((column - numeric).norm() < 1e-5 * (1.0 + numeric.norm()), "{column} vs {numeric}");
            }
        }
    }
}
