//! Keyframes: the edge pixels of a frame with valid depth, lifted to 3-D
//! points in the keyframe's camera frame, per pyramid level.

use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PinholeCamera};
use nalgebra::{Point2, Vector3};

use crate::config::TrackingConfig;
use crate::edges::EdgeMap;
use crate::pyramid::{GrayImage, depth_pyramid};

/// A keyframe: where it was taken and its edge points.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyframe {
    /// Sequence number among the keyframes of a run (0, 1, …).
    pub id: usize,
    /// Stamp of the frame it was taken from (s).
    pub stamp: f64,
    /// The keyframe camera's pose.
    pub world_from_keyframe: Rigid3,
    /// Per pyramid level (0 = finest), edge points `p_in_keyframe` (m),
    /// evenly subsampled to at most `max_points / 2^level` (coarse levels
    /// only need to find the basin; the finest one sets the accuracy).
    pub points: Vec<Vec<Vector3<f64>>>,
    /// Edge pixels with valid depth at level 0, before subsampling.
    pub edges_with_depth: usize,
}

impl Keyframe {
    /// Lifts the edge pixels of every level (`edges[l]`) that have a valid,
    /// continuous depth in `depth` into 3-D, through `camera` (undistorting
    /// each pixel). See [`TrackingConfig`] for the depth range, the
    /// discontinuity test and the point budget.
    pub fn lift(
        id: usize,
        stamp: f64,
        world_from_keyframe: Rigid3,
        edges: &[&EdgeMap],
        depth: &DepthImage,
        camera: &PinholeCamera,
        config: &TrackingConfig,
    ) -> Keyframe {
        let depths = depth_pyramid(depth, edges.len(), config.depth_discontinuity);
        let mut points = Vec::with_capacity(edges.len());
        let mut edges_with_depth = 0;
        for (level, (edge_map, level_depth)) in edges.iter().zip(&depths).enumerate() {
            let candidates: Vec<(u32, u32, f32)> = edge_map
                .pixels
                .iter()
                .filter_map(|&(u, v)| continuous_depth(level_depth, u as usize, v as usize, config).map(|d| (u, v, d)))
                .collect();
            if level == 0 {
                edges_with_depth = candidates.len();
            }
            let scale = f64::from(1u32 << level);
            let lifted = subsample(&candidates, (config.max_points >> level).max(6))
                .map(|&(u, v, d)| {
                    let pixel = Point2::new((f64::from(u) + 0.5) * scale - 0.5, (f64::from(v) + 0.5) * scale - 0.5);
                    camera.unproject(pixel, f64::from(d)).coords
                })
                .filter(|p| p.iter().all(|c| c.is_finite()))
                .collect();
            points.push(lifted);
        }
        Keyframe { id, stamp, world_from_keyframe, points, edges_with_depth }
    }
}

/// The depth at `(u, v)` when it is in range and its four neighbours all
/// have a depth that agrees with it within `depth_discontinuity`
/// (relative). A missing neighbour counts as a discontinuity: sensors (and
/// cairn-sim) leave holes exactly at occlusion boundaries, where an edge
/// pixel's depth may belong to either side.
fn continuous_depth(depth: &GrayImage, u: usize, v: usize, config: &TrackingConfig) -> Option<f32> {
    let d = *depth.data.get(v * depth.width + u)?;
    if !(d >= config.min_depth_m && d <= config.max_depth_m) {
        return None;
    }
    let neighbours = [(u.wrapping_sub(1), v), (u + 1, v), (u, v.wrapping_sub(1)), (u, v + 1)];
    for (nu, nv) in neighbours {
        if nu >= depth.width || nv >= depth.height {
            return None;
        }
        let n = depth.at(nu, nv);
        if !(n > 0.0 && (n - d).abs() <= config.depth_discontinuity * d) {
            return None;
        }
    }
    Some(d)
}

/// At most `budget` items of `items`, evenly spread over it.
pub fn subsample<T>(items: &[T], budget: usize) -> impl Iterator<Item = &T> {
    let n = items.len();
    let take = n.min(budget);
    (0..take).filter_map(move |k| items.get(k * n / take.max(1)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn subsampling_spreads_evenly_and_keeps_small_sets() {
        let items: Vec<usize> = (0..10).collect();
        assert_eq!(subsample(&items, 5).copied().collect::<Vec<_>>(), [0, 2, 4, 6, 8]);
        assert_eq!(subsample(&items, 50).count(), 10);
        assert_eq!(subsample(&items, 0).count(), 0);
    }

    #[test]
    fn lifts_valid_continuous_depth_only() {
        let camera = PinholeCamera::new(8, 8, 10.0, 10.0, 3.5, 3.5);
        let mut depth = vec![2.0f32; 64];
        depth[8 + 1] = 0.0; // (1, 1): hole
        depth[8 * 2 + 4] = 0.0; // (4, 2): a hole next to (4, 3)
        depth[8 * 5 + 6] = 4.0; // (6, 5): next to (5, 5), a discontinuity
        let depth = DepthImage::new(8, 8, depth).unwrap();
        let pixels = vec![(3, 3), (1, 1), (5, 5), (2, 6), (4, 3), (0, 4)];
        let mut mask = vec![false; 64];
        for &(u, v) in &pixels {
            mask[v as usize * 8 + u as usize] = true;
        }
        let edges = [&EdgeMap { width: 8, height: 8, mask, pixels }];
        let keyframe = Keyframe::lift(0, 0.0, Rigid3::identity(), &edges, &depth, &camera, &TrackingConfig::default());
        assert_eq!(keyframe.edges_with_depth, 2);
        let p = keyframe.points[0][0];
        // pixel (3, 3) at depth 2: x = (3 − 3.5)/10·2 = −0.1
        assert!((p - Vector3::new(-0.1, -0.1, 2.0)).norm() < 1e-12);
        assert!((keyframe.points[0][1] - Vector3::new(-0.3, 0.5, 2.0)).norm() < 1e-12);
    }
}
