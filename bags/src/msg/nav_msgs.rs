//! `nav_msgs`: odometry and paths.

use serde::{Deserialize, Serialize};

use super::geometry_msgs::{PoseStamped, PoseWithCovariance, TwistWithCovariance};
use super::std_msgs::Header;

/// `nav_msgs/msg/Odometry`: an estimated pose (in `header.frame_id`) and
/// velocity (in `child_frame_id`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Odometry {
    /// Stamp and the pose's parent frame.
    pub header: Header,
    /// Frame of the body whose pose is given; the twist is expressed in it.
    pub child_frame_id: String,
    /// `header.frame_id ← child_frame_id` pose with covariance.
    pub pose: PoseWithCovariance,
    /// Velocity in `child_frame_id`, with covariance.
    pub twist: TwistWithCovariance,
}
ros_message!(
    Odometry,
    "nav_msgs/msg/Odometry",
    "std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/PoseWithCovariance pose\ngeometry_msgs/TwistWithCovariance twist\n"
);

/// `nav_msgs/msg/Path`: a sequence of stamped poses (e.g. a trajectory).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Path {
    /// Stamp and frame of the path.
    pub header: Header,
    /// The poses, in order.
    pub poses: Vec<PoseStamped>,
}
ros_message!(Path, "nav_msgs/msg/Path", "std_msgs/Header header\ngeometry_msgs/PoseStamped[] poses\n");
