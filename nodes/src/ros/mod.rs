//! ROS 2 on the wire without a ROS install: the SLAM node's parts.
//!
//! - [`params`]: topics, frames and node name from the ROS 2 parameter file.
//! - [`sync`]: approximate time synchronisation of colour and depth images.
//! - [`pipeline`]: the node's core — messages in, SLAM, outputs out —
//!   shared by `cairn node slam` (DDS) and `cairn replay` (in-process).
//! - [`outputs`]: odometry, REP-105 transforms, path and loop markers.
//! - [`dds`]: the ros2-client (RustDDS) node, subscriptions and publishers.

pub mod dds;
pub mod outputs;
pub mod params;
pub mod pipeline;
pub mod sync;
