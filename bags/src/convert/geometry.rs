//! `geometry_msgs/Pose` and `Transform` ↔ [`Rigid3`] (`target_from_source`).
//!
//! A `Pose` in frame `parent` describing body `child` is `parent_from_child`,
//! and so is a `TransformStamped` from `header.frame_id` to `child_frame_id`.

use cairn_core::transform::{Rigid3, rigid_from_translation_quat};

use crate::Result;
use crate::msg::geometry_msgs::{Point, Pose, Quaternion, Transform, Vector3};
use crate::msg::tf2_msgs::TFMessage;

impl Quaternion {
    /// `(x, y, z, w)` of a rigid transform's rotation.
    fn from_rigid(transform: &Rigid3) -> Self {
        let q = transform.rotation.coords;
        Quaternion { x: q.x, y: q.y, z: q.z, w: q.w }
    }

    /// `[x, y, z, w]`.
    fn xyzw(&self) -> [f64; 4] {
        [self.x, self.y, self.z, self.w]
    }
}

impl Pose {
    /// The pose as `parent_from_child`; the quaternion is normalised, and
    /// a zero or non-finite one is an error.
    pub fn to_rigid(&self) -> Result<Rigid3> {
        let p = &self.position;
        Ok(rigid_from_translation_quat([p.x, p.y, p.z], self.orientation.xyzw())?)
    }

    /// The pose of `parent_from_child`.
    pub fn from_rigid(parent_from_child: &Rigid3) -> Self {
        let t = &parent_from_child.translation.vector;
        Pose { position: Point { x: t.x, y: t.y, z: t.z }, orientation: Quaternion::from_rigid(parent_from_child) }
    }
}

impl Transform {
    /// The transform as `parent_from_child`; the quaternion is normalised,
    /// and a zero or non-finite one is an error.
    pub fn to_rigid(&self) -> Result<Rigid3> {
        let t = &self.translation;
        Ok(rigid_from_translation_quat([t.x, t.y, t.z], self.rotation.xyzw())?)
    }

    /// The transform of `parent_from_child`.
    pub fn from_rigid(parent_from_child: &Rigid3) -> Self {
        let t = &parent_from_child.translation.vector;
        Transform {
            translation: Vector3 { x: t.x, y: t.y, z: t.z },
            rotation: Quaternion::from_rigid(parent_from_child),
        }
    }
}

impl TFMessage {
    /// `(stamp in seconds, parent_from_child)` of every transform on the edge
    /// `parent → child`. Frame names match without a leading `/` (ROS 1
    /// bags such as TUM's write `/world`).
    pub fn edge_poses(&self, parent: &str, child: &str) -> Result<Vec<(f64, Rigid3)>> {
        let bare = |f: &str| f.trim_start_matches('/').to_owned();
        let (parent, child) = (bare(parent), bare(child));
        self.transforms
            .iter()
            .filter(|t| bare(&t.header.frame_id) == parent && bare(&t.child_frame_id) == child)
            .map(|t| Ok((t.header.stamp.as_secs_f64(), t.transform.to_rigid()?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use nalgebra::{Point3, Translation3, UnitQuaternion};

    fn camera_in_world() -> Rigid3 {
        Rigid3::from_parts(Translation3::new(1.0, -2.0, 0.5), UnitQuaternion::from_euler_angles(0.1, -0.4, 2.0))
    }

    #[test]
    fn pose_round_trips_and_maps_points_like_rigid3() {
        let world_from_camera = camera_in_world();
        let pose = Pose::from_rigid(&world_from_camera);
        let back = pose.to_rigid().expect("unit quaternion");
        let p_in_camera = Point3::new(0.3, 0.2, 4.0);
        assert_relative_eq!(back * p_in_camera, world_from_camera * p_in_camera, epsilon = 1e-12);
        assert_relative_eq!(pose.position.x, 1.0);
    }

    #[test]
    fn transform_round_trips_and_normalises() {
        let parent_from_child = camera_in_world();
        let mut msg = Transform::from_rigid(&parent_from_child);
        msg.rotation = Quaternion {
            x: msg.rotation.x * 2.0,
            y: msg.rotation.y * 2.0,
            z: msg.rotation.z * 2.0,
            w: msg.rotation.w * 2.0,
        };
        let back = msg.to_rigid().expect("non-zero quaternion");
        assert_relative_eq!(back.to_homogeneous(), parent_from_child.to_homogeneous(), epsilon = 1e-12);
    }

    #[test]
    fn zero_quaternion_is_an_error() {
        let pose = Pose { orientation: Quaternion { x: 0.0, y: 0.0, z: 0.0, w: 0.0 }, ..Default::default() };
        assert!(pose.to_rigid().is_err());
        assert_relative_eq!(
            Pose::default().to_rigid().expect("identity").to_homogeneous(),
            Rigid3::identity().to_homogeneous()
        );
    }

    #[test]
    fn tf_edge_poses_match_frames_without_leading_slash() {
        use crate::msg::geometry_msgs::TransformStamped;
        use crate::msg::std_msgs::Header;
        let edge = |parent: &str, child: &str, x: f64| TransformStamped {
            header: Header { frame_id: parent.into(), ..Default::default() },
            child_frame_id: child.into(),
            transform: Transform::from_rigid(&Rigid3::translation(x, 0.0, 0.0)),
        };
        let tf = TFMessage { transforms: vec![edge("/world", "/kinect", 1.0), edge("world", "base", 2.0)] };
        let poses = tf.edge_poses("world", "kinect").unwrap();
        assert_eq!(poses.len(), 1);
        assert_relative_eq!(poses[0].1.translation.x, 1.0);
        assert!(tf.edge_poses("kinect", "world").unwrap().is_empty());
    }
}
