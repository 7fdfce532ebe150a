//! ROS 2 messages as serde structs, one module per ROS package.
//!
//! Every struct lists its fields in `.msg` order with the `.msg` names (CDR
//! has no field names: the order *is* the wire format), so [`crate::cdr`]
//! encodes them byte-for-byte as rmw and rosbag2 do. `uint8[]` fields are
//! `serde_bytes` buffers, fixed arrays are Rust arrays (`float64[36]`
//! through `serde_big_array`), and `.msg` constants are associated consts.
//!
//! Each type implements [`RosMessage`]: its type name
//! (`sensor_msgs/msg/Image`), its own `.msg` text, and the full `ros2msg`
//! definition that rosbag2 stores as the MCAP schema ([`RosMessage::definition`]).
//!
//! The ROS 2 distribution matters for one type: `visualization_msgs/Marker`
//! gained the `ARROW_STRIP` constant after Humble. The crate features
//! `jazzy` (default) and `humble` pick the definition; enable one.
//!
//! ```
//! use cairn_bags::msg::{RosMessage, geometry_msgs::Vector3};
//! assert_eq!(Vector3::TYPE_NAME, "geometry_msgs/msg/Vector3");
//! assert_eq!(Vector3::definition(), "float64 x\nfloat64 y\nfloat64 z\n");
//! ```

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(all(feature = "humble", feature = "jazzy"))]
compile_error!(
    "cairn-bags: features `humble` and `jazzy` are exclusive; for Humble use `default-features = false, features = [\"humble\"]`"
);

/// Implements [`RosMessage`] for a struct: `ros_message!(Type, "pkg/msg/Type", TEXT)`.
macro_rules! ros_message {
    ($rust:ident, $name:literal, $text:expr) => {
        impl $crate::msg::RosMessage for $rust {
            const TYPE_NAME: &'static str = $name;
            const MSG_TEXT: &'static str = $text;
        }
    };
}

pub mod builtin_interfaces;
mod definition;
pub mod geometry_msgs;
pub mod nav_msgs;
pub mod rosgraph_msgs;
pub mod sensor_msgs;
pub mod std_msgs;
pub mod tf2_msgs;
pub mod vision_msgs;
pub mod visualization_msgs;

pub use definition::{SEPARATOR, definition_of, msg_text};

/// A ROS 2 message type: serde (for CDR), its name and its definition.
pub trait RosMessage: Serialize + DeserializeOwned + Clone + Debug + PartialEq {
    /// Full type name, `package/msg/Type` (e.g. `sensor_msgs/msg/Image`).
    const TYPE_NAME: &'static str;

    /// The type's own `.msg` text: upstream's field and constant lines, in
    /// order, comments dropped, each line ending in `\n`.
    const MSG_TEXT: &'static str;

    /// The complete `ros2msg` definition, as rosbag2 writes it into MCAP
    /// schemas and the sqlite `message_definitions` table: [`Self::MSG_TEXT`],
    /// then every dependency once (depth first, sorted by name, as
    /// rosbag2's `LocalMessageDefinitionSource` orders them), each preceded
    /// by an empty line, [`SEPARATOR`] and `MSG: package/Type`.
    fn definition() -> String {
        definition::full_definition(Self::TYPE_NAME, Self::MSG_TEXT)
    }

    /// The DDS topic type name rmw uses: `sensor_msgs::msg::dds_::Image_`.
    fn dds_type_name() -> String {
        match Self::TYPE_NAME.rsplit_once('/') {
            Some((namespace, name)) => format!("{}::dds_::{name}_", namespace.replace('/', "::")),
            None => Self::TYPE_NAME.to_string(),
        }
    }
}

/// `(TYPE_NAME, MSG_TEXT)` of every message type this crate defines.
pub const MESSAGE_TYPES: &[(&str, &str)] = &[
    entry::<builtin_interfaces::Duration>(),
    entry::<builtin_interfaces::Time>(),
    entry::<geometry_msgs::Point>(),
    entry::<geometry_msgs::Pose>(),
    entry::<geometry_msgs::PoseStamped>(),
    entry::<geometry_msgs::PoseWithCovariance>(),
    entry::<geometry_msgs::PoseWithCovarianceStamped>(),
    entry::<geometry_msgs::Quaternion>(),
    entry::<geometry_msgs::Transform>(),
    entry::<geometry_msgs::TransformStamped>(),
    entry::<geometry_msgs::Twist>(),
    entry::<geometry_msgs::TwistWithCovariance>(),
    entry::<geometry_msgs::Vector3>(),
    entry::<nav_msgs::Odometry>(),
    entry::<nav_msgs::Path>(),
    entry::<rosgraph_msgs::Clock>(),
    entry::<sensor_msgs::CameraInfo>(),
    entry::<sensor_msgs::CompressedImage>(),
    entry::<sensor_msgs::Image>(),
    entry::<sensor_msgs::Imu>(),
    entry::<sensor_msgs::PointCloud2>(),
    entry::<sensor_msgs::PointField>(),
    entry::<sensor_msgs::RegionOfInterest>(),
    entry::<std_msgs::ColorRGBA>(),
    entry::<std_msgs::Header>(),
    entry::<tf2_msgs::TFMessage>(),
    entry::<vision_msgs::BoundingBox3D>(),
    entry::<vision_msgs::Detection3D>(),
    entry::<vision_msgs::Detection3DArray>(),
    entry::<vision_msgs::ObjectHypothesis>(),
    entry::<vision_msgs::ObjectHypothesisWithPose>(),
    entry::<visualization_msgs::Marker>(),
    entry::<visualization_msgs::MarkerArray>(),
    entry::<visualization_msgs::MeshFile>(),
    entry::<visualization_msgs::UVCoordinate>(),
];

/// One row of [`MESSAGE_TYPES`].
const fn entry<T: RosMessage>() -> (&'static str, &'static str) {
    (T::TYPE_NAME, T::MSG_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dds_type_names_follow_rmw() {
        assert_eq!(sensor_msgs::Image::dds_type_name(), "sensor_msgs::msg::dds_::Image_");
        assert_eq!(tf2_msgs::TFMessage::dds_type_name(), "tf2_msgs::msg::dds_::TFMessage_");
    }

    #[test]
    fn type_names_are_unique_and_well_formed() {
        let mut names: Vec<&str> = MESSAGE_TYPES.iter().map(|(name, _)| *name).collect();
        for name in &names {
            let parts: Vec<&str> = name.split('/').collect();
            assert!(parts.len() == 3 && parts[1] == "msg", "{name}");
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), MESSAGE_TYPES.len());
    }

    #[test]
    fn every_text_ends_lines_and_has_no_comments() {
        for (name, text) in MESSAGE_TYPES {
            assert!(text.ends_with('\n'), "{name}");
            assert!(!text.contains('#'), "{name}");
            assert!(text.lines().all(|l| !l.trim().is_empty() && l.trim_end() == l), "{name}");
        }
    }
}
