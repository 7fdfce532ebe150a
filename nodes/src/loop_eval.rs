//! `cairn loop eval DATASET [--descriptor fpfh|l3d]`: how good are the loop
//! decisions of `cairn slam --loop fpfh` (or `--loop l3d`) on a sequence
//! with ground truth, and what do they cost per keyframe?
//!
//! Tracks the sequence twice (without and with loop closure) and reports
//! both ATEs; then scores every keyframe's loop decision against the
//! ground-truth overlap, as L3D counts loops (overlap > 0.3):
//! - the **ground-truth overlap** of keyframes q and c is the fraction of
//!   q's keyframe cloud (as the detector builds it) that lies, moved by the
//!   true `c_from_q`, within the ICP distance of c's cloud;
//! - a keyframe is a **positive** when some keyframe outside its temporal
//!   window overlaps it by more than 0.3;
//! - an accepted loop is a **true positive** when its pair overlaps by
//!   more than 0.3, else a **false positive**; a positive keyframe without
//!   a true positive is a **false negative**.
//!
//! Accepted loops are also checked against the true relative pose.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use cairn_core::align::Alignment;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::trajectory::Trajectory;
use cairn_core::transform::Rigid3;
use cairn_core::tum::TumDataset;
use cairn_perception::l3d::Neighbours;
use cairn_slam::graph::EdgeKind;
use cairn_slam::loop_detector::keyframe_points;
use cairn_slam::{LoopOutcome, RejectReason, SlamConfig};
use clap::Args;
use nalgebra::Point3;

use crate::loops::DescriptorArg;
use crate::pr_curve::PrPoint;
use crate::slam::{self, LoopArg, SlamArgs, Tracked};
use crate::viz::VizArgs;

/// Ground-truth overlap above which two keyframes show the same place.
pub const TRUE_OVERLAP: f64 = 0.3;

/// Arguments of `cairn loop eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// TUM RGB-D folder with groundtruth.txt (e.g. from `cairn sim rgbd`).
    #[arg(value_name = "DATASET")]
    dataset: PathBuf,
    /// Parameters as a ROS 2 parameter file (as `cairn slam --config`).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Process only the first N frames.
    #[arg(long)]
    frames: Option<usize>,
    /// Descriptor of the loop detector.
    #[arg(long, value_enum, default_value_t = DescriptorArg::Fpfh)]
    descriptor: DescriptorArg,
    /// `--descriptor l3d`: a folder with dip.json and dip.safetensors
    /// instead of the built-in weights.
    #[arg(long, value_name = "DIR")]
    weights: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Draw the precision–recall curve of the loop decisions (overlap
    /// threshold swept) into this PNG.
    #[arg(long, value_name = "FILE.png")]
    pr_curve: Option<PathBuf>,
    /// `--rrd FILE` / `--connect URL`: rerun visualisation of the run with
    /// loop closure (keyframes, loop edges, trajectories).
    #[command(flatten)]
    viz: VizArgs,
}

/// The scores.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoopScores {
    /// ATE RMSE without loop closure (m).
    pub ate_without_loops_m: f64,
    /// ATE RMSE with loop closure (m).
    pub ate_with_loops_m: f64,
    /// Keyframes checked.
    pub keyframes: usize,
    /// Keyframes with a true loop available.
    pub positives: usize,
    /// Loops accepted by the detector.
    pub accepted: usize,
    /// Accepted loops whose pair truly overlaps.
    pub true_positives: usize,
    /// Accepted loops whose pair does not.
    pub false_positives: usize,
    /// Positive keyframes without a true positive.
    pub false_negatives: usize,
    /// TP / (TP + FP) (1 when nothing was accepted).
    pub precision: f64,
    /// TP / positives (1 without positives).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Largest error of an accepted loop's relative pose (m, degrees).
    pub max_loop_error: (f64, f64),
    /// Loop edges the pose graph dropped.
    pub dropped_by_graph: usize,
    /// The descriptor (`fpfh`, `l3d`).
    pub descriptor: String,
    /// Mean cost per keyframe (ms): cloud and descriptors.
    pub describe_ms: f64,
    /// Mean cost per keyframe (ms): candidate search.
    pub candidates_ms: f64,
    /// Mean cost per keyframe (ms): registration and checks of the candidates.
    pub registration_ms: f64,
    /// Precision and recall as the overlap threshold varies.
    pub pr_curve: Vec<PrPoint>,
}

/// Runs `cairn loop eval`.
pub fn run(args: &EvalArgs) -> Result<String> {
    if !args.dataset.join("groundtruth.txt").is_file() {
        anyhow::bail!("{} has no groundtruth.txt to score loop decisions against", args.dataset.display());
    }
    let out = std::env::temp_dir().join(format!("cairn-loop-eval-{}.tum", std::process::id()));
    let slam_args = |choice| SlamArgs {
        config: args.config.clone(),
        frames: args.frames,
        loop_closure: choice,
        weights: args.weights.clone(),
        // Only the run with loop closure is recorded.
        viz: if choice == LoopArg::None { VizArgs::default() } else { args.viz.clone() },
        ..SlamArgs::new(args.dataset.clone(), out.clone())
    };
    let without = slam::track(&slam_args(LoopArg::None))?;
    let with = slam::track(&slam_args(match args.descriptor {
        DescriptorArg::Fpfh => LoopArg::Fpfh,
        DescriptorArg::L3d => LoopArg::L3d,
    }))?;
    let groundtruth =
        with.groundtruth.as_ref().ok_or_else(|| anyhow!("{} has no groundtruth.txt", args.dataset.display()))?;
    let config = match &args.config {
        Some(file) => SlamConfig::from_ros_params(&std::fs::read_to_string(file)?)?,
        None => SlamConfig::default(),
    };
    let mut scores = score(&args.dataset, &with, groundtruth, &config)?;
    scores.ate_without_loops_m = ate(groundtruth, &without)?;
    scores.ate_with_loops_m = ate(groundtruth, &with)?;
    scores.descriptor = format!("{:?}", args.descriptor).to_lowercase();
    let decisions = &with.loops.0;
    let mean = |cost: fn(&cairn_slam::LoopDecision) -> f64| {
        decisions.iter().map(cost).sum::<f64>() / decisions.len().max(1) as f64
    };
    scores.describe_ms = mean(|d| d.describe_ms);
    scores.candidates_ms = mean(|d| d.candidates_ms);
    scores.registration_ms = mean(|d| d.registration_ms);
    if let Some(png) = &args.pr_curve {
        crate::pr_curve::write_png(&scores.pr_curve, png)?;
    }
    if args.json {
        return Ok(format!("{}\n", serde_json::to_string(&scores)?));
    }
    Ok(format!(
        "{}: ATE without loops {:.4} m, with loops {:.4} m\n\
         {} keyframes, {} with a true loop (ground-truth overlap > {TRUE_OVERLAP}); {} loops accepted: \
         {} true, {} false; {} missed ({} dropped by the pose graph)\n\
         precision {:.3}, recall {:.3}, F1 {:.3}; largest accepted-loop error {:.3} m, {:.2}°\n\
         {} cost per keyframe: descriptors {:.1} ms, candidates {:.1} ms, registration {:.1} ms\n",
        args.dataset.display(),
        scores.ate_without_loops_m,
        scores.ate_with_loops_m,
        scores.keyframes,
        scores.positives,
        scores.accepted,
        scores.true_positives,
        scores.false_positives,
        scores.false_negatives,
        scores.dropped_by_graph,
        scores.precision,
        scores.recall,
        scores.f1,
        scores.max_loop_error.0,
        scores.max_loop_error.1,
        scores.descriptor,
        scores.describe_ms,
        scores.candidates_ms,
        scores.registration_ms,
    ))
}

/// SE(3)-aligned ATE RMSE of a tracked run.
fn ate(groundtruth: &Trajectory, tracked: &Tracked) -> Result<f64> {
    let stamps = tracked.trajectory.iter().map(|t| t.0).collect();
    let poses = tracked.trajectory.iter().map(|t| t.1).collect();
    let estimate = Trajectory::with_stamps("estimate", stamps, poses)?;
    let options = EvalOptions { align: Alignment::Se3, ..Default::default() };
    Ok(metrics::ate(groundtruth, &estimate, &options)?.stats.rmse)
}

/// A keyframe's cloud (camera frame) and true pose.
struct TrueKeyframe {
    id: usize,
    stamp: f64,
    world_from_camera: Rigid3,
    points: Vec<Point3<f32>>,
}

/// Scores the decisions of `tracked` (see the module documentation).
fn score(
    dataset: &std::path::Path,
    tracked: &Tracked,
    groundtruth: &Trajectory,
    config: &SlamConfig,
) -> Result<LoopScores> {
    let keyframes = true_keyframes(dataset, tracked, groundtruth, config)?;
    let distance = config.loops.icp_distance_voxels * f64::from(config.loops.voxel_m);
    let trees: Vec<Option<Neighbours>> = keyframes.iter().map(|k| Neighbours::new(k.points.clone()).ok()).collect();
    let find = |id: usize| keyframes.iter().position(|k| k.id == id);
    let mut scores = LoopScores { keyframes: tracked.loops.0.len(), ..Default::default() };
    let mut ranked = Vec::new();
    for decision in &tracked.loops.0 {
        let Some(q) = find(decision.keyframe) else { continue };
        let overlap_with = |c: usize| true_overlap(&keyframes[q], &keyframes[c], trees[c].as_ref(), distance);
        let eligible =
            (0..keyframes.len()).filter(|&c| keyframes[c].stamp <= keyframes[q].stamp - config.loops.temporal_window_s);
        let positive = eligible.map(overlap_with).any(|o| o > TRUE_OVERLAP);
        scores.positives += usize::from(positive);
        let overlap_decides =
            matches!(decision.outcome, LoopOutcome::Accepted | LoopOutcome::Rejected(RejectReason::LowOverlap));
        if let Some(c) = decision.best.and_then(find).filter(|_| overlap_decides) {
            ranked.push((decision.overlap, overlap_with(c) > TRUE_OVERLAP));
        }
        let accepted = (decision.outcome == LoopOutcome::Accepted).then_some(decision.best).flatten();
        let true_positive = match accepted.and_then(find) {
            Some(c) => {
                scores.accepted += 1;
                let correct = overlap_with(c) > TRUE_OVERLAP;
                if correct {
                    scores.true_positives += 1
                } else {
                    scores.false_positives += 1
                }
                correct
            }
            None => false,
        };
        scores.false_negatives += usize::from(positive && !true_positive);
    }
    let tp = scores.true_positives as f64;
    scores.precision = if scores.accepted == 0 { 1.0 } else { tp / scores.accepted as f64 };
    scores.recall = if scores.positives == 0 { 1.0 } else { tp / scores.positives as f64 };
    scores.f1 = 2.0 * scores.precision * scores.recall / (scores.precision + scores.recall).max(1e-12);
    scores.max_loop_error = loop_errors(tracked, &keyframes);
    scores.dropped_by_graph = tracked.loops.1.len();
    scores.pr_curve = crate::pr_curve::curve(&ranked, scores.positives);
    Ok(scores)
}

/// Every keyframe of the run: its cloud reloaded from the dataset's depth
/// and its ground-truth pose (nearest stamp).
fn true_keyframes(
    dataset: &std::path::Path,
    tracked: &Tracked,
    groundtruth: &Trajectory,
    config: &SlamConfig,
) -> Result<Vec<TrueKeyframe>> {
    let data = TumDataset::open(dataset, None).with_context(|| format!("opening {}", dataset.display()))?;
    let truth_stamps = groundtruth.stamps.as_deref().ok_or_else(|| anyhow!("ground truth has no stamps"))?;
    let nearest = |stamps: &mut dyn Iterator<Item = f64>, t: f64| {
        stamps.enumerate().min_by(|a, b| (a.1 - t).abs().total_cmp(&(b.1 - t).abs())).map(|(i, _)| i)
    };
    let l = &config.loops;
    let mut keyframes = Vec::new();
    for node in tracked.graph.nodes() {
        let frame = nearest(&mut data.frames.iter().map(|f| f.stamp), node.stamp).context("no frames")?;
        let truth = nearest(&mut truth_stamps.iter().copied(), node.stamp).context("empty ground truth")?;
        let depth = data.load_depth(frame)?;
        let points = keyframe_points(&depth, &data.calibration.camera(), l.depth_stride, l.max_depth_m, l.voxel_m)?;
        keyframes.push(TrueKeyframe {
            id: node.id,
            stamp: node.stamp,
            world_from_camera: groundtruth.world_from_body[truth],
            points,
        });
    }
    Ok(keyframes)
}

/// Fraction of `q`'s points that lie within `distance` of `c`'s points
/// when moved by the true `c_from_q`.
fn true_overlap(q: &TrueKeyframe, c: &TrueKeyframe, tree: Option<&Neighbours>, distance: f64) -> f64 {
    let Some(tree) = tree else { return 0.0 };
    if q.points.is_empty() {
        return 0.0;
    }
    let c_from_q = c.world_from_camera.inverse() * q.world_from_camera;
    let close = q
        .points
        .iter()
        .filter(|&&p| {
            let p_in_c: Point3<f32> = (c_from_q * p.cast::<f64>()).cast();
            f64::from(tree.nearest(&p_in_c).1) <= distance
        })
        .count();
    close as f64 / q.points.len() as f64
}

/// The largest translation (m) and rotation (degrees) error of the loop
/// edges in the graph or dropped by it, against the truth.
fn loop_errors(tracked: &Tracked, keyframes: &[TrueKeyframe]) -> (f64, f64) {
    let truth = |id: usize| keyframes.iter().find(|k| k.id == id).map(|k| k.world_from_camera);
    let edges = tracked.graph.edges().iter().chain(tracked.graph.rejected());
    edges
        .filter(|e| matches!(e.kind, EdgeKind::Loop { .. }))
        .filter_map(|e| {
            let (from, to) = (truth(e.from)?, truth(e.to)?);
            let error = (to.inverse() * from).inverse() * e.to_from_from;
            Some((error.translation.vector.norm(), error.rotation.angle().to_degrees()))
        })
        .fold((0.0, 0.0), |a, b| (a.0.max(b.0), a.1.max(b.1)))
}
