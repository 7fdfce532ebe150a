//! Registering two point clouds end to end — voxel downsampling → normals →
//! descriptors → mutual nearest neighbours → RANSAC → overlap — the step
//! that `cairn loop register` runs and that L3D's loop check repeats per
//! candidate keyframe.
//!
//! The descriptor is FPFH ([`crate::fpfh`]) by default, with the radii of
//! the L3D authors' Open3D baseline (normals 2 voxels, features 5 voxels,
//! RANSAC inliers 1.5 voxels), or any [`LocalDescriptor`] such as the DIP
//! network ([`register_clouds_with`]).

use std::time::Instant;

use cairn_core::PointCloud;
use cairn_core::transform::Rigid3;
use nalgebra::Point3;
use serde::{Deserialize, Serialize};

use crate::describe::{DescribeConfig, Fpfh, LocalDescriptor, MatchConfig, describe_cloud, register_described_on};
use crate::fpfh::Orientation;
use crate::l3d::{RansacConfig, voxel_downsample};
use crate::{Error, Result};

/// Settings of [`register_clouds`]; fixed before any evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterConfig {
    /// Voxel size of the downsampling (m); the radii below scale with it.
    pub voxel_m: f32,
    /// Normal estimation radius, in voxels (Open3D baseline: 2).
    pub normal_radius_voxels: f32,
    /// Most neighbours for a normal (Open3D baseline: 30).
    pub normal_max_neighbours: usize,
    /// Descriptor radius, in voxels (Open3D baseline: 5).
    pub feature_radius_voxels: f32,
    /// Most neighbours for a descriptor (Open3D baseline: 100).
    pub feature_max_neighbours: usize,
    /// Descriptors per cloud: a seeded random subset of the downsampled
    /// points; 0 = every downsampled point (as the Open3D baseline does;
    /// FPFH matching degrades quickly on subsets).
    pub keypoints: usize,
    /// Keypoint sampling seed.
    pub seed: u64,
    /// RANSAC inlier distance, in voxels (Open3D baseline: 1.5).
    pub inlier_voxels: f64,
    /// RANSAC settings (its `inlier_m` is replaced by `inlier_voxels`).
    pub ransac: RansacConfig,
    /// The overlap metric's τ, in voxels.
    pub tau_voxels: f64,
}

impl Default for RegisterConfig {
    fn default() -> Self {
        RegisterConfig {
            voxel_m: 0.05,
            normal_radius_voxels: 2.0,
            normal_max_neighbours: 30,
            feature_radius_voxels: 5.0,
            feature_max_neighbours: 100,
            keypoints: 0,
            seed: 0,
            inlier_voxels: 1.5,
            ransac: RansacConfig::default(),
            tau_voxels: 1.5,
        }
    }
}

/// Wall-clock time of each stage (ms).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RegisterTimings {
    /// Voxel downsampling and k-d trees.
    pub downsample_ms: f64,
    /// Normals and descriptors.
    pub descriptors_ms: f64,
    /// Mutual nearest neighbours.
    pub matching_ms: f64,
    /// RANSAC and refit.
    pub ransac_ms: f64,
    /// All of it.
    pub total_ms: f64,
}

/// What [`register_clouds`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudRegistration {
    /// Maps source points into the target's frame.
    pub target_from_source: Rigid3,
    /// Fraction of MNN pairs within τ after the move.
    pub overlap: f64,
    /// Number of mutual-nearest-neighbour pairs.
    pub mnn: usize,
    /// RANSAC inliers after the refit.
    pub inliers: usize,
    /// The mutual-nearest-neighbour keypoint pairs `(p_in_target,
    /// p_in_source)`, before the move (for visualisation).
    pub pairs: Vec<(Point3<f32>, Point3<f32>)>,
    /// Downsampled points (target, source).
    pub points: (usize, usize),
    /// Stage timings.
    pub timings: RegisterTimings,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

/// Registers `source` onto `target` with FPFH descriptors.
pub fn register_clouds(target: &PointCloud, source: &PointCloud, config: &RegisterConfig) -> Result<CloudRegistration> {
    let fpfh =
        Fpfh { radius_m: config.feature_radius_voxels * config.voxel_m, max_neighbours: config.feature_max_neighbours };
    register_clouds_with(target, source, config, &fpfh)
}

/// Registers `source` onto `target` with `descriptor` (FPFH or DIP).
pub fn register_clouds_with(
    target: &PointCloud,
    source: &PointCloud,
    config: &RegisterConfig,
    descriptor: &dyn LocalDescriptor,
) -> Result<CloudRegistration> {
    register_clouds_on(target, source, config, descriptor, None)
}

/// [`register_clouds_with`] with the mutual-nearest-neighbour search on
/// `device` (see [`crate::describe::register_described_on`]); a
/// [`crate::describe::DipDescriptor`] whose network is on that device
/// describes there too.
pub fn register_clouds_on(
    target: &PointCloud,
    source: &PointCloud,
    config: &RegisterConfig,
    descriptor: &dyn LocalDescriptor,
    device: Option<&candle_core::Device>,
) -> Result<CloudRegistration> {
    let start = Instant::now();
    let voxel = config.voxel_m;
    let target = voxel_downsample(target, voxel)?;
    let source = voxel_downsample(source, voxel)?;
    let points = (target.len(), source.len());
    let mut timings = RegisterTimings { downsample_ms: ms(start), ..Default::default() };

    let step = Instant::now();
    let describe_config = DescribeConfig {
        normal_radius_m: config.normal_radius_voxels * voxel,
        normal_max_neighbours: config.normal_max_neighbours,
        orientation: Orientation::Convex,
        keypoints: config.keypoints,
        seed: config.seed,
    };
    let target = describe_cloud(target, descriptor, &describe_config).map_err(|e| named("target", e))?;
    let source = describe_cloud(source, descriptor, &describe_config).map_err(|e| named("source", e))?;
    timings.descriptors_ms = ms(step);

    let inlier_m = config.inlier_voxels * f64::from(voxel);
    let match_config =
        MatchConfig { ransac: RansacConfig { inlier_m, ..config.ransac }, tau_m: config.tau_voxels * f64::from(voxel) };
    let found = register_described_on(&target, &source, &match_config, device)?;
    timings.matching_ms = found.matching_ms;
    timings.ransac_ms = found.ransac_ms;
    timings.total_ms = ms(start);
    Ok(CloudRegistration {
        target_from_source: found.target_from_source,
        overlap: found.overlap,
        mnn: found.pairs.len(),
        inliers: found.inliers,
        pairs: found.pairs,
        points,
        timings,
    })
}

/// Names the cloud an input error is about.
fn named(which: &str, error: Error) -> Error {
    match error {
        Error::Input(message) => Error::Input(format!("{which} cloud: {message}")),
        other => other,
    }
}
