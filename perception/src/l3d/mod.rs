//! L3D loop-closure geometry (Zhou, Wang, Poiesi, Qin, Wan, RA-L 2022):
//! keyframe clouds become keypoints with DIP-style canonical patches; their
//! descriptors are matched by mutual nearest neighbours; RANSAC registers
//! the matched points; the overlap metric decides whether two keyframes
//! show the same place.
//!
//! Data flows `cloud → voxel_downsample → keypoints → canonical_patches →
//! (descriptor network) → mutual_nearest → ransac → overlap`:
//! - [`points`]: voxel downsampling, a k-d tree ([`Neighbours`]), keypoints.
//! - [`patch`]: DIP's local reference frame and 256-point canonical patches.
//! - [`matching`]: [`Descriptors`] and mutual nearest neighbours.
//! - [`registration`]: RANSAC with the edge-length pre-check and a
//!   least-squares refit, and the overlap metric.
//!
//! - [`network`]: DIP's PointNet on canonical patches → 32-D descriptors,
//!   written as cairn-train layers; [`contrastive`]: the hardest-contrastive
//!   loss `cairn train l3d` trains it with; [`pairs`]: its training data,
//!   corresponding patches of two views with a known relative pose;
//!   [`weights`]: its safetensors + JSON files and the built-in weights.

pub mod contrastive;
pub mod matching;
pub mod network;
pub mod pairs;
pub mod patch;
pub mod points;
pub mod registration;
pub mod weights;

pub use contrastive::HardestContrastive;
pub use matching::{Descriptors, mutual_nearest, mutual_nearest_on};
pub use network::{DipConfig, DipNetwork};
pub use patch::{Patch, canonical_patches, local_frame};
pub use points::{KeypointSampling, Neighbours, keypoints, voxel_downsample};
pub use registration::{RansacConfig, Registration, overlap, ransac};
