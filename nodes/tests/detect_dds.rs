//! `cairn node detect` on real DDS, in a loopback-only network namespace
//! (`scripts/loopback`; ../shared/DESIGN.md, NETWORK SAFETY):
//!
//! - `cairn sim drive` samples → `cairn bag from-samples` → `cairn replay
//!   --publish --clock` into the node; a Cyclone DDS peer
//!   (tests/oracle/ros2_peer.py, PyPI `cyclonedds`) decodes every
//!   Detection3DArray, and each must match `cairn detect` on the same
//!   samples (box centres and sizes to 1e-4 m, scores to 1e-5, classes
//!   equal) once converted to base_link; then the bag is replayed without
//!   its LiDAR topic, the node says the LiDAR is silent, and its detections
//!   match `cairn detect --modality camera`;
//! - `cairn launch launch/perception.launch.yaml` starts the detector, the
//!   SLAM node and the replay; one SIGINT stops them all cleanly (status 0,
//!   both summaries written).
//!
//! The model is an untrained `CmtConfig::small()` (parity does not need a
//! trained one). The peer trial is ignored when the venv lacks cyclonedds
//! or rosbags, unless CAIRN_REQUIRE_ORACLES=1.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, ensure};
use cairn_bags::storage::Bag;
use cairn_core::samples::SampleSet;
use cairn_e2e::{Oracle, cyclonedds_peer_missing, oracles_required, repo_root, scratch_dir, trial};
use cairn_perception::detection::Submission;
use libtest_mimic::Arguments;
use nalgebra::Point3;

/// Samples of the drive (0.5 s apart).
const SAMPLES: usize = 3;
/// Replay speed: a sample every 0.5 / RATE s of wall time, more than one
/// detection takes on a loaded 2-core machine.
const RATE: &str = "0.2";

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Runs the cairn binary; its stdout, or an error with its stderr.
fn cairn(args: &[&str]) -> Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output()?;
    ensure!(output.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The samples, their bag, the model, the offline detections and a
/// parameter file, made once.
struct Fixture {
    dir: PathBuf,
    set: SampleSet,
    bag: PathBuf,
    params: PathBuf,
    fusion: Submission,
    camera: Submission,
}

fn fixture() -> Result<&'static Fixture, String> {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE.get_or_init(|| make_fixture().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
}

fn make_fixture() -> Result<Fixture> {
    let dir = scratch_dir("detect_dds")?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");
    let samples = SAMPLES.to_string();
    cairn(&["sim", "drive", "--out", &s(&data), "--samples", &samples, "--seed", "1002", "--image-scale", "0.2"])?;
    let set = SampleSet::read(&data)?;
    let model = dir.join("model");
    let config = cairn_perception::cmt::CmtConfig::small();
    let weights = cairn_perception::cmt::model::init_weights(&config, 0);
    cairn_perception::cmt::weights::save(&model, &config, &weights)?;
    let bag = dir.join("bag");
    cairn(&["bag", "from-samples", &s(&data), "--out", &s(&bag)])?;
    let (fusion, camera) = (dir.join("fusion.json"), dir.join("camera.json"));
    cairn(&["detect", &s(&data), "--model", &s(&model), "--out", &s(&fusion)])?;
    cairn(&["detect", &s(&data), "--model", &s(&model), "--out", &s(&camera), "--modality", "camera"])?;
    let params = dir.join("detect.yaml");
    std::fs::write(
        &params,
        format!(
            "cairn_detect:\n  ros__parameters:\n    model: {}\n    score_threshold: 0.0\n    node.lidar_timeout: 1.0\n    \
             node.camera_timeout: 2.0\n",
            s(&model)
        ),
    )?;
    Ok(Fixture { dir, set, bag, params, fusion: Submission::read(&fusion)?, camera: Submission::read(&camera)? })
}

/// Runs a bash script in a loopback-only namespace, with `$CAIRN` set.
fn in_loopback(script: &str, seconds: u32) -> Result<String> {
    let output = Command::new(repo_root().join("scripts/loopback"))
        .args(["timeout", &seconds.to_string(), "bash", "-euo", "pipefail", "-c", script])
        .env("CAIRN", env!("CARGO_BIN_EXE_cairn"))
        .output()
        .context("running scripts/loopback")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "loopback scenario failed ({}): {stderr}", output.status);
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Compares one received Detection3DArray (the peer's JSON) with the
/// offline submission's boxes of the same sample, in base_link.
fn compare(record: &serde_json::Value, set: &SampleSet, offline: &Submission) -> Result<usize> {
    let stamp = record["stamp"].as_f64().ok_or_else(|| anyhow!("no stamp in {record}"))?;
    let sample = set
        .data_list
        .iter()
        .find(|s| (s.timestamp - stamp).abs() < 1e-6)
        .ok_or_else(|| anyhow!("no sample at stamp {stamp}"))?;
    ensure!(record["frame_id"] == "base_link", "frame {}", record["frame_id"]);
    let expected = &offline.results[&sample.token];
    let got = record["detections"].as_array().ok_or_else(|| anyhow!("no detections"))?;
    ensure!(got.len() == expected.len(), "{} boxes over DDS, {} offline at {stamp}", got.len(), expected.len());
    let ego_from_global = sample.global_from_ego()?.inverse();
    let number = |v: &serde_json::Value| v.as_f64().ok_or_else(|| anyhow!("not a number: {v}"));
    for (i, (d, e)) in got.iter().zip(expected).enumerate() {
        let [x, y, z] = e.translation;
        let centre = ego_from_global * Point3::new(x, y, z);
        let size = [e.size[1], e.size[0], e.size[2]]; // nuScenes w, l, h → the box's own x, y, z
        for a in 0..3 {
            let (c, sz) = (number(&d["center"][a])?, number(&d["size"][a])?);
            ensure!((c - centre[a]).abs() <= 1e-4, "box {i} at {stamp}: centre {c} vs {}", centre[a]);
            ensure!((sz - size[a]).abs() <= 1e-4, "box {i} at {stamp}: size {sz} vs {}", size[a]);
        }
        let score = number(&d["score"])?;
        ensure!(
            (score - e.detection_score).abs() <= 1e-5,
            "box {i} at {stamp}: score {score} vs {}",
            e.detection_score
        );
        ensure!(d["class_id"] == e.detection_name.as_str(), "box {i}: {} vs {}", d["class_id"], e.detection_name);
    }
    Ok(got.len())
}

fn node_detect_matches_cairn_detect_then_runs_on_cameras_alone() -> Result<()> {
    let fixture = fixture().map_err(|e| anyhow!(e))?;
    let dir = fixture.dir.join("peer");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let python = Oracle::python().map_err(|e| anyhow!(e))?;
    let bag = Bag::open(&fixture.bag)?;
    let without_lidar: Vec<&str> =
        bag.connections.iter().map(|c| c.topic.as_str()).filter(|t| *t != "/LIDAR_TOP").collect();
    let script = format!(
        "dir={dir}\n\
         \"$CAIRN\" node detect --params {params} --save \"$dir/node\" > \"$dir/node.out\" 2> \"$dir/node.err\" &\n\
         node=$!\n\
         {python} {peer} --listen 240 --node cairn_detect --detections-out \"$dir/detections.jsonl\" --expect {expect} \
         --settle 1 > \"$dir/peer.out\" &\n\
         peer=$!\n\
         sleep 4\n\
         \"$CAIRN\" replay {bag} --publish --clock --rate {RATE} --wait 60 > \"$dir/replay1.out\"\n\
         \"$CAIRN\" replay {bag} --publish --clock --rate {RATE} --wait 60 --topics {topics} > \"$dir/replay2.out\"\n\
         wait $peer\n\
         kill -INT $node\n\
         wait $node\n",
        dir = s(&dir),
        params = s(&fixture.params),
        python = s(&python.program),
        peer = s(&repo_root().join("tests/oracle/ros2_peer.py")),
        expect = 2 * SAMPLES,
        bag = s(&fixture.bag),
        topics = without_lidar.join(","),
    );
    let result = in_loopback(&script, 400);
    let node_err = std::fs::read_to_string(dir.join("node.err")).unwrap_or_default();
    result.with_context(|| format!("node stderr:\n{node_err}"))?;
    let summary = std::fs::read_to_string(dir.join("node/summary.txt")).context("the node's --save summary")?;
    println!("node summary:\n{summary}");
    let records: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("detections.jsonl"))?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    ensure!(records.len() == 2 * SAMPLES, "the peer received {} arrays:\n{summary}\n{node_err}", records.len());
    let (fused, alone) = records.split_at(SAMPLES);
    let mut boxes = 0;
    for record in fused {
        boxes += compare(record, &fixture.set, &fixture.fusion).context("camera + LiDAR")?;
    }
    for record in alone {
        boxes += compare(record, &fixture.set, &fixture.camera).context("cameras alone")?;
    }
    println!("{} arrays, {boxes} boxes matched cairn detect (fusion, then --modality camera)", records.len());
    ensure!(summary.contains(&format!("({SAMPLES} camera + LiDAR, {SAMPLES} cameras alone)")), "{summary}");
    ensure!(node_err.matches("detecting from cameras alone").count() == 1, "said once:\n{node_err}");
    ensure!(summary.contains("latency last message received"), "{summary}");
    Ok(())
}

fn perception_launch_starts_detector_and_slam() -> Result<()> {
    let fixture = fixture().map_err(|e| anyhow!(e))?;
    let dir = fixture.dir.join("launch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let launch_file = repo_root().join("launch/perception.launch.yaml");
    let script = format!(
        "dir={dir}\n\"$CAIRN\" launch {file} bag:={bag} params:={params} save:=\"$dir/out\" rate:={RATE} > \"$dir/launch.out\" 2>&1 &\n\
         launcher=$!\n\
         for i in $(seq 1800); do grep -q '^\\[launch\\] \\[replay\\] exited' \"$dir/launch.out\" && break; sleep 0.1; done\n\
         sleep 2\nkill -INT $launcher\nwait $launcher\n",
        dir = s(&dir),
        file = s(&launch_file),
        bag = s(&fixture.bag),
        params = s(&fixture.params),
    );
    let result = in_loopback(&script, 300);
    let log = std::fs::read_to_string(dir.join("launch.out")).unwrap_or_default();
    result.with_context(|| format!("cairn launch output:\n{log}"))?;
    for name in ["replay", "detect", "slam"] {
        ensure!(
            log.contains(&format!("[launch] [{name}] exited: exit status: 0")),
            "{name} did not stop cleanly:\n{log}"
        );
    }
    ensure!(log.contains("launch stopped by signal"), "no clean stop:\n{log}");
    let detect = std::fs::read_to_string(dir.join("out/detect/summary.txt")).context("the detector's summary")?;
    ensure!(detect.contains(&format!("{SAMPLES} sets detected")), "{detect}");
    ensure!(dir.join("out/slam/summary.txt").is_file(), "no SLAM summary");
    println!("cairn launch perception: detector summary\n{detect}");
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    // DDS scenarios one at a time: they time sets on a shared CPU.
    args.test_threads = Some(1);
    let missing = cyclonedds_peer_missing().filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("ignoring the cyclonedds peer trial: {reason}");
    }
    let trials = vec![
        trial(
            "detect_dds/node_detect_matches_cairn_detect_then_runs_on_cameras_alone",
            node_detect_matches_cairn_detect_then_runs_on_cameras_alone,
        )
        .with_ignored_flag(missing.is_some()),
        trial("detect_dds/perception_launch_starts_detector_and_slam", perception_launch_starts_detector_and_slam),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    if let Ok(dir) = scratch_dir("detect_dds") {
        if conclusion.has_failed() {
            eprintln!("scratch files kept in {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    conclusion.exit();
}
