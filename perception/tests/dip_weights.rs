//! The committed DIP weights (models/l3d, trained on office seeds ≥ 100)
//! on a held-out cairn-sim pair: two views of office scene 3 (an
//! evaluation seed, never trained on), 9° and 27° apart along a loop, with
//! Kinect-like depth noise. Keypoints of one view and their true partners
//! in the other (nearest point after the true motion) are described; the
//! mutual nearest neighbours in descriptor space must be inliers (within
//! 2 voxels of the true position) five times more often than a random
//! matching of the same points, and more often than FPFH's.

#![allow(clippy::unwrap_used)]

use cairn_core::PointCloud;
use cairn_core::transform::Rigid3;
use cairn_perception::describe::{
    DescribeConfig, DescribedCloud, DipDescriptor, Fpfh, LocalDescriptor, describe_cloud,
};
use cairn_perception::fpfh::{Orientation, estimate_normals};
use cairn_perception::l3d::{Descriptors, DipNetwork, Neighbours, mutual_nearest, voxel_downsample};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use nalgebra::Point3;

const VOXEL: f32 = 0.05;

fn camera() -> RgbdCamera {
    RgbdCamera::from_yaml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml")).unwrap()
}

/// Views `first` and `second` of a 40-frame loop in office `seed`: clouds
/// in their camera frames and `b_from_a`.
fn views(seed: u64, first: usize, second: usize) -> (Vec<Point3<f32>>, Vec<Point3<f32>>, Rigid3) {
    let scene = Scene::generate(SceneKind::Office, seed);
    let path = generate(&scene, PathShape::Loop, 1.0, 40, 30.0).unwrap();
    let camera = camera();
    let cloud = |k: usize| {
        let frame = camera.render(&scene, &path.world_from_body[k], Some(seed * 100_000 + k as u64)).unwrap();
        let cloud = PointCloud::from_depth(&frame.depth, &camera.camera, 2).unwrap();
        let mut near = PointCloud::with_capacity(cloud.len());
        for p in cloud.points().filter(|p| p.z <= 4.0 && p.coords.iter().all(|c| c.is_finite())) {
            near.push(p);
        }
        voxel_downsample(&near, VOXEL).unwrap()
    };
    let b_from_a = path.world_from_body[second].inverse() * path.world_from_body[first];
    (cloud(first), cloud(second), b_from_a)
}

fn described(points: Vec<Point3<f32>>, descriptor: &dyn LocalDescriptor) -> DescribedCloud {
    let config = DescribeConfig {
        normal_radius_m: 2.0 * VOXEL,
        normal_max_neighbours: 30,
        orientation: Orientation::Viewpoint(Point3::origin()),
        keypoints: 1000,
        seed: 1,
    };
    describe_cloud(points, descriptor, &config).unwrap()
}

/// Keypoints of A (1000 random) and their true partners in B (nearest
/// point after the true motion, within 3 cm), each side described by
/// `descriptor` (either side may drop a keypoint); returns (inlier
/// fraction of the mutual nearest neighbours, the same for a random
/// matching, partners).
fn partner_ratio(
    a: Vec<Point3<f32>>,
    b: Vec<Point3<f32>>,
    b_from_a: &Rigid3,
    descriptor: &dyn LocalDescriptor,
) -> (f64, f64, usize) {
    let a = described(a, descriptor);
    let b = Neighbours::new(b).unwrap();
    let normals = estimate_normals(&b, 2.0 * VOXEL, 30, Orientation::Viewpoint(Point3::origin()));
    let mut partners = Vec::new();
    for (i, &k) in a.keypoints.iter().enumerate() {
        let p: Point3<f32> = (b_from_a * a.cloud.points()[k].cast::<f64>()).cast();
        let (j, distance) = b.nearest(&p);
        if distance <= 0.03 && normals[j].is_some() && !partners.iter().any(|&(_, q)| q == j) {
            partners.push((i, j));
        }
    }
    let which: Vec<usize> = partners.iter().map(|&(_, j)| j).collect();
    let in_b = descriptor.describe(&b, &normals, &which).unwrap();
    // A's descriptors of the partners B kept, in B's order.
    let rows: Vec<usize> = in_b.keypoints.iter().map(|j| partners.iter().find(|p| p.1 == *j).unwrap().0).collect();
    let dim = a.descriptors.dim();
    let data: Vec<f32> = rows.iter().flat_map(|&i| a.descriptors.get(i).to_vec()).collect();
    let in_a = Descriptors::new(dim, data).unwrap();
    // Row r of both sets is partner pair r; a match (r, s) is an inlier
    // when B's point s lies within 2 voxels of A's point r moved to B.
    let moved: Vec<Point3<f32>> =
        rows.iter().map(|&i| (b_from_a * a.cloud.points()[a.keypoints[i]].cast::<f64>()).cast()).collect();
    let close = |r: usize, s: usize| (moved[r] - b.points()[in_b.keypoints[s]]).norm() <= 2.0 * VOXEL;
    let pairs = mutual_nearest(&in_a, &in_b.descriptors).unwrap();
    let inliers = pairs.iter().filter(|&&(r, s)| close(r, s)).count();
    let n = rows.len();
    let chance = (0..n).map(|r| (0..n).filter(|&s| close(r, s)).count()).sum::<usize>() as f64 / (n * n) as f64;
    (inliers as f64 / pairs.len().max(1) as f64, chance, n)
}

#[test]
fn committed_weights_match_a_held_out_pair_far_better_than_chance() {
    let dip = DipDescriptor { network: DipNetwork::builtin().unwrap(), seed: 0 };
    let fpfh = Fpfh { radius_m: 5.0 * VOXEL, max_neighbours: 100 };
    for gap in [1, 3] {
        let (a, b, b_from_a) = views(3, 0, gap);
        let (ratio, chance, partners) = partner_ratio(a.clone(), b.clone(), &b_from_a, &dip);
        let (fpfh_ratio, _, fpfh_partners) = partner_ratio(a, b, &b_from_a, &fpfh);
        eprintln!(
            "held-out office 3, views 0 and {gap} of 40: inlier fraction (≤ 2 voxels) of the mutual nearest \
             neighbours: l3d {ratio:.3} ({partners} partners), FPFH {fpfh_ratio:.3} ({fpfh_partners}), chance {chance:.4}"
        );
        assert!(partners >= 100, "{partners} partners");
        assert!(ratio > 5.0 * chance, "l3d inlier fraction {ratio} vs chance {chance}");
        assert!(ratio > fpfh_ratio, "l3d inlier fraction {ratio} below FPFH's {fpfh_ratio}");
    }
}
