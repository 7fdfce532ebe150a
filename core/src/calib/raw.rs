//! The `camera_info` file as written, and its validation into a
//! [`Calibration`]; every message names the offending key.

use nalgebra::{Matrix3, Matrix3x4};
use serde::Deserialize;

use super::Calibration;
use crate::camera::{Distortion, PinholeCamera};

/// A `{rows, cols, data}` matrix as ROS writes it (row-major data).
#[derive(Debug, Deserialize)]
struct RawMatrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// The file as written, before validation.
#[derive(Debug, Deserialize)]
pub(super) struct RawCameraInfo {
    image_width: u32,
    image_height: u32,
    #[serde(default)]
    camera_name: Option<serde_norway::Value>,
    camera_matrix: RawMatrix,
    #[serde(default)]
    distortion_model: Option<String>,
    #[serde(default)]
    distortion_coefficients: Option<RawMatrix>,
    #[serde(default)]
    rectification_matrix: Option<RawMatrix>,
    #[serde(default)]
    projection_matrix: Option<RawMatrix>,
    #[serde(default)]
    depth_scale: Option<f64>,
}

impl RawCameraInfo {
    /// Checks every field; the message names the offending key.
    pub(super) fn validate(self) -> std::result::Result<Calibration, String> {
        if self.image_width == 0 || self.image_height == 0 {
            return Err(format!("empty image {}×{}", self.image_width, self.image_height));
        }
        let k = matrix_data("camera_matrix", &self.camera_matrix, 3, 3)?;
        let off_pattern = [k[1], k[3], k[6], k[7], k[8] - 1.0];
        if off_pattern.iter().any(|v| v.abs() > 1e-12) {
            return Err(format!("camera_matrix must be [fx 0 cx; 0 fy cy; 0 0 1], got {k:?}"));
        }
        if k[0] == 0.0 || k[4] == 0.0 {
            return Err(format!("camera_matrix has a zero focal length (fx = {}, fy = {})", k[0], k[4]));
        }
        let distortion = parse_distortion(self.distortion_model.as_deref(), self.distortion_coefficients.as_ref())?;
        let camera = PinholeCamera {
            width: self.image_width,
            height: self.image_height,
            fx: k[0],
            fy: k[4],
            cx: k[2],
            cy: k[5],
            distortion,
        };
        let mut calibration =
            Calibration::new(scalar_to_string(self.camera_name), camera).map_err(|e| e.to_string())?;
        if let Some(r) = &self.rectification_matrix {
            calibration.rectification = Matrix3::from_row_slice(&matrix_data("rectification_matrix", r, 3, 3)?);
        }
        if let Some(p) = &self.projection_matrix {
            calibration.projection = Matrix3x4::from_row_slice(&matrix_data("projection_matrix", p, 3, 4)?);
        }
        if let Some(scale) = self.depth_scale {
            if !(scale.is_finite() && scale > 0.0) {
                return Err(format!("depth_scale must be a positive number of units per metre, got {scale}"));
            }
            calibration.depth_scale = scale;
        }
        Ok(calibration)
    }
}

/// The data of a `{rows, cols, data}` matrix after checking its shape and values.
fn matrix_data(key: &str, m: &RawMatrix, rows: usize, cols: usize) -> std::result::Result<Vec<f64>, String> {
    if (m.rows, m.cols) != (rows, cols) {
        return Err(format!("{key}: expected {rows}×{cols}, file says rows: {}, cols: {}", m.rows, m.cols));
    }
    check_values(key, m)?;
    Ok(m.data.clone())
}

/// Checks that `data` has `rows·cols` finite values.
fn check_values(key: &str, m: &RawMatrix) -> std::result::Result<(), String> {
    if m.data.len() != m.rows * m.cols {
        return Err(format!(
            "{key}: rows: {} × cols: {} needs {} values, data has {}",
            m.rows,
            m.cols,
            m.rows * m.cols,
            m.data.len()
        ));
    }
    if let Some(bad) = m.data.iter().find(|v| !v.is_finite()) {
        return Err(format!("{key}: non-finite value {bad}"));
    }
    Ok(())
}

/// The distortion from `distortion_model` and `distortion_coefficients`.
fn parse_distortion(model: Option<&str>, coefficients: Option<&RawMatrix>) -> std::result::Result<Distortion, String> {
    let key = "distortion_coefficients";
    let d: &[f64] = match coefficients {
        Some(m) => {
            check_values(key, m)?;
            if m.rows > 1 && m.cols > 1 {
                return Err(format!("{key}: must be a vector, file says {}×{}", m.rows, m.cols));
            }
            &m.data
        }
        None => &[],
    };
    let all_zero = d.iter().all(|&c| c == 0.0);
    match model.unwrap_or("plumb_bob") {
        "plumb_bob" if all_zero => Ok(Distortion::None),
        "plumb_bob" => match <[f64; 5]>::try_from(d) {
            Ok(d5) => Ok(Distortion::plumb_bob(d5)),
            Err(_) => Err(format!("{key}: plumb_bob needs 5 coefficients (k1 k2 p1 p2 k3), data has {}", d.len())),
        },
        "none" | "" if all_zero => Ok(Distortion::None),
        "none" | "" => Err(format!("distortion_model '{}' but {key} are not all zero: {d:?}", model.unwrap_or(""))),
        unsupported @ ("rational_polynomial" | "equidistant") => {
            Err(format!("distortion_model '{unsupported}' is not supported (cairn supports plumb_bob and none)"))
        }
        unknown => Err(format!("unknown distortion_model '{unknown}' (expected plumb_bob or none)")),
    }
}

/// `camera_name` may be written as a string, a number or nothing.
fn scalar_to_string(value: Option<serde_norway::Value>) -> String {
    match value {
        Some(serde_norway::Value::String(s)) => s,
        Some(serde_norway::Value::Number(n)) => n.to_string(),
        Some(serde_norway::Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use crate::calib::tests::FR1;
    use approx::assert_relative_eq;

    /// The error message for `FR1` with `from` replaced by `to`.
    fn error_for(from: &str, to: &str) -> String {
        let text = FR1.replace(from, to);
        assert_ne!(text, FR1, "test edit '{from}' did not apply");
        let err = Calibration::from_yaml_str(&text, "bad.yaml").unwrap_err().to_string();
        assert!(err.contains("bad.yaml"), "error does not name the file: {err}");
        err
    }

    #[test]
    fn shape_errors_name_the_key() {
        let err = error_for("rows: 3, cols: 3", "rows: 3, cols: 4");
        assert!(err.contains("camera_matrix") && err.contains("3×3"), "{err}");
        let err = error_for(", 0, 0, 1]", ", 0, 0]");
        assert!(err.contains("camera_matrix") && err.contains("data has 8"), "{err}");
        let err = error_for("cols: 5", "cols: 4");
        assert!(err.contains("distortion_coefficients") && err.contains("needs 4"), "{err}");
        let err = error_for("0.0026, 1.1633]", "0.0026]");
        assert!(err.contains("needs 5 values, data has 4"), "{err}");
        let err =
            error_for("cols: 5, data: [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]", "cols: 4, data: [0.1, 0, 0, 0]");
        assert!(err.contains("plumb_bob needs 5 coefficients"), "{err}");
        let p = "projection_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}\n";
        let err = Calibration::from_yaml_str(&format!("{FR1}{p}"), "bad.yaml").unwrap_err().to_string();
        assert!(err.contains("projection_matrix: expected 3×4"), "{err}");
        let err = error_for("0, 516.5", "0.5, 516.5");
        assert!(err.contains("[fx 0 cx; 0 fy cy; 0 0 1]"), "{err}");
    }

    #[test]
    fn value_errors_name_the_key() {
        let err = error_for("517.3", ".nan");
        assert!(err.contains("camera_matrix: non-finite value NaN"), "{err}");
        let err = error_for("1.1633", "-.inf");
        assert!(err.contains("distortion_coefficients: non-finite"), "{err}");
        assert!(error_for("517.3", "0").contains("zero focal length"));
        assert!(error_for("516.5, 255.3", "0.0, 255.3").contains("zero focal length"));
        assert!(error_for("image_width: 640", "image_width: 0").contains("empty image 0×480"));
        assert!(error_for("image_height: 480", "image_height: 0").contains("empty image"));
        let err = Calibration::from_yaml_str(&format!("{FR1}depth_scale: -1\n"), "bad.yaml").unwrap_err();
        assert!(err.to_string().contains("depth_scale"), "{err}");
    }

    #[test]
    fn distortion_models() {
        assert!(error_for("plumb_bob", "fisheye").contains("unknown distortion_model 'fisheye'"));
        assert!(error_for("plumb_bob", "equidistant").contains("'equidistant' is not supported"));
        assert!(error_for("plumb_bob", "rational_polynomial").contains("not supported"));
        assert!(error_for("plumb_bob", "none").contains("not all zero"));
        let no_distortion = [
            ("cols: 5, data: [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]", "cols: 0, data: []"),
            ("[0.2624, -0.9531, -0.0054, 0.0026, 1.1633]", "[0, 0, 0, 0, 0]"),
            ("cols: 5, data: [0.2624, -0.9531, -0.0054, 0.0026, 1.1633]", "cols: 8, data: [0, 0, 0, 0, 0, 0, 0, 0]"),
        ];
        for (from, to) in no_distortion {
            for model in ["plumb_bob", "none"] {
                let text = FR1.replace(from, to).replace("plumb_bob", model);
                let camera = Calibration::from_yaml_str(&text, "<memory>").unwrap().camera();
                assert_eq!(camera.distortion, Distortion::None, "{text}");
            }
        }
        let without_model = FR1.replace("distortion_model: plumb_bob\n", "");
        let camera = Calibration::from_yaml_str(&without_model, "<memory>").unwrap().camera();
        assert_relative_eq!(camera.distortion.coefficients()[4], 1.1633);
    }
}
