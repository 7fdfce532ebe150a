//! Point preparation for L3D: voxel downsampling, a k-d tree for radius
//! queries, and keypoint selection.

use std::collections::HashMap;

use cairn_core::PointCloud;
use kiddo::{ImmutableKdTree, SquaredEuclidean};
use nalgebra::Point3;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One point per occupied voxel of side `voxel_m`: the centroid of the
/// cloud's points in it (as Open3D's `voxel_down_sample`). The output is in
/// voxel-key order, so it does not depend on the input's point order.
pub fn voxel_downsample(cloud: &PointCloud, voxel_m: f32) -> Result<Vec<Point3<f32>>> {
    if !(voxel_m > 0.0 && voxel_m.is_finite()) {
        return Err(Error::Config(format!("voxel size must be positive, got {voxel_m}")));
    }
    let mut sums: HashMap<[i32; 3], ([f64; 3], u32)> = HashMap::new();
    for p in cloud.points().filter(|p| p.coords.iter().all(|c| c.is_finite())) {
        let key = [(p.x / voxel_m).floor() as i32, (p.y / voxel_m).floor() as i32, (p.z / voxel_m).floor() as i32];
        let entry = sums.entry(key).or_insert(([0.0; 3], 0));
        for k in 0..3 {
            entry.0[k] += f64::from(p[k]);
        }
        entry.1 += 1;
    }
    let mut voxels: Vec<_> = sums.into_iter().collect();
    voxels.sort_unstable_by_key(|(key, _)| *key);
    Ok(voxels
        .into_iter()
        .map(|(_, (sum, n))| {
            let n = f64::from(n);
            Point3::new((sum[0] / n) as f32, (sum[1] / n) as f32, (sum[2] / n) as f32)
        })
        .collect())
}

/// Points with a k-d tree over them for radius and nearest queries.
pub struct Neighbours {
    points: Vec<Point3<f32>>,
    tree: ImmutableKdTree<f32, 3>,
}

impl std::fmt::Debug for Neighbours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neighbours").field("points", &self.points.len()).finish()
    }
}

impl Neighbours {
    /// Builds the tree (the points are kept, in order).
    pub fn new(points: Vec<Point3<f32>>) -> Result<Self> {
        if points.is_empty() {
            return Err(Error::Input("no points to search".into()));
        }
        let coordinates: Vec<[f32; 3]> = points.iter().map(|p| [p.x, p.y, p.z]).collect();
        let tree = ImmutableKdTree::new_from_slice(&coordinates)
            .map_err(|e| Error::Input(format!("building the k-d tree: {e:?}")))?;
        Ok(Neighbours { points, tree })
    }

    /// The points, in the order given.
    pub fn points(&self) -> &[Point3<f32>] {
        &self.points
    }

    /// Indices of the points within `radius` of `query` (any order).
    pub fn within(&self, query: &Point3<f32>, radius: f32) -> Vec<usize> {
        self.tree
            .query(&[query.x, query.y, query.z])
            .within::<SquaredEuclidean<f32>>(radius * radius)
            .unsorted()
            .execute()
            .into_iter()
            .map(|n| n.item as usize)
            .collect()
    }

    /// Up to `max_n` nearest points within `radius`, nearest first, as
    /// (index, squared distance) — Open3D's hybrid search.
    pub fn nearest_within(&self, query: &Point3<f32>, radius: f32, max_n: usize) -> Vec<(usize, f32)> {
        let Some(max_n) = std::num::NonZeroUsize::new(max_n) else { return Vec::new() };
        self.tree
            .query(&[query.x, query.y, query.z])
            .nearest_n::<SquaredEuclidean<f32>>(max_n)
            .within(radius * radius)
            .execute()
            .into_iter()
            .map(|n| (n.item as usize, n.distance))
            .collect()
    }

    /// The nearest point's index and its distance.
    pub fn nearest(&self, query: &Point3<f32>) -> (usize, f32) {
        let n = self.tree.query(&[query.x, query.y, query.z]).nearest_one::<SquaredEuclidean<f32>>().execute();
        (n.item as usize, n.distance.sqrt())
    }
}

/// How keypoints are picked among the downsampled points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeypointSampling {
    /// A seeded random subset (as the L3D reference code does).
    Random,
    /// Spread evenly: farthest-point sampling from the first point.
    Uniform,
}

/// Picks `count` keypoint indices into `points` (all of them when there are
/// fewer), sorted ascending.
pub fn keypoints(points: &[Point3<f32>], count: usize, sampling: KeypointSampling, seed: u64) -> Vec<usize> {
    if count >= points.len() {
        return (0..points.len()).collect();
    }
    let mut chosen = match sampling {
        KeypointSampling::Random => sample(&mut ChaCha8Rng::seed_from_u64(seed), points.len(), count).into_vec(),
        KeypointSampling::Uniform => farthest_points(points, count),
    };
    chosen.sort_unstable();
    chosen
}

/// Farthest-point sampling: each new point is the one farthest from all
/// chosen so far. O(count · n).
fn farthest_points(points: &[Point3<f32>], count: usize) -> Vec<usize> {
    let mut distance = vec![f32::INFINITY; points.len()];
    let mut chosen = Vec::with_capacity(count);
    let mut next = 0;
    for _ in 0..count {
        chosen.push(next);
        let centre = points[next];
        let mut farthest = (0, f32::NEG_INFINITY);
        for (i, p) in points.iter().enumerate() {
            distance[i] = distance[i].min((p - centre).norm_squared());
            if distance[i] > farthest.1 {
                farthest = (i, distance[i]);
            }
        }
        next = farthest.0;
    }
    chosen
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn grid(n: usize, step: f32) -> PointCloud {
        let mut cloud = PointCloud::default();
        for i in 0..n {
            for j in 0..n {
                // Cell centres, so no point sits on a voxel boundary.
                cloud.push(Point3::new((i as f32 + 0.5) * step, (j as f32 + 0.5) * step, 0.0));
            }
        }
        cloud
    }

    #[test]
    fn voxel_centroids_merge_points_of_one_voxel() {
        // A 10 × 10 grid at 1 cm in 5 cm voxels: 2 × 2 voxels of 25 points each.
        let points = voxel_downsample(&grid(10, 0.01), 0.05).unwrap();
        assert_eq!(points.len(), 4);
        assert!((points[0] - Point3::new(0.025, 0.025, 0.0)).norm() < 1e-6, "{}", points[0]);
        assert!(voxel_downsample(&grid(2, 0.01), 0.0).is_err());
    }

    #[test]
    fn voxel_output_does_not_depend_on_point_order() {
        let cloud = grid(7, 0.013);
        let mut reversed = PointCloud::default();
        for p in cloud.points().collect::<Vec<_>>().into_iter().rev() {
            reversed.push(p);
        }
        assert_eq!(voxel_downsample(&cloud, 0.03).unwrap(), voxel_downsample(&reversed, 0.03).unwrap());
    }

    #[test]
    fn radius_and_nearest_queries_agree_with_brute_force() {
        let points: Vec<_> = grid(20, 0.1).points().collect();
        let neighbours = Neighbours::new(points.clone()).unwrap();
        let query = Point3::new(0.52, 0.97, 0.05);
        let mut found = neighbours.within(&query, 0.25);
        found.sort_unstable();
        let expected: Vec<usize> = (0..points.len()).filter(|&i| (points[i] - query).norm() <= 0.25).collect();
        assert_eq!(found, expected);
        let (nearest, distance) = neighbours.nearest(&query);
        assert_eq!(points[nearest], Point3::new(0.55, 0.95, 0.0));
        assert!((distance - (0.03f32 * 0.03 + 0.02 * 0.02 + 0.05 * 0.05).sqrt()).abs() < 1e-6);
        assert!(Neighbours::new(Vec::new()).is_err());
    }

    #[test]
    fn keypoints_are_seeded_and_farthest_sampling_spreads_out() {
        let points: Vec<_> = grid(30, 0.1).points().collect();
        let a = keypoints(&points, 50, KeypointSampling::Random, 3);
        assert_eq!(a, keypoints(&points, 50, KeypointSampling::Random, 3));
        assert_ne!(a, keypoints(&points, 50, KeypointSampling::Random, 4));
        let uniform = keypoints(&points, 4, KeypointSampling::Uniform, 0);
        // The four corners of the square.
        let corners: Vec<_> = uniform.iter().map(|&i| points[i]).collect();
        for c in [Point3::new(0.05, 0.05, 0.0), Point3::new(2.95, 2.95, 0.0)] {
            assert!(corners.iter().any(|p| (p - c).norm() < 1e-5), "{corners:?}");
        }
        assert_eq!(keypoints(&points[..3], 10, KeypointSampling::Random, 0), vec![0, 1, 2]);
    }
}
