//! `cairn eval ate|rpe`: trajectory error metrics that agree with evo;
//! `cairn eval det`: nuScenes detection metrics ([`crate::eval_det`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_core::align::Alignment;
use cairn_core::metrics::{self, DeltaUnit, ErrorReport, EvalOptions, Relation, RpeOptions};
use cairn_core::sync::DEFAULT_MAX_DIFF;
use cairn_core::trajectory::{Trajectory, TrajectoryFormat};
use clap::{Args, Subcommand, ValueEnum};

/// The `eval` subcommands.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Absolute trajectory error: position error after alignment (evo_ape).
    Ate(CommonArgs),
    /// Relative pose error over pose pairs `--delta` apart (evo_rpe).
    Rpe {
        /// Arguments shared with `ate`.
        #[command(flatten)]
        common: CommonArgs,
        /// Step between the two poses of a pair, in `--unit`s.
        #[arg(long, default_value_t = 1.0)]
        delta: f64,
        /// Unit of `--delta`: frames, or metres travelled by the estimate.
        #[arg(long, value_enum, default_value_t = UnitArg::Frames)]
        unit: UnitArg,
        /// Error measured: translation (m) or rotation angle (degrees).
        #[arg(long, value_enum, default_value_t = RelationArg::Trans)]
        relation: RelationArg,
    },
    /// nuScenes detection metrics (mAP, TP errors, NDS) of a submission
    /// against a sample set, as the nuscenes-devkit computes them.
    Det(crate::eval_det::DetArgs),
}

/// Arguments shared by `ate` and `rpe`.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Ground-truth (reference) trajectory file.
    #[arg(long, value_name = "FILE")]
    gt: PathBuf,
    /// Estimated trajectory file.
    #[arg(long, value_name = "FILE")]
    est: PathBuf,
    /// File format of both trajectories.
    #[arg(long, value_enum, default_value_t = FormatArg::Tum)]
    format: FormatArg,
    /// Alignment of the estimate before measuring (Umeyama).
    #[arg(long, value_enum, default_value_t = AlignArg::Se3)]
    align: AlignArg,
    /// Print one JSON object (rmse mean median std min max sse pairs unit).
    #[arg(long)]
    json: bool,
    /// Largest timestamp difference (s) for associating poses (TUM only).
    #[arg(long, default_value_t = DEFAULT_MAX_DIFF, value_name = "SECONDS")]
    t_max_diff: f64,
    /// Seconds added to the estimate's timestamps before associating.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS", allow_hyphen_values = true)]
    t_offset: f64,
}

/// Trajectory file format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// `timestamp tx ty tz qx qy qz qw` per line
    Tum,
    /// 3×4 row-major `[R | t]` per line, no timestamps
    Kitti,
}

/// Umeyama alignment mode.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlignArg {
    /// no alignment
    None,
    /// rotation + translation (evo -a)
    Se3,
    /// rotation + translation + scale (evo -as)
    Sim3,
}

/// Unit of the RPE delta.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UnitArg {
    /// every N-th pose
    Frames,
    /// N metres of path travelled by the estimate
    M,
}

/// Measured part of the RPE error pose.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RelationArg {
    /// translation error (m)
    Trans,
    /// rotation angle error (degrees)
    Rot,
}

/// Runs one `eval` subcommand and returns its report as text.
pub fn run(command: &EvalCommand) -> Result<String> {
    let (common, title) = match command {
        EvalCommand::Det(args) => return crate::eval_det::run(args),
        EvalCommand::Ate(common) => (common, "ATE w.r.t. translation (m)".to_owned()),
        EvalCommand::Rpe { common, delta, unit, relation } => {
            let what = match relation {
                RelationArg::Trans => "translation (m)",
                RelationArg::Rot => "rotation angle (deg)",
            };
            let unit = match unit {
                UnitArg::Frames => "frames",
                UnitArg::M => "m",
            };
            (common, format!("RPE w.r.t. {what} for delta = {delta} ({unit})"))
        }
    };
    let format = match common.format {
        FormatArg::Tum => TrajectoryFormat::Tum,
        FormatArg::Kitti => TrajectoryFormat::Kitti,
    };
    let gt = Trajectory::read(&common.gt, format).context("reading the ground truth")?;
    let est = Trajectory::read(&common.est, format).context("reading the estimate")?;
    let options = EvalOptions {
        align: match common.align {
            AlignArg::None => Alignment::None,
            AlignArg::Se3 => Alignment::Se3,
            AlignArg::Sim3 => Alignment::Sim3,
        },
        max_diff: common.t_max_diff,
        offset: common.t_offset,
    };
    let report = match command {
        EvalCommand::Rpe { delta, unit, relation, .. } => {
            let rpe = RpeOptions {
                delta: *delta,
                unit: match unit {
                    UnitArg::Frames => DeltaUnit::Frames,
                    UnitArg::M => DeltaUnit::Meters,
                },
                relation: match relation {
                    RelationArg::Trans => Relation::Translation,
                    RelationArg::Rot => Relation::RotationDeg,
                },
            };
            metrics::rpe(&gt, &est, &options, &rpe)?
        }
        _ => metrics::ate(&gt, &est, &options)?,
    };
    Ok(if common.json { format!("{}\n", json(&report)) } else { pretty(&title, options.align, &report) })
}

/// The `--json` object: exactly the keys the CLI documents.
fn json(report: &ErrorReport) -> serde_json::Value {
    let s = &report.stats;
    serde_json::json!({
        "rmse": s.rmse, "mean": s.mean, "median": s.median, "std": s.std,
        "min": s.min, "max": s.max, "sse": s.sse, "pairs": s.pairs, "unit": report.unit,
    })
}

/// evo-like human output.
fn pretty(title: &str, align: Alignment, report: &ErrorReport) -> String {
    let s = &report.stats;
    let alignment = match align {
        Alignment::None => "not aligned".to_owned(),
        Alignment::Se3 => "with SE(3) Umeyama alignment".to_owned(),
        Alignment::Sim3 => format!("with Sim(3) Umeyama alignment, scale {:.6}", report.alignment.scale),
    };
    let rows = [
        ("max", s.max),
        ("mean", s.mean),
        ("median", s.median),
        ("min", s.min),
        ("rmse", s.rmse),
        ("sse", s.sse),
        ("std", s.std),
    ];
    let mut out = format!("{title}\n({alignment}, {} pose pairs)\n\n", s.pairs);
    for (name, value) in rows {
        out.push_str(&format!("{name:>10}\t{value:.6}\n"));
    }
    out
}
