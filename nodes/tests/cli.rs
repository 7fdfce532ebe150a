//! The `cairn` binary as users run it: exit codes, one-line errors, JSON keys.

use std::path::PathBuf;
use std::process::{Command, Output};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("the cairn binary runs")
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data").join(name);
    path.display().to_string()
}

fn scratch(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("cairn-cli-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("temp file is writable");
    path.display().to_string()
}

#[test]
fn ate_json_has_exactly_the_documented_keys() {
    let out =
        cairn(&["eval", "ate", "--gt", &fixture("fr1_xyz_gt.tum"), "--est", &fixture("fr1_xyz_est.tum"), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let mut keys: Vec<_> = value.as_object().expect("an object").keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["max", "mean", "median", "min", "pairs", "rmse", "sse", "std", "unit"]);
    assert_eq!(value["pairs"], 285);
    assert_eq!(value["unit"], "m");
    let rmse = value["rmse"].as_f64().expect("rmse is a number");
    assert!(rmse > 0.01 && rmse < 0.2, "a drifting estimate has centimetre-level ATE, got {rmse}");
}

#[test]
fn rpe_rotation_reports_degrees() {
    let (gt, est) = (fixture("fr1_xyz_gt.tum"), fixture("fr1_xyz_est.tum"));
    let out = cairn(&["eval", "rpe", "--gt", &gt, "--est", &est, "--relation", "rot", "--delta", "5", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(value["unit"], "deg");
}

#[test]
fn human_output_names_metric_and_alignment() {
    let (gt, est) = (fixture("fr1_xyz_gt.tum"), fixture("fr1_xyz_est.tum"));
    let out = cairn(&["eval", "ate", "--gt", &gt, "--est", &est, "--align", "sim3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ATE") && text.contains("Sim(3)") && text.contains("rmse"), "{text}");
}

#[test]
fn missing_file_is_one_error_line_and_exit_1() {
    let out = cairn(&["eval", "ate", "--gt", "/nonexistent/gt.txt", "--est", &fixture("fr1_xyz_est.tum")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: reading the ground truth: /nonexistent/gt.txt: "), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn malformed_line_error_names_file_and_line() {
    let est = scratch("bad.tum", "# header\n0 0 0 0 0 0 0 1\n0.1 0 0 0 0 0 1\n");
    let out = cairn(&["eval", "ate", "--gt", &fixture("fr1_xyz_gt.tum"), "--est", &est]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{est}:3: expected 8 numbers, found 7")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn unmatched_stamps_and_kitti_length_mismatch_are_errors() {
    let far = scratch("far.tum", "5 0 0 0 0 0 0 1\n6 1 0 0 0 0 0 1\n7 1 1 0 0 0 0 1\n");
    let out = cairn(&["eval", "ate", "--gt", &fixture("fr1_xyz_gt.tum"), "--est", &far]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no matching timestamps"));
    let three = scratch("a.kitti", &"1 0 0 0 0 1 0 0 0 0 1 0\n".repeat(3));
    let two = scratch("b.kitti", &"1 0 0 0 0 1 0 0 0 0 1 0\n".repeat(2));
    let out = cairn(&["eval", "ate", "--format", "kitti", "--gt", &three, "--est", &two]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("same number of poses"));
}

#[test]
fn degenerate_alignment_is_an_error_not_a_panic() {
    let line = scratch("line.tum", "0 0 0 0 0 0 0 1\n1 1 0 0 0 0 0 1\n2 2 0 0 0 0 0 1\n");
    let out = cairn(&["eval", "ate", "--gt", &line, "--est", &line]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("degenerate"));
    let out = cairn(&["eval", "ate", "--gt", &line, "--est", &line, "--align", "none", "--json"]);
    assert!(out.status.success());
}

#[test]
fn usage_errors_exit_2() {
    let out = cairn(&["eval", "ate", "--gt", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cairn(&["eval", "rpe", "--gt", "x", "--est", "y", "--unit", "parsecs"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Writes a small bag (two topics) with cairn's writer; returns its directory.
fn small_bag(name: &str) -> PathBuf {
    use cairn_bags::storage::{BagWriter, Connection};
    let dir = std::env::temp_dir().join(format!("cairn-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut writer = BagWriter::create(&dir).expect("bag dir is creatable");
    let connection = |topic: &str| Connection {
        topic: topic.into(),
        type_name: "std_msgs/msg/String".into(),
        definition: "string data\n".into(),
        serialization_format: "cdr".into(),
        offered_qos_profiles: String::new(),
    };
    let a = writer.add_connection(connection("/a")).expect("connection");
    let b = writer.add_connection(connection("/b")).expect("connection");
    for i in 0..30u64 {
        writer
            .write(if i % 3 == 0 { b } else { a }, 5_000_000_000 + i * 100_000_000, &[0, 1, 0, 0, 1, 0, 0, 0, 0])
            .expect("write");
    }
    writer.finish().expect("finish")
}

#[test]
fn bag_info_json_counts_topics() {
    let dir = small_bag("info");
    let out = cairn(&["bag", "info", &dir.display().to_string(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["storage"], "mcap");
    assert_eq!(v["message_count"], 30);
    assert_eq!(v["duration_ns"], 2_900_000_000u64);
    assert_eq!(v["topics"][0], serde_json::json!({"name": "/a", "type": "std_msgs/msg/String", "count": 20}));
    assert_eq!(v["topics"][1]["count"], 10);
    let text = cairn(&["bag", "info", &dir.display().to_string()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Storage id:        mcap") && text.contains("Topic: /b | Type: std_msgs/msg/String | Count: 10"),
        "{text}"
    );
}

#[test]
fn bag_info_on_a_truncated_bag_fails_clearly_and_recovers_on_request() {
    let dir = small_bag("truncated");
    let file = dir
        .join("cairn-cli-truncated_0.mcap".replace("cairn-cli-truncated", &dir.file_name().unwrap().to_string_lossy()));
    let bytes = std::fs::read(&file).expect("bag file");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    let out = cairn(&["bag", "info", &dir.display().to_string(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(".mcap") && stderr.contains("--recover"), "{stderr}");
    let out = cairn(&["bag", "info", &dir.display().to_string(), "--json", "--recover"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning:"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    // The cut lands after the one data chunk: every message is intact.
    assert!(v["message_count"].as_u64().expect("count") <= 30);
}

#[test]
fn sim_rgbd_writes_a_tum_folder_that_eval_reads() {
    let out = std::env::temp_dir().join(format!("cairn-cli-{}-sim", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run =
        cairn(&["sim", "rgbd", "--out", &out.display().to_string(), "--frames", "4", "--noise", "off", "--seed", "3"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("wrote 4 RGB-D frames"));
    for name in ["rgb.txt", "depth.txt", "groundtruth.txt", "calib.yaml"] {
        assert!(out.join(name).is_file(), "{name} missing");
    }
    assert_eq!(std::fs::read_dir(out.join("depth")).expect("depth/").count(), 4);
    let gt = out.join("groundtruth.txt").display().to_string();
    let eval = cairn(&["eval", "ate", "--gt", &gt, "--est", &gt, "--align", "none", "--json"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("JSON");
    assert_eq!((v["pairs"].as_u64(), v["rmse"].as_f64()), (Some(4), Some(0.0)));
    let bad = cairn(&["sim", "rgbd", "--out", &out.display().to_string(), "--scene", "moon"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown scene"));
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn sim_drive_writes_a_sample_set() {
    let out = std::env::temp_dir().join(format!("cairn-cli-{}-drive", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let dir = out.display().to_string();
    let run = cairn(&["sim", "drive", "--out", &dir, "--samples", "2", "--seed", "4", "--image-scale", "0.125"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("wrote 2 samples (6 cameras"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("sample_info.json")).expect("index")).expect("JSON");
    assert_eq!(index["data_list"].as_array().map(Vec::len), Some(2));
    assert_eq!(index["metainfo"]["categories"]["barrier"], 9);
    // Index, 2 sweeps and 12 images.
    assert_eq!(std::fs::read_dir(&out).expect("dir").count(), 15);
    // The set converts to a bag with every camera, the sweeps and the boxes.
    let bag = out.with_extension("bag").display().to_string();
    let _ = std::fs::remove_dir_all(&bag);
    let run = cairn(&["bag", "from-samples", &dir, "--out", &bag]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let info = cairn(&["bag", "info", &bag, "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("JSON");
    let count = |topic: &str| {
        info["topics"].as_array().and_then(|t| t.iter().find(|t| t["name"] == topic)).map(|t| t["count"].clone())
    };
    assert_eq!(count("/CAM_BACK_LEFT/image_raw"), Some(2.into()), "{info}");
    assert_eq!(count("/LIDAR_TOP"), Some(2.into()), "{info}");
    assert_eq!(count("/LIDAR_TOP/gt_boxes"), Some(2.into()), "{info}");
    assert_eq!(count("/tf_static"), Some(1.into()), "{info}");
    std::fs::remove_dir_all(&bag).expect("cleanup");
    // The same as sqlite3, read back by cairn.
    let run = cairn(&["bag", "from-samples", &dir, "--out", &bag, "--format", "sqlite3"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let info = cairn(&["bag", "info", &bag, "--json"]);
    let info: serde_json::Value = serde_json::from_slice(&info.stdout).expect("JSON");
    assert_eq!(
        (info["storage"].as_str(), info["message_count"].as_u64()),
        (Some("sqlite3"), Some(2 * 15 + 1)),
        "{info}"
    );
    std::fs::remove_dir_all(&bag).expect("cleanup");
    let again = cairn(&["sim", "drive", "--out", &dir, "--samples", "1"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn sim_folder_to_bag_and_back_keeps_frames_and_ground_truth() {
    let root = std::env::temp_dir().join(format!("cairn-cli-{}-convert", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (folder, bag, back, gt_out) = (root.join("seq"), root.join("seq_bag"), root.join("back"), root.join("gt.tum"));
    let s = |p: &PathBuf| p.display().to_string();
    let run = cairn(&["sim", "rgbd", "--out", &s(&folder), "--frames", "3", "--seed", "5"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run = cairn(&["bag", "from-tum", &s(&folder), "--out", &s(&bag)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("/camera/depth/image: 3"));
    // The ground truth on /tf exports back to the folder's groundtruth.txt.
    let run = cairn(&[
        "bag",
        "export",
        &s(&bag),
        "--topic",
        "/tf",
        "--frame",
        "world",
        "--child-frame",
        "kinect",
        "--out",
        &s(&gt_out),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let gt = s(&folder.join("groundtruth.txt"));
    let eval = cairn(&["eval", "ate", "--gt", &gt, "--est", &s(&gt_out), "--align", "none", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("JSON");
    assert_eq!(v["pairs"].as_u64(), Some(3));
    assert!(v["rmse"].as_f64().expect("rmse") < 1e-6, "{v}");
    let run = cairn(&["bag", "to-tum", &s(&bag), "--out", &s(&back)]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    for name in ["rgb.txt", "depth.txt", "groundtruth.txt", "calib.yaml"] {
        assert!(back.join(name).is_file(), "{name} missing");
    }
    for sub in ["rgb", "depth"] {
        for entry in std::fs::read_dir(folder.join(sub)).expect("frames") {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("name");
            let same = std::fs::read(&path).expect("a") == std::fs::read(back.join(sub).join(name)).expect("b");
            if sub == "depth" {
                assert!(same, "{sub}/{name:?}: depth PNGs must be byte-identical");
            }
        }
    }
    // A missing topic is one error line naming the topics there are.
    let run = cairn(&["bag", "to-tum", &s(&bag), "--out", &s(&root.join("x")), "--rgb", "/nope"]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("/nope") && stderr.contains("/camera/rgb/image_color"), "{stderr}");
    std::fs::remove_dir_all(&root).expect("cleanup");
}

#[test]
fn bag_export_on_a_truncated_bag_fails_clearly_and_recovers_on_request() {
    use cairn_bags::msg::RosMessage;
    use cairn_bags::msg::geometry_msgs::PoseStamped;
    use cairn_bags::storage::{BagWriter, Connection};
    let dir = std::env::temp_dir().join(format!("cairn-cli-{}-export-cut", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut writer = BagWriter::create(&dir).expect("bag");
    let c = writer
        .add_connection(Connection {
            topic: "/pose".into(),
            type_name: PoseStamped::TYPE_NAME.into(),
            definition: PoseStamped::definition(),
            serialization_format: "cdr".into(),
            offered_qos_profiles: String::new(),
        })
        .expect("connection");
    // Big enough for several chunks: a pose per message plus padding topics.
    let pad = writer
        .add_connection(Connection {
            topic: "/pad".into(),
            type_name: "std_msgs/msg/String".into(),
            definition: "string data\n".into(),
            serialization_format: "cdr".into(),
            offered_qos_profiles: String::new(),
        })
        .expect("connection");
    let mut state = 1u64;
    for i in 0..200u64 {
        let mut pose = PoseStamped::default();
        pose.header.stamp.sec = 10 + i as i32;
        pose.pose.orientation.w = 1.0;
        pose.pose.position.x = i as f64;
        writer.write(c, (10 + i) * 1_000_000_000, &cairn_bags::cdr::encode(&pose).expect("cdr")).expect("write");
        let mut noise = vec![0, 1, 0, 0, 0x10, 0x27, 0, 0];
        noise.extend((0..10_000).map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 56) as u8
        }));
        writer.write(pad, (10 + i) * 1_000_000_000 + 1, &noise).expect("write");
    }
    let dir = writer.finish().expect("finish");
    let file = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .expect("mcap");
    let bytes = std::fs::read(&file).expect("bag file");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).expect("truncate");
    let out_file = dir.with_extension("tum").display().to_string();
    let args = ["bag", "export", &dir.display().to_string(), "--topic", "/pose", "--out", &out_file];
    let out = cairn(&args);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".mcap") && stderr.contains("--recover"), "{stderr}");
    let out = cairn(&[&args[..], &["--recover"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let written = std::fs::read_to_string(&out_file).expect("tum");
    let poses = written.lines().filter(|l| !l.starts_with('#')).count();
    assert!(poses > 0 && poses < 200, "{poses} poses recovered of 200");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn demo_renders_once_tracks_and_plots() {
    let out = std::env::temp_dir().join(format!("cairn-cli-{}-demo", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let dir = out.display().to_string();
    let demo = || {
        Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["demo", "--out", &dir, "--frames", "12"])
            .env("CAIRN_SHARED_DATA", out.join("no-shared-data"))
            .output()
            .expect("the cairn binary runs")
    };
    let run = demo();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("== office_figure8") && stdout.contains("== office_loop_2laps"), "{stdout}");
    assert!(String::from_utf8_lossy(&run.stderr).contains("../shared/data is absent"));
    for name in ["office_figure8_seed0", "office_loop_2laps_seed0"] {
        let estimate = std::fs::read_to_string(out.join(name).join("est.tum")).expect("estimate");
        assert_eq!(estimate.lines().filter(|l| !l.starts_with('#')).count(), 12, "one pose per frame");
        let plot = image::open(out.join(name).join("trajectory.png")).expect("plot");
        assert_eq!((plot.width(), plot.height()), (800, 800));
    }
    // A second run reuses the rendered sequences.
    let first = out.join("office_figure8_seed0/groundtruth.txt");
    let modified = std::fs::metadata(&first).and_then(|m| m.modified()).expect("mtime");
    assert!(demo().status.success());
    assert_eq!(std::fs::metadata(&first).and_then(|m| m.modified()).expect("mtime"), modified);
    std::fs::remove_dir_all(&out).expect("cleanup");
}

#[test]
fn node_detect_needs_a_model_and_names_bad_parameters() {
    let run = cairn(&["node", "detect"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr.contains("no model") && stderr.lines().count() == 1, "{stderr}");
    let params = scratch("detect.yaml", "cairn_detect:\n  ros__parameters:\n    topics.point: /x\n");
    let run = cairn(&["node", "detect", "--params", &params, "--model", "/nonexistent"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("'topics.point'") && stderr.contains("topics.points"), "{stderr}");
    let run = cairn(&["node", "detect", "--model", "/nonexistent"]);
    assert!(String::from_utf8_lossy(&run.stderr).contains("/nonexistent"));
}
