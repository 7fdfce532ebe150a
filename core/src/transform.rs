//! Rigid transforms on nalgebra.
//!
//! cairn names every transform `target_from_source`: `world_from_camera`
//! maps a point in the camera frame into the world frame
//! (`p_in_world = world_from_camera * p_in_camera`), and composition reads
//! right to left (`world_from_lidar = world_from_camera * camera_from_lidar`).
//! A bare `pose` or `T` never appears.

use nalgebra::{Isometry3, Matrix3, Matrix4, Quaternion, Translation3, UnitQuaternion, Vector3};

use crate::{Error, Result};

/// A rigid transform (rotation + translation), always named `target_from_source`.
pub type Rigid3 = Isometry3<f64>;

/// Builds a rigid transform from a translation and a quaternion given as
/// `(qx, qy, qz, qw)` (TUM order). The quaternion is normalised; a zero or
/// non-finite quaternion is an error.
pub fn rigid_from_translation_quat(t: [f64; 3], q_xyzw: [f64; 4]) -> Result<Rigid3> {
    let q = Quaternion::new(q_xyzw[3], q_xyzw[0], q_xyzw[1], q_xyzw[2]);
    let norm = q.norm();
    if !norm.is_finite() || norm < 1e-12 || t.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "pose with non-finite translation or zero quaternion: t={t:?} q(xyzw)={q_xyzw:?}"
        )));
    }
    Ok(Isometry3::from_parts(Translation3::new(t[0], t[1], t[2]), UnitQuaternion::new_normalize(q)))
}

/// Builds a rigid transform from a 3×3 rotation matrix and a translation.
/// The matrix is projected onto SO(3) (nearest rotation), so slightly
/// non-orthonormal input (e.g. KITTI files printed with few digits) is
/// accepted; a matrix far from a rotation is an error.
pub fn rigid_from_matrix(rotation: &Matrix3<f64>, t: Vector3<f64>) -> Result<Rigid3> {
    let finite = rotation.iter().chain(t.iter()).all(|v| v.is_finite());
    let orthonormality = (rotation.transpose() * rotation - Matrix3::identity()).abs().max();
    if !finite || orthonormality > 1e-3 || rotation.determinant() < 0.0 {
        return Err(Error::InvalidArgument(format!(
            "not a rotation matrix (|RᵀR − I|max = {orthonormality:.3e}, det = {:.6})",
            rotation.determinant()
        )));
    }
    let q = UnitQuaternion::from_matrix_eps(rotation, 1e-15, 100, UnitQuaternion::identity());
    Ok(Isometry3::from_parts(Translation3::from(t), q))
}

/// The 4×4 homogeneous matrix of a rigid transform.
pub fn to_matrix(target_from_source: &Rigid3) -> Matrix4<f64> {
    target_from_source.to_homogeneous()
}

/// Rotation angle (radians, in `[0, π]`) of a rotation, computed from the
/// quaternion with `2·atan2(|v|, |w|)`, which stays accurate for tiny angles
/// (unlike `acos((tr R − 1)/2)`).
pub fn rotation_angle(rotation: &UnitQuaternion<f64>) -> f64 {
    let q = rotation.quaternion();
    2.0 * q.imag().norm().atan2(q.w.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn composition_reads_right_to_left() {
        let world_from_camera = rigid_from_translation_quat([1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]).unwrap();
        let camera_from_lidar = Rigid3::rotation(Vector3::new(0.0, 0.0, std::f64::consts::FRAC_PI_2));
        let world_from_lidar = world_from_camera * camera_from_lidar;
        let p_in_lidar = nalgebra::Point3::new(1.0, 0.0, 0.0);
        let p_in_world = world_from_lidar * p_in_lidar;
        assert_relative_eq!(p_in_world, nalgebra::Point3::new(1.0, 1.0, 0.0), epsilon = 1e-12);
    }

    #[test]
    fn quaternion_is_normalised_and_zero_rejected() {
        let r = rigid_from_translation_quat([0.0; 3], [0.0, 0.0, 0.0, 2.0]).unwrap();
        assert_relative_eq!(r.rotation.quaternion().norm(), 1.0, epsilon = 1e-15);
        assert!(rigid_from_translation_quat([0.0; 3], [0.0; 4]).is_err());
        assert!(rigid_from_translation_quat([f64::NAN, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]).is_err());
    }

    #[test]
    fn matrix_round_trip_and_reflection_rejected() {
        let r = UnitQuaternion::from_euler_angles(0.3, -0.2, 1.1);
        let m = r.to_rotation_matrix().into_inner();
        let back = rigid_from_matrix(&m, Vector3::new(1.0, 2.0, 3.0)).unwrap();
        assert_relative_eq!(back.rotation.angle_to(&r), 0.0, epsilon = 1e-9);
        let mut reflection = Matrix3::identity();
        reflection[(2, 2)] = -1.0;
        assert!(rigid_from_matrix(&reflection, Vector3::zeros()).is_err());
    }

    #[test]
    fn tiny_rotation_angle_is_accurate() {
        let r = UnitQuaternion::from_axis_angle(&Vector3::x_axis(), 1e-9);
        assert_relative_eq!(rotation_angle(&r), 1e-9, max_relative = 1e-9);
        let r = UnitQuaternion::from_axis_angle(&Vector3::y_axis(), 3.0);
        assert_relative_eq!(rotation_angle(&r), 3.0, epsilon = 1e-12);
    }
}
