//! Acceptance (b): same seed → byte-identical output files; different seeds
//! → different scenes and images.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use cairn_sim::{RgbdCamera, Scene, SceneKind, SequenceOptions, render_rgbd_sequence};

/// Every file under `dir` (relative path → bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn render(seed: u64, dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let scene = Scene::generate(SceneKind::Office, seed);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let options = SequenceOptions { frames: Some(3), noise_seed: seed, ..Default::default() };
    render_rgbd_sequence(&scene, &camera, &options, dir, |_| {}).unwrap();
    files(dir)
}

#[test]
fn same_seed_gives_identical_files_other_seed_differs() {
    let root = common::scratch("determinism");
    let a = render(5, &root.join("a"));
    let b = render(5, &root.join("b"));
    let c = render(6, &root.join("c"));
    // 3 rgb + 3 depth + rgb.txt + depth.txt + groundtruth.txt + calib.yaml.
    assert_eq!(a.len(), 10, "{:?}", a.keys().collect::<Vec<_>>());
    assert_eq!(a, b);
    let first_rgb = a.keys().find(|k| k.starts_with("rgb/")).unwrap().clone();
    assert_ne!(a[&first_rgb], c[&first_rgb], "seed 6 renders the same image as seed 5");
    let depth = first_rgb.replace("rgb/", "depth/");
    assert_ne!(a[&depth], c[&depth]);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn different_seeds_build_different_scenes() {
    let scenes: Vec<Scene> = (0..4).map(|seed| Scene::generate(SceneKind::Office, seed)).collect();
    for i in 0..4 {
        assert_eq!(scenes[i].rects, Scene::generate(SceneKind::Office, i as u64).rects);
        for j in i + 1..4 {
            assert_ne!(scenes[i].rects, scenes[j].rects, "seeds {i} and {j}");
            assert_ne!(scenes[i].textures, scenes[j].textures);
        }
    }
}

#[test]
fn noise_is_seeded_per_frame() {
    let scene = Scene::generate(SceneKind::Office, 1);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let pose =
        cairn_sim::sequence::camera_trajectory(&scene, &SequenceOptions::default()).unwrap().0.world_from_body[0];
    let a = camera.render(&scene, &pose, Some(1)).unwrap();
    assert_eq!(a, camera.render(&scene, &pose, Some(1)).unwrap());
    let b = camera.render(&scene, &pose, Some(2)).unwrap();
    assert_ne!(a.rgb, b.rgb);
    assert_ne!(a.depth, b.depth);
}

#[test]
fn frames_do_not_depend_on_the_thread_count() {
    let scene = Scene::generate(SceneKind::Office, 3);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let pose =
        cairn_sim::sequence::camera_trajectory(&scene, &SequenceOptions::default()).unwrap().0.world_from_body[7];
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let three = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
    let a = one.install(|| camera.render(&scene, &pose, Some(4)).unwrap());
    let b = three.install(|| camera.render(&scene, &pose, Some(4)).unwrap());
    assert_eq!(a, b);
}
