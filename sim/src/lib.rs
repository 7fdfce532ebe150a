//! Deterministic synthetic worlds and sensors (RGB-D, LiDAR, surround cameras) with ground truth.
//!
//! Brief overview: a [`Scene`] (generated from a [`SceneKind`] and a seed;
//! textured rectangles and boxes, lights, a BVH) is seen by an
//! [`RgbdCamera`] (a calibrated pinhole with plumb_bob distortion and a
//! Kinect-like [`NoiseModel`]) along a camera path (a generated
//! [`PathShape`] or a recorded TUM/KITTI trajectory re-anchored into the
//! room, see [`anchor`]). [`render_rgbd_sequence`] writes the frames as a TUM
//! RGB-D folder ([`TumWriter`]) that [`TumDataset`] — which opens real TUM
//! folders too — reads back.
//!
//! Outdoors, a [`street::Street`] (road, kerbs, buildings, trees and the ten
//! nuScenes object classes, vehicles driving their lanes) is sensed by the
//! nuScenes rig ([`rig::Rig`]: six cameras rendered as [`view::Pinhole`]s
//! with per-pixel object ids, and a spinning [`Lidar`], 32 beams at 20 Hz by
//! default). A [`drive::Drive`] takes a sample every 0.5 s with ground-truth
//! boxes (class, yaw, velocity, LiDAR point count, camera visibility) in the
//! LiDAR frame; [`drive::write_drive`] writes them as an mmdet3d sample set
//! ([`cairn_core::samples`]: `sample_info.json`, PNG images, `.pcd.bin`).
//!
//! Everything is deterministic: same seed, same scene, same bytes.
//!
//! ```no_run
//! use cairn_sim::{RgbdCamera, Scene, SceneKind, SequenceOptions, render_rgbd_sequence};
//! let scene = Scene::generate(SceneKind::Office, 42);
//! let camera = RgbdCamera::tum_fr1()?;
//! let options = SequenceOptions { frames: Some(60), ..Default::default() };
//! let gt = render_rgbd_sequence(&scene, &camera, &options, "office_42".as_ref(), |p| {
//!     eprintln!("{}/{}", p.done, p.total);
//! })?;
//! # Ok::<(), cairn_sim::Error>(())
//! ```
//!
//! # CLI (wired in cairn-nodes)
//!
//! ```text
//! cairn sim rgbd --out DIR [--scene office|street] [--seed 0] [--frames N]
//!                [--path loop|figure8|corridor | --trajectory FILE [--format tum|kitti]]
//!                [--laps 1] [--noise on|off] [--calib calib/tum_fr1.yaml]
//! cairn sim drive --out DIR --samples N [--seed 0] [--noise on|off]
//!                 [--image-scale 1] [--rig calib/nuscenes_rig.json]
//! ```
//! `--scene` parses with [`SceneKind::from_str`](std::str::FromStr),
//! `--path loop|figure8|corridor` with [`PathShape`]'s `FromStr`; a progress bar is
//! driven by the [`Progress`] callback. An RGB-D folder opens with
//! `TumDataset::open(dir, None)` (it holds `calib.yaml`); a drive's folder
//! with `cairn_core::samples::SampleSet::read(dir)`.

pub mod anchor;
pub mod bvh;
pub mod dataset;
pub mod drive;
pub mod error;
pub mod geometry;
pub mod lidar;
pub mod noise;
mod office;
pub mod path;
pub mod render;
pub mod rig;
pub mod scene;
pub mod sequence;
pub mod street;
pub mod texture;
pub mod tile;
pub mod view;
pub mod visibility;

pub use dataset::{TumDataset, TumFrame, TumWriter};
pub use error::{Error, Result};
pub use lidar::{Lidar, LidarConfig, LidarPoint, LidarScan};
pub use noise::NoiseModel;
pub use path::PathShape;
pub use render::{RgbdCamera, RgbdFrame};
pub use scene::{Scene, SceneKind};
pub use sequence::{CameraPath, Progress, SequenceOptions, render_rgbd_sequence};
