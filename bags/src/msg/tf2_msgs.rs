//! `tf2_msgs`: the `/tf` and `/tf_static` message.

use serde::{Deserialize, Serialize};

use super::geometry_msgs::TransformStamped;

/// `tf2_msgs/msg/TFMessage`: a batch of transforms (`/tf`, `/tf_static`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TFMessage {
    /// Each `header.frame_id ← child_frame_id` transform.
    pub transforms: Vec<TransformStamped>,
}
ros_message!(TFMessage, "tf2_msgs/msg/TFMessage", "geometry_msgs/TransformStamped[] transforms\n");
