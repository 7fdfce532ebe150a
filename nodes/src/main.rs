//! The `cairn` command line.
//!
//! Today it evaluates trajectories (`cairn eval ate|rpe`) with results that
//! agree with evo; ROS 2 nodes, bag replay and rerun visualisation join it as
//! they land. Arguments are parsed once, validated, then dispatched through
//! one `match`.

mod eval;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// cairn: RGB-D SLAM, 3D detection and training for ROS 2 robots.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Evaluate an estimated trajectory against ground truth (ATE, RPE).
    #[command(subcommand)]
    Eval(eval::EvalCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Eval(command) => eval::run(&command),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One clear line: the whole context chain, joined.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
