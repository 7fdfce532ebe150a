//! ROS 2 message types with CDR, rosbag2 MCAP and sqlite3 bags, and dataset ↔
//! bag conversion.
//!
//! # Brief overview
//! - [`storage`]: rosbag2 bags — a directory with `metadata.yaml`, or a bare
//!   `.mcap` / `.db3` — read in log-time order ([`storage::Bag`]) and written
//!   as MCAP ([`storage::BagWriter`]).

pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod storage;

pub use error::{Error, Result};
