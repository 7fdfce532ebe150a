//! Learned perception: L3D local 3-D descriptors (the DIP network, trained by
//! cairn-train, and FPFH) with mutual-nearest-neighbour matching, RANSAC
//! registration and the overlap metric; the CMT detector (camera + LiDAR
//! tokens → 3D boxes, trained by cairn-train); and nuScenes detection
//! metrics (mAP, TP errors, NDS) that agree with the nuscenes-devkit.
//!
//! # Brief overview
//! - [`l3d`]: keyframe clouds → keypoints → canonical patches → descriptors →
//!   mutual nearest neighbours → RANSAC → overlap. cairn-slam's L3D loop
//!   detector is built on it. The descriptor network ([`l3d::network`]:
//!   DIP's PointNet, 32-D) is written as cairn-train layers, trained by
//!   `cairn train l3d` with the hardest-contrastive loss
//!   ([`l3d::contrastive`]) on corresponding patches of cairn-sim views
//!   ([`l3d::pairs`]); its committed weights (models/l3d) are built in
//!   ([`l3d::DipNetwork::builtin`]).
//! - [`detection`]: nuScenes detection classes, boxes in the LiDAR and the
//!   global frame, and the submission file; the nuScenes detection metric as
//!   the nuscenes-devkit computes it ([`detection::gt`]: ground truth and
//!   predictions with the devkit's filters, [`detection::accumulate()`],
//!   [`detection::metrics`]: AP, TP errors, mAP, NDS), run by `cairn eval det`.
//! - [`cmt`]: the CMT detector (camera + LiDAR tokens → 3D boxes): image
//!   backbone + FPN, pillars + BEV backbone, coordinate-guided position
//!   encodings, the decoder and its heads as cairn-train layers; box coder,
//!   Hungarian matching, losses, denoising and masked-modal training
//!   (`cairn train cmt`); top-k decoding to a nuScenes submission
//!   (`cairn detect`).
//! - [`describe`]: the descriptor as a swappable piece ([`describe::LocalDescriptor`]:
//!   [`describe::Fpfh`] or [`describe::DipDescriptor`]), clouds described once
//!   ([`describe::DescribedCloud`]) and registered against each other.
//! - [`layer_files`]: weight folders (safetensors + JSON config) of the
//!   networks written as cairn-train layers.
//! - [`icp`]: point-to-plane ICP refinement and fitness.
//! - [`fpfh`]: FPFH, the hand-crafted descriptor of the baseline registration
//!   (Open3D's), computed as Open3D does.
//! - [`register`]: two clouds end to end (downsample → FPFH → MNN → RANSAC →
//!   overlap), with per-stage timings.
//! - [`Error`]: the crate's one error type.
//!
//! ```
//! use cairn_core::transform::Rigid3;
//! use cairn_perception::l3d::{RansacConfig, overlap, ransac};
//! use nalgebra::{Point3, Translation3};
//! // Four pairs related by a 1 m shift along x.
//! let source = vec![Point3::new(0.0f32, 0.0, 1.0), Point3::new(1.0, 0.0, 2.0), Point3::new(0.0, 1.0, 3.0), Point3::new(1.0, 1.0, 1.0)];
//! let target: Vec<_> = source.iter().map(|p| p + nalgebra::Vector3::new(1.0, 0.0, 0.0)).collect();
//! let registration = ransac(&target, &source, &RansacConfig::default())?;
//! assert!((registration.target_from_source.translation.vector.x - 1.0).abs() < 1e-6);
//! assert_eq!(overlap(&target, &source, &registration.target_from_source, 0.05), 1.0);
//! # let _ = (Rigid3::identity(), Translation3::new(0.0, 0.0, 0.0));
//! # Ok::<(), cairn_perception::Error>(())
//! ```

pub mod cmt;
pub mod describe;
pub mod detection;
pub mod error;
pub mod fpfh;
pub mod icp;
pub mod l3d;
pub mod layer_files;
pub mod register;

pub use error::{Error, Result};
