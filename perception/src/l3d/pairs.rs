//! Training data of the DIP network: corresponding canonical patches of two
//! views of one scene whose relative pose is known ([`view_pair`]), and the
//! cairn-train [`DataSource`] that draws microbatches from them
//! ([`PatchPairData`]).
//!
//! Correspondences come from the ground truth alone: keypoints of view A,
//! moved by the true `b_from_a`, are matched to their nearest point of
//! view B within `match_radius_m`. Both ends need a repeatable local frame.

use std::collections::HashMap;

use cairn_core::transform::Rigid3;
use cairn_train::host::{HostMap, HostTensor, mix_seed};
use cairn_train::model::DataSource;
use nalgebra::Point3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::contrastive::negative_mask;
use super::network::DipConfig;
use super::patch::{Patch, canonical_patches};
use super::points::{KeypointSampling, Neighbours, keypoints};

/// How correspondences are drawn from two views.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairConfig {
    /// Keypoints sampled in view A. Default 400.
    pub keypoints: usize,
    /// A keypoint's match in B must lie this close after the true motion
    /// (m). Default 0.03 (0.6 voxels of 5 cm).
    pub match_radius_m: f32,
}

impl Default for PairConfig {
    fn default() -> Self {
        PairConfig { keypoints: 400, match_radius_m: 0.03 }
    }
}

/// Corresponding canonical patches of two views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewPair {
    /// View A's patches, `[count, points, 3]` row-major.
    pub a: Vec<f32>,
    /// View B's patches (patch `i` corresponds to A's patch `i`).
    pub b: Vec<f32>,
    /// A's keypoints in A's frame (to keep near keypoints from serving as
    /// each other's negatives).
    pub positions: Vec<[f32; 3]>,
}

impl ViewPair {
    /// Number of correspondences.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// True without correspondences.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}

/// Ground-truth correspondences of views `a` and `b` (each in its own
/// camera frame) with their canonical patches, for `network`'s patch
/// geometry.
pub fn view_pair(
    a: &Neighbours,
    b: &Neighbours,
    b_from_a: &Rigid3,
    network: &DipConfig,
    config: &PairConfig,
    seed: u64,
) -> ViewPair {
    let chosen = keypoints(a.points(), config.keypoints, KeypointSampling::Random, seed);
    let matched: Vec<(usize, usize)> = chosen
        .into_iter()
        .filter_map(|k| {
            let p_in_b: Point3<f32> = (b_from_a * a.points()[k].cast::<f64>()).cast();
            let (j, distance) = b.nearest(&p_in_b);
            (distance <= config.match_radius_m).then_some((k, j))
        })
        .collect();
    let (radius, points) = (network.patch_radius_m, network.points);
    let in_a: Vec<usize> = matched.iter().map(|m| m.0).collect();
    let in_b: Vec<usize> = matched.iter().map(|m| m.1).collect();
    let patches_a = canonical_patches(a, &in_a, radius, points, seed);
    let patches_b = canonical_patches(b, &in_b, radius, points, seed ^ 1);
    let by_keypoint = |patches: &[Patch]| -> HashMap<usize, usize> {
        patches.iter().enumerate().map(|(i, p)| (p.keypoint, i)).collect()
    };
    let (index_a, index_b) = (by_keypoint(&patches_a), by_keypoint(&patches_b));
    let mut pair = ViewPair::default();
    for (k, j) in matched {
        // Both ends need a repeatable frame.
        let (Some(&ia), Some(&ib)) = (index_a.get(&k), index_b.get(&j)) else { continue };
        pair.a.extend(patches_a[ia].points.iter().flatten());
        pair.b.extend(patches_b[ib].points.iter().flatten());
        let p = a.points()[k];
        pair.positions.push([p.x, p.y, p.z]);
    }
    pair
}

/// Microbatches of corresponding patches: each draws `per_microbatch`
/// correspondences of one view pair (seeded by step and microbatch), so the
/// hardest negatives come from the same scene. Inputs `"x"`
/// `[2N, points, 3]` (A's patches, then B's); targets `"negatives"`
/// `[N, N]` (keypoints within `exclusion_m` of each other are not
/// negatives).
#[derive(Debug, Clone)]
pub struct PatchPairData {
    /// The view pairs (each with at least one correspondence).
    pub pairs: Vec<ViewPair>,
    /// Correspondences per microbatch (N).
    pub per_microbatch: usize,
    /// Points per patch.
    pub points: usize,
    /// Keypoints closer than this are not each other's negatives (m).
    pub exclusion_m: f32,
    /// Sampling seed.
    pub seed: u64,
}

impl DataSource for PatchPairData {
    fn microbatch(&self, step: u64, microbatch: usize) -> cairn_train::Result<(HostMap, HostMap)> {
        if self.pairs.iter().any(ViewPair::is_empty) || self.pairs.is_empty() || self.per_microbatch == 0 {
            return Err(cairn_train::Error::Config("patch pairs: no correspondences to draw from".into()));
        }
        let seed = mix_seed(&[self.seed, step, microbatch as u64]);
        let pair = &self.pairs[(seed % self.pairs.len() as u64) as usize];
        let n = self.per_microbatch;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let chosen: Vec<usize> = if pair.len() >= n {
            rand::seq::index::sample(&mut rng, pair.len(), n).into_vec()
        } else {
            (0..n).map(|i| if i < pair.len() { i } else { rand::Rng::random_range(&mut rng, 0..pair.len()) }).collect()
        };
        let width = self.points * 3;
        let mut x = Vec::with_capacity(2 * n * width);
        for side in [&pair.a, &pair.b] {
            for &i in &chosen {
                x.extend_from_slice(&side[i * width..(i + 1) * width]);
            }
        }
        let positions: Vec<[f32; 3]> = chosen.iter().map(|&i| pair.positions[i]).collect();
        let negatives = negative_mask(&positions, self.exclusion_m);
        let inputs = HostMap::from([("x".to_string(), HostTensor { shape: vec![2 * n, self.points, 3], data: x })]);
        let targets = HostMap::from([("negatives".to_string(), HostTensor { shape: vec![n, n], data: negatives })]);
        Ok((inputs, targets))
    }
}
