//! Whole-process speed of `cairn eval ate` against `evo_ape`, same machine,
//! same run, on the real 20,957-pose TUM fr2_desk ground truth and a
//! perturbed (drifting) copy of it.
//!
//! ```text
//! cargo build --release -p cairn-nodes
//! cargo bench -p cairn-e2e --bench eval_vs_evo     # CAIRN_BENCH_RUNS=N (default 7)
//! ```
//!
//! Prints the median and best wall time of each tool, the speed ratio, and
//! both tools' ATE RMSE (which must agree). Runs alternate between the tools
//! so that background load hits both alike.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_e2e::perturb::{Perturbation, perturb};
use cairn_e2e::{Oracle, scratch_dir, shared_file};

fn cairn_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CAIRN_BIN") {
        return Ok(PathBuf::from(path));
    }
    // target/release/deps/eval_vs_evo-HASH → target/release/cairn
    let exe = std::env::current_exe()?;
    let candidate = exe.parent().and_then(Path::parent).map(|dir| dir.join("cairn"));
    match candidate {
        Some(path) if path.is_file() => Ok(path),
        _ => bail!(
            "no cairn binary next to the bench: run `cargo build --release -p cairn-nodes` first (or set CAIRN_BIN)"
        ),
    }
}

/// Wall time of one whole process, and its stdout.
fn time_once(program: &Path, args: &[&str]) -> Result<(Duration, String)> {
    let start = Instant::now();
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("starting {}", program.display()))?;
    let elapsed = start.elapsed();
    if !output.status.success() {
        bail!("{} failed: {}", program.display(), String::from_utf8_lossy(&output.stderr));
    }
    Ok((elapsed, String::from_utf8_lossy(&output.stdout).into_owned()))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<()> {
    let source = match shared_file("trajectories/tum_fr2_desk_groundtruth.txt") {
        Ok(path) => path,
        Err(reason) => {
            println!("eval_vs_evo skipped: {reason}");
            return Ok(());
        }
    };
    let evo = Oracle::find("evo_ape").map_err(anyhow::Error::msg)?;
    let cairn = cairn_binary()?;
    let runs: usize = std::env::var("CAIRN_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(7).max(1);

    let dir = scratch_dir("eval_vs_evo")?;
    let gt = Trajectory::read(&source, TrajectoryFormat::Tum)?;
    let est = perturb(&gt, Perturbation::Drift, 42);
    let est_path = dir.join("fr2_desk_drift.txt");
    est.write(&est_path, TrajectoryFormat::Tum)?;
    let (gt_arg, est_arg) = (source.display().to_string(), est_path.display().to_string());

    let cairn_args = ["eval", "ate", "--gt", &gt_arg, "--est", &est_arg, "--align", "se3", "--json"];
    let evo_args = ["tum", &gt_arg, &est_arg, "-a", "--no_warnings"];
    let (mut cairn_times, mut evo_times) = (Vec::new(), Vec::new());
    let (mut cairn_out, mut evo_out) = (String::new(), String::new());
    for _ in 0..runs {
        let (t, out) = time_once(&cairn, &cairn_args)?;
        cairn_times.push(t);
        cairn_out = out;
        let (t, out) = time_once(&evo.program, &evo_args)?;
        evo_times.push(t);
        evo_out = out;
    }
    let _ = std::fs::remove_dir_all(&dir);

    let cairn_rmse = serde_json::from_str::<serde_json::Value>(&cairn_out)?["rmse"].as_f64().context("cairn rmse")?;
    let evo_rmse = evo_out.lines().find_map(|l| l.trim().strip_prefix("rmse")).map(str::trim).unwrap_or("?").to_owned();
    let (cairn_med, evo_med) = (median(cairn_times.clone()), median(evo_times.clone()));
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
    println!(
        "eval_vs_evo: ATE (SE(3) alignment), fr2_desk ground truth ({} poses) vs drifting estimate, {runs} runs each",
        gt.len()
    );
    println!(
        "  cairn eval ate  median {:>9.1} ms  best {:>9.1} ms  rmse {cairn_rmse:.6}",
        ms(cairn_med),
        ms(best(&cairn_times))
    );
    println!(
        "  evo_ape         median {:>9.1} ms  best {:>9.1} ms  rmse {evo_rmse}",
        ms(evo_med),
        ms(best(&evo_times))
    );
    println!("  speed ratio (evo / cairn, medians): {:.1}x", evo_med.as_secs_f64() / cairn_med.as_secs_f64());
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
