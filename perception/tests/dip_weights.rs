//! The committed DIP weights (models/l3d, trained on office seeds ≥ 100)
//! on a held-out cairn-sim pair: two views of office scene 3 (an
//! evaluation seed, never trained on), a quarter of the loop apart, with
//! Kinect-like depth noise. The mutual nearest neighbours of the learned
//! descriptors must be true correspondences (within 2 voxels after the
//! true motion) far more often than chance — the fraction of keypoint
//! pairs that are that close anyway. FPFH's ratio is printed beside it.

#![allow(clippy::unwrap_used)]

use cairn_core::PointCloud;
use cairn_core::transform::Rigid3;
use cairn_perception::describe::{
    DescribeConfig, DescribedCloud, DipDescriptor, Fpfh, LocalDescriptor, describe_cloud,
};
use cairn_perception::fpfh::Orientation;
use cairn_perception::l3d::{DipNetwork, mutual_nearest, voxel_downsample};
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

/// (MNN inlier ratio, chance ratio, MNN pairs).
fn inlier_ratio(a: &DescribedCloud, b: &DescribedCloud, b_from_a: &Rigid3) -> (f64, f64, usize) {
    let close = |i: usize, j: usize| {
        let p: Point3<f32> = (b_from_a * a.cloud.points()[a.keypoints[i]].cast::<f64>()).cast();
        (p - b.cloud.points()[b.keypoints[j]]).norm() <= 2.0 * VOXEL
    };
    let pairs = mutual_nearest(&a.descriptors, &b.descriptors).unwrap();
    let inliers = pairs.iter().filter(|&&(i, j)| close(i, j)).count();
    let (n, m) = (a.keypoints.len(), b.keypoints.len());
    let chance = (0..n).map(|i| (0..m).filter(|&j| close(i, j)).count()).sum::<usize>() as f64 / (n * m) as f64;
    (inliers as f64 / pairs.len().max(1) as f64, chance, pairs.len())
}

#[test]
fn committed_weights_match_a_held_out_pair_far_better_than_chance() {
    let (a, b, b_from_a) = views(3, 0, 3);
    let dip = DipDescriptor { network: DipNetwork::builtin().unwrap(), seed: 0 };
    let (ratio, chance, pairs) = inlier_ratio(&described(a.clone(), &dip), &described(b.clone(), &dip), &b_from_a);
    let fpfh = Fpfh { radius_m: 5.0 * VOXEL, max_neighbours: 100 };
    let (fpfh_ratio, _, fpfh_pairs) = inlier_ratio(&described(a, &fpfh), &described(b, &fpfh), &b_from_a);
    eprintln!(
        "held-out office 3, views 0 and 3: l3d MNN inlier ratio {ratio:.3} of {pairs} pairs, \
         FPFH {fpfh_ratio:.3} of {fpfh_pairs}, chance {chance:.4}"
    );
    assert!(pairs >= 20, "{pairs} mutual nearest neighbours");
    assert!(ratio > 10.0 * chance && ratio > 0.1, "inlier ratio {ratio} vs chance {chance}");
}
