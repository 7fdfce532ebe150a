//! `sensor_msgs/CameraInfo` ↔ [`PinholeCamera`] and [`Calibration`].
//!
//! The camera model comes from `k` and the distortion (the raw image);
//! `plumb_bob` with 5 coefficients, or no distortion (`plumb_bob` with
//! none or all zeros, `none`, or an empty model name with no coefficients).
//! Other models are refused, as [`Calibration`] refuses them. A zero
//! `k[0]` marks an uncalibrated camera (ROS' convention) and is an error.
//! Written messages use `plumb_bob` with 5 coefficients (zeros without
//! distortion), which every ROS tool reads.

use cairn_core::{Calibration, Distortion, PinholeCamera};
use nalgebra::{Matrix3, Matrix3x4};

use crate::msg::sensor_msgs::CameraInfo;
use crate::msg::std_msgs::Header;
use crate::{Error, Result};

impl CameraInfo {
    /// The raw image's camera model (size, `k`, distortion).
    pub fn to_camera(&self) -> Result<PinholeCamera> {
        let k = &self.k;
        if k[0] == 0.0 {
            return Err(Error::Convert("camera_info is uncalibrated (k[0] = 0)".into()));
        }
        let mut camera = PinholeCamera::new(self.width, self.height, k[0], k[4], k[2], k[5]);
        camera.distortion = self.distortion()?;
        camera.validate()?;
        Ok(camera)
    }

    /// The calibration: camera model plus `r` and `p` (the depth scale,
    /// which `CameraInfo` lacks, is cairn's default).
    pub fn to_calibration(&self) -> Result<Calibration> {
        let mut calibration = Calibration::new(String::new(), self.to_camera()?)?;
        calibration.rectification = Matrix3::from_row_slice(&self.r);
        calibration.projection = Matrix3x4::from_row_slice(&self.p);
        Ok(calibration)
    }

    /// A message for `camera` with identity `r` and `p = [K | 0]`.
    pub fn from_camera(camera: &PinholeCamera, header: Header) -> CameraInfo {
        let k = camera.k_matrix();
        let mut p = [0.0; 12];
        for row in 0..3 {
            for col in 0..3 {
                p[4 * row + col] = k[(row, col)];
            }
        }
        CameraInfo {
            header,
            height: camera.height,
            width: camera.width,
            distortion_model: "plumb_bob".into(),
            d: camera.distortion.coefficients().to_vec(),
            k: row_major(&k),
            r: row_major(&Matrix3::identity()),
            p,
            ..Default::default()
        }
    }

    /// A message for `calibration`, with its rectification and projection.
    pub fn from_calibration(calibration: &Calibration, header: Header) -> CameraInfo {
        let mut info = Self::from_camera(&calibration.camera(), header);
        info.r = row_major(&calibration.rectification);
        for row in 0..3 {
            for col in 0..4 {
                info.p[4 * row + col] = calibration.projection[(row, col)];
            }
        }
        info
    }

    fn distortion(&self) -> Result<Distortion> {
        let d = &self.d;
        let all_zero = d.iter().all(|&c| c == 0.0);
        match self.distortion_model.as_str() {
            "plumb_bob" if all_zero => Ok(Distortion::None),
            "plumb_bob" => match <[f64; 5]>::try_from(d.as_slice()) {
                Ok(coefficients) => Ok(Distortion::plumb_bob(coefficients)),
                Err(_) => Err(Error::Convert(format!(
                    "camera_info plumb_bob distortion needs 5 coefficients (k1 k2 p1 p2 k3), got {}",
                    d.len()
                ))),
            },
            "" | "none" if all_zero => Ok(Distortion::None),
            "" | "none" => Err(Error::Convert(format!(
                "camera_info has {} non-zero distortion coefficients but no distortion model",
                d.len()
            ))),
            other => Err(Error::Convert(format!(
                "camera_info distortion model {other} is not supported; use plumb_bob (or none)"
            ))),
        }
    }
}

/// A 3×3 matrix in ROS' row-major order.
fn row_major(m: &Matrix3<f64>) -> [f64; 9] {
    let mut out = [0.0; 9];
    for row in 0..3 {
        for col in 0..3 {
            out[3 * row + col] = m[(row, col)];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tum_fr1() -> PinholeCamera {
        let mut camera = PinholeCamera::new(640, 480, 517.3, 516.5, 318.6, 255.3);
        camera.distortion = Distortion::plumb_bob([0.2624, -0.9531, -0.0054, 0.0026, 1.1633]);
        camera
    }

    #[test]
    fn camera_round_trips_with_ros_layout() {
        let info = CameraInfo::from_camera(&tum_fr1(), Header::default());
        assert_eq!(info.k, [517.3, 0.0, 318.6, 0.0, 516.5, 255.3, 0.0, 0.0, 1.0]);
        assert_eq!(info.p[..4], [517.3, 0.0, 318.6, 0.0]);
        assert_eq!(info.d, [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]);
        assert_eq!(info.to_camera().expect("calibrated"), tum_fr1());
    }

    #[test]
    fn calibration_keeps_rectification_and_projection() {
        let mut calibration = Calibration::new("right", tum_fr1()).expect("valid");
        calibration.projection[(0, 3)] = -38.8;
        calibration.rectification[(0, 1)] = 0.01;
        let info = CameraInfo::from_calibration(&calibration, Header::default());
        assert_eq!((info.p[3], info.r[1]), (-38.8, 0.01));
        let back = info.to_calibration().expect("valid");
        assert_eq!((back.projection, back.rectification), (calibration.projection, calibration.rectification));
    }

    #[test]
    fn no_distortion_forms_are_accepted() {
        let mut info = CameraInfo::from_camera(&PinholeCamera::new(4, 3, 2.0, 2.0, 2.0, 1.5), Header::default());
        assert_eq!(info.d, [0.0; 5]);
        for (model, d) in [("plumb_bob", vec![]), ("none", vec![]), ("", vec![0.0; 5])] {
            (info.distortion_model, info.d) = (model.into(), d);
            assert!(info.to_camera().expect("no distortion").distortion.is_none());
        }
    }

    #[test]
    fn unusable_camera_info_is_an_error() {
        let mut info = CameraInfo::from_camera(&tum_fr1(), Header::default());
        info.d.push(0.1);
        assert!(info.to_camera().expect_err("6 coefficients").to_string().contains("needs 5 coefficients"));
        info.distortion_model = "equidistant".into();
        assert!(info.to_camera().expect_err("fisheye").to_string().contains("equidistant is not supported"));
        assert!(CameraInfo::default().to_camera().expect_err("zeros").to_string().contains("uncalibrated"));
    }
}
