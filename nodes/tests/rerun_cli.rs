//! `--rrd` and `--connect` against the matching rerun viewer (PyPI
//! `rerun-sdk==0.35.0`, its `rerun` CLI in the venv):
//!
//! - `cairn slam SEQ --rrd run.rrd`: `rerun rrd verify` accepts the file,
//!   and `rerun rrd print` shows every entity with the rows it must have
//!   (one image, depth image, camera pose, frustum, edge set and timing
//!   sample per frame; one cloud per keyframe; the map once per keyframe
//!   and once at the end);
//! - `cairn loop register … --rrd`: both clouds, the registered source and
//!   the match lines (inliers, outliers);
//! - `cairn slam … --connect`: a headless `rerun --save` receiver on
//!   loopback (in a loopback-only namespace, `scripts/loopback`) gets the
//!   same entities as the file.
//!
//! Ignored when the venv lacks the rerun CLI, unless
//! CAIRN_REQUIRE_ORACLES=1 (scripts/test installs it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir, trial};
use libtest_mimic::Arguments;

/// Frames of the rendered sequence.
const FRAMES: usize = 12;

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Runs the cairn binary; its stdout, or an error with its stderr.
fn cairn(args: &[&str]) -> Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output()?;
    ensure!(output.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn rerun_cli() -> Result<Oracle> {
    Oracle::find("rerun").map_err(|e| anyhow!(e))
}

/// A short rendered sequence (a slow stretch of the generated loop).
fn sequence(dir: &Path) -> Result<PathBuf> {
    let seq = dir.join("seq");
    if !seq.join("rgb.txt").is_file() {
        let frames = FRAMES.to_string();
        cairn(&["sim", "rgbd", "--out", &s(&seq), "--frames", &frames, "--laps", "0.05", "--seed", "2"])?;
    }
    Ok(seq)
}

/// Rows per entity path in a recording, from `rerun rrd print`'s chunk
/// summaries (static chunks count as well).
fn rows_per_entity(rrd: &Path) -> Result<BTreeMap<String, usize>> {
    let text = rerun_cli()?.run(["rrd", "print", &s(rrd)])?;
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        // "Chunk(…) with N rows (…) - /entity/path - …"
        let Some((_, after)) = line.split_once(" with ") else { continue };
        let Some((count, rest)) = after.split_once(" rows") else { continue };
        let Ok(count) = count.trim().parse::<usize>() else { continue };
        let Some(path) = rest.split(" - ").nth(1) else { continue };
        *rows.entry(path.trim().to_owned()).or_default() += count;
    }
    ensure!(!rows.is_empty(), "no chunk summaries in `rerun rrd print` output:\n{text}");
    Ok(rows)
}

/// Checks the entities and row counts of a `cairn slam` recording of
/// `frames` frames with `keyframes` keyframes.
fn check_slam_rows(rows: &BTreeMap<String, usize>, frames: usize, keyframes: usize) -> Result<()> {
    let row = |path: &str| rows.get(path).copied().unwrap_or(0);
    for per_frame in [
        "/world/camera",
        "/world/camera/image",
        "/world/camera/image/rgb",
        "/world/camera/image/depth",
        "/world/camera/image/edges",
        "/timings/tracking_ms",
        "/timings/total_ms",
        "/tracking/inliers",
    ] {
        ensure!(row(per_frame) == frames, "{per_frame}: {} rows, expected {frames}: {rows:?}", row(per_frame));
    }
    ensure!(keyframes > 0, "no keyframe");
    // The map: once per keyframe and once at the end.
    for map in ["/world/keyframes/positions", "/world/loops", "/world/trajectory/estimate"] {
        ensure!(row(map) == keyframes + 1, "{map}: {} rows, expected {}: {rows:?}", row(map), keyframes + 1);
    }
    ensure!(row("/world/keyframes/0/cloud") == 1, "keyframe 0's cloud: {rows:?}");
    let clouds = rows.keys().filter(|k| k.starts_with("/world/keyframes/") && k.ends_with("/cloud")).count();
    ensure!(clouds == keyframes, "{clouds} keyframe clouds, {keyframes} keyframes");
    ensure!(row("/world/trajectory/groundtruth") == 1, "ground truth: {rows:?}");
    Ok(())
}

/// Keyframes in a `cairn slam` summary ("N frames → … (K keyframes, …").
fn keyframes_in(summary: &str) -> Result<usize> {
    let (_, after) = summary.split_once('(').context("no '(' in the summary")?;
    let count = after.split_whitespace().next().context("no keyframe count")?;
    count.parse().with_context(|| format!("keyframe count in {summary}"))
}

fn slam_rrd_verifies_with_the_matching_viewer() -> Result<()> {
    let dir = scratch_dir("rerun")?;
    let seq = sequence(&dir)?;
    let rrd = dir.join("run.rrd");
    let summary = cairn(&["slam", &s(&seq), "--out", &s(&dir.join("est.tum")), "--rrd", &s(&rrd)])?;
    let rerun = rerun_cli()?;
    rerun.run(["rrd", "verify", &s(&rrd)]).context("rerun rrd verify")?;
    let stats = rerun.run(["rrd", "stats", &s(&rrd)])?;
    println!("rerun rrd stats {}:\n{stats}", rrd.display());
    check_slam_rows(&rows_per_entity(&rrd)?, FRAMES, keyframes_in(&summary)?)
}

/// `cairn loop eval --rrd` records its run with loop closure (only that
/// one), and in-process `cairn replay --rrd` records every replayed frame:
/// the same entities and rows as `cairn slam`'s recording.
fn loop_eval_and_replay_rrd_record_the_slam_run() -> Result<()> {
    let dir = scratch_dir("rerun")?;
    let seq = sequence(&dir)?;
    let rerun = rerun_cli()?;
    let rrd = dir.join("eval.rrd");
    cairn(&["loop", "eval", &s(&seq), "--rrd", &s(&rrd)])?;
    rerun.run(["rrd", "verify", &s(&rrd)]).context("rerun rrd verify (loop eval)")?;
    let summary = cairn(&["slam", &s(&seq), "--out", &s(&dir.join("eval-est.tum"))])?;
    check_slam_rows(&rows_per_entity(&rrd)?, FRAMES, keyframes_in(&summary)?)?;
    let bag = dir.join("bag");
    cairn(&["bag", "from-tum", &s(&seq), "--out", &s(&bag)])?;
    let rrd = dir.join("replay.rrd");
    cairn(&["replay", &s(&bag), "--out", &s(&dir.join("replay.tum")), "--rrd", &s(&rrd)])?;
    rerun.run(["rrd", "verify", &s(&rrd)]).context("rerun rrd verify (replay)")?;
    let rows = rows_per_entity(&rrd)?;
    for per_frame in ["/world/camera", "/world/camera/image/rgb", "/world/camera/image/depth", "/timings/total_ms"] {
        let count = rows.get(per_frame).copied().unwrap_or(0);
        ensure!(count == FRAMES, "replay {per_frame}: {count} rows, expected {FRAMES}: {rows:?}");
    }
    Ok(())
}

fn loop_register_rrd_shows_both_clouds_and_the_matches() -> Result<()> {
    let dir = scratch_dir("rerun")?;
    let (target, source) = (dir.join("target.ply"), dir.join("source.ply"));
    write_clouds(&target, &source)?;
    let rrd = dir.join("register.rrd");
    let json = cairn(&["loop", "register", &s(&target), &s(&source), "--voxel", "0.02", "--json", "--rrd", &s(&rrd)])?;
    let found: serde_json::Value = serde_json::from_str(&json)?;
    rerun_cli()?.run(["rrd", "verify", &s(&rrd)]).context("rerun rrd verify")?;
    let rows = rows_per_entity(&rrd)?;
    for path in [
        "/registration/target",
        "/registration/source",
        "/registration/source_registered",
        "/registration/matches/inliers",
        "/registration/matches/outliers",
    ] {
        ensure!(rows.get(path) == Some(&1), "{path}: {rows:?}");
    }
    ensure!(found["mnn"].as_u64().is_some_and(|m| m > 10), "{json}");
    Ok(())
}

/// `cairn detect --rrd --png` on two synthetic drive samples (an untrained
/// network: the view, not the detections, is under test): every camera's
/// image, projected sweep and box wire frames, the sweep and boxes in 3D,
/// one row per sample; and one PNG per sample, six tiles.
fn detect_rrd_and_png_show_every_camera() -> Result<()> {
    let dir = scratch_dir("rerun-detect")?;
    let (data, model) = (dir.join("drive"), dir.join("model"));
    if !data.join("sample_info.json").is_file() {
        cairn(&["sim", "drive", "--out", &s(&data), "--samples", "2", "--seed", "41", "--image-scale", "0.2"])?;
    }
    cairn(&["train", "cmt", "--data", &s(&data), "--steps", "1", "--out", &s(&model)])?;
    let (rrd, png) = (dir.join("detect.rrd"), dir.join("png"));
    let args = ["detect", &s(&data), "--model", &s(&model), "--out", &s(&dir.join("preds.json"))];
    let shown = ["--show-score", "0", "--png", &s(&png), "--png-tile", "200", "--rrd", &s(&rrd)];
    cairn(&[&args[..], &shown[..]].concat())?;
    rerun_cli()?.run(["rrd", "verify", &s(&rrd)]).context("rerun rrd verify")?;
    let rows = rows_per_entity(&rrd)?;
    let mut paths =
        vec!["/lidar/points".to_string(), "/lidar/boxes/detections".into(), "/lidar/boxes/ground_truth".into()];
    for camera in ["CAM_FRONT", "CAM_FRONT_LEFT", "CAM_FRONT_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT"] {
        for leaf in ["image", "lidar", "boxes/detections", "boxes/ground_truth"] {
            paths.push(format!("/cameras/{camera}/{leaf}"));
        }
    }
    for path in &paths {
        ensure!(rows.get(path) == Some(&2), "{path}: {:?} rows, expected 2: {rows:?}", rows.get(path));
    }
    let mut written: Vec<_> = std::fs::read_dir(&png)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    written.sort();
    ensure!(written.len() == 2, "{written:?}");
    let (width, height) = image::image_dimensions(&written[0])?;
    ensure!(width == 600 && height == 2 * (200 * 180_u32).div_ceil(320), "{width}×{height}");
    Ok(())
}

/// Two overlapping bumpy terrains, the source moved (as loop_cli.rs).
fn write_clouds(target: &Path, source: &Path) -> Result<()> {
    let terrain = |x0: f32, dx: f32, dz: f32| -> String {
        let mut text = String::new();
        for i in 0..100 {
            for j in 0..80 {
                let (x, y) = (x0 + i as f32 * 0.01, j as f32 * 0.01);
                let z = 0.1 * (-((x - 0.5).powi(2) + (y - 0.3).powi(2)) / 0.02).exp()
                    + 0.06 * (-((x - 0.9).powi(2) + (y - 0.6).powi(2)) / 0.01).exp()
                    + 0.04 * (7.0 * x).sin() * (5.0 * y).cos();
                text.push_str(&format!("{} {y} {}\n", x - dx, z + dz));
            }
        }
        format!(
            "ply\nformat ascii 1.0\nelement vertex 8000\nproperty float x\nproperty float y\nproperty float z\nend_header\n{text}"
        )
    };
    std::fs::write(target, terrain(0.0, 0.0, 0.0))?;
    std::fs::write(source, terrain(0.3, 0.3, 0.1))?;
    Ok(())
}

fn connect_streams_to_a_headless_viewer() -> Result<()> {
    let dir = scratch_dir("rerun")?;
    let seq = sequence(&dir)?;
    let (received, est) = (dir.join("received.rrd"), dir.join("connect.tum"));
    let _ = std::fs::remove_file(&received);
    // In a loopback-only namespace: a headless receiver that saves what it
    // gets, cairn streaming to it (it flushes before exiting), then the
    // receiver stopped. `.venv/bin/rerun` is a Python launcher with the real
    // binary as its child: the receiver runs in its own process group
    // (`set -m`) and the whole group is stopped, or the orphaned binary would
    // hold the pipes open. A stopped receiver leaves no RRD footer, so the
    // file is read with `rrd print`, not verified.
    let script = r#"
        set -m
        "$RERUN" --bind 127.0.0.1 --port 9877 --save "$RECEIVED" & viewer=$!
        for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/9877) 2>/dev/null && break; sleep 0.1; done
        "$CAIRN" slam "$SEQ" --out "$EST" --connect rerun+http://127.0.0.1:9877/proxy; status=$?
        sleep 2; kill -TERM -- -$viewer; wait $viewer
        exit $status
    "#;
    let output = Command::new(repo_root().join("scripts/loopback"))
        .args(["bash", "-c", script])
        .env("RERUN", &rerun_cli()?.program)
        .env("CAIRN", env!("CARGO_BIN_EXE_cairn"))
        .env("RECEIVED", &received)
        .env("SEQ", &seq)
        .env("EST", &est)
        .output()?;
    let log = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    ensure!(output.status.success(), "loopback run failed ({}): {log}", output.status);
    ensure!(received.is_file(), "the receiver saved nothing: {log}");
    let summary = cairn(&["slam", &s(&seq), "--out", &s(&est)])?;
    check_slam_rows(&rows_per_entity(&received)?, FRAMES, keyframes_in(&summary)?)
}

fn main() {
    let mut args = Arguments::from_args();
    // One at a time: they share the rendered sequence and port 9877.
    args.test_threads = Some(1);
    let missing = rerun_cli().err().filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("ignoring the rerun trials: {reason:#}");
    }
    let trials = [
        trial("rerun/slam_rrd_verifies_with_the_matching_viewer", slam_rrd_verifies_with_the_matching_viewer),
        trial(
            "rerun/loop_register_rrd_shows_both_clouds_and_the_matches",
            loop_register_rrd_shows_both_clouds_and_the_matches,
        ),
        trial("rerun/loop_eval_and_replay_rrd_record_the_slam_run", loop_eval_and_replay_rrd_record_the_slam_run),
        trial("rerun/detect_rrd_and_png_show_every_camera", detect_rrd_and_png_show_every_camera),
        trial("rerun/connect_streams_to_a_headless_viewer", connect_streams_to_a_headless_viewer),
    ];
    let trials = trials.into_iter().map(|t| t.with_ignored_flag(missing.is_some())).collect();
    let conclusion = libtest_mimic::run(&args, trials);
    if let Ok(dir) = scratch_dir("rerun") {
        if conclusion.has_failed() {
            eprintln!("scratch files kept in {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    conclusion.exit();
}
