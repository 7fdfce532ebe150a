//! `cairn slam` end to end on a short synthetic sequence, as a user runs
//! it: `cairn sim rgbd` renders three seconds of the generated loop (default
//! Kinect-like noise), `cairn slam` tracks the folder and a bag made from
//! it by `cairn bag from-tum`; each estimate has exactly one finite pose per
//! frame and an ATE (cairn_core::metrics, SE(3)-aligned, against the
//! rendered ground truth) within 2 cm.
//!
//! The commands run in-process through `cairn_nodes::run` (what the `cairn`
//! binary's `main` calls), as the other tests of this crate do: Cargo only
//! builds a package's own binaries for its tests, and the binary itself is
//! covered by nodes/tests/slam_cli.rs.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use cairn_core::align::Alignment;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::trajectory::{Trajectory, TrajectoryFormat};
use clap::Parser;

/// Frames to render: three seconds at 30 Hz.
const FRAMES: usize = 90;

fn cairn(args: &[&str]) -> Result<String> {
    let cli = cairn_nodes::Cli::try_parse_from(std::iter::once("cairn").chain(args.iter().copied()))?;
    cairn_nodes::run(&cli).with_context(|| format!("cairn {}", args.join(" ")))
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Checks an estimate: one finite pose per frame (and per stamp of
/// rgb.txt), ATE below 2 cm against `groundtruth`; returns the ATE.
fn check_estimate(estimate_file: &Path, groundtruth: &Trajectory, stamps: &[f64]) -> Result<f64> {
    let text = std::fs::read_to_string(estimate_file)?;
    let rows: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
    ensure!(rows.len() == FRAMES, "{} poses for {FRAMES} frames", rows.len());
    for row in &rows {
        let values: Vec<f64> = row.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        ensure!(values.len() == 8 && values.iter().all(|v| v.is_finite()), "bad pose row {row:?}");
    }
    let estimate = Trajectory::read(estimate_file, TrajectoryFormat::Tum)?;
    let estimated_stamps = estimate.stamps.clone().unwrap_or_default();
    let same_stamps = estimated_stamps.iter().zip(stamps).all(|(a, b)| (a - b).abs() < 1e-6);
    ensure!(estimated_stamps.len() == stamps.len() && same_stamps, "stamps differ from rgb.txt");
    let options = EvalOptions { align: Alignment::Se3, ..Default::default() };
    let report = metrics::ate(groundtruth, &estimate, &options)?;
    ensure!(report.stats.pairs == FRAMES, "{} of {FRAMES} poses matched the ground truth", report.stats.pairs);
    Ok(report.stats.rmse)
}

#[test]
fn slam_on_a_folder_and_its_bag_is_within_two_centimetres() -> Result<()> {
    let dir = cairn_e2e::scratch_dir("slam-cli")?;
    let sequence = dir.join("sequence");
    let _ = std::fs::remove_dir_all(&sequence);
    // 0.3 of a 300-frame lap: the generated loop's usual speed (≈ 1 m/s).
    let frames = FRAMES.to_string();
    cairn(&["sim", "rgbd", "--out", &s(&sequence), "--frames", &frames, "--laps", "0.3", "--seed", "4"])?;
    let groundtruth = Trajectory::read(&sequence.join("groundtruth.txt"), TrajectoryFormat::Tum)?;
    let rgb_list = std::fs::read_to_string(sequence.join("rgb.txt"))?;
    let stamps: Vec<f64> = rgb_list
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::parse)
        .collect::<Result<_, _>>()?;

    let from_folder = dir.join("folder.tum");
    let printed = cairn(&["slam", &s(&sequence), "--out", &s(&from_folder)])?;
    ensure!(printed.contains(&format!("{FRAMES} frames")) && printed.contains("ATE RMSE"), "{printed}");
    let folder_ate = check_estimate(&from_folder, &groundtruth, &stamps)?;

    let bag = dir.join("bag");
    let _ = std::fs::remove_dir_all(&bag);
    cairn(&["bag", "from-tum", &s(&sequence), "--out", &s(&bag)])?;
    let from_bag = dir.join("bag.tum");
    cairn(&["slam", &s(&bag), "--out", &s(&from_bag)])?;
    let bag_ate = check_estimate(&from_bag, &groundtruth, &stamps)?;

    eprintln!("ATE RMSE: folder {folder_ate:.4} m, bag {bag_ate:.4} m");
    ensure!(folder_ate < 0.02, "folder ATE RMSE {folder_ate} m");
    ensure!(bag_ate < 0.02, "bag ATE RMSE {bag_ate} m");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
