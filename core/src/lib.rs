//! Geometry, camera models, calibration, depth images, point clouds,
//! trajectories and ATE/RPE evaluation shared by every cairn crate.
//!
//! # Brief overview
//! - [`transform`]: rigid transforms on nalgebra, named `target_from_source`.
//! - [`trajectory`]: a [`Trajectory`] is timestamps plus `world_from_body`
//!   poses; read and written in TUM and KITTI formats.
//! - [`sync`]: timestamp association exactly as evo's `matching_time_indices`.
//! - [`align`]: Umeyama alignment (`se3`, `sim3`, `none`).
//! - [`metrics`]: ATE and RPE with evo's statistics.
//! - [`camera`]: [`PinholeCamera`] with ROS `plumb_bob` distortion: project, unproject, undistort.
//! - [`calib`]: [`Calibration`] from/to ROS `camera_info` YAML (plus cairn's `depth_scale`).
//! - [`depth`]: [`DepthImage`] in metres, from/to 16-bit PNG (TUM: 5000 units per metre).
//! - [`cloud`]: [`PointCloud`] (struct of arrays) from depth, moved by `target_from_source`.
//! - [`image`]: [`RgbImage`], 8-bit RGB from PNG, and its grey levels.
//! - [`tum`]: TUM RGB-D folders (rgb/, depth/, lists, ground truth), read and written.
//! - [`ply`]: PLY point clouds, ASCII and binary, read and written.
//! - [`samples`]: multi-modal sample sets (`sample_info.json`, mmdet3d layout) and `.pcd.bin` LiDAR sweeps.
//!
//! Data flows `read → associate → align → metric → statistics`:
//!
//! ```
//! use cairn_core::{align::Alignment, metrics, trajectory::Trajectory};
//! let gt = Trajectory::parse_tum("0 0 0 0 0 0 0 1\n1 1 0 0 0 0 0 1\n2 1 1 0 0 0 0 1\n", "gt")?;
//! let est = gt.clone();
//! let ate = metrics::ate(&gt, &est, &metrics::EvalOptions { align: Alignment::Se3, ..Default::default() })?;
//! assert!(ate.stats.rmse < 1e-12);
//! # Ok::<(), cairn_core::Error>(())
//! ```

pub mod align;
pub mod error;
pub mod metrics;
pub mod sync;
pub mod trajectory;
pub mod transform;
// (camera, calibration, depth and point-cloud modules are declared below)
pub mod calib;
pub mod camera;
pub mod cloud;
pub mod depth;
pub mod image;
pub mod ply;
pub mod samples;
pub mod tum;

pub use error::{Error, Result};
pub use trajectory::Trajectory;

pub use self::image::RgbImage;
pub use calib::Calibration;
pub use camera::{Distortion, PinholeCamera};
pub use cloud::PointCloud;
pub use depth::DepthImage;
