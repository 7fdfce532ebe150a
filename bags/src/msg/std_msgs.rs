//! `std_msgs`: the stamped header and an RGBA colour.

use serde::{Deserialize, Serialize};

use super::builtin_interfaces::Time;

/// `std_msgs/msg/Header`: acquisition time and coordinate frame of a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Header {
    /// Acquisition time.
    pub stamp: Time,
    /// Coordinate frame the data is expressed in.
    pub frame_id: String,
}
ros_message!(Header, "std_msgs/msg/Header", "builtin_interfaces/Time stamp\nstring frame_id\n");

/// `std_msgs/msg/ColorRGBA`: a colour, channels in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub struct ColorRGBA {
    /// Red.
    pub r: f32,
    /// Green.
    pub g: f32,
    /// Blue.
    pub b: f32,
    /// Alpha (opacity).
    pub a: f32,
}
ros_message!(ColorRGBA, "std_msgs/msg/ColorRGBA", "float32 r\nfloat32 g\nfloat32 b\nfloat32 a\n");
