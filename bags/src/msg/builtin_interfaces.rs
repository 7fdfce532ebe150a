//! `builtin_interfaces`: ROS time stamps and durations (conversions to
//! seconds and nanoseconds live in [`crate::convert`]).

use serde::{Deserialize, Serialize};

/// `builtin_interfaces/msg/Time`: a point in time, `sec + nanosec·1e-9`
/// seconds since the clock's epoch (Unix time for the system clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Time {
    /// Whole seconds (may be negative).
    pub sec: i32,
    /// Nanoseconds added to `sec`, in `[0, 1e9)`.
    pub nanosec: u32,
}
ros_message!(Time, "builtin_interfaces/msg/Time", "int32 sec\nuint32 nanosec\n");

/// `builtin_interfaces/msg/Duration`: a signed span, `sec + nanosec·1e-9` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Duration {
    /// Whole seconds (may be negative).
    pub sec: i32,
    /// Nanoseconds added to `sec`, in `[0, 1e9)`.
    pub nanosec: u32,
}
ros_message!(Duration, "builtin_interfaces/msg/Duration", "int32 sec\nuint32 nanosec\n");
