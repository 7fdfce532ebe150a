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
