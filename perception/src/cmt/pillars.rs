//! Pillarisation (PointPillars, Lang et al., CVPR 2019), CMT's LiDAR
//! pre-processing on the host: the points inside the point-cloud range are
//! binned into vertical columns of the pillar grid, each pillar keeps its
//! first `max_points` points and, when there are more than `max_pillars`
//! pillars, the fullest are kept. Every point carries nine features: x, y,
//! z, intensity / 255, its offset from the pillar's point mean (3) and from
//! the pillar's centre (x, y).
//!
//! Deviation from the official CMT, stated: the official LiDAR branch is a
//! sparse 3D VoxelNet (spconv); sparse 3D convolution has no Rust
//! implementation, so cairn encodes pillars and runs a dense 2D BEV backbone
//! ([`super::lidar`]) at the same token stride.

use std::collections::HashMap;

use cairn_core::cloud::PointCloud;
use cairn_train::HostTensor;
use cairn_train::host::HostMap;

use super::CmtConfig;

/// Features per point of a pillar.
pub const POINT_FEATURES: usize = 9;

/// The pillars of one sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct Pillars {
    /// Per pillar, its cell `row · columns + column` in the pillar grid.
    pub cells: Vec<u32>,
    /// Per pillar, `max_points × POINT_FEATURES` features (zeros where no point).
    pub features: Vec<Vec<f32>>,
    /// Per pillar, how many of its `max_points` slots hold a point.
    pub counts: Vec<usize>,
    /// Points inside the range that were dropped (full pillars, or pillars
    /// beyond `max_pillars`).
    pub dropped_points: usize,
}

impl Pillars {
    /// No pillars (a missing or dropped LiDAR).
    pub fn empty() -> Pillars {
        Pillars { cells: Vec::new(), features: Vec::new(), counts: Vec::new(), dropped_points: 0 }
    }

    /// Number of pillars.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// True when there is no pillar.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// Bins a sweep (LiDAR frame) into pillars. Non-finite points are skipped;
/// the result does not depend on anything but the points and their order.
pub fn pillarise(cloud: &PointCloud, config: &CmtConfig) -> Pillars {
    let range = config.point_cloud_range;
    let [size_x, size_y] = config.lidar.pillar_size;
    let [columns, rows] = config.pillar_grid();
    let max_points = config.lidar.max_points;
    // Bin: cell → indices of its points, in sweep order.
    let mut bins: HashMap<u32, Vec<usize>> = HashMap::new();
    for i in 0..cloud.len() {
        let (x, y, z) = (f64::from(cloud.x[i]), f64::from(cloud.y[i]), f64::from(cloud.z[i]));
        let inside = x >= range[0] && x < range[3] && y >= range[1] && y < range[4] && z >= range[2] && z < range[5];
        if !inside {
            continue; // also drops NaN: every comparison is false
        }
        let column = (((x - range[0]) / size_x) as usize).min(columns - 1);
        let row = (((y - range[1]) / size_y) as usize).min(rows - 1);
        bins.entry((row * columns + column) as u32).or_default().push(i);
    }
    // Keep the fullest pillars (ties: lower cell first), then order by cell.
    let mut cells: Vec<(u32, Vec<usize>)> = bins.into_iter().collect();
    cells.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    let mut dropped_points: usize = cells.iter().skip(config.lidar.max_pillars).map(|(_, p)| p.len()).sum();
    cells.truncate(config.lidar.max_pillars);
    cells.sort_by_key(|(cell, _)| *cell);
    let mut pillars = Pillars { dropped_points: 0, ..Pillars::empty() };
    for (cell, mut points) in cells {
        dropped_points += points.len().saturating_sub(max_points);
        points.truncate(max_points);
        let centre = [
            range[0] + (f64::from(cell % columns as u32) + 0.5) * size_x,
            range[1] + (f64::from(cell / columns as u32) + 0.5) * size_y,
        ];
        pillars.features.push(point_features(cloud, &points, centre, max_points));
        pillars.counts.push(points.len());
        pillars.cells.push(cell);
    }
    pillars.dropped_points = dropped_points;
    pillars
}

/// The nine features of each point of one pillar, padded to `max_points`.
fn point_features(cloud: &PointCloud, points: &[usize], centre: [f64; 2], max_points: usize) -> Vec<f32> {
    let n = points.len() as f64;
    let mean = |axis: &[f32]| points.iter().map(|&i| f64::from(axis[i])).sum::<f64>() / n;
    let (mx, my, mz) = (mean(&cloud.x), mean(&cloud.y), mean(&cloud.z));
    let mut features = vec![0.0f32; max_points * POINT_FEATURES];
    for (slot, &i) in points.iter().enumerate() {
        let (x, y, z) = (f64::from(cloud.x[i]), f64::from(cloud.y[i]), f64::from(cloud.z[i]));
        let intensity = cloud.intensity.as_ref().map_or(0.0, |v| f64::from(v[i]) / 255.0);
        let row = [x, y, z, intensity, x - mx, y - my, z - mz, x - centre[0], y - centre[1]];
        for (k, value) in row.into_iter().enumerate() {
            features[slot * POINT_FEATURES + k] = value as f32;
        }
    }
    features
}

/// The contract's pillar inputs of a batch (`pillar_points`, `pillar_mask`,
/// `pillar_cells`, `pillar_valid`), padded to the batch's largest pillar
/// count (at least one pillar, so every tensor has a shape).
pub fn pillar_inputs(batch: &[Pillars], max_points: usize) -> HostMap {
    let p = batch.iter().map(Pillars::len).max().unwrap_or(0).max(1);
    let b = batch.len();
    let mut points = HostTensor::zeros(&[b, p, max_points, POINT_FEATURES]);
    let mut mask = HostTensor::zeros(&[b, p, max_points]);
    let mut cells = HostTensor::zeros(&[b, p]);
    let mut valid = HostTensor::zeros(&[b, p]);
    for (s, pillars) in batch.iter().enumerate() {
        for (j, ((cell, features), count)) in
            pillars.cells.iter().zip(&pillars.features).zip(&pillars.counts).enumerate()
        {
            let base = (s * p + j) * max_points;
            points.data[base * POINT_FEATURES..(base + max_points) * POINT_FEATURES].copy_from_slice(features);
            mask.data[base..base + count].fill(1.0);
            cells.data[s * p + j] = *cell as f32;
            valid.data[s * p + j] = 1.0;
        }
    }
    HostMap::from([
        ("pillar_points".to_string(), points),
        ("pillar_mask".to_string(), mask),
        ("pillar_cells".to_string(), cells),
        ("pillar_valid".to_string(), valid),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn config() -> CmtConfig {
        let mut config = CmtConfig::small();
        config.lidar.max_points = 2;
        config.lidar.max_pillars = 2;
        config
    }

    fn cloud(points: &[[f32; 4]]) -> PointCloud {
        let mut cloud = PointCloud::with_capacity(points.len());
        for p in points {
            cloud.push(Point3::new(p[0], p[1], p[2]));
        }
        cloud.intensity = Some(points.iter().map(|p| p[3]).collect());
        cloud
    }

    #[test]
    fn points_land_in_their_cells_with_the_nine_features() {
        // Small preset: 0.6 m pillars from −54 m, 180 columns.
        let sweep = cloud(&[[0.1, 0.2, 1.0, 255.0], [0.3, 0.4, 2.0, 0.0], [-53.9, 53.9, 0.0, 51.0]]);
        let pillars = pillarise(&sweep, &config());
        assert_eq!(pillars.len(), 2);
        // (−53.9, 53.9): column 0, row 179 → 179·180; (0.1, 0.2): column 90, row 90.
        assert_eq!(pillars.cells, vec![90 * 180 + 90, 179 * 180]);
        assert_eq!(pillars.counts, vec![2, 1]);
        let f = &pillars.features[0];
        let expected = [0.1, 0.2, 1.0, 1.0, -0.1, -0.1, -0.5, 0.1 - 0.3, 0.2 - 0.3];
        for (got, want) in f[..POINT_FEATURES].iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{f:?}");
        }
        assert_eq!(pillars.dropped_points, 0);
    }

    #[test]
    fn full_pillars_and_extra_pillars_drop_points_and_keep_the_fullest() {
        let sweep = cloud(&[
            [0.1, 0.1, 0.0, 0.0],
            [0.2, 0.1, 0.0, 0.0],
            [0.3, 0.1, 0.0, 0.0], // third point of a 2-point pillar: dropped
            [5.1, 5.1, 0.0, 0.0],
            [5.2, 5.1, 0.0, 0.0],
            [10.1, 10.1, 0.0, 0.0], // a one-point pillar, the third pillar: dropped
            [f32::NAN, 0.0, 0.0, 0.0],
            [100.0, 0.0, 0.0, 0.0],
        ]);
        let pillars = pillarise(&sweep, &config());
        assert_eq!(pillars.counts, vec![2, 2]);
        assert_eq!(pillars.dropped_points, 2);
    }

    #[test]
    fn a_batch_is_padded_to_its_largest_sweep_and_an_empty_one_is_all_invalid() {
        let config = config();
        let one = pillarise(&cloud(&[[0.1, 0.1, 0.0, 0.0]]), &config);
        let inputs = pillar_inputs(&[one, Pillars::empty()], config.lidar.max_points);
        assert_eq!(inputs["pillar_points"].shape, vec![2, 1, 2, POINT_FEATURES]);
        assert_eq!(inputs["pillar_valid"].data, vec![1.0, 0.0]);
        assert_eq!(inputs["pillar_mask"].data, vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(inputs["pillar_cells"].data[0], (90 * 180 + 90) as f32);
    }
}
