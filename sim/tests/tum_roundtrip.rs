//! Acceptance (e): a sequence written by `render_rgbd_sequence` (TUM
//! writer) and read back by `TumDataset` gives the same stamps, poses, images
//! and (quantised) depths.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

mod common;

use cairn_sim::noise::frame_seed;
use cairn_sim::{RgbdCamera, Scene, SceneKind, SequenceOptions, TumDataset, render_rgbd_sequence};

#[test]
fn written_sequence_reads_back_identically() {
    let dir = common::scratch("roundtrip");
    let scene = Scene::generate(SceneKind::Office, 2);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let options = SequenceOptions { frames: Some(4), noise_seed: 9, ..Default::default() };
    let mut progress = Vec::new();
    let written = render_rgbd_sequence(&scene, &camera, &options, &dir, |p| progress.push(p.done)).unwrap();
    assert_eq!(progress, vec![1, 2, 3, 4]);

    let dataset = TumDataset::open(&dir, None).unwrap();
    assert_eq!(dataset.calibration, camera.calibration);
    assert_eq!(dataset.frames.len(), 4);
    let stamps = written.stamps.as_ref().unwrap();
    for (k, frame) in dataset.frames.iter().enumerate() {
        assert!((frame.stamp - stamps[k]).abs() < 1e-6);
        assert_eq!(frame.depth_stamp, frame.stamp);
        assert_eq!(frame.world_from_camera, Some(written.world_from_body[k]), "pose {k}");
        let rendered = camera.render(&scene, &written.world_from_body[k], Some(frame_seed(9, k as u64))).unwrap();
        assert_eq!(dataset.load_rgb(k).unwrap(), rendered.rgb);
        let depth = dataset.load_depth(k).unwrap();
        assert_eq!(depth.valid_count(), rendered.depth.valid_count());
        for (a, b) in depth.data.iter().zip(&rendered.depth.data) {
            assert!((a - b).abs() <= 0.5 / 5000.0 + 1e-6, "{a} vs {b}");
        }
    }
    let lists = std::fs::read_to_string(dir.join("rgb.txt")).unwrap();
    assert!(lists.starts_with("# "));
    let first = lists.lines().find(|l| !l.starts_with('#')).unwrap();
    assert_eq!(first, format!("{0:.6} rgb/{0:.6}.png", stamps[0]));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn explicit_calibration_wins_over_calib_yaml() {
    let dir = common::scratch("explicit-calib");
    let scene = Scene::generate(SceneKind::Office, 2);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let options = SequenceOptions { frames: Some(2), noise: false, ..Default::default() };
    render_rgbd_sequence(&scene, &camera, &options, &dir, |_| {}).unwrap();
    let fr3 = concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr3.yaml");
    let dataset = TumDataset::open(&dir, Some(fr3.as_ref())).unwrap();
    assert_eq!(dataset.calibration.camera().fx, 535.4);
    std::fs::remove_file(dir.join("calib.yaml")).unwrap();
    assert!(TumDataset::open(&dir, None).unwrap_err().to_string().contains("--calib"));
    std::fs::remove_dir_all(dir).unwrap();
}
