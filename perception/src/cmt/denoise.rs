//! Point-based query denoising (CMT's DN-DETR-style training aid, the
//! official `CmtHead.prepare_for_dn`): the ground-truth centres of a
//! microbatch, jittered, become extra queries whose boxes the decoder must
//! reconstruct; groups of them cannot see each other, and the anchor
//! queries cannot see any of them.
//!
//! For `G` = the most boxes of a sample in the microbatch and `groups =
//! min(denoise_groups, queries / G)` (official), there are `Dn = groups ·
//! G` denoising queries, group-major: query `g · G + i` is sample box `i`
//! of group `g` (padding where the sample has fewer boxes; its anchor is
//! 0 and it has no target). Each centre moves by `r ⊙ extent / 2 ·
//! denoise_noise` with `r` uniform in `[−1, 1]³` and `extent` the box's
//! `[length, width, height]` on the LiDAR `[x, y, z]` axes (as the official
//! code, ignoring the yaw), is normalised to `[0, 1]³` over the point-cloud
//! range and clamped; when `‖r‖ > denoise_split` the query is trained as
//! background, otherwise as the box's class. Its box target is the box
//! itself. The noise is deterministic from the seed.

use std::collections::BTreeMap;

use cairn_train::host::{HostMap, HostTensor, mix_seed, splitmix64};

use crate::Result;
use crate::cmt::boxes::{CODE_SIZE, encode, normalise_centre};
use crate::cmt::config::CmtConfig;
use crate::detection::LidarBox;

/// The additive attention-mask value that blocks a query pair.
pub const BLOCKED: f32 = -1e9;

/// The denoising part of a microbatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Denoising {
    /// Denoising queries per sample (`Dn`, 0 when there is no box or
    /// denoising is off).
    pub queries: usize,
    /// `denoise_anchors` `[B, Dn, 3]` in `[0, 1]³`.
    pub anchors: HostTensor,
    /// `attention_mask` `[Dn + Q, Dn + Q]`: 0 or [`BLOCKED`].
    pub attention_mask: HostTensor,
    /// The loss's `dn_codes`, `dn_labels`, `dn_valid` (empty when `Dn = 0`).
    pub targets: HostMap,
}

/// The denoising queries, mask and targets of a microbatch whose samples
/// hold `boxes` (ground truth in the LiDAR frame).
pub fn denoise(boxes: &[Vec<LidarBox>], config: &CmtConfig, seed: u64) -> Result<Denoising> {
    let (b, anchors) = (boxes.len(), config.decoder.queries);
    let most = boxes.iter().map(Vec::len).max().unwrap_or(0);
    let groups = anchors.checked_div(most).map_or(0, |fit| config.train.denoise_groups.min(fit));
    let dn = groups * most;
    let mut anchor = HostTensor::zeros(&[b, dn, 3]);
    let (mut codes, mut labels, mut valid) =
        (HostTensor::zeros(&[b, dn, CODE_SIZE]), HostTensor::zeros(&[b, dn]), HostTensor::zeros(&[b, dn]));
    let train = &config.train;
    for (s, sample) in boxes.iter().enumerate() {
        for (i, lidar_box) in sample.iter().enumerate() {
            let code = encode(lidar_box)?;
            let extent = [lidar_box.size[1], lidar_box.size[0], lidar_box.size[2]];
            for g in 0..groups {
                let row = s * dn + g * most + i;
                let r = uniform_cube(mix_seed(&[seed, s as u64, g as u64, i as u64]));
                let noisy: [f64; 3] =
                    std::array::from_fn(|k| lidar_box.centre[k] + r[k] * extent[k] / 2.0 * train.denoise_noise);
                let normalised = normalise_centre(&config.point_cloud_range, noisy).map(|v| v.clamp(0.0, 1.0));
                for (k, value) in normalised.iter().enumerate() {
                    anchor.data[row * 3 + k] = *value as f32;
                }
                for (k, value) in code.iter().enumerate() {
                    codes.data[row * CODE_SIZE + k] = *value as f32;
                }
                let far = r.iter().map(|v| v * v).sum::<f64>().sqrt() > train.denoise_split;
                labels.data[row] = if far { -1.0 } else { lidar_box.label as f32 };
                valid.data[row] = 1.0;
            }
        }
    }
    let targets = if dn == 0 {
        HostMap::new()
    } else {
        BTreeMap::from([("dn_codes".into(), codes), ("dn_labels".into(), labels), ("dn_valid".into(), valid)])
    };
    Ok(Denoising { queries: dn, anchors: anchor, attention_mask: attention_mask(groups, most, anchors), targets })
}

/// The `[Dn + Q, Dn + Q]` additive self-attention mask for `groups`
/// groups of `size` denoising queries followed by `anchors` anchor
/// queries: a denoising query sees its own group and the anchors, an
/// anchor query sees only the anchors.
pub fn attention_mask(groups: usize, size: usize, anchors: usize) -> HostTensor {
    let dn = groups * size;
    let total = dn + anchors;
    let mut mask = HostTensor::zeros(&[total, total]);
    for query in 0..total {
        for key in 0..dn {
            let same_group = query < dn && query / size == key / size;
            if !same_group {
                mask.data[query * total + key] = BLOCKED;
            }
        }
    }
    mask
}

/// A point uniform in `[−1, 1]³` from a seed.
fn uniform_cube(seed: u64) -> [f64; 3] {
    std::array::from_fn(|k| {
        let bits = splitmix64(seed ^ splitmix64(k as u64 + 1));
        (bits >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cmt::boxes::denormalise_centre;

    fn car(x: f64, label: usize) -> LidarBox {
        LidarBox { centre: [x, 2.0, -0.5], size: [2.0, 4.0, 1.6], yaw: 0.3, velocity: [1.0, 0.0], label, score: 1.0 }
    }

    #[test]
    fn groups_see_themselves_and_the_anchors_and_anchors_see_only_anchors() {
        let mask = attention_mask(2, 2, 3);
        let open = |q: usize, k: usize| mask.data[q * 7 + k] == 0.0;
        assert_eq!(mask.shape, vec![7, 7]);
        assert!(open(0, 1) && open(1, 0) && open(0, 4) && open(3, 2) && open(2, 6));
        assert!(!open(0, 2) && !open(3, 1) && !open(2, 0));
        for anchor in 4..7 {
            assert!((0..4).all(|k| !open(anchor, k)) && (4..7).all(|k| open(anchor, k)));
        }
        assert!(attention_mask(0, 0, 3).data.iter().all(|v| *v == 0.0));
    }

    #[test]
    fn noisy_centres_stay_within_half_a_box_and_padding_has_no_target() {
        let mut config = CmtConfig::small();
        config.train.denoise_groups = 3;
        let boxes = vec![vec![car(10.0, 0), car(-20.0, 9)], vec![car(5.0, 7)]];
        let dn = denoise(&boxes, &config, 11).unwrap();
        assert_eq!(dn.queries, 6);
        assert_eq!(dn.anchors.shape, vec![2, 6, 3]);
        assert_eq!(dn.attention_mask.shape, vec![206, 206]);
        let valid = &dn.targets["dn_valid"].data;
        assert_eq!(valid, &[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
        let labels = &dn.targets["dn_labels"].data;
        for (row, sample_box) in [(0, &boxes[0][0]), (3, &boxes[0][1]), (6 + 2, &boxes[1][0])] {
            let a = &dn.anchors.data[row * 3..row * 3 + 3];
            let centre = denormalise_centre(&config.point_cloud_range, [a[0], a[1], a[2]].map(f64::from));
            let extent = [4.0, 2.0, 1.6];
            for k in 0..3 {
                assert!((centre[k] - sample_box.centre[k]).abs() <= extent[k] / 2.0 + 1e-4, "{centre:?}");
            }
            let code = &dn.targets["dn_codes"].data[row * CODE_SIZE..(row + 1) * CODE_SIZE];
            assert_eq!(code[0], sample_box.centre[0] as f32);
            assert!(labels[row] == sample_box.label as f32 || labels[row] == -1.0);
        }
        assert!(dn.anchors.data[7 * 3..8 * 3].iter().all(|v| *v == 0.0), "padding anchors are 0");
        assert_eq!(denoise(&boxes, &config, 11).unwrap(), dn, "deterministic from the seed");
        assert_ne!(denoise(&boxes, &config, 12).unwrap().anchors, dn.anchors);
    }

    #[test]
    fn the_split_decides_background_by_the_noise_norm() {
        let mut config = CmtConfig::small();
        let boxes = vec![(0..20).map(|i| car(i as f64, 1)).collect::<Vec<_>>()];
        config.train.denoise_split = 2.0; // ‖r‖ ≤ √3 < 2: never background
        let all = denoise(&boxes, &config, 3).unwrap();
        assert!(all.targets["dn_labels"].data.iter().all(|l| *l == 1.0));
        config.train.denoise_split = 0.0;
        let none = denoise(&boxes, &config, 3).unwrap();
        assert!(none.targets["dn_labels"].data.iter().all(|l| *l == -1.0));
        // Groups shrink so that Dn ≤ Q: 200 queries / 20 boxes = 10 groups.
        assert_eq!(all.queries, 200);
    }

    #[test]
    fn no_boxes_or_no_groups_means_no_denoising_queries() {
        let mut config = CmtConfig::small();
        let empty = denoise(&[vec![], vec![]], &config, 0).unwrap();
        assert_eq!((empty.queries, empty.anchors.shape.clone()), (0, vec![2, 0, 3]));
        assert!(empty.targets.is_empty());
        config.train.denoise_groups = 0;
        assert_eq!(denoise(&[vec![car(0.0, 0)]], &config, 0).unwrap().queries, 0);
    }
}
