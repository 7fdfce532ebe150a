//! `cairn eval det` against the nuscenes-devkit itself (installed in the
//! project's venv by scripts/test from tests/oracle/requirements-nuscenes.txt):
//! every per-class AP, every per-class TP error, mAP, the mean TP errors, the
//! TP scores and NDS must agree to 1e-6, and the filtered box counts exactly.
//!
//! Ground truth: `cairn sim drive` streets (4 samples each, several seeds),
//! and the real nuScenes sample when ../shared/data has it. Predictions:
//! seeded corruptions of the ground truth — true positives with centre, size,
//! yaw (some flipped by π) and velocity errors, misses, duplicates, wrong
//! classes, low-score junk, boxes beyond the class ranges, scores on a coarse
//! grid so that ties occur. cairn's numbers come from the CLI code path
//! (`cairn eval det --json`); the devkit's from tests/oracle/nusc_metrics.py,
//! which feeds the same global boxes through the devkit's loaders, filters
//! and `DetectionEval.evaluate` (`accumulate`, `calc_ap`, `calc_tp`).
//!
//! Two self-checks keep the comparison honest: a 2e-6 difference is
//! reported, and car predictions moved by 3 m change cairn's numbers away from
//! the devkit's on the unmoved submission. Without the venv's devkit the
//! devkit trials are ignored (skipped), unless `CAIRN_REQUIRE_ORACLES=1`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::samples::SampleSet;
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir, shared_file};
use cairn_perception::detection::{CLASSES, LidarBox, Submission, SubmissionMeta, gt};
use cairn_sim::drive::{Drive, DriveOptions};
use cairn_sim::rig::Rig;
use clap::Parser;
use libtest_mimic::{Arguments, Failed, Trial};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde_json::{Value, json};

/// (street seed, perturbation seed) of the synthetic cases.
const CASES: [(u64, u64); 3] = [(1, 101), (2, 202), (3, 303)];
const SAMPLES: usize = 4;
const TOLERANCE: f64 = 1e-6;

/// A `cairn sim drive` sample set (sample_info.json only: the metric reads no sensor data).
fn sim_set(seed: u64, dir: &Path) -> Result<SampleSet> {
    let options = DriveOptions { samples: SAMPLES, seed, image_scale: 0.05, ..Default::default() };
    let drive = Drive::new(options, &Rig::nuscenes()?)?;
    let mut set = SampleSet::new("cairn-sim", &format!("street-seed-{seed}"));
    for k in 0..SAMPLES {
        set.data_list.push(drive.sample(k)?.info);
    }
    set.write(dir)?;
    Ok(set)
}

/// A score on a 0.05 grid (so equal scores occur) in `[low, high)`.
fn score(rng: &mut ChaCha8Rng, low: f64, high: f64) -> f64 {
    (rng.random_range(low..high) * 20.0).floor() / 20.0
}

/// A true positive with errors: centre σ 0.4 m, size ±20 %, yaw σ 0.3 rad
/// (flipped by π one time in ten), velocity σ 0.5 m/s.
fn noisy(truth: &LidarBox, rng: &mut ChaCha8Rng) -> Result<LidarBox> {
    let centre = Normal::new(0.0, 0.4)?;
    let velocity = Normal::new(0.0, 0.5)?;
    let flip = if rng.random_bool(0.1) { std::f64::consts::PI } else { 0.0 };
    Ok(LidarBox {
        centre: truth.centre.map(|c| c + centre.sample(rng)),
        size: truth.size.map(|s| s * rng.random_range(0.8..1.2)),
        yaw: truth.yaw + Normal::new(0.0, 0.3)?.sample(rng) + flip,
        velocity: truth.velocity.map(|v| v + velocity.sample(rng)),
        score: score(rng, 0.3, 1.0),
        ..*truth
    })
}

/// A box of a random class at `distance` (m) from the LiDAR.
fn stray(rng: &mut ChaCha8Rng, distance: f64, score_range: (f64, f64)) -> LidarBox {
    let angle = rng.random_range(-std::f64::consts::PI..std::f64::consts::PI);
    LidarBox {
        centre: [distance * angle.cos(), distance * angle.sin(), rng.random_range(-1.5..0.5)],
        size: [rng.random_range(0.4..3.0), rng.random_range(0.4..8.0), rng.random_range(0.8..3.0)],
        yaw: rng.random_range(-3.0..3.0),
        velocity: [rng.random_range(-5.0..5.0), rng.random_range(-5.0..5.0)],
        label: rng.random_range(0..CLASSES.len()),
        score: score(rng, score_range.0, score_range.1),
    }
}

/// Seeded corruptions of the ground truth of `set`, as a submission.
fn predictions(set: &SampleSet, seed: u64) -> Result<Submission> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut results = std::collections::BTreeMap::new();
    for sample in &set.data_list {
        let mut boxes = Vec::new();
        for truth in sample.instances.iter().filter_map(LidarBox::from_instance) {
            if rng.random_bool(0.2) {
                continue; // a miss
            }
            let mut found = noisy(&truth, &mut rng)?;
            if rng.random_bool(0.1) {
                found.label = (found.label + rng.random_range(1..CLASSES.len())) % CLASSES.len(); // wrong class
            }
            boxes.push(found);
            if rng.random_bool(0.15) {
                boxes.push(LidarBox { score: found.score * 0.5, ..noisy(&truth, &mut rng)? }); // a duplicate
            }
        }
        for _ in 0..6 {
            let distance = rng.random_range(2.0..45.0);
            boxes.push(stray(&mut rng, distance, (0.0, 0.25))); // low-score junk
        }
        for _ in 0..3 {
            let distance = rng.random_range(50.5..70.0);
            boxes.push(stray(&mut rng, distance, (0.3, 1.0))); // beyond every class range
        }
        let detections: Result<Vec<_>, _> = boxes.iter().map(|b| b.to_global(sample)).collect();
        results.insert(sample.token.clone(), detections?);
    }
    let meta =
        SubmissionMeta { use_camera: true, use_lidar: true, use_radar: false, use_map: false, use_external: false };
    Ok(Submission { meta, results })
}

/// The oracle's input: cairn's unfiltered global ground truth and the ego positions.
fn oracle_input(set: &SampleSet) -> Result<Value> {
    let all = gt::all_ground_truth(set)?;
    let finite = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
    let mut boxes = serde_json::Map::new();
    for sample in &all.samples {
        let list: Vec<Value> = sample
            .boxes
            .iter()
            .map(|b| {
                let d = &b.detection;
                json!({"translation": d.translation, "size": d.size, "rotation": d.rotation,
                       "velocity": d.velocity.map(finite), "detection_name": d.detection_name, "num_pts": b.num_pts})
            })
            .collect();
        boxes.insert(sample.token.clone(), Value::Array(list));
    }
    let ego: serde_json::Map<String, Value> = set
        .data_list
        .iter()
        .map(|s| (s.token.clone(), json!([s.ego2global[0][3], s.ego2global[1][3], s.ego2global[2][3]])))
        .collect();
    Ok(json!({"gt": boxes, "ego": ego}))
}

/// cairn's numbers, through the CLI code path of `cairn eval det --json`.
fn cairn_metrics(gt_dir: &Path, pred: &Path) -> Result<Value> {
    let args = [
        "cairn",
        "eval",
        "det",
        "--gt",
        &gt_dir.display().to_string(),
        "--pred",
        &pred.display().to_string(),
        "--json",
    ];
    let cli = cairn_nodes::Cli::try_parse_from(args)?;
    Ok(serde_json::from_str(&cairn_nodes::run(&cli)?)?)
}

/// The devkit's numbers (tests/oracle/nusc_metrics.py).
fn devkit_metrics(set: &SampleSet, pred: &Path, dir: &Path) -> Result<Value> {
    let input = dir.join("gt_boxes.json");
    std::fs::write(&input, oracle_input(set)?.to_string())?;
    let python = Oracle::python().map_err(anyhow::Error::msg)?;
    let script = repo_root().join("tests/oracle/nusc_metrics.py");
    Ok(serde_json::from_str(&python.run([script.as_os_str(), input.as_os_str(), pred.as_os_str()])?)?)
}

/// Compares every number the devkit printed; the largest difference and how many numbers.
fn compare(cairn: &Value, devkit: &Value) -> Result<(f64, usize)> {
    fn walk(path: &str, c: &Value, d: &Value, worst: &mut (f64, usize), bad: &mut Vec<String>) {
        match (c, d) {
            (_, Value::Object(d)) => {
                for (key, dv) in d {
                    walk(&format!("{path}.{key}"), c.get(key).unwrap_or(&Value::Null), dv, worst, bad);
                }
            }
            (Value::Number(c), Value::Number(d)) => {
                let (c, d) = (c.as_f64().unwrap_or(f64::NAN), d.as_f64().unwrap_or(f64::NAN));
                let diff = (c - d).abs();
                *worst = (worst.0.max(diff), worst.1 + 1);
                if diff.is_nan() || diff > TOLERANCE {
                    bad.push(format!("{path}: cairn {c} vs devkit {d}"));
                }
            }
            (Value::Null, Value::Null) => worst.1 += 1,
            _ => bad.push(format!("{path}: cairn {c} vs devkit {d}")),
        }
    }
    let (mut worst, mut bad) = ((0.0, 0), Vec::new());
    walk("", cairn, devkit, &mut worst, &mut bad);
    if !bad.is_empty() {
        bail!("{} of {} numbers differ: {}", bad.len(), worst.1, bad.join("; "));
    }
    Ok(worst)
}

/// cairn vs the devkit on one sample set and its submission.
fn agree(label: &str, gt_dir: &Path, set: &SampleSet, submission: &Submission) -> Result<()> {
    let pred = gt_dir.join("pred.json");
    submission.write(&pred)?;
    let cairn = cairn_metrics(gt_dir, &pred).context("cairn")?;
    let devkit = devkit_metrics(set, &pred, gt_dir).context("devkit")?;
    let (worst, count) = compare(&cairn, &devkit)?;
    eprintln!(
        "{label}: {count} numbers agree, max |cairn - devkit| = {worst:.3e}; mAP {} NDS {} ({} GT, {} predicted boxes in range)",
        devkit["mean_ap"], devkit["nd_score"], devkit["gt_boxes"], devkit["pred_boxes"]
    );
    Ok(())
}

fn case_dir(scratch: &Path, label: &str) -> Result<PathBuf> {
    let dir = scratch.join(label.replace('/', "_"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn sim_case(scratch: &Path, street: u64, perturbation: u64) -> Result<()> {
    let label = format!("sim_street{street}_perturb{perturbation}");
    let dir = case_dir(scratch, &label)?;
    let set = sim_set(street, &dir)?;
    agree(&label, &dir, &set, &predictions(&set, perturbation)?)
}

/// Edge cases: no detections at all, and the ground truth itself (every
/// fifth ground-truth velocity unknown, as nuScenes has some).
fn edge_cases(scratch: &Path) -> Result<()> {
    let dir = case_dir(scratch, "edge")?;
    let mut set = sim_set(4, &dir)?;
    for instance in set.data_list.iter_mut().flat_map(|s| &mut s.instances).step_by(5) {
        instance.velocity = [f64::NAN; 2];
    }
    set.write(&dir)?;
    let mut empty = predictions(&set, 1)?;
    empty.results.values_mut().for_each(Vec::clear);
    agree("edge/empty_submission", &dir, &set, &empty)?;
    let mut perfect = predictions(&set, 1)?;
    for sample in &set.data_list {
        let boxes: Vec<LidarBox> = sample.instances.iter().filter_map(LidarBox::from_instance).collect();
        let detections: Result<Vec<_>, _> = boxes.iter().map(|b| b.to_global(sample)).collect();
        perfect.results.insert(sample.token.clone(), detections?);
    }
    agree("edge/ground_truth_as_predictions", &dir, &set, &perfect)
}

/// The real nuScenes sample's ground truth (unknown velocities included).
fn nuscenes_case(scratch: &Path, index: &Path) -> Result<()> {
    let source = SampleSet::read(index)?;
    let dir = case_dir(scratch, "nuscenes_sample")?;
    source.write(&dir)?;
    agree("nuscenes_sample", &dir, &source, &predictions(&source, 7)?)
}

/// Car predictions moved by 3 m must move the numbers away from the devkit's.
fn a_moved_prediction_is_caught(scratch: &Path) -> Result<()> {
    let dir = case_dir(scratch, "moved")?;
    let set = sim_set(1, &dir)?;
    let submission = predictions(&set, 101)?;
    let pred = dir.join("pred.json");
    submission.write(&pred)?;
    let devkit = devkit_metrics(&set, &pred, &dir)?;
    let mut moved = submission.clone();
    for car in moved.results.values_mut().flatten().filter(|b| b.detection_name == "car") {
        car.translation[0] += 3.0;
    }
    moved.write(&pred)?;
    match compare(&cairn_metrics(&dir, &pred)?, &devkit) {
        Err(e) if e.to_string().contains("car") => Ok(()),
        other => bail!("moving the cars by 3 m was not noticed: {other:?}"),
    }
}

fn main() {
    let args = Arguments::from_args();
    let scratch = match scratch_dir("devkit_metrics") {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("devkit_metrics: cannot create a scratch directory: {e}");
            std::process::exit(101);
        }
    };
    let missing = match Oracle::python() {
        // The last line of a traceback says what is missing.
        Ok(python) => python
            .run(["-c", "import nuscenes.eval.detection.evaluate"])
            .err()
            .map(|e| format!("{e:#}").trim_end().lines().last().unwrap_or_default().to_string()),
        Err(reason) => Some(reason),
    }
    .filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("skipping devkit_metrics comparisons: nuscenes-devkit is not usable in the venv: {reason}");
    }
    let run = |f: fn(&Path) -> Result<()>, scratch: &Path| {
        let scratch = scratch.to_path_buf();
        move || f(&scratch).map_err(|e| Failed::from(format!("{e:#}")))
    };
    let mut trials = vec![Trial::test("devkit_metrics/compare_rejects_a_2e-6_difference", || {
        let devkit = json!({"mean_ap": 0.5, "label_tp_errors": {"barrier": {"vel_err": null}}});
        compare(&devkit, &devkit).map_err(|e| format!("identical numbers rejected: {e:#}"))?;
        let cairn = json!({"mean_ap": 0.5 + 2e-6, "label_tp_errors": {"barrier": {"vel_err": null}}});
        match compare(&cairn, &devkit) {
            Err(e) if e.to_string().contains("mean_ap") => Ok(()),
            other => Err(Failed::from(format!("a 2e-6 difference was not reported: {other:?}"))),
        }
    })];
    for (street, perturbation) in CASES {
        let scratch = scratch.clone();
        let name = format!("devkit_metrics/sim/street{street}_perturb{perturbation}");
        let trial = Trial::test(name, move || {
            sim_case(&scratch, street, perturbation).map_err(|e| Failed::from(format!("{e:#}")))
        });
        trials.push(trial.with_ignored_flag(missing.is_some()));
    }
    trials
        .push(Trial::test("devkit_metrics/edge_cases", run(edge_cases, &scratch)).with_ignored_flag(missing.is_some()));
    let moved = Trial::test("devkit_metrics/a_moved_prediction_is_caught", run(a_moved_prediction_is_caught, &scratch));
    trials.push(moved.with_ignored_flag(missing.is_some()));
    match shared_file("nuscenes_sample/sample_info.json") {
        Ok(index) => {
            let scratch = scratch.clone();
            let trial = Trial::test("devkit_metrics/nuscenes_sample", move || {
                nuscenes_case(&scratch, &index).map_err(|e| Failed::from(format!("{e:#}")))
            });
            trials.push(trial.with_ignored_flag(missing.is_some()));
        }
        Err(reason) => {
            eprintln!("skipping devkit_metrics/nuscenes_sample: {reason}");
            let trial = Trial::test("devkit_metrics/nuscenes_sample", move || Err(Failed::from(reason)));
            trials.push(trial.with_ignored_flag(true));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    std::fs::remove_dir_all(&scratch).ok();
    conclusion.exit();
}
