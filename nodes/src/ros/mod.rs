//! ROS 2 on the wire without a ROS install: the SLAM and detection nodes' parts.
//!
//! - [`params`]: topics, frames and node name from the ROS 2 parameter file.
//! - [`sync`]: approximate time synchronisation of colour and depth images.
//! - [`pipeline`]: the node's core — messages in, SLAM, outputs out —
//!   shared by `cairn node slam` (DDS) and `cairn replay` (in-process).
//! - [`outputs`]: odometry, REP-105 transforms, path and loop markers.
//! - [`detect_params`], [`detect_sync`], [`detect_pipeline`], [`detections`]:
//!   the detection node's parameters, camera + LiDAR synchronisation (with
//!   LiDAR and camera dropout), its transport-free core around CMT, and its
//!   Detection3DArray / MarkerArray outputs.
//! - [`dds`]: the ros2-client (RustDDS) node, subscriptions and publishers.

pub mod dds;
pub mod detect_params;
pub mod detect_pipeline;
pub mod detect_sync;
pub mod detections;
pub mod outputs;
pub mod params;
pub mod pipeline;
pub mod sync;
