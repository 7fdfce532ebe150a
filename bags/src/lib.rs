//! ROS 2 message types with CDR, rosbag2 MCAP and sqlite3 bags, and dataset ↔
//! bag conversion.
//!
//! # Brief overview
//! - [`msg`]: ROS 2 messages as serde structs, fields in `.msg` order, each
//!   with its type name and full `ros2msg` definition ([`msg::RosMessage`]).
//! - [`cdr`]: XCDR1 encoding with the 4-byte encapsulation header, as rmw
//!   and rosbag2 store it; reads little- and big-endian.
//! - [`convert`]: messages ↔ cairn-core types (images, depth, point clouds,
//!   camera calibration, poses, time stamps).
//! - [`storage`]: rosbag2 bags — a directory with `metadata.yaml`, or a bare
//!   `.mcap` / `.db3` — read in log-time order ([`storage::Bag`]) and written
//!   as MCAP or sqlite3 ([`storage::BagWriter`]).
//! - [`dataset`]: TUM RGB-D folders and multi-modal sample sets ↔ bags.

pub mod cdr;
pub mod convert;
pub mod dataset;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod msg;
pub mod storage;

pub use error::{Error, Result};
