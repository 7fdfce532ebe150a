//! The `cairn` command line: trajectory evaluation, bags, synthetic sensor
//! data, RGB-D SLAM with saved maps and relocalisation, the end-to-end demo,
//! swapping-trainer benchmarks and training jobs (L3D, CMT), point-cloud
//! registration, 3D detection and its nuScenes evaluation, the ROS 2 SLAM
//! and detection nodes over DDS, bag replay, ROS 2 launch files and rerun
//! visualisation.
//!
//! # Brief overview
//! [`Cli`] is the whole argument tree (clap). [`run`] validates it once and
//! dispatches through one `match` to a subcommand module ([`eval`], [`bag`],
//! [`sim`], [`slam`], [`demo`], [`train`], [`detect`], [`loops`], [`node`],
//! [`replay`], [`launch`]; `cairn node detect` is [`node_detect`]), which
//! returns the text to print. The ROS 2 nodes' parts (parameters, input
//! synchronisation, the transport-free pipelines, output messages, the
//! ros2-client DDS side) live in [`ros`];
//! [`viz`] is the one rerun seam (`--rrd` / `--connect`) those commands log
//! through.
//! The `cairn` binary is a thin wrapper, so tests
//! drive exactly the code users run:
//!
//! ```
//! use clap::Parser;
//! let cli = cairn_nodes::Cli::try_parse_from(["cairn", "eval", "ate", "--gt", "a.txt", "--est", "b.txt"]).unwrap();
//! let err = cairn_nodes::run(&cli).unwrap_err();
//! assert!(format!("{err:#}").contains("a.txt"));
//! ```

pub mod bag;
pub mod demo;
pub mod detect;
pub mod eval;
pub mod eval_det;
pub mod launch;
pub mod loop_eval;
pub mod loop_log;
pub mod loops;
pub mod node;
pub mod node_detect;
pub mod pr_curve;
pub mod progress;
pub mod replay;
pub mod ros;
pub mod sim;
pub mod slam;
pub mod slam_bag;
pub mod train;
pub mod viz;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// cairn: RGB-D SLAM, 3D detection and training for ROS 2 robots.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The top-level subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate an estimated trajectory against ground truth (ATE, RPE), or
    /// detections against a sample set (nuScenes mAP, NDS).
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Inspect, export and convert rosbag2 bags (directories, .mcap, .db3).
    #[command(subcommand)]
    Bag(bag::BagCommand),
    /// Render synthetic sensor data with ground truth.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Edge-based RGB-D SLAM (tracking, sliding window, pose graph) over a TUM
    /// RGB-D folder or a rosbag2 bag: one pose per frame.
    Slam(slam::SlamArgs),
    /// The end-to-end demo on embedded defaults: render office sequences with
    /// cairn-sim (cached), track them with cairn slam, print ATE and frames/s,
    /// and plot each estimate against its ground truth.
    Demo(demo::DemoArgs),
    /// Training: benchmark the swapping trainer's schedules.
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// 3D detection with a trained CMT over a sample set or a bag → a nuScenes submission JSON.
    Detect(detect::DetectArgs),
    /// Loop closure: register point clouds as the L3D loop check does; score
    /// loop decisions on a sequence with ground truth.
    #[command(subcommand)]
    Loop(loops::LoopCommand),
    /// ROS 2 nodes over DDS (ros2-client; no ROS install needed).
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Replay a bag's camera topics through the SLAM node: in-process
    /// (deterministic, `--out`), or published on DDS (`--publish`).
    Replay(replay::ReplayArgs),
    /// Run a ROS 2 YAML launch file without ROS: start its processes,
    /// prefix their output, respawn, stop them all on Ctrl-C. Supported:
    /// arg, let, executable, group, include; $(var), $(env), $(dirname).
    Launch(launch::LaunchArgs),
}

/// Runs a parsed command line and returns what it prints on stdout.
pub fn run(cli: &Cli) -> Result<String> {
    match &cli.command {
        Command::Eval(command) => eval::run(command),
        Command::Bag(command) => bag::run(command),
        Command::Sim(command) => sim::run(command),
        Command::Slam(args) => slam::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Train(command) => train::run(command),
        Command::Detect(args) => detect::run(args),
        Command::Loop(command) => loops::run(command),
        Command::Node(command) => node::run(command),
        Command::Replay(args) => replay::run(args),
        Command::Launch(args) => launch::run(args),
    }
}
