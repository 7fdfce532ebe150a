//! `cairn loop register` as users run it: two PLY files in, the motion
//! between them out (text or JSON), one-line errors for bad files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cairn_core::PointCloud;
use cairn_core::ply::{self, Encoding};
use cairn_core::transform::Rigid3;
use nalgebra::{Matrix4, Point3, Translation3, UnitQuaternion};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("the cairn binary runs")
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Terrain of uneven Gaussian bumps (no repeating pattern) over
/// `x ∈ [x0, x0 + 1.2)`, y ∈ [0, 1), sampled every 1 cm.
fn terrain(x0: f32) -> Vec<Point3<f32>> {
    let bumps = [
        (0.2, 0.3, 0.10, 0.15),
        (0.7, 0.6, 0.06, -0.08),
        (0.5, 0.1, 0.15, 0.12),
        (1.0, 0.8, 0.08, 0.2),
        (0.9, 0.3, 0.12, -0.1),
        (0.3, 0.8, 0.05, 0.07),
        (1.3, 0.5, 0.1, 0.1),
    ];
    let mut points = Vec::new();
    for i in 0..120 {
        for j in 0..100 {
            let (x, y) = (x0 + i as f32 * 0.01, j as f32 * 0.01);
            let z: f32 = bumps
                .iter()
                .map(|&(bx, by, width, height)| {
                    height * (-((x - bx).powi(2) + (y - by).powi(2)) / (2.0 * width * width)).exp()
                })
                .sum();
            points.push(Point3::new(x, y, z));
        }
    }
    points
}

#[test]
fn register_recovers_the_motion_between_overlapping_clouds() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-loop", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let truth =
        Rigid3::from_parts(Translation3::new(0.4, -0.3, 0.2), UnitQuaternion::from_euler_angles(0.2, -0.3, 0.8));
    let mut target = PointCloud::default();
    terrain(0.0).into_iter().for_each(|p| target.push(p));
    // The source sees x ∈ [0.4, 1.6): two thirds overlap, in its own frame.
    let mut source = PointCloud::default();
    for p in terrain(0.4) {
        source.push((truth.inverse() * p.cast::<f64>()).cast());
    }
    let (t, s_) = (dir.join("target.ply"), dir.join("source.ply"));
    ply::write(&t, &target, Encoding::Ascii).expect("target");
    ply::write(&s_, &source, Encoding::BinaryLittleEndian).expect("source");

    let run = cairn(&["loop", "register", &s(&t), &s(&s_), "--voxel", "0.02", "--json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let json: serde_json::Value = serde_json::from_slice(&run.stdout).expect("one JSON object");
    let rows = json["target_from_source"].as_array().expect("4 rows");
    let matrix = Matrix4::from_fn(|r, c| rows[r][c].as_f64().expect("number"));
    let error = cairn_core::transform::to_matrix(&truth).try_inverse().expect("invertible") * matrix;
    let rotation_deg = ((error.fixed_view::<3, 3>(0, 0).trace() - 1.0) / 2.0).clamp(-1.0, 1.0).acos().to_degrees();
    let translation_m = error.fixed_view::<3, 1>(0, 3).norm();
    assert!(rotation_deg < 2.0 && translation_m < 0.03, "{rotation_deg}° {translation_m} m: {json}");
    assert!(json["overlap"].as_f64().expect("overlap") > 0.0 && json["mnn"].as_u64().expect("mnn") > 10, "{json}");
    assert!(json["timings_ms"]["total"].as_f64().expect("total") > 0.0);

    let text = cairn(&["loop", "register", &s(&t), &s(&s_), "--voxel", "0.02"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("target_from_source") && stdout.contains("overlap"), "{stdout}");

    // A missing file and a truncated file: one error line each, exit 1.
    let missing = cairn(&["loop", "register", &s(&dir.join("nope.ply")), &s(&s_)]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("nope.ply") && stderr.lines().count() == 1, "{stderr}");
    let bytes = std::fs::read(&s_).expect("source bytes");
    let cut = dir.join("cut.ply");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("cut");
    let truncated = cairn(&["loop", "register", &s(&t), &s(&cut)]);
    assert_eq!(truncated.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&truncated.stderr);
    assert!(stderr.contains("cut.ply") && stderr.contains("truncated"), "{stderr}");

    // The GPU path in a build without it (or on a machine without a GPU):
    // one error line that says what is needed, exit 1.
    if !cfg!(feature = "cuda") {
        let gpu = cairn(&["loop", "register", &s(&t), &s(&s_), "--device", "cuda"]);
        assert_eq!(gpu.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&gpu.stderr);
        assert!(stderr.contains("--features cuda"), "{stderr}");
    }
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// `cairn slam --loop fpfh|none|l3d` and `cairn loop eval` on a short rendered
/// sequence (QVGA, 24 frames of a corridor lap: too short to revisit).
#[test]
fn slam_logs_loop_decisions_and_loop_eval_scores_them() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-loop-eval", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let calib = concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml");
    let seq = dir.join("seq");
    let args = ["sim", "rgbd", "--out", &s(&seq), "--path", "corridor", "--laps", "0.1", "--frames", "24"];
    let render = cairn(&[&args[..], &["--calib", calib]].concat());
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    let est = dir.join("est.tum");
    let run = cairn(&["slam", &s(&seq), "--out", &s(&est), "--loop", "fpfh"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("keyframes checked, 0 loops accepted") && stdout.contains("describe"), "{stdout}");
    let loops = std::fs::read_to_string(dir.join("est.tum.loops")).expect("the loop log");
    assert!(loops.starts_with("# keyframe\toutcome") && loops.contains("no_candidates"), "{loops}");

    let quiet = dir.join("quiet.tum");
    let none = cairn(&["slam", &s(&seq), "--out", &s(&quiet), "--loop", "none"]);
    assert!(none.status.success() && !String::from_utf8_lossy(&none.stdout).contains("loops:"));
    assert!(!dir.join("quiet.tum.loops").exists());

    let eval = cairn(&["loop", "eval", &s(&seq), "--json"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let json: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("one JSON object");
    assert_eq!(json["false_positives"].as_u64(), Some(0), "{json}");
    assert!(json["ate_with_loops_m"].as_f64().expect("ATE") < 0.05, "{json}");

    // The learned descriptor, built in; costs per keyframe reported.
    let l3d = cairn(&["loop", "eval", &s(&seq), "--descriptor", "l3d", "--json"]);
    assert!(l3d.status.success(), "{}", String::from_utf8_lossy(&l3d.stderr));
    let json: serde_json::Value = serde_json::from_slice(&l3d.stdout).expect("one JSON object");
    assert_eq!(json["descriptor"].as_str(), Some("l3d"), "{json}");
    assert_eq!(json["false_positives"].as_u64(), Some(0), "{json}");
    assert!(json["describe_ms"].as_f64().expect("describe_ms") > 0.0, "{json}");
    // Weights that are not there: one clear error line.
    let bad = cairn(&["slam", &s(&seq), "--out", &s(&est), "--loop", "l3d", "--weights", &s(&dir)]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("DIP weights") && stderr.contains("dip.json"), "{stderr}");

    // No ground truth: one error line before any tracking, exit 1.
    std::fs::remove_file(seq.join("groundtruth.txt")).expect("remove ground truth");
    let missing = cairn(&["loop", "eval", &s(&seq)]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("no groundtruth.txt") && stderr.lines().count() == 1, "{stderr}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
