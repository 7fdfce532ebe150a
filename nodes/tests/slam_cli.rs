//! `cairn slam` as users run it: one pose per frame, the per-frame log, the
//! ATE line when ground truth exists, one-line errors for a bad config.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("the cairn binary runs")
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn slam_writes_one_pose_per_frame_a_log_and_the_ate() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-slam", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // 12 frames of a slow stretch of the generated loop (≈ 4 cm per frame).
    let render = cairn(&["sim", "rgbd", "--out", &s(&dir), "--frames", "12", "--laps", "0.05", "--seed", "2"]);
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    let est = dir.join("est.tum");
    let run = cairn(&["slam", &s(&dir), "--out", &s(&est)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("12 frames") && stdout.contains("frames/s"), "{stdout}");
    assert!(stdout.contains("ATE RMSE (SE(3)-aligned)"), "{stdout}");
    let poses = std::fs::read_to_string(&est).expect("est.tum");
    assert_eq!(poses.lines().filter(|l| !l.starts_with('#')).count(), 12);
    let log = std::fs::read_to_string(dir.join("est.tum.log")).expect("per-frame log");
    assert_eq!(log.lines().filter(|l| !l.starts_with('#')).count(), 12);
    let tracked = log.lines().filter(|l| l.contains("\ttracking\t")).count();
    assert_eq!(tracked, 12, "{log}");

    // The same frames as a bag (TUM topics, /tf ground truth) give the same
    // poses.
    let bag = dir.join("bag");
    let convert = cairn(&["bag", "from-tum", &s(&dir), "--out", &s(&bag)]);
    assert!(convert.status.success(), "{}", String::from_utf8_lossy(&convert.stderr));
    let from_bag = dir.join("from_bag.tum");
    let run = cairn(&["slam", &s(&bag), "--out", &s(&from_bag)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("ATE RMSE"), "ground truth from /tf");
    let poses_only = |text: &str| -> Vec<String> {
        text.lines().map(|l| l.split_once(' ').map_or("", |p| p.1).to_owned()).collect()
    };
    let bag_poses = std::fs::read_to_string(&from_bag).expect("from_bag.tum");
    assert_eq!(poses_only(&bag_poses), poses_only(&poses));

    // Topics are chosen with --rgb-topic/--depth-topic/--info-topic; a
    // missing one is an error that lists what the bag has.
    let wrong = cairn(&["slam", &s(&bag), "--out", &s(&from_bag), "--rgb-topic", "/camera/color/image_raw"]);
    assert_eq!(wrong.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(stderr.contains("no topic /camera/color/image_raw"), "{stderr}");
    assert!(stderr.contains("/camera/depth/image") && stderr.contains("--rgb-topic"), "{stderr}");
    let no_info = cairn(&["slam", &s(&bag), "--out", &s(&from_bag), "--info-topic", "/none"]);
    assert!(
        String::from_utf8_lossy(&no_info.stderr).contains("no /none"),
        "{}",
        String::from_utf8_lossy(&no_info.stderr)
    );
    let calib = s(&dir.join("calib.yaml"));
    let with_file = cairn(&["slam", &s(&bag), "--out", &s(&from_bag), "--info-topic", "/none", "--calib", &calib]);
    assert!(with_file.status.success(), "{}", String::from_utf8_lossy(&with_file.stderr));
    let bag_poses = std::fs::read_to_string(&from_bag).expect("from_bag.tum");
    assert_eq!(poses_only(&bag_poses), poses_only(&poses));

    // A config with a typo is one error line naming the file, exit 1.
    let config = dir.join("bad.yaml");
    std::fs::write(&config, "cairn_slam:\n  ros__parameters:\n    tracking.max_point: 10\n").expect("config");
    let bad = cairn(&["slam", &s(&dir), "--out", &s(&est), "--config", &s(&config)]);
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("bad.yaml") && stderr.contains("did you mean tracking.max_points"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn untrackable_sequence_still_gets_one_pose_per_frame() {
    // A whole lap in 6 frames: every step is far too large to track.
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-slam-lost", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let render = cairn(&["sim", "rgbd", "--out", &s(&dir), "--frames", "6", "--seed", "2"]);
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    let est = dir.join("est.tum");
    let run = cairn(&["slam", &s(&dir), "--out", &s(&est)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("frames were not tracked"), "{stdout}");
    let poses = std::fs::read_to_string(&est).expect("est.tum");
    assert_eq!(poses.lines().filter(|l| !l.starts_with('#')).count(), 6);
    let log = std::fs::read_to_string(dir.join("est.tum.log")).expect("per-frame log");
    assert!(log.contains("\tlost:"), "{log}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// `--save-map` on the first lap of a two-lap loop, `--load-map` on a run
/// that starts a quarter into the second lap: it relocalises, and from then
/// on its poses are in the map's frame (the first lap's first camera).
#[test]
fn a_map_saved_from_one_lap_relocalises_a_run_from_an_unknown_pose() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-map", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let laps = dir.join("laps");
    let calib = concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml");
    let render = cairn(&[
        "sim",
        "rgbd",
        "--out",
        &s(&laps),
        "--scene",
        "office",
        "--path",
        "loop",
        "--laps",
        "2",
        "--frames",
        "300",
        "--seed",
        "21",
        "--calib",
        calib,
    ]);
    assert!(render.status.success(), "{}", String::from_utf8_lossy(&render.stderr));
    let map = dir.join("map");
    let lap1 = cairn(&[
        "slam",
        &s(&laps),
        "--frames",
        "150",
        "--loop",
        "none",
        "--save-map",
        &s(&map),
        "--out",
        &s(&dir.join("lap1.tum")),
    ]);
    assert!(lap1.status.success(), "{}", String::from_utf8_lossy(&lap1.stderr));
    assert!(String::from_utf8_lossy(&lap1.stdout).contains("keyframes saved to"));

    // The second run: frames 187… of the same folder.
    let lap2 = dir.join("lap2");
    std::fs::create_dir_all(&lap2).expect("lap2");
    for file in ["calib.yaml", "groundtruth.txt"] {
        std::fs::copy(laps.join(file), lap2.join(file)).expect("copy");
    }
    for list in ["rgb.txt", "depth.txt"] {
        let text = std::fs::read_to_string(laps.join(list)).expect("list");
        let (header, frames): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| l.starts_with('#'));
        let kept: Vec<&str> = header.into_iter().chain(frames.into_iter().skip(187)).collect();
        let rewritten = kept
            .join("\n")
            .replace(" rgb/", &format!(" {}/rgb/", s(&laps)))
            .replace(" depth/", &format!(" {}/depth/", s(&laps)));
        std::fs::write(lap2.join(list), rewritten + "\n").expect("list");
    }
    let est = dir.join("lap2.tum");
    let run = cairn(&["slam", &s(&lap2), "--loop", "none", "--load-map", &s(&map), "--out", &s(&est)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    let line = stdout.lines().find(|l| l.starts_with("relocalised at")).unwrap_or_else(|| panic!("{stdout}"));
    let stamp: f64 = line.split_whitespace().nth(2).and_then(|t| t.parse().ok()).expect("a stamp");

    // The relocalised pose against the truth in the map's frame.
    let read =
        |path: &Path| cairn_core::Trajectory::read(path, cairn_core::trajectory::TrajectoryFormat::Tum).expect("tum");
    let (truth, estimate) = (read(&laps.join("groundtruth.txt")), read(&est));
    let truth_stamps = truth.stamps.clone().expect("stamps");
    let pose_at = |stamps: &[f64], poses: &[cairn_core::transform::Rigid3], t: f64| {
        let k = stamps.iter().position(|s| (s - t).abs() < 1e-4).expect("a pose at the stamp");
        poses[k]
    };
    let map_from_world = truth.world_from_body[0].inverse();
    let expected = map_from_world * pose_at(&truth_stamps, &truth.world_from_body, stamp);
    let got = pose_at(estimate.stamps.as_deref().expect("stamps"), &estimate.world_from_body, stamp);
    let error = expected.translation.vector.metric_distance(&got.translation.vector);
    eprintln!("{line}; relocalised {:.2} s into the run, {error:.4} m from the truth", stamp - truth_stamps[187]);
    assert!(error < 0.05, "relocalised {error} m from the truth");

    // A missing map is one error line that names it.
    let missing = cairn(&["slam", &s(&lap2), "--load-map", &s(&dir.join("none")), "--out", &s(&est)]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("--load-map") && stderr.contains("map.json"), "{stderr}");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
