//! Per-keyframe cost of the descriptors: renders one view of cairn-sim
//! office scene 3 (QVGA TUM fr1 sensor, Kinect-like noise), builds the
//! keyframe cloud as the loop detector does (every second pixel up to 4 m,
//! 5 cm voxels), picks 1000 random keypoints with a normal, and times each
//! stage — normals, DIP's canonical patches, the DIP network (built-in
//! weights), FPFH on the same keypoints — as the fastest of 10 runs on this
//! thread (the network's matrix products may use more threads; the machine
//! is shared, so the fastest run is the fair figure).
//!
//! `cargo bench -p cairn-perception --bench dip` (optionally `-- KEYPOINTS`).
//! It prints figures and asserts nothing about speed.

use std::time::Instant;

use cairn_core::PointCloud;
use cairn_perception::describe::{DipDescriptor, Fpfh, LocalDescriptor};
use cairn_perception::fpfh::{Orientation, estimate_normals};
use cairn_perception::l3d::{DipNetwork, KeypointSampling, Neighbours, canonical_patches, keypoints, voxel_downsample};
use cairn_perception::l3d::{mutual_nearest, mutual_nearest_on};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use nalgebra::Point3;

fn fastest_ms<T>(runs: usize, mut work: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = work();
            let ms = start.elapsed().as_secs_f64() * 1e3;
            drop(out);
            ms
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1000);
    let camera = RgbdCamera::from_yaml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml"))?;
    let scene = Scene::generate(SceneKind::Office, 3);
    let path = generate(&scene, PathShape::Loop, 1.0, 40, 30.0)?;
    let frame = camera.render(&scene, &path.world_from_body[0], Some(300_000))?;
    let cloud = PointCloud::from_depth(&frame.depth, &camera.camera, 2)?;
    let mut near = PointCloud::with_capacity(cloud.len());
    for p in cloud.points().filter(|p| p.z <= 4.0) {
        near.push(p);
    }
    let cloud = Neighbours::new(voxel_downsample(&near, 0.05)?)?;
    let viewpoint = Orientation::Viewpoint(Point3::origin());
    let normals = estimate_normals(&cloud, 0.1, 30, viewpoint);
    let with_normal: Vec<usize> = (0..normals.len()).filter(|&i| normals[i].is_some()).collect();
    let chosen = keypoints(&vec![Point3::origin(); with_normal.len()], count, KeypointSampling::Random, 0);
    let which: Vec<usize> = chosen.into_iter().map(|k| with_normal[k]).collect();

    let dip = DipDescriptor { network: DipNetwork::builtin()?, seed: 0 };
    let config = dip.network.config().clone();
    let patches = canonical_patches(&cloud, &which, config.patch_radius_m, config.points, 0);
    let fpfh = Fpfh { radius_m: 0.25, max_neighbours: 100 };
    let normals_ms = fastest_ms(10, || estimate_normals(&cloud, 0.1, 30, viewpoint));
    let patches_ms = fastest_ms(10, || canonical_patches(&cloud, &which, config.patch_radius_m, config.points, 0));
    let network_ms = fastest_ms(10, || dip.network.describe(&patches));
    let dip_ms = fastest_ms(10, || dip.describe(&cloud, &normals, &which));
    let fpfh_ms = fastest_ms(10, || fpfh.describe(&cloud, &normals, &which));
    println!(
        "keyframe cloud: {} points, {} keypoints, {} with a repeatable frame (DIP patches)",
        cloud.points().len(),
        which.len(),
        patches.len()
    );
    println!("normals {normals_ms:.1} ms (both descriptors need them for keypoint choice)");
    println!(
        "DIP: patches {patches_ms:.1} ms + network {network_ms:.1} ms ({:.1} µs/patch) = {dip_ms:.1} ms",
        1e3 * network_ms / patches.len().max(1) as f64
    );
    println!("FPFH on the same keypoints: {fpfh_ms:.1} ms");
    // Mutual nearest neighbours between this keyframe's DIP descriptors and
    // another view's: the exact blocked search against the tensor path on
    // the CPU device (the code the `cuda` feature runs on a GPU).
    let other = camera.render(&scene, &path.world_from_body[10], Some(300_010))?;
    let other_cloud = PointCloud::from_depth(&other.depth, &camera.camera, 2)?;
    let other_cloud = Neighbours::new(voxel_downsample(&other_cloud, 0.05)?)?;
    let other_which: Vec<usize> =
        (0..other_cloud.points().len()).step_by(other_cloud.points().len() / count.max(1) + 1).collect();
    let a = dip.describe(&cloud, &normals, &which)?.descriptors;
    let b = dip.describe(&other_cloud, &[], &other_which)?.descriptors;
    let exact_ms = fastest_ms(10, || mutual_nearest(&a, &b));
    let tensor_ms = fastest_ms(10, || mutual_nearest_on(&a, &b, &candle_core::Device::Cpu));
    println!(
        "MNN {} × {} DIP descriptors: exact blocked {exact_ms:.2} ms, tensor path on the CPU device {tensor_ms:.2} ms",
        a.len(),
        b.len()
    );
    Ok(())
}
