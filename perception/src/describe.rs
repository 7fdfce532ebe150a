//! The descriptor as a swappable piece: a [`LocalDescriptor`] turns
//! keypoints of a downsampled cloud into descriptors. [`Fpfh`] (hand-crafted,
//! [`crate::fpfh`]) describes every keypoint; [`DipDescriptor`] (L3D's
//! trained PointNet on canonical patches, [`crate::l3d::network`]) drops the
//! keypoints whose neighbourhood has no repeatable local frame. Everything
//! downstream ([`describe_cloud`], [`register_described`], the loop detector
//! in cairn-slam) is the same for both.
//!
//! A [`DescribedCloud`] is what one keyframe or one PLY file becomes once:
//! points with a k-d tree, normals, keypoints and their descriptors, so
//! registering it against many others costs only matching and RANSAC.

use std::time::Instant;

use candle_core::Device;
use nalgebra::{Point3, Vector3};

use crate::Result;
use crate::fpfh::{self, Orientation};
use crate::l3d::{Descriptors, DipNetwork, KeypointSampling, Neighbours, RansacConfig, canonical_patches};
use crate::l3d::{keypoints, mutual_nearest, mutual_nearest_on, overlap, ransac};

/// The keypoints a [`LocalDescriptor`] described and their descriptors
/// (row `i` describes `keypoints[i]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// Indices into the cloud, a subsequence of the keypoints asked for.
    pub keypoints: Vec<usize>,
    /// One descriptor per kept keypoint.
    pub descriptors: Descriptors,
}

/// Describes keypoints of a cloud (see the module documentation).
pub trait LocalDescriptor: Send + Sync + std::fmt::Debug {
    /// A short name for logs and help text (`"fpfh"`).
    fn name(&self) -> &'static str;

    /// Descriptors of the points `which` (indices into `cloud`), given every
    /// point's normal (`None` where it has none). A descriptor may leave out
    /// points it cannot describe repeatably; the result says which it kept.
    fn describe(&self, cloud: &Neighbours, normals: &[Option<Vector3<f64>>], which: &[usize]) -> Result<Described>;
}

/// FPFH as Open3D computes it, with radii in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fpfh {
    /// Descriptor radius (m).
    pub radius_m: f32,
    /// Most neighbours per descriptor.
    pub max_neighbours: usize,
}

impl LocalDescriptor for Fpfh {
    fn name(&self) -> &'static str {
        "fpfh"
    }

    fn describe(&self, cloud: &Neighbours, normals: &[Option<Vector3<f64>>], which: &[usize]) -> Result<Described> {
        let descriptors = fpfh::fpfh(cloud, normals, self.radius_m, self.max_neighbours, which)?;
        Ok(Described { keypoints: which.to_vec(), descriptors })
    }
}

/// L3D's learned descriptor: each keypoint's neighbourhood (the network's
/// patch radius) becomes a canonical patch in its local reference frame
/// ([`canonical_patches`]), which the DIP network turns into a 32-D unit
/// vector. Keypoints without a repeatable frame are dropped.
#[derive(Debug)]
pub struct DipDescriptor {
    /// The network and its weights.
    pub network: DipNetwork,
    /// Seed of the patches' point sampling.
    pub seed: u64,
}

impl LocalDescriptor for DipDescriptor {
    fn name(&self) -> &'static str {
        "l3d"
    }

    fn describe(&self, cloud: &Neighbours, _normals: &[Option<Vector3<f64>>], which: &[usize]) -> Result<Described> {
        let config = self.network.config();
        let patches = canonical_patches(cloud, which, config.patch_radius_m, config.points, self.seed);
        let descriptors = self.network.describe(&patches)?;
        Ok(Described { keypoints: patches.iter().map(|p| p.keypoint).collect(), descriptors })
    }
}

/// How [`describe_cloud`] prepares a cloud.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DescribeConfig {
    /// Normal estimation radius (m).
    pub normal_radius_m: f32,
    /// Most neighbours per normal.
    pub normal_max_neighbours: usize,
    /// Which way normals face.
    pub orientation: Orientation,
    /// Keypoints: a seeded random subset of this many points; 0 = all.
    pub keypoints: usize,
    /// Keypoint sampling seed.
    pub seed: u64,
}

/// A cloud ready for registration: points (downsampled) with a k-d tree,
/// normals, keypoints and their descriptors.
#[derive(Debug)]
pub struct DescribedCloud {
    /// The points and their k-d tree.
    pub cloud: Neighbours,
    /// Per point, its unit normal (`None` with too few neighbours).
    pub normals: Vec<Option<Vector3<f64>>>,
    /// Indices of the described keypoints into `cloud`.
    pub keypoints: Vec<usize>,
    /// One descriptor per keypoint.
    pub descriptors: Descriptors,
}

/// Normals, keypoints and descriptors of `points` (already downsampled).
pub fn describe_cloud(
    points: Vec<Point3<f32>>,
    descriptor: &dyn LocalDescriptor,
    config: &DescribeConfig,
) -> Result<DescribedCloud> {
    let cloud = Neighbours::new(points)?;
    let normals =
        fpfh::estimate_normals(&cloud, config.normal_radius_m, config.normal_max_neighbours, config.orientation);
    let count = if config.keypoints == 0 { usize::MAX } else { config.keypoints };
    // Keypoints need a normal: FPFH of a point without one is all zeros,
    // which matches every other empty descriptor.
    let with_normal: Vec<usize> = (0..normals.len()).filter(|&i| normals[i].is_some()).collect();
    let chosen = keypoints(&vec![Point3::origin(); with_normal.len()], count, KeypointSampling::Random, config.seed);
    let keypoints: Vec<usize> = chosen.into_iter().map(|k| with_normal[k]).collect();
    let Described { keypoints, descriptors } = descriptor.describe(&cloud, &normals, &keypoints)?;
    Ok(DescribedCloud { cloud, normals, keypoints, descriptors })
}

/// Settings of [`register_described`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchConfig {
    /// RANSAC settings (inlier distance in metres).
    pub ransac: RansacConfig,
    /// The overlap metric's τ (m).
    pub tau_m: f64,
}

/// What registering two described clouds found.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedMatch {
    /// Maps source points into the target's frame.
    pub target_from_source: cairn_core::transform::Rigid3,
    /// L3D's overlap: fraction of MNN pairs within τ after the move.
    pub overlap: f64,
    /// RANSAC inliers after the refit.
    pub inliers: usize,
    /// The mutual-nearest-neighbour pairs as points `(target, source)`.
    pub pairs: Vec<(Point3<f32>, Point3<f32>)>,
    /// Time of the mutual-nearest-neighbour search (ms).
    pub matching_ms: f64,
    /// Time of RANSAC, refit and overlap (ms).
    pub ransac_ms: f64,
}

/// Mutual nearest neighbours of the two descriptor sets → RANSAC → overlap.
/// Errors when fewer than 3 pairs match (no registration is possible).
pub fn register_described(
    target: &DescribedCloud,
    source: &DescribedCloud,
    config: &MatchConfig,
) -> Result<DescribedMatch> {
    register_described_on(target, source, config, None)
}

/// [`register_described`] with the mutual-nearest-neighbour search as
/// tensor operations on `device` ([`mutual_nearest_on`]; the GPU path with
/// the `cuda` feature), or the exact CPU search when `None`.
pub fn register_described_on(
    target: &DescribedCloud,
    source: &DescribedCloud,
    config: &MatchConfig,
    device: Option<&Device>,
) -> Result<DescribedMatch> {
    let start = Instant::now();
    let matches = match device {
        Some(device) => mutual_nearest_on(&target.descriptors, &source.descriptors, device)?,
        None => mutual_nearest(&target.descriptors, &source.descriptors)?,
    };
    let target_points: Vec<_> = matches.iter().map(|&(t, _)| target.cloud.points()[target.keypoints[t]]).collect();
    let source_points: Vec<_> = matches.iter().map(|&(_, s)| source.cloud.points()[source.keypoints[s]]).collect();
    let matching_ms = start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let found = ransac(&target_points, &source_points, &config.ransac)?;
    let overlap = overlap(&target_points, &source_points, &found.target_from_source, config.tau_m);
    Ok(DescribedMatch {
        target_from_source: found.target_from_source,
        overlap,
        inliers: found.inliers,
        pairs: target_points.into_iter().zip(source_points).collect(),
        matching_ms,
        ransac_ms: start.elapsed().as_secs_f64() * 1e3,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_core::transform::Rigid3;

    /// Three bumpy walls of a corner, 1 m each, points every 2 cm.
    fn corner() -> Vec<Point3<f32>> {
        let mut points = Vec::new();
        for i in 0..50 {
            for j in 0..50 {
                let (a, b) = (i as f32 * 0.02, j as f32 * 0.02);
                let bump = 0.05 * (7.0 * a).sin() * (5.0 * b).cos();
                points.push(Point3::new(a, b, bump));
                points.push(Point3::new(a, bump, b));
                points.push(Point3::new(bump + 0.03 * (9.0 * b).sin(), a, b));
            }
        }
        points
    }

    fn config() -> DescribeConfig {
        DescribeConfig {
            normal_radius_m: 0.06,
            normal_max_neighbours: 30,
            orientation: Orientation::Convex,
            keypoints: 600,
            seed: 3,
        }
    }

    #[test]
    fn a_moved_copy_registers_back() {
        let target_from_source = Rigid3::new(Vector3::new(0.1, -0.05, 0.08), Vector3::new(0.1, -0.2, 0.15));
        let target = corner();
        let source: Vec<Point3<f32>> =
            target.iter().map(|p| (target_from_source.inverse() * p.cast::<f64>()).cast()).collect();
        let descriptor = Fpfh { radius_m: 0.15, max_neighbours: 100 };
        let a = describe_cloud(target, &descriptor, &config()).unwrap();
        let b = describe_cloud(source, &descriptor, &config()).unwrap();
        assert_eq!(a.keypoints.len(), 600);
        assert!(a.keypoints.iter().all(|&k| a.normals[k].is_some()));
        let settings = MatchConfig { ransac: RansacConfig { inlier_m: 0.03, ..Default::default() }, tau_m: 0.03 };
        let found = register_described(&a, &b, &settings).unwrap();
        let error = found.target_from_source * target_from_source.inverse();
        assert!(error.translation.vector.norm() < 0.02 && error.rotation.angle() < 0.02, "{error:?}");
        assert!(found.overlap > 0.05 && found.inliers >= 3, "{} {}", found.overlap, found.inliers);
    }
}
