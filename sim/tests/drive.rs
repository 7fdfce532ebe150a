//! Acceptance of multi-modal drives: LiDAR points lie on scene surfaces,
//! each box holds its object's points, boxes projected with the written
//! calibration (`lidar2img = pad4(cam2img) · lidar2cam`) land on their
//! object's pixels, the set reads back, and same seed → same bytes.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use cairn_core::samples::{Instance, SampleSet};
use cairn_sim::drive::{Drive, DriveOptions, DriveSample, write_drive};
use cairn_sim::geometry::V3;
use cairn_sim::rig::Rig;
use cairn_sim::scene::NO_OBJECT;
use nalgebra::{Matrix4, Point3, Vector4};

fn drive(seed: u64, noise: bool) -> Drive {
    let options = DriveOptions { samples: 2, seed, noise, image_scale: 0.25, ..Default::default() };
    Drive::new(options, &Rig::nuscenes().unwrap()).unwrap()
}

/// The distance from `p` to the nearest surface of the scene (rectangles
/// and boxes), by brute force.
fn distance_to_surfaces(scene: &cairn_sim::Scene, p: &V3) -> f32 {
    let to_rects = scene.rects.iter().map(|r| {
        let rel = p - r.origin;
        let (s, t) = (rel.dot(&r.edge_s) / r.edge_s.norm_squared(), rel.dot(&r.edge_t) / r.edge_t.norm_squared());
        let closest = r.origin + r.edge_s * s.clamp(0.0, 1.0) + r.edge_t * t.clamp(0.0, 1.0);
        (p - closest).norm()
    });
    to_rects.chain(scene.cuboids.iter().map(|c| c.distance(p))).fold(f32::MAX, f32::min)
}

#[test]
fn ideal_lidar_points_lie_on_scene_surfaces() {
    let drive = drive(11, false);
    let sample = drive.sample(1).unwrap();
    let scene = drive.scene(1);
    let world_from_lidar = drive.world_from_lidar(Drive::time(1)).cast::<f32>();
    assert!(sample.scan.points.len() > 30_000, "{} points", sample.scan.points.len());
    // Every 17th point, checked against all rectangles by brute force.
    for p in sample.scan.points.iter().step_by(17) {
        let p_in_world = world_from_lidar * Point3::from(p.p_in_lidar);
        let d = distance_to_surfaces(&scene, &p_in_world.coords);
        assert!(d < 2e-3, "{p:?} is {d} m off every surface");
    }
}

/// The LiDAR points that hit the object of `sample`'s instance `k`.
fn object_points(sample: &DriveSample, k: usize) -> Vec<Point3<f64>> {
    let id = sample.instance_ids[k];
    sample.scan.points.iter().filter(|p| p.object == id).map(|p| Point3::from(p.p_in_lidar).cast::<f64>()).collect()
}

/// `box` grown by `margin` metres on every side.
fn inflated(b: &Instance, margin: f64) -> Instance {
    let mut b = b.clone();
    let [_, _, z, l, w, h, _] = b.bbox_3d;
    b.bbox_3d[2] = z - margin;
    b.bbox_3d[3] = l + 2.0 * margin;
    b.bbox_3d[4] = w + 2.0 * margin;
    b.bbox_3d[5] = h + 2.0 * margin;
    b
}

#[test]
fn each_box_holds_its_objects_points() {
    for noise in [false, true] {
        let sample = drive(12, noise).sample(0).unwrap();
        let instances = &sample.info.instances;
        let (mut inside, mut total, mut with_points) = (0usize, 0usize, 0usize);
        for (k, b) in instances.iter().enumerate() {
            let points = object_points(&sample, k);
            // Noise-free points are on the object's parts, inside its box
            // (the shape keeps 2 cm clear of the box); noisy ones within 4σ.
            let margin = if noise { 0.08 } else { 0.0 };
            let grown = inflated(b, margin);
            for p in &points {
                assert!(grown.contains(p), "{:?} point {p} outside {:?}", b.bbox_label, b.bbox_3d);
            }
            inside += points.iter().filter(|p| b.contains(p)).count();
            total += points.len();
            with_points += usize::from(!points.is_empty());
            assert!(b.num_lidar_pts as usize >= points.iter().filter(|p| b.contains(p)).count());
            assert_eq!(b.bbox_3d_isvalid, b.num_lidar_pts > 0);
        }
        assert!(with_points >= 15, "only {with_points} boxes have points");
        let share = if noise { 0.75 } else { 1.0 };
        assert!(inside as f64 >= share * total as f64, "{inside} of {total} object points inside their boxes");
        // Points hit objects that have boxes (all objects within range do).
        let ids: std::collections::HashSet<u32> = sample.instance_ids.iter().copied().collect();
        let stray = sample.scan.points.iter().filter(|p| p.object != NO_OBJECT && !ids.contains(&p.object)).count();
        assert_eq!(stray, 0);
    }
}

#[test]
fn projected_boxes_land_on_their_objects_pixels() {
    let drive = drive(13, true);
    let sample = drive.sample(1).unwrap();
    let (mut centres, mut centre_hits, mut checked) = (0, 0, 0);
    for (camera, view) in drive.rig.cameras.iter().zip(&sample.views) {
        // lidar2img from the written sample-set numbers.
        let record = &sample.info.images[&camera.name];
        let k = record.cam2img;
        let pad4 = Matrix4::new(
            k[0][0], k[0][1], k[0][2], 0.0, k[1][0], k[1][1], k[1][2], 0.0, k[2][0], k[2][1], k[2][2], 0.0, 0.0, 0.0,
            0.0, 1.0,
        );
        let lidar2img = pad4 * Matrix4::from_fn(|r, c| record.lidar2cam[r][c]);
        let project = |p: &Point3<f64>| {
            let q = lidar2img * Vector4::new(p.x, p.y, p.z, 1.0);
            (q.z > 0.1).then(|| (q.x / q.z, q.y / q.z))
        };
        let (w, h) = (camera.width as usize, camera.height as usize);
        for (i, b) in sample.info.instances.iter().enumerate() {
            let id = sample.instance_ids[i];
            let pixels: Vec<(usize, usize)> =
                (0..w * h).filter(|&p| view.object[p] == id).map(|p| (p % w, p / w)).collect();
            let corners: Option<Vec<(f64, f64)>> = b.corners().iter().map(project).collect();
            let Some(corners) = corners else { continue };
            let (u0, u1) = corners.iter().fold((f64::MAX, f64::MIN), |(lo, hi), c| (lo.min(c.0), hi.max(c.0)));
            let (v0, v1) = corners.iter().fold((f64::MAX, f64::MIN), |(lo, hi), c| (lo.min(c.1), hi.max(c.1)));
            // Every pixel of the object lies inside its projected box.
            for &(u, v) in &pixels {
                let (u, v) = (u as f64, v as f64);
                assert!(u >= u0 - 1.0 && u <= u1 + 1.0 && v >= v0 - 1.0 && v <= v1 + 1.0, "{} {:?}", camera.name, b);
            }
            checked += usize::from(!pixels.is_empty());
            // The box's centre projects onto the object when it is well visible.
            let [x, y, z, _, _, bh, _] = b.bbox_3d;
            if b.visibility == Some(4)
                && let Some((u, v)) = project(&Point3::new(x, y, z + bh / 2.0))
                && u >= 0.0
                && v >= 0.0
                && (u.round() as usize) < w
                && (v.round() as usize) < h
            {
                centres += 1;
                centre_hits += usize::from(view.object[v.round() as usize * w + u.round() as usize] == id);
            }
        }
    }
    assert!(checked >= 15, "only {checked} objects seen");
    assert!(centres >= 10 && centre_hits as f64 >= 0.9 * centres as f64, "{centre_hits} of {centres} centres hit");
}

/// Every file under `dir` (name → bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap())
        })
        .collect()
}

#[test]
fn drives_write_readable_sets_byte_identical_per_seed() {
    let root = common::scratch("drive");
    let rig = Rig::nuscenes().unwrap();
    let write = |seed: u64, name: &str| {
        let options = DriveOptions { samples: 2, seed, image_scale: 0.125, ..Default::default() };
        let mut calls = 0;
        write_drive(&options, &rig, &root.join(name), |p| {
            calls += 1;
            assert_eq!((p.done, p.total), (calls, 2));
        })
        .unwrap();
        files(&root.join(name))
    };
    let (a, b, c) = (write(21, "a"), write(21, "b"), write(22, "c"));
    // Index + 2 × (6 images + 1 sweep).
    assert_eq!(a.len(), 15, "{:?}", a.keys());
    assert_eq!(a, b);
    assert_ne!(a["sample_info.json"], c["sample_info.json"]);
    let set = SampleSet::read(&root.join("a")).unwrap();
    assert_eq!(set.data_list.len(), 2);
    let (first, second) = (&set.data_list[0], &set.data_list[1]);
    assert!((second.timestamp - first.timestamp - 0.5).abs() < 1e-6);
    assert_ne!(first.token, second.token);
    // The ego moved forward along its lane (ego x is forward).
    let moved = first.global_from_ego().unwrap().inverse() * second.global_from_ego().unwrap();
    assert!(moved.translation.x > 3.0 && moved.translation.y.abs() < 0.1, "{moved}");
    let sweep = set.read_lidar(first).unwrap();
    assert!(sweep.cloud.len() > 30_000 && sweep.ring.iter().all(|&r| r < 32));
    assert_eq!(first.images.len(), 6);
    // Synchronised sensors: lidar2cam = inv(cam2ego) · lidar2ego, and the
    // rig's mounting and intrinsics (scaled) are the nuScenes ones.
    let ego_from_lidar = first.lidar_points.ego_from_lidar().unwrap();
    assert_eq!(first.lidar_points.lidar2ego, rig.lidar2ego);
    for camera in &rig.cameras {
        let record = &first.images[&camera.name];
        assert_eq!(record.cam2ego, camera.cam2ego);
        assert!((record.cam2img[0][0] - camera.cam2img[0][0] / 8.0).abs() < 1e-9);
        let derived = record.ego_from_camera().unwrap().inverse() * ego_from_lidar;
        let written = record.camera_from_lidar().unwrap();
        assert!((derived.to_homogeneous() - written.to_homogeneous()).abs().max() < 1e-9, "{}", camera.name);
    }
    assert!(first.instances.iter().any(|i| i.velocity[0].hypot(i.velocity[1]) > 1.0), "nothing moves");
    // Writing into an existing set is refused.
    let options = DriveOptions { samples: 1, image_scale: 0.125, ..Default::default() };
    assert!(write_drive(&options, &rig, &root.join("a"), |_| {}).is_err());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn samples_do_not_depend_on_the_thread_count() {
    let drive = drive(14, true);
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one.install(|| drive.sample(1).unwrap());
    let b = three.install(|| drive.sample(1).unwrap());
    assert_eq!(a.info, b.info);
    assert_eq!(a.scan, b.scan);
    assert_eq!(a.views, b.views);
}
