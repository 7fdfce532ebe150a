//! `cairn train bench --plan auto --loss-log`: the scheduler's plan is
//! printed with its predicted and measured step time and fits the device;
//! the JSON carries the prediction fields; the loss log and its PNG are
//! written; `--plan auto` with another schedule is a one-line error.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::process::Command;

const BASE: [&str; 14] = [
    "train",
    "bench",
    "--model",
    "mlp",
    "--layers",
    "12",
    "--hidden",
    "64",
    "--device-mem",
    "160KiB",
    "--rows",
    "8",
    "--steps",
    "3",
];

fn cairn(extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(BASE).args(extra).output().expect("the cairn binary runs")
}

#[test]
fn plan_auto_predicts_fits_and_logs_the_loss() {
    let dir = std::env::temp_dir().join(format!("cairn-train-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("loss.csv");
    let csv_arg = csv.display().to_string();
    let args = ["--schedule", "harmony", "--plan", "auto", "--profile-repeats", "1", "--loss-log", &csv_arg, "--json"];
    let out = cairn(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let predicted = value["predicted_step_s"].as_f64().unwrap();
    assert!(predicted > 0.0 && value["measured_step_s"].as_f64().unwrap() > 0.0);
    assert!(value["predicted_overlapped_step_s"].as_f64().unwrap() <= predicted);
    let search = &value["plan_search"];
    assert!(search["feasible"].as_u64().unwrap() >= 1);
    let (rows, microbatches) = (search["rows"].as_u64().unwrap(), search["microbatches"].as_u64().unwrap());
    assert_eq!(rows * microbatches, 8 * 4, "the search keeps the samples per step");
    let peak = value["peak_device_bytes"].as_u64().unwrap();
    assert_eq!(peak, value["predicted_peak_device_bytes"].as_u64().unwrap());
    assert!(peak <= 160 * 1024);
    assert_eq!(value["h2d_bytes"], value["predicted_h2d_bytes"]);
    assert!(value["predicted_busy_seconds"]["compute_s"].as_f64().unwrap() > 0.0);

    let log = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(log.lines().next(), Some("step,loss,lr,wall_s"));
    assert_eq!(log.lines().count(), 4);
    let png = image::open(dir.join("loss.png")).unwrap();
    assert_eq!((png.width(), png.height()), (800, 480));
    std::fs::remove_dir_all(&dir).unwrap();

    let text = cairn(&["--schedule", "harmony", "--predict", "--profile-repeats", "1"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("predicted step time:") && text.contains("measured"), "{text}");
}

#[test]
fn plan_auto_with_another_schedule_is_an_error() {
    let out = cairn(&["--schedule", "naive", "--plan", "auto"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--plan auto searches harmony plans"), "{stderr}");
}
