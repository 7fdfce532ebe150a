//! `geometry_msgs`: points, rotations, poses, transforms and velocities
//! (conversions to [`cairn_core::transform::Rigid3`] live in [`crate::convert`]).

use serde::{Deserialize, Serialize};
use serde_big_array::BigArray;

use super::std_msgs::Header;

/// `geometry_msgs/msg/Point`: a position in free space.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}
ros_message!(Point, "geometry_msgs/msg/Point", "float64 x\nfloat64 y\nfloat64 z\n");

/// `geometry_msgs/msg/Vector3`: a direction or a displacement.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Vector3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}
ros_message!(Vector3, "geometry_msgs/msg/Vector3", "float64 x\nfloat64 y\nfloat64 z\n");

/// `geometry_msgs/msg/Quaternion`: a rotation `(x, y, z, w)`; the default
/// is the identity (`w = 1`), as the `.msg` default values say.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    /// x (vector part).
    pub x: f64,
    /// y (vector part).
    pub y: f64,
    /// z (vector part).
    pub z: f64,
    /// w (scalar part).
    pub w: f64,
}
ros_message!(Quaternion, "geometry_msgs/msg/Quaternion", "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n");

impl Default for Quaternion {
    fn default() -> Self {
        Quaternion { x: 0.0, y: 0.0, z: 0.0, w: 1.0 }
    }
}

/// `geometry_msgs/msg/Pose`: position and orientation of a body in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pose {
    /// Position.
    pub position: Point,
    /// Orientation.
    pub orientation: Quaternion,
}
ros_message!(Pose, "geometry_msgs/msg/Pose", "Point position\nQuaternion orientation\n");

/// `geometry_msgs/msg/PoseStamped`: a pose with time and frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PoseStamped {
    /// Stamp and the frame the pose is expressed in.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}
ros_message!(PoseStamped, "geometry_msgs/msg/PoseStamped", "std_msgs/Header header\nPose pose\n");

/// `geometry_msgs/msg/PoseWithCovariance`: a pose with a 6×6 covariance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PoseWithCovariance {
    /// The pose.
    pub pose: Pose,
    /// Row-major 6×6 covariance of `(x, y, z, rot x, rot y, rot z)`.
    #[serde(with = "BigArray")]
    pub covariance: [f64; 36],
}
ros_message!(PoseWithCovariance, "geometry_msgs/msg/PoseWithCovariance", "Pose pose\nfloat64[36] covariance\n");

impl Default for PoseWithCovariance {
    fn default() -> Self {
        PoseWithCovariance { pose: Pose::default(), covariance: [0.0; 36] }
    }
}

/// `geometry_msgs/msg/PoseWithCovarianceStamped`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PoseWithCovarianceStamped {
    /// Stamp and the frame the pose is expressed in.
    pub header: Header,
    /// The pose and its covariance.
    pub pose: PoseWithCovariance,
}
ros_message!(
    PoseWithCovarianceStamped,
    "geometry_msgs/msg/PoseWithCovarianceStamped",
    "std_msgs/Header header\nPoseWithCovariance pose\n"
);

/// `geometry_msgs/msg/Transform`: a rigid transform `parent ← child`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Transform {
    /// Translation.
    pub translation: Vector3,
    /// Rotation.
    pub rotation: Quaternion,
}
ros_message!(Transform, "geometry_msgs/msg/Transform", "Vector3 translation\nQuaternion rotation\n");

/// `geometry_msgs/msg/TransformStamped`: `header.frame_id ← child_frame_id`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TransformStamped {
    /// Stamp and the parent frame.
    pub header: Header,
    /// The child frame.
    pub child_frame_id: String,
    /// `parent_from_child`.
    pub transform: Transform,
}
ros_message!(
    TransformStamped,
    "geometry_msgs/msg/TransformStamped",
    "std_msgs/Header header\nstring child_frame_id\nTransform transform\n"
);

/// `geometry_msgs/msg/Twist`: linear and angular velocity.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Twist {
    /// Linear velocity (m/s).
    pub linear: Vector3,
    /// Angular velocity (rad/s).
    pub angular: Vector3,
}
ros_message!(Twist, "geometry_msgs/msg/Twist", "Vector3  linear\nVector3  angular\n");

/// `geometry_msgs/msg/TwistWithCovariance`: a twist with a 6×6 covariance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TwistWithCovariance {
    /// The velocity.
    pub twist: Twist,
    /// Row-major 6×6 covariance of `(vx, vy, vz, wx, wy, wz)`.
    #[serde(with = "BigArray")]
    pub covariance: [f64; 36],
}
ros_message!(TwistWithCovariance, "geometry_msgs/msg/TwistWithCovariance", "Twist twist\nfloat64[36] covariance\n");

impl Default for TwistWithCovariance {
    fn default() -> Self {
        TwistWithCovariance { twist: Twist::default(), covariance: [0.0; 36] }
    }
}
