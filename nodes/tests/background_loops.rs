//! Loop closure on a worker thread (what the live node runs): on a two-lap
//! sequence it must still close loops, with an ATE within 1.5× of the
//! synchronous detector's (the bound for the live node against the
//! offline run), and `finish` must collect the checks that were still in
//! flight when the input ended. (Timing-dependent by nature: the
//! margins are wide; scripts/node-load measures the live case.)

use std::path::{Path, PathBuf};
use std::process::Command;

use cairn_bags::storage::Bag;
use cairn_core::metrics::{EvalOptions, ate};
use cairn_core::trajectory::{Trajectory, TrajectoryFormat};
use cairn_nodes::replay::feed;
use cairn_nodes::ros::params::NodeConfig;
use cairn_nodes::ros::pipeline::SlamPipeline;
use cairn_nodes::slam::LoopArg;

fn cairn(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("cairn runs");
    assert!(output.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Replays `bag` through a fresh pipeline: (ATE against `truth`, loop edges
/// kept). The background run is paced at half the recorded rate (a worker
/// that is fed frames as fast as the tracker goes skips most checks).
fn run(bag: &Bag, truth: &Trajectory, loops: LoopArg, background: bool) -> (f64, usize) {
    let config = NodeConfig::read(None).expect("default parameters");
    let topics = config.node.topics.clone();
    let mut pipeline =
        SlamPipeline::new(config.node, config.slam).with_loop_closure(loops).with_background_loops(background);
    feed(bag, &topics, &mut pipeline, background.then_some(0.5)).expect("replay");
    let (stamps, poses) = pipeline.trajectory().into_iter().map(|(stamp, pose, _)| (stamp, pose)).unzip();
    let estimate = Trajectory::with_stamps("estimate", stamps, poses).expect("trajectory");
    let report = ate(truth, &estimate, &EvalOptions::default()).expect("ATE");
    (report.stats.rmse, pipeline.loop_edges().0)
}

#[test]
fn background_loop_closure_closes_loops_and_corrects_drift() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-background-loops-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (sim, bag_dir) = (dir.join("sim"), dir.join("bag"));
    cairn(&["sim", "rgbd", "--out", &s(&sim), "--path", "loop", "--laps", "2", "--frames", "300", "--seed", "1"]);
    cairn(&["bag", "from-tum", &s(&sim), "--out", &s(&bag_dir)]);
    let truth = Trajectory::read(&sim.join("groundtruth.txt"), TrajectoryFormat::Tum).expect("ground truth");
    let bag = Bag::open(&bag_dir).expect("bag");
    let (no_loops, _) = run(&bag, &truth, LoopArg::None, false);
    let (inline, inline_loops) = run(&bag, &truth, LoopArg::Fpfh, false);
    let (background, background_loops) = run(&bag, &truth, LoopArg::Fpfh, true);
    eprintln!(
        "ATE: no loops {no_loops:.4} m; inline {inline:.4} m ({inline_loops} loops); \
         background {background:.4} m ({background_loops} loops)"
    );
    assert!(inline_loops > 0, "the synchronous detector closes loops here");
    assert!(background_loops > 0, "the worker thread closed no loop");
    assert!(background <= 1.5 * inline, "background {background} vs inline {inline}");
    let _ = std::fs::remove_dir_all(&dir);
}
