//! The per-match errors of the nuScenes detection metric, as the devkit
//! computes them (`nuscenes/eval/common/utils.py`): centre distance on xy,
//! velocity L2, yaw difference (with a period), aligned-box IoU and
//! attribute accuracy. Each takes the ground-truth box first.

use nalgebra::{Quaternion, UnitQuaternion, Vector3};

use super::DetectionBox;

/// xy distance between the box centres (the devkit's `center_distance`;
/// also the translation error ATE).
pub fn center_distance(gt: &DetectionBox, pred: &DetectionBox) -> f64 {
    let dx = pred.translation[0] - gt.translation[0];
    let dy = pred.translation[1] - gt.translation[1];
    dx.hypot(dy)
}

/// L2 distance of the xy velocities (`velocity_l2`); NaN when either is
/// unknown (NaN), which the cumulative mean then skips.
pub fn velocity_l2(gt: &DetectionBox, pred: &DetectionBox) -> f64 {
    let dx = pred.velocity[0] - gt.velocity[0];
    let dy = pred.velocity[1] - gt.velocity[1];
    (dx * dx + dy * dy).sqrt()
}

/// Yaw of a `[w, x, y, z]` quaternion (`quaternion_yaw`): the direction of
/// its rotated x axis in the xy plane. The quaternion is normalised first,
/// as pyquaternion's `rotation_matrix` does.
pub fn quaternion_yaw(rotation: &[f64; 4]) -> f64 {
    let [w, x, y, z] = *rotation;
    let unit = UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z));
    let heading = unit * Vector3::x();
    heading.y.atan2(heading.x)
}

/// The signed smallest difference from angle `y` to angle `x` with the
/// given period (`angle_diff`), shifted into (−π, π].
pub fn angle_diff(x: f64, y: f64, period: f64) -> f64 {
    // Python's `%` takes the sign of the divisor: rem_euclid for period > 0.
    let diff = (x - y + period / 2.0).rem_euclid(period) - period / 2.0;
    if diff > std::f64::consts::PI { diff - std::f64::consts::TAU } else { diff }
}

/// Absolute yaw difference of two boxes with a period (`yaw_diff`; 2π, or π
/// for barriers whose heading is ambiguous).
pub fn yaw_diff(gt: &DetectionBox, pred: &DetectionBox, period: f64) -> f64 {
    angle_diff(quaternion_yaw(&gt.rotation), quaternion_yaw(&pred.rotation), period).abs()
}

/// IoU of the two boxes aligned and centred on each other (`scale_iou`):
/// only their sizes count. Sizes must be positive (checked on loading).
pub fn scale_iou(gt: &DetectionBox, pred: &DetectionBox) -> f64 {
    let volume = |s: &[f64; 3]| s[0] * s[1] * s[2];
    let intersection: f64 = gt.size.iter().zip(&pred.size).map(|(a, b)| a.min(*b)).product();
    let union = volume(&gt.size) + volume(&pred.size) - intersection;
    intersection / union
}

/// Attribute accuracy (`attr_acc`): 1 or 0, NaN when the ground truth has
/// no attribute (left out of the mean; AAE is 1 when no GT has one).
pub fn attr_acc(gt: &DetectionBox, pred: &DetectionBox) -> f64 {
    if gt.attribute_name.is_empty() {
        f64::NAN
    } else if gt.attribute_name == pred.attribute_name {
        1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::{FRAC_PI_2, PI};

    fn detection(translation: [f64; 3], size: [f64; 3], yaw: f64) -> DetectionBox {
        let (s, c) = (yaw / 2.0).sin_cos();
        DetectionBox {
            sample_token: "t".into(),
            translation,
            size,
            rotation: [c, 0.0, 0.0, s],
            velocity: [1.0, 2.0],
            detection_name: "car".into(),
            detection_score: 0.5,
            attribute_name: String::new(),
        }
    }

    #[test]
    fn distances_use_xy_only() {
        let gt = detection([0.0, 0.0, 0.0], [1.0, 1.0, 1.0], 0.0);
        let pred = DetectionBox { velocity: [4.0, 6.0], ..detection([3.0, 4.0, 9.0], [1.0, 1.0, 1.0], 0.0) };
        assert_eq!(center_distance(&gt, &pred), 5.0);
        assert_eq!(velocity_l2(&gt, &pred), 5.0);
        assert!(velocity_l2(&DetectionBox { velocity: [f64::NAN, 0.0], ..gt.clone() }, &pred).is_nan());
    }

    #[test]
    fn yaw_differences_wrap_with_their_period() {
        let gt = detection([0.0; 3], [1.0; 3], 0.1);
        let turned = detection([0.0; 3], [1.0; 3], 0.1 + PI);
        assert!((quaternion_yaw(&turned.rotation).abs() - (PI - 0.1)).abs() < 1e-12);
        assert!((yaw_diff(&gt, &turned, 2.0 * PI) - PI).abs() < 1e-12);
        assert!(yaw_diff(&gt, &turned, PI) < 1e-12, "a barrier turned 180° has no orientation error");
        let quarter = detection([0.0; 3], [1.0; 3], 0.1 - FRAC_PI_2);
        assert!((yaw_diff(&gt, &quarter, PI) - FRAC_PI_2).abs() < 1e-12);
        // Across the ±π seam: 3.1 and −3.1 are 0.083 apart.
        assert!((angle_diff(3.1, -3.1, 2.0 * PI).abs() - (2.0 * PI - 6.2)).abs() < 1e-12);
        // An unnormalised quaternion gives the same yaw.
        let q = gt.rotation.map(|v| 3.0 * v);
        assert!((quaternion_yaw(&q) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn scale_iou_of_aligned_boxes() {
        let gt = detection([0.0; 3], [2.0, 4.0, 1.0], 0.0);
        let pred = detection([5.0, 5.0, 5.0], [1.0, 4.0, 2.0], 1.0);
        // Intersection 1·4·1 = 4, union 8 + 8 − 4 = 12.
        assert!((scale_iou(&gt, &pred) - 4.0 / 12.0).abs() < 1e-15);
        assert_eq!(scale_iou(&gt, &gt), 1.0);
    }

    #[test]
    fn attribute_accuracy_is_nan_without_a_ground_truth_attribute() {
        let gt = detection([0.0; 3], [1.0; 3], 0.0);
        assert!(attr_acc(&gt, &gt).is_nan());
        let parked = DetectionBox { attribute_name: "vehicle.parked".into(), ..gt.clone() };
        assert_eq!(attr_acc(&parked, &parked), 1.0);
        assert_eq!(attr_acc(&parked, &gt), 0.0);
    }
}
