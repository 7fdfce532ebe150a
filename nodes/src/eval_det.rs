//! `cairn eval det`: nuScenes detection metrics (mAP, TP errors, NDS) of a
//! submission JSON against a sample set's ground truth, computed as the
//! nuscenes-devkit computes them (`cairn_perception::detection`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_core::samples::SampleSet;
use cairn_perception::detection::metrics::TP_SHORT_NAMES;
use cairn_perception::detection::{CLASSES, DetectionConfig, DetectionMetrics, Submission, evaluate, gt};
use clap::Args;

/// What the report says about AAE: the boxes carry no attributes.
pub const ATTRIBUTE_NOTE: &str = "sample sets carry no attributes, so every AAE is 1 (its TP score 0) and NDS \
                                  is at most 0.9";

/// Arguments of `cairn eval det`.
#[derive(Debug, Args)]
pub struct DetArgs {
    /// Ground truth: a sample set (folder with sample_info.json, or the file).
    #[arg(long, value_name = "DIR")]
    gt: PathBuf,
    /// Predictions: a nuScenes detection submission JSON (global frame).
    #[arg(long, value_name = "FILE")]
    pred: PathBuf,
    /// Print one JSON object (the devkit's metrics_summary fields, box counts, note).
    #[arg(long)]
    json: bool,
}

/// Runs `cairn eval det` and returns its report.
pub fn run(args: &DetArgs) -> Result<String> {
    let config = DetectionConfig::default();
    let set = SampleSet::read(&args.gt).with_context(|| format!("reading the ground truth {}", args.gt.display()))?;
    let submission =
        Submission::read(&args.pred).with_context(|| format!("reading the predictions {}", args.pred.display()))?;
    let gt_boxes = gt::ground_truth(&set, &config).context("converting the ground truth")?;
    let pred_boxes = gt::predictions(&submission, &set, &config)
        .with_context(|| format!("checking the predictions {}", args.pred.display()))?;
    let metrics = evaluate(&gt_boxes, &pred_boxes, &config)?;
    let counts = (set.data_list.len(), gt_boxes.all().count(), pred_boxes.all().count());
    Ok(if args.json { format!("{}\n", json(&metrics, counts)) } else { pretty(&metrics, counts) })
}

/// The `--json` object: the devkit's summary fields plus the counts and note.
fn json(metrics: &DetectionMetrics, (samples, gt, pred): (usize, usize, usize)) -> serde_json::Value {
    let mut value = metrics.to_json();
    value["samples"] = samples.into();
    value["gt_boxes"] = gt.into();
    value["pred_boxes"] = pred.into();
    value["note"] = ATTRIBUTE_NOTE.into();
    value
}

fn cell(value: f64) -> String {
    if value.is_nan() { format!("{:>7}", "n/a") } else { format!("{value:>7.4}") }
}

/// The devkit-like table: summary, per-class AP per threshold, per-class TP errors.
fn pretty(metrics: &DetectionMetrics, (samples, gt, pred): (usize, usize, usize)) -> String {
    let mut out = format!(
        "nuScenes detection metrics ({samples} samples, {gt} GT and {pred} predicted boxes within class range)\n\n"
    );
    out.push_str(&format!("mAP: {:.4}\n", metrics.mean_ap()));
    for (name, error) in TP_SHORT_NAMES.iter().zip(metrics.tp_errors()) {
        out.push_str(&format!("m{name}: {error:.4}\n"));
    }
    out.push_str(&format!("NDS: {:.4}\n({ATTRIBUTE_NOTE})\n\n", metrics.nd_score()));
    let thresholds: String = metrics.config.dist_ths.iter().map(|d| format!("{:>7}", format!("@{d}m"))).collect();
    out.push_str(&format!("{:<22}{:>7}{thresholds}\n", "AP per class", "mean"));
    for (c, class) in CLASSES.iter().enumerate() {
        let aps: String = metrics.label_aps[c].iter().map(|ap| cell(*ap)).collect();
        out.push_str(&format!("{class:<22}{}{aps}\n", cell(metrics.mean_dist_aps()[c])));
    }
    let names: String = TP_SHORT_NAMES.iter().map(|n| format!("{n:>7}")).collect();
    out.push_str(&format!("\n{:<22}{names}\n", format!("TP errors @{}m", metrics.config.dist_th_tp)));
    for (c, class) in CLASSES.iter().enumerate() {
        let errors: String = metrics.label_tp_errors[c].iter().map(|e| cell(*e)).collect();
        out.push_str(&format!("{class:<22}{errors}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::samples::{Instance, SampleInfo};
    use std::path::Path;

    /// A one-sample set (ego at the world origin) with one car 10 m ahead,
    /// written to `dir`; and a submission path beside it.
    fn write_set(dir: &Path) -> SampleSet {
        let sample: SampleInfo = serde_json::from_value(serde_json::json!({
            "sample_idx": 0, "token": "t0", "timestamp": 0.0,
            "ego2global": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
            "images": {},
            "lidar_points": {"num_pts_feats": 5, "lidar_path": "x.pcd.bin",
                "lidar2ego": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]},
            "instances": [], "cam_instances": {}
        }))
        .expect("a sample");
        let mut set = SampleSet::new("test", "v");
        set.data_list.push(SampleInfo {
            instances: vec![Instance {
                bbox_label: 0,
                bbox_3d: [10.0, 0.0, -0.75, 4.0, 2.0, 1.5, 0.0],
                bbox_3d_isvalid: true,
                bbox_label_3d: 0,
                num_lidar_pts: 20,
                num_radar_pts: 0,
                velocity: [0.0, 0.0],
                visibility: None,
            }],
            ..sample
        });
        set.write(dir).expect("writes");
        set
    }

    fn submission(boxes: &str) -> String {
        format!(
            r#"{{"meta": {{"use_camera": false, "use_lidar": true, "use_radar": false, "use_map": false,
            "use_external": false}}, "results": {boxes}}}"#
        )
    }

    fn car(token: &str, name: &str, x: &str) -> String {
        format!(
            r#"{{"sample_token": "{token}", "translation": [{x}, 0.0, 0.0], "size": [2.0, 4.0, 1.5],
            "rotation": [1.0, 0.0, 0.0, 0.0], "velocity": [0.0, 0.0], "detection_name": "{name}",
            "detection_score": 0.9, "attribute_name": ""}}"#
        )
    }

    fn eval(dir: &Path, results: &str, json: bool) -> Result<String> {
        let pred = dir.join("pred.json");
        std::fs::write(&pred, submission(results))?;
        run(&DetArgs { gt: dir.to_path_buf(), pred, json })
    }

    #[test]
    fn a_perfect_detection_scores_ap_1_and_nds_below_0_9_and_bad_input_is_named() {
        let dir = std::env::temp_dir().join(format!("cairn-eval-det-{}", std::process::id()));
        write_set(&dir);
        let perfect = eval(&dir, &format!(r#"{{"t0": [{}]}}"#, car("t0", "car", "10.0")), true).expect("evaluates");
        let value: serde_json::Value = serde_json::from_str(&perfect).expect("JSON");
        let car_ap = value["label_aps"]["car"]["0.5"].as_f64().expect("a number");
        assert!((car_ap - 1.0).abs() < 1e-12, "{car_ap}");
        assert_eq!(value["label_aps"]["truck"]["4.0"], 0.0, "a class without GT scores 0, as in the devkit");
        assert_eq!(value["gt_boxes"], 1);
        assert!(value["note"].as_str().is_some_and(|n| n.contains("0.9")));
        let table = eval(&dir, &format!(r#"{{"t0": [{}]}}"#, car("t0", "car", "10.0")), false).expect("evaluates");
        assert!(table.contains("mAP: 0.1000") && table.contains("NDS:") && table.contains("traffic_cone"), "{table}");

        let error = |results: String| format!("{:#}", eval(&dir, &results, false).unwrap_err());
        assert!(
            error(format!(r#"{{"t0": [{}]}}"#, car("t0", "lorry", "10.0"))).contains("unknown class name \"lorry\"")
        );
        assert!(error(format!(r#"{{"t0": [], "t7": [{}]}}"#, car("t7", "car", "1.0"))).contains("t7 is not a sample"));
        assert!(error(format!(r#"{{"t0": [{}]}}"#, car("t0", "car", "NaN"))).contains("NaN or Infinity"));
        let missing = run(&DetArgs { gt: dir.join("nowhere"), pred: dir.join("pred.json"), json: false });
        assert!(format!("{:#}", missing.unwrap_err()).contains("nowhere"));
        let no_pred = run(&DetArgs { gt: dir.clone(), pred: dir.join("none.json"), json: false });
        assert!(format!("{:#}", no_pred.unwrap_err()).contains("none.json"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
