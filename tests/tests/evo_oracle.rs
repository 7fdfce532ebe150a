//! `cairn eval ate|rpe` against evo itself (`evo_ape`, `evo_rpe`, installed in
//! the project's venv by the test command), on the real TUM ground truth in
//! ../shared/data/trajectories and seeded perturbed estimates.
//!
//! Every statistic evo prints (rmse, mean, median, std, min, max) must agree
//! to 1e-6 (m or deg), sse to 1e-9 relative, and the pair count exactly. evo's
//! numbers are read from `--save_results` (full precision), never copied.
//!
//! One trial per (sequence, perturbation, format, alignment, metric). Missing
//! data or evo → trials reported as ignored (skipped), unless
//! `CAIRN_REQUIRE_ORACLES=1` makes a missing evo a failure.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, bail};
use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_e2e::perturb::{Perturbation, perturb};
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir, shared_file};
use clap::Parser;
use libtest_mimic::{Arguments, Failed, Trial};

const SEQUENCES: [(&str, &str); 2] = [
    ("fr1_xyz", "trajectories/tum_fr1_xyz_groundtruth.txt"),
    ("fr2_desk", "trajectories/tum_fr2_desk_groundtruth.txt"),
];
const ALIGNMENTS: [(&str, &[&str]); 3] = [("none", &[]), ("se3", &["-a"]), ("sim3", &["-as"])];
/// (name, cairn arguments, evo program, evo arguments)
const METRICS: [(&str, &[&str], &str, &[&str]); 4] = [
    ("ate", &["ate"], "evo_ape", &[]),
    ("rpe_trans_10f", &["rpe", "--delta", "10"], "evo_rpe", &["--delta", "10", "-r", "trans_part"]),
    ("rpe_rot_10f", &["rpe", "--delta", "10", "--relation", "rot"], "evo_rpe", &["--delta", "10", "-r", "angle_deg"]),
    ("rpe_trans_0.2m", &["rpe", "--delta", "0.2", "--unit", "m"], "evo_rpe", &["--delta", "0.2", "--delta_unit", "m"]),
];
/// Seconds of the large time offset, undone with `--t-offset` / `--t_offset`.
const LARGE_OFFSET: f64 = 0.5;

/// One perturbed estimate of one sequence in one format; its files are
/// written on first use (each nextest process runs one trial, so nothing is
/// generated that the trial does not need).
struct Case {
    label: String,
    source: PathBuf,
    format: TrajectoryFormat,
    kind: Perturbation,
    seed: u64,
    dir: PathBuf,
    files: OnceLock<Result<(PathBuf, PathBuf), String>>,
}

impl Case {
    /// The committed fixture pair in tests/data (a drifting estimate of
    /// fr1_xyz at 10 Hz), which needs no shared data.
    fn fixture() -> Self {
        let dir = repo_root().join("tests/data");
        let files = OnceLock::from(Ok((dir.join("fr1_xyz_gt.tum"), dir.join("fr1_xyz_est.tum"))));
        Case {
            label: "fixture/tum/fr1_xyz_est".into(),
            source: dir.join("fr1_xyz_gt.tum"),
            format: TrajectoryFormat::Tum,
            kind: Perturbation::Noise,
            seed: 0,
            dir,
            files,
        }
    }

    /// `(ground truth, estimate)` files in `self.format`.
    fn files(&self) -> Result<(PathBuf, PathBuf)> {
        self.files.get_or_init(|| self.write().map_err(|e| format!("{e:#}"))).clone().map_err(anyhow::Error::msg)
    }

    fn write(&self) -> Result<(PathBuf, PathBuf)> {
        let gt = Trajectory::read(&self.source, TrajectoryFormat::Tum)?;
        let est = perturb(&gt, self.kind, self.seed);
        let stem = self.label.replace('/', "_");
        let (gt_file, est_file) = (self.dir.join(format!("{stem}_gt.txt")), self.dir.join(format!("{stem}_est.txt")));
        gt.write(&gt_file, self.format)?;
        est.write(&est_file, self.format)?;
        Ok((gt_file, est_file))
    }

    /// Value for cairn's `--t-offset` and evo's `--t_offset`.
    fn t_offset(&self) -> Option<f64> {
        (self.kind == Perturbation::TimeOffset(LARGE_OFFSET)).then_some(-LARGE_OFFSET)
    }
}

fn perturbations(format: TrajectoryFormat) -> Vec<Perturbation> {
    match format {
        TrajectoryFormat::Tum => vec![
            Perturbation::Noise,
            Perturbation::Drift,
            Perturbation::Scale,
            Perturbation::TimeOffset(0.004),
            Perturbation::TimeOffset(LARGE_OFFSET),
            Perturbation::Missing,
        ],
        // KITTI has no stamps: only same-length estimates make sense.
        TrajectoryFormat::Kitti => vec![Perturbation::Noise, Perturbation::Drift, Perturbation::Scale],
    }
}

fn cases(name: &str, source: &Path, dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for (format, ext) in [(TrajectoryFormat::Tum, "tum"), (TrajectoryFormat::Kitti, "kitti")] {
        for (seed, kind) in perturbations(format).into_iter().enumerate() {
            cases.push(Case {
                label: format!("{name}/{ext}/{}", kind.name()),
                source: source.to_path_buf(),
                format,
                kind,
                seed: seed as u64 + 1,
                dir: dir.to_path_buf(),
                files: OnceLock::new(),
            });
        }
    }
    cases
}

/// cairn's statistics, through the same CLI code path as the binary.
fn cairn_stats(case: &Case, align: &str, metric_args: &[&str]) -> Result<serde_json::Value> {
    let mut args: Vec<String> = vec!["cairn".into(), "eval".into()];
    args.extend(metric_args.iter().map(|s| s.to_string()));
    let (gt, est) = case.files()?;
    args.extend(["--gt".into(), gt.display().to_string(), "--est".into(), est.display().to_string()]);
    args.extend(["--align".into(), align.into(), "--json".into()]);
    if case.format == TrajectoryFormat::Kitti {
        args.extend(["--format".into(), "kitti".into()]);
    }
    if let Some(offset) = case.t_offset() {
        args.push(format!("--t-offset={offset}"));
    }
    let cli = cairn_nodes::Cli::try_parse_from(&args)?;
    Ok(serde_json::from_str(&cairn_nodes::run(&cli)?)?)
}

/// evo's statistics from its `--save_results` zip, read by tests/oracle/evo_result.py.
fn evo_stats(
    case: &Case,
    program: &str,
    align_flags: &[&str],
    metric_args: &[&str],
    zip: &Path,
) -> Result<serde_json::Value> {
    let evo = Oracle::find(program).map_err(anyhow::Error::msg)?;
    let mut args: Vec<String> = vec![if case.format == TrajectoryFormat::Kitti { "kitti" } else { "tum" }.into()];
    let (gt, est) = case.files()?;
    args.extend([gt.display().to_string(), est.display().to_string()]);
    args.extend(align_flags.iter().chain(metric_args).map(|s| s.to_string()));
    if let Some(offset) = case.t_offset() {
        args.push(format!("--t_offset={offset}"));
    }
    args.extend(["--no_warnings".into(), "--save_results".into(), zip.display().to_string()]);
    evo.run(&args)?;
    let python = Oracle::python().map_err(anyhow::Error::msg)?;
    let reader = repo_root().join("tests/oracle/evo_result.py");
    Ok(serde_json::from_str(&python.run([reader.as_os_str(), zip.as_os_str()])?)?)
}

fn compare(cairn: &serde_json::Value, evo: &serde_json::Value, unit: &str) -> Result<()> {
    let number = |v: &serde_json::Value, key: &str| v[key].as_f64().with_context(|| format!("no {key} in {v}"));
    let mut mismatches = Vec::new();
    for key in ["rmse", "mean", "median", "std", "min", "max"] {
        let (c, e) = (number(cairn, key)?, number(evo, key)?);
        if (c - e).abs() > 1e-6 {
            mismatches.push(format!("{key}: cairn {c} vs evo {e}"));
        }
    }
    let (c, e) = (number(cairn, "sse")?, number(evo, "sse")?);
    if (c - e).abs() > 1e-9 * e.abs().max(1e-9) {
        mismatches.push(format!("sse: cairn {c} vs evo {e}"));
    }
    if cairn["pairs"] != evo["pairs"] {
        mismatches.push(format!("pairs: cairn {} vs evo {}", cairn["pairs"], evo["pairs"]));
    }
    if cairn["unit"] != unit {
        mismatches.push(format!("unit: cairn {} vs expected {unit}", cairn["unit"]));
    }
    if !mismatches.is_empty() {
        bail!("{}", mismatches.join("; "));
    }
    Ok(())
}

fn trials(scratch: &Path) -> Vec<Trial> {
    let evo_missing = Oracle::find("evo_ape").err().filter(|_| !oracles_required());
    let mut trials = vec![Trial::test("evo_oracle/compare_rejects_a_2e-6_difference", || {
        let evo = serde_json::json!({"rmse": 1.0, "mean": 1.0, "median": 1.0, "std": 0.0, "min": 1.0, "max": 1.0, "sse": 2.0, "pairs": 2});
        let mut cairn = evo.clone();
        cairn["unit"] = "m".into();
        compare(&cairn, &evo, "m").map_err(|e| format!("identical stats rejected: {e:#}"))?;
        cairn["median"] = (1.0 + 2e-6).into();
        match compare(&cairn, &evo, "m") {
            Err(e) if e.to_string().contains("median") => Ok(()),
            other => Err(Failed::from(format!("a 2e-6 median difference was not reported: {other:?}"))),
        }
    })];
    let mut all_cases = vec![Case::fixture()];
    for (name, relative) in SEQUENCES {
        let source = match shared_file(relative) {
            Ok(path) => path,
            Err(reason) => {
                // Listed as ignored so the runner counts it as skipped (the
                // reason goes to stderr: stdout is the test list); it
                // fails if forced to run, so it can never pass without data.
                eprintln!("skipping evo_oracle/{name}: {reason}");
                let trial =
                    Trial::test(format!("evo_oracle/{name}/needs_shared_data"), move || Err(Failed::from(reason)));
                trials.push(trial.with_ignored_flag(true));
                continue;
            }
        };
        all_cases.extend(cases(name, &source, scratch));
    }
    for case in all_cases.into_iter().map(Arc::new) {
        for (align, align_flags) in ALIGNMENTS {
            for (metric, cairn_args, program, evo_args) in METRICS {
                let case = Arc::clone(&case);
                let zip = scratch.join(format!("{}-{align}-{metric}.zip", case.label.replace('/', "_")));
                let unit = if metric.starts_with("rpe_rot") { "deg" } else { "m" };
                let trial = Trial::test(format!("evo_oracle/{}/{align}/{metric}", case.label), move || {
                    let cairn = cairn_stats(&case, align, cairn_args).map_err(|e| format!("cairn: {e:#}"))?;
                    let evo =
                        evo_stats(&case, program, align_flags, evo_args, &zip).map_err(|e| format!("evo: {e:#}"))?;
                    compare(&cairn, &evo, unit).map_err(|e| Failed::from(format!("{e:#}")))
                });
                trials.push(trial.with_ignored_flag(evo_missing.is_some()));
            }
        }
    }
    if let Some(reason) = evo_missing {
        eprintln!("skipping evo_oracle comparisons: {reason}");
    }
    trials
}

fn main() {
    let args = Arguments::from_args();
    let scratch = match scratch_dir("evo_oracle") {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("evo_oracle: cannot create a scratch directory: {e}");
            std::process::exit(101);
        }
    };
    // evo writes its settings file on first use: do that once, not in parallel.
    if let (false, Ok(evo)) = (args.list, Oracle::find("evo_ape")) {
        let _ = evo.run(["--help"]);
    }
    let conclusion = libtest_mimic::run(&args, trials(&scratch));
    let _ = std::fs::remove_dir_all(&scratch);
    conclusion.exit();
}
