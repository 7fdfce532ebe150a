//! `rosgraph_msgs`: the simulated clock on `/clock`.

use serde::{Deserialize, Serialize};

use super::builtin_interfaces::Time;

/// `rosgraph_msgs/msg/Clock`: the current time of a simulated or replayed
/// clock (nodes with `use_sim_time` follow it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Clock {
    /// The time.
    pub clock: Time,
}
ros_message!(Clock, "rosgraph_msgs/msg/Clock", "builtin_interfaces/Time clock\n");
