//! `vision_msgs` 4.x (Humble and later): 3D detections with class
//! hypotheses and oriented boxes, as CMT publishes them.

use serde::{Deserialize, Serialize};

use super::geometry_msgs::{Pose, PoseWithCovariance, Vector3};
use super::std_msgs::Header;

/// `vision_msgs/msg/ObjectHypothesis`: a class and its score.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ObjectHypothesis {
    /// Class name or id.
    pub class_id: String,
    /// Confidence (typically in `[0, 1]`).
    pub score: f64,
}
ros_message!(ObjectHypothesis, "vision_msgs/msg/ObjectHypothesis", "string class_id\nfloat64 score\n");

/// `vision_msgs/msg/ObjectHypothesisWithPose`: a hypothesis and the
/// object's pose under it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ObjectHypothesisWithPose {
    /// Class and score.
    pub hypothesis: ObjectHypothesis,
    /// Pose of the object (unstamped; the parent message gives the frame).
    pub pose: PoseWithCovariance,
}
ros_message!(
    ObjectHypothesisWithPose,
    "vision_msgs/msg/ObjectHypothesisWithPose",
    "ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n"
);

/// `vision_msgs/msg/BoundingBox3D`: an oriented box.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct BoundingBox3D {
    /// Pose of the box centre.
    pub center: Pose,
    /// Edge lengths (metres) along the box's own x, y, z axes.
    pub size: Vector3,
}
ros_message!(BoundingBox3D, "vision_msgs/msg/BoundingBox3D", "geometry_msgs/Pose center\ngeometry_msgs/Vector3 size\n");

/// `vision_msgs/msg/Detection3D`: one detected object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Detection3D {
    /// Stamp and frame of the box.
    pub header: Header,
    /// Class hypotheses (classes not listed have score 0).
    pub results: Vec<ObjectHypothesisWithPose>,
    /// The box around the object.
    pub bbox: BoundingBox3D,
    /// Tracking id, stable across messages (may be empty).
    pub id: String,
}
ros_message!(
    Detection3D,
    "vision_msgs/msg/Detection3D",
    "std_msgs/Header header\nObjectHypothesisWithPose[] results\nBoundingBox3D bbox\nstring id\n"
);

/// `vision_msgs/msg/Detection3DArray`: all detections of one frame.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Detection3DArray {
    /// Stamp and frame.
    pub header: Header,
    /// The detections.
    pub detections: Vec<Detection3D>,
}
ros_message!(
    Detection3DArray,
    "vision_msgs/msg/Detection3DArray",
    "std_msgs/Header header\nDetection3D[] detections\n"
);
