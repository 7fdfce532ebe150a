//! Camera calibration files: ROS `camera_info` YAML, as written by
//! `camera_calibration_parsers` (and `camera_calibration`, `camera_info_manager`).
//!
//! ```yaml
//! image_width: 640
//! image_height: 480
//! camera_name: tum_fr1
//! camera_matrix: {rows: 3, cols: 3, data: [517.3, 0, 318.6, 0, 516.5, 255.3, 0, 0, 1]}
//! distortion_model: plumb_bob
//! distortion_coefficients: {rows: 1, cols: 5, data: [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]}
//! rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
//! projection_matrix: {rows: 3, cols: 4, data: [517.3, 0, 318.6, 0, 0, 516.5, 255.3, 0, 0, 0, 1, 0]}
//! depth_scale: 5000  # cairn extension, see below
//! ```
//!
//! Required keys: `image_width`, `image_height`, `camera_matrix`. As in ROS,
//! a missing `distortion_model` means `plumb_bob`, missing coefficients mean
//! no distortion, a missing rectification is the identity and a missing
//! projection is `[K | 0]`. Other keys are ignored, as ROS ignores them.
//!
//! Distortion models: `plumb_bob` with 5 coefficients `k1 k2 p1 p2 k3`, or
//! with an empty list or all zeros (no distortion); `none` or an empty name
//! with no (or all-zero) coefficients. ROS' `rational_polynomial` and
//! `equidistant` are recognised and refused (not supported by
//! [`PinholeCamera`]); any other name is an error.
//!
//! **cairn extension — `depth_scale`**: depth image units per metre for the
//! depth stream registered to this camera (`depth_m = pixel / depth_scale`).
//! Optional, default [`DEFAULT_DEPTH_SCALE`] = 5000 (TUM RGB-D and ICL-NUIM
//! PNGs); a Kinect/RealSense `16UC1` image in millimetres uses 1000. ROS
//! parsers ignore the key, so files stay loadable by ROS tools.
//!
//! The camera model comes from `camera_matrix` and the distortion (the raw,
//! unrectified image), not from `projection_matrix`, which describes the
//! rectified image.

use std::path::Path;

use nalgebra::{Matrix3, Matrix3x4};

use crate::camera::PinholeCamera;
use crate::{Error, Result};

mod raw;

/// Depth units per metre when a file has no `depth_scale` (TUM RGB-D, ICL-NUIM).
pub const DEFAULT_DEPTH_SCALE: f64 = 5000.0;

/// A camera calibration: a ROS `camera_info` plus cairn's `depth_scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// `camera_name` (may be empty).
    pub camera_name: String,
    /// Image size, `camera_matrix` and distortion, validated.
    camera: PinholeCamera,
    /// `rectification_matrix` R (identity for a monocular camera).
    pub rectification: Matrix3<f64>,
    /// `projection_matrix` P of the rectified image.
    pub projection: Matrix3x4<f64>,
    /// Depth image units per metre (cairn extension `depth_scale`).
    pub depth_scale: f64,
}

impl Calibration {
    /// A calibration for `camera` with identity rectification, projection
    /// `[K | 0]` and the default depth scale. Fails if the camera is invalid.
    pub fn new(camera_name: impl Into<String>, camera: PinholeCamera) -> Result<Self> {
        camera.validate()?;
        let mut projection = Matrix3x4::zeros();
        projection.fixed_view_mut::<3, 3>(0, 0).copy_from(&camera.k_matrix());
        Ok(Calibration {
            camera_name: camera_name.into(),
            camera,
            rectification: Matrix3::identity(),
            projection,
            depth_scale: DEFAULT_DEPTH_SCALE,
        })
    }

    /// The camera model (raw image: `camera_matrix` + distortion).
    pub fn camera(&self) -> PinholeCamera {
        self.camera
    }

    /// Reads and validates a `camera_info` YAML file.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_yaml_str(&text, path)
    }

    /// Parses and validates `camera_info` YAML text; `path_for_errors`
    /// names it in error messages (use `"<memory>"` for in-memory text).
    pub fn from_yaml_str(text: &str, path_for_errors: impl AsRef<Path>) -> Result<Self> {
        let path = path_for_errors.as_ref();
        let raw: raw::RawCameraInfo = serde_norway::from_str(text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            line: e.location().map_or(1, |l| l.line()),
            message: e.to_string(),
        })?;
        raw.validate().map_err(|message| Error::Calibration { path: path.to_path_buf(), message })
    }

    /// Writes the calibration in `camera_calibration_parsers`' layout. A
    /// camera without distortion is written as `plumb_bob` with five zeros,
    /// which every ROS tool reads.
    pub fn to_yaml_string(&self) -> String {
        let name = serde_norway::to_string(&self.camera_name).unwrap_or_default();
        let camera = &self.camera;
        let k = camera.k_matrix();
        let mut out = String::new();
        out.push_str(&format!("image_width: {}\n", camera.width));
        out.push_str(&format!("image_height: {}\n", camera.height));
        out.push_str(&format!("camera_name: {}\n", name.trim_end()));
        out.push_str(&matrix_yaml("camera_matrix", 3, 3, k.transpose().as_slice()));
        out.push_str("distortion_model: plumb_bob\n");
        out.push_str(&matrix_yaml("distortion_coefficients", 1, 5, &camera.distortion.coefficients()));
        out.push_str(&matrix_yaml("rectification_matrix", 3, 3, self.rectification.transpose().as_slice()));
        out.push_str(&matrix_yaml("projection_matrix", 3, 4, self.projection.transpose().as_slice()));
        out.push_str("# cairn extension (ignored by ROS): depth image units per metre\n");
        out.push_str(&format!("depth_scale: {}\n", yaml_number(self.depth_scale)));
        out
    }

    /// Writes [`Self::to_yaml_string`] to `path`.
    pub fn to_yaml_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_yaml_string()).map_err(|e| Error::io(path, e))
    }
}

/// One `key:` block with `rows`, `cols` and a flow-style `data` list.
fn matrix_yaml(key: &str, rows: usize, cols: usize, row_major: &[f64]) -> String {
    let data: Vec<String> = row_major.iter().map(|&v| yaml_number(v)).collect();
    format!("{key}:\n  rows: {rows}\n  cols: {cols}\n  data: [{}]\n", data.join(", "))
}

/// A number as YAML reads it back exactly (shortest round-trip form).
fn yaml_number(v: f64) -> String {
    if v.is_nan() {
        ".nan".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { ".inf".to_string() } else { "-.inf".to_string() }
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    pub(crate) const FR1: &str = "image_width: 640\nimage_height: 480\ncamera_name: fr1\n\
        camera_matrix: {rows: 3, cols: 3, data: [517.3, 0, 318.6, 0, 516.5, 255.3, 0, 0, 1]}\n\
        distortion_model: plumb_bob\n\
        distortion_coefficients: {rows: 1, cols: 5, data: [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]}\n";

    #[test]
    fn reads_minimal_file_with_ros_defaults() {
        let calibration = Calibration::from_yaml_str(FR1, "<memory>").unwrap();
        let camera = calibration.camera();
        assert_eq!((camera.width, camera.height), (640, 480));
        assert_eq!((camera.fx, camera.fy, camera.cx, camera.cy), (517.3, 516.5, 318.6, 255.3));
        assert_eq!(camera.distortion.coefficients(), [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]);
        assert_eq!(calibration.camera_name, "fr1");
        assert_eq!(calibration.rectification, Matrix3::identity());
        assert_eq!(calibration.projection[(1, 1)], 516.5);
        assert_eq!(calibration.projection[(1, 2)], 255.3);
        assert_eq!(calibration.projection[(2, 3)], 0.0);
        assert_eq!(calibration.depth_scale, 5000.0);
    }

    #[test]
    fn round_trip_through_yaml_text() {
        let mut calibration = Calibration::from_yaml_str(FR1, "<memory>").unwrap();
        calibration.camera_name = "odd: name # with yaml characters".to_string();
        calibration.depth_scale = 1000.0;
        calibration.rectification[(0, 1)] = 1e-20;
        calibration.projection[(0, 3)] = -3.5e16;
        let text = calibration.to_yaml_string();
        assert!(text.contains("distortion_coefficients:\n  rows: 1\n  cols: 5\n  data: [0.2624, -0.9531,"));
        let back = Calibration::from_yaml_str(&text, "<memory>").unwrap();
        assert_eq!(back, calibration);
        // no distortion is written as five zeros and read back as none
        let plain = Calibration::new("icl", PinholeCamera::new(640, 480, 481.2, -480.0, 319.5, 239.5)).unwrap();
        let text = plain.to_yaml_string();
        assert!(text.contains("data: [0.0, 0.0, 0.0, 0.0, 0.0]"), "{text}");
        assert_eq!(Calibration::from_yaml_str(&text, "<memory>").unwrap(), plain);
    }

    #[test]
    fn round_trip_through_a_file() {
        let path = std::env::temp_dir().join(format!("cairn_calib_{}.yaml", std::process::id()));
        let calibration = Calibration::from_yaml_str(FR1, "<memory>").unwrap();
        calibration.to_yaml_file(&path).unwrap();
        let back = Calibration::from_yaml_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.unwrap(), calibration);
        let missing = Calibration::from_yaml_file("/nonexistent/cam.yaml").unwrap_err();
        assert!(matches!(missing, Error::Io { .. }), "{missing}");
    }

    #[test]
    fn yaml_syntax_and_type_errors_give_the_line() {
        let err = Calibration::from_yaml_str(&FR1.replace("480", "[480"), "bad.yaml").unwrap_err();
        assert!(matches!(err, Error::Parse { line: 2, .. }), "{err}");
        let err = Calibration::from_yaml_str("image_width: 640\n", "bad.yaml").unwrap_err();
        assert!(err.to_string().contains("image_height"), "{err}");
    }

    #[test]
    fn shipped_calibration_files_hold_the_published_numbers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../calib");
        type Expected = (&'static str, [f64; 4], [f64; 5]);
        let expected: [Expected; 4] = [
            ("tum_fr1", [517.3, 516.5, 318.6, 255.3], [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]),
            ("tum_fr2", [520.9, 521.0, 325.1, 249.7], [0.2312, -0.7849, -0.0033, -0.0001, 0.9172]),
            ("tum_fr3", [535.4, 539.2, 320.1, 247.6], [0.0; 5]),
            ("icl_nuim", [481.2, -480.0, 319.5, 239.5], [0.0; 5]),
        ];
        for (name, [fx, fy, cx, cy], d) in expected {
            let calibration = Calibration::from_yaml_file(dir.join(format!("{name}.yaml"))).unwrap();
            let camera = calibration.camera();
            assert_eq!(calibration.camera_name, name);
            assert_eq!((camera.width, camera.height), (640, 480), "{name}");
            assert_eq!((camera.fx, camera.fy, camera.cx, camera.cy), (fx, fy, cx, cy), "{name}");
            assert_eq!(camera.distortion.coefficients(), d, "{name}");
            assert_eq!(camera.distortion.is_none(), d == [0.0; 5], "{name}");
            assert_eq!(calibration.depth_scale, 5000.0, "{name}");
            assert_eq!(calibration.rectification, Matrix3::identity(), "{name}");
            let mut k_zero = Matrix3x4::zeros();
            k_zero.fixed_view_mut::<3, 3>(0, 0).copy_from(&camera.k_matrix());
            assert_eq!(calibration.projection, k_zero, "{name}");
        }
    }
}
