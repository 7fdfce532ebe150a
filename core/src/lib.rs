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
pub mod camera;

pub use error::{Error, Result};
pub use trajectory::Trajectory;
