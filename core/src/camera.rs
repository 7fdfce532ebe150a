//! Pinhole camera with optional plumb-bob (OpenCV radial-tangential) distortion.
//!
//! Conventions, as in ROS `sensor_msgs/CameraInfo` and OpenCV:
//! - the camera frame is x right, y down, z forward (optical frame);
//! - pixel `(u, v)` has its origin at the *centre* of the top-left pixel, so
//!   the image covers `[-0.5, width - 0.5) × [-0.5, height - 0.5)`;
//! - `u = fx·x_d + cx`, `v = fy·y_d + cy`, where `(x_d, y_d)` is the distorted
//!   normalised point. A negative `fy` (ICL-NUIM: `fy = -480`) flips the image
//!   vertically and needs no special case.
//!
//! Distortion model (`plumb_bob`, OpenCV's 5-coefficient model), with
//! `r² = x² + y²` on the undistorted normalised point `(x, y)`:
//!
//! ```text
//! x_d = x·(1 + k1·r² + k2·r⁴ + k3·r⁶) + 2·p1·x·y + p2·(r² + 2·x²)
//! y_d = y·(1 + k1·r² + k2·r⁴ + k3·r⁶) + p1·(r² + 2·y²) + 2·p2·x·y
//! ```

use nalgebra::{Matrix2, Matrix3, Point2, Point3, Vector2};

use crate::{Error, Result};

/// Most iterations [`PinholeCamera::undistort_pixel`] spends on one pixel.
pub const UNDISTORT_MAX_ITERATIONS: usize = 20;
/// Residual (normalised image units, ≈ 1e-12 px at f = 500) at which
/// undistortion stops iterating.
pub const UNDISTORT_TOLERANCE: f64 = 1e-15;

/// Lens distortion of a [`PinholeCamera`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Distortion {
    /// No distortion: the image is already undistorted (TUM fr3, ICL-NUIM).
    #[default]
    None,
    /// ROS `plumb_bob` = OpenCV radial-tangential with 5 coefficients, in
    /// the order ROS and OpenCV store them: `k1 k2 p1 p2 k3`.
    PlumbBob {
        /// Radial coefficient of r².
        k1: f64,
        /// Radial coefficient of r⁴.
        k2: f64,
        /// First tangential coefficient.
        p1: f64,
        /// Second tangential coefficient.
        p2: f64,
        /// Radial coefficient of r⁶.
        k3: f64,
    },
}

impl Distortion {
    /// Builds a plumb-bob distortion from `[k1, k2, p1, p2, k3]`; all zeros
    /// give [`Distortion::None`].
    pub fn plumb_bob(d: [f64; 5]) -> Self {
        if d.iter().all(|&c| c == 0.0) {
            return Distortion::None;
        }
        Distortion::PlumbBob { k1: d[0], k2: d[1], p1: d[2], p2: d[3], k3: d[4] }
    }

    /// The coefficients `[k1, k2, p1, p2, k3]` (all zeros for `None`).
    pub fn coefficients(&self) -> [f64; 5] {
        match *self {
            Distortion::None => [0.0; 5],
            Distortion::PlumbBob { k1, k2, p1, p2, k3 } => [k1, k2, p1, p2, k3],
        }
    }

    /// True when the model leaves every point where it is.
    pub fn is_none(&self) -> bool {
        self.coefficients().iter().all(|&c| c == 0.0)
    }

    /// Applies the model to an undistorted normalised point, returning the
    /// distorted point and the 2×2 Jacobian `∂(x_d, y_d)/∂(x, y)`.
    fn apply_with_jacobian(&self, p: Vector2<f64>) -> (Vector2<f64>, Matrix2<f64>) {
        let [k1, k2, p1, p2, k3] = self.coefficients();
        let (x, y) = (p.x, p.y);
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        // d(radial)/d(r²)
        let radial_r2 = k1 + r2 * (2.0 * k2 + 3.0 * r2 * k3);
        let distorted = Vector2::new(
            x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
            y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
        );
        let jacobian = Matrix2::new(
            radial + 2.0 * x * x * radial_r2 + 2.0 * p1 * y + 6.0 * p2 * x,
            2.0 * x * y * radial_r2 + 2.0 * p1 * x + 2.0 * p2 * y,
            2.0 * x * y * radial_r2 + 2.0 * p1 * x + 2.0 * p2 * y,
            radial + 2.0 * y * y * radial_r2 + 6.0 * p1 * y + 2.0 * p2 * x,
        );
        (distorted, jacobian)
    }
}

/// A pinhole camera: image size, intrinsics and lens distortion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PinholeCamera {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Focal length along u, in pixels.
    pub fx: f64,
    /// Focal length along v, in pixels (negative flips the image vertically).
    pub fy: f64,
    /// Principal point u, in pixels.
    pub cx: f64,
    /// Principal point v, in pixels.
    pub cy: f64,
    /// Lens distortion.
    pub distortion: Distortion,
}

impl PinholeCamera {
    /// A camera without distortion.
    pub fn new(width: u32, height: u32, fx: f64, fy: f64, cx: f64, cy: f64) -> Self {
        PinholeCamera { width, height, fx, fy, cx, cy, distortion: Distortion::None }
    }

    /// Checks that the image is non-empty, the focal lengths are non-zero
    /// and every number is finite.
    pub fn validate(&self) -> Result<()> {
        let numbers = [self.fx, self.fy, self.cx, self.cy];
        let coefficients = self.distortion.coefficients();
        let problem = if self.width == 0 || self.height == 0 {
            Some(format!("empty image {}×{}", self.width, self.height))
        } else if numbers.iter().chain(&coefficients).any(|v| !v.is_finite()) {
            Some("non-finite intrinsics or distortion coefficients".to_string())
        } else if self.fx == 0.0 || self.fy == 0.0 {
            Some(format!("zero focal length (fx = {}, fy = {})", self.fx, self.fy))
        } else {
            None
        };
        match problem {
            Some(message) => Err(Error::InvalidArgument(format!("camera: {message}"))),
            None => Ok(()),
        }
    }

    /// The 3×3 camera matrix `K = [fx 0 cx; 0 fy cy; 0 0 1]`.
    pub fn k_matrix(&self) -> Matrix3<f64> {
        Matrix3::new(self.fx, 0.0, self.cx, 0.0, self.fy, self.cy, 0.0, 0.0, 1.0)
    }

    /// Applies the distortion model to an undistorted normalised point
    /// `(x/z, y/z)`.
    pub fn distort_normalized(&self, undistorted: Point2<f64>) -> Point2<f64> {
        if self.distortion.is_none() {
            return undistorted;
        }
        Point2::from(self.distortion.apply_with_jacobian(undistorted.coords).0)
    }

    /// Inverts [`Self::distort_normalized`]: the undistorted normalised
    /// point whose distortion is `distorted`.
    ///
    /// Like OpenCV's `cvUndistortPoints` it starts from the distorted point
    /// and iterates (at most [`UNDISTORT_MAX_ITERATIONS`]), but takes Newton
    /// steps with the model's analytic Jacobian instead of OpenCV's
    /// fixed-point update, so strong distortion (TUM fr1's k3 = 1.16) still
    /// converges to ~1e-15 in a handful of steps. It stops as soon as the
    /// residual is below [`UNDISTORT_TOLERANCE`]; if the model cannot be
    /// inverted there (far outside the calibrated field of view) it returns
    /// the best point found.
    pub fn undistort_normalized(&self, distorted: Point2<f64>) -> Point2<f64> {
        if self.distortion.is_none() {
            return distorted;
        }
        let target = distorted.coords;
        let mut best = target;
        let mut best_residual = f64::INFINITY;
        let mut p = target;
        for _ in 0..UNDISTORT_MAX_ITERATIONS {
            let (d, jacobian) = self.distortion.apply_with_jacobian(p);
            let residual = d - target;
            let norm = residual.norm();
            if !norm.is_finite() {
                break;
            }
            if norm < best_residual {
                best = p;
                best_residual = norm;
            }
            if norm < UNDISTORT_TOLERANCE {
                break;
            }
            match jacobian.try_inverse() {
                Some(inverse) => p -= inverse * residual,
                None => break,
            }
        }
        Point2::from(best)
    }

    /// Removes lens distortion from a pixel: the pixel where the same ray
    /// would land through a distortion-free lens with the same intrinsics.
    pub fn undistort_pixel(&self, distorted: Point2<f64>) -> Point2<f64> {
        let undistorted = self.undistort_normalized(self.pixel_to_normalized(distorted));
        self.normalized_to_pixel(undistorted)
    }

    /// Projects a point in the camera frame to a (distorted) pixel; `None`
    /// when the point is not in front of the camera (`z ≤ 0`) or not finite.
    /// The pixel may lie outside the image: check with [`Self::is_inside`].
    pub fn project(&self, p_in_camera: Point3<f64>) -> Option<Point2<f64>> {
        let in_front = p_in_camera.z > 0.0 && p_in_camera.coords.iter().all(|c| c.is_finite());
        if !in_front {
            return None;
        }
        let normalized = Point2::new(p_in_camera.x / p_in_camera.z, p_in_camera.y / p_in_camera.z);
        Some(self.normalized_to_pixel(self.distort_normalized(normalized)))
    }

    /// The point in the camera frame seen at `pixel` with depth `depth`
    /// (the z coordinate, as in TUM/ICL depth images, not the ray length).
    /// The pixel is undistorted first.
    pub fn unproject(&self, pixel: Point2<f64>, depth: f64) -> Point3<f64> {
        let n = self.undistort_normalized(self.pixel_to_normalized(pixel));
        Point3::new(n.x * depth, n.y * depth, depth)
    }

    /// True when `pixel` lies on the image, i.e. in
    /// `[-0.5, width - 0.5) × [-0.5, height - 0.5)`, so that rounding it
    /// gives a valid pixel index.
    pub fn is_inside(&self, pixel: Point2<f64>) -> bool {
        pixel.x >= -0.5
            && pixel.x < f64::from(self.width) - 0.5
            && pixel.y >= -0.5
            && pixel.y < f64::from(self.height) - 0.5
    }

    fn pixel_to_normalized(&self, pixel: Point2<f64>) -> Point2<f64> {
        Point2::new((pixel.x - self.cx) / self.fx, (pixel.y - self.cy) / self.fy)
    }

    fn normalized_to_pixel(&self, n: Point2<f64>) -> Point2<f64> {
        Point2::new(self.fx * n.x + self.cx, self.fy * n.y + self.cy)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// TUM fr1 (freiburg1) RGB camera.
    fn tum_fr1() -> PinholeCamera {
        PinholeCamera {
            distortion: Distortion::plumb_bob([0.2624, -0.9531, -0.0054, 0.0026, 1.1633]),
            ..PinholeCamera::new(640, 480, 517.3, 516.5, 318.6, 255.3)
        }
    }

    fn icl_nuim() -> PinholeCamera {
        PinholeCamera::new(640, 480, 481.2, -480.0, 319.5, 239.5)
    }

    /// A grid over the whole image, corners included.
    fn image_grid() -> Vec<Point2<f64>> {
        let mut pixels = Vec::new();
        for v in (0..=480).step_by(20) {
            for u in (0..=640).step_by(20) {
                pixels.push(Point2::new(f64::from(u) - 0.5, f64::from(v) - 0.5));
            }
        }
        pixels
    }

    #[test]
    fn projects_one_point_by_hand() {
        // x/z = 0.5, y/z = -0.25: u = 500·0.5 + 320 = 570, v = 400·(−0.25) + 240 = 140.
        let camera = PinholeCamera::new(640, 480, 500.0, 400.0, 320.0, 240.0);
        let pixel = camera.project(Point3::new(1.0, -0.5, 2.0)).unwrap();
        assert_relative_eq!(pixel, Point2::new(570.0, 140.0), epsilon = 1e-12);
    }

    #[test]
    fn distorts_one_point_by_hand() {
        // x = 0.1, y = 0.2, r² = 0.05, radial = 1 + 0.1·0.05 + 0.01·0.0025 + 0 = 1.005025.
        // x_d = 0.1·1.005025 + 2·0.001·0.02 + 0.002·(0.05 + 0.02) = 0.1005025 + 0.00004 + 0.00014
        // y_d = 0.2·1.005025 + 0.001·(0.05 + 0.08) + 2·0.002·0.02  = 0.201005 + 0.00013 + 0.00008
        let camera = PinholeCamera {
            distortion: Distortion::plumb_bob([0.1, 0.01, 0.001, 0.002, 0.0]),
            ..PinholeCamera::new(640, 480, 500.0, 500.0, 320.0, 240.0)
        };
        let d = camera.distort_normalized(Point2::new(0.1, 0.2));
        assert_relative_eq!(d, Point2::new(0.1006825, 0.201215), epsilon = 1e-12);
        // Through project: u = 500·0.1006825 + 320, v = 500·0.201215 + 240.
        let pixel = camera.project(Point3::new(0.2, 0.4, 2.0)).unwrap();
        assert_relative_eq!(pixel, Point2::new(370.34125, 340.6075), epsilon = 1e-9);
    }

    #[test]
    fn behind_or_on_the_camera_plane_is_none() {
        let camera = tum_fr1();
        assert!(camera.project(Point3::new(0.0, 0.0, 0.0)).is_none());
        assert!(camera.project(Point3::new(0.1, 0.0, -1.0)).is_none());
        assert!(camera.project(Point3::new(0.1, 0.0, f64::NAN)).is_none());
    }

    #[test]
    fn project_unproject_round_trip_without_distortion() {
        let camera = PinholeCamera::new(640, 480, 517.3, 516.5, 318.6, 255.3);
        for pixel in image_grid() {
            let p_in_camera = camera.unproject(pixel, 1.7);
            assert_relative_eq!(p_in_camera.z, 1.7);
            assert_relative_eq!(camera.project(p_in_camera).unwrap(), pixel, epsilon = 1e-9);
        }
    }

    #[test]
    fn project_unproject_round_trip_with_tum_fr1_distortion() {
        let camera = tum_fr1();
        for pixel in image_grid() {
            let p_in_camera = camera.unproject(pixel, 2.5);
            assert_relative_eq!(camera.project(p_in_camera).unwrap(), pixel, epsilon = 1e-6);
        }
    }

    #[test]
    fn undistort_inverts_distort_across_the_image() {
        let camera = tum_fr1();
        let to_pixel = |n: Point2<f64>| camera.normalized_to_pixel(n);
        for pixel in image_grid() {
            // distorted pixel → undistorted pixel → distort again
            let undistorted = camera.undistort_pixel(pixel);
            let n = camera.pixel_to_normalized(undistorted);
            let back = to_pixel(camera.distort_normalized(n));
            assert!((back - pixel).norm() < 1e-6, "{pixel} → {undistorted} → {back}");
            // undistorted pixel → distort → undistort
            let distorted = to_pixel(camera.distort_normalized(camera.pixel_to_normalized(pixel)));
            let again = camera.undistort_pixel(distorted);
            assert!((again - pixel).norm() < 1e-6, "{pixel} → {distorted} → {again}");
        }
    }

    #[test]
    fn undistortion_moves_corners_and_not_the_principal_point() {
        let camera = tum_fr1();
        let centre = Point2::new(camera.cx, camera.cy);
        assert_relative_eq!(camera.undistort_pixel(centre), centre, epsilon = 1e-12);
        // fr1's radial factor exceeds 1 at the corners (1.05 at the top-left one), so the lens
        // pushes them outward and undistortion pulls the corner pixel ~15 px towards the centre.
        let corner = Point2::new(-0.5, -0.5);
        let undistorted = camera.undistort_pixel(corner);
        assert!(undistorted.x > 14.0 && undistorted.y > 13.0, "{undistorted}");
    }

    #[test]
    fn negative_fy_flips_v() {
        let camera = icl_nuim();
        // y = +0.5 m at z = 1 m (below the axis in the optical frame) lands above cy.
        let pixel = camera.project(Point3::new(0.0, 0.5, 1.0)).unwrap();
        assert_relative_eq!(pixel, Point2::new(319.5, 239.5 - 240.0), epsilon = 1e-12);
        let p_in_camera = camera.unproject(Point2::new(100.0, 50.0), 3.0);
        assert_relative_eq!(camera.project(p_in_camera).unwrap(), Point2::new(100.0, 50.0), epsilon = 1e-9);
        assert!(camera.validate().is_ok());
    }

    #[test]
    fn inside_uses_pixel_centre_convention() {
        let camera = PinholeCamera::new(4, 3, 1.0, 1.0, 0.0, 0.0);
        assert!(camera.is_inside(Point2::new(-0.5, -0.5)));
        assert!(camera.is_inside(Point2::new(3.49, 2.49)));
        assert!(!camera.is_inside(Point2::new(3.5, 1.0)));
        assert!(!camera.is_inside(Point2::new(1.0, 2.5)));
        assert!(!camera.is_inside(Point2::new(f64::NAN, 1.0)));
    }

    #[test]
    fn validate_rejects_bad_cameras() {
        assert!(PinholeCamera::new(0, 480, 500.0, 500.0, 0.0, 0.0).validate().is_err());
        assert!(PinholeCamera::new(640, 480, 0.0, 500.0, 0.0, 0.0).validate().is_err());
        assert!(PinholeCamera::new(640, 480, 500.0, f64::INFINITY, 0.0, 0.0).validate().is_err());
        assert!(tum_fr1().validate().is_ok());
    }

    #[test]
    fn zero_coefficients_mean_no_distortion() {
        assert_eq!(Distortion::plumb_bob([0.0; 5]), Distortion::None);
        assert_eq!(tum_fr1().distortion.coefficients(), [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]);
        assert_relative_eq!(tum_fr1().k_matrix()[(1, 2)], 255.3);
    }
}
