//! `cairn slam INPUT --out est.tum`: edge-based RGB-D SLAM ([`Slam`]:
//! tracking, sliding window, keyframe pose graph) over a TUM RGB-D folder or
//! a rosbag2 bag with TUM's topics (see [`crate::slam_bag`]). The
//! trajectory is written at the end with the final poses (every frame
//! through its keyframe's optimised pose), one pose per input frame, with a
//! per-frame log and, when there is ground truth (`groundtruth.txt`, or
//! `/tf` world → kinect), the ATE.

use std::path::{Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use cairn_core::PinholeCamera;
use cairn_core::align::Alignment;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::trajectory::{Trajectory, TrajectoryFormat};
use cairn_core::transform::Rigid3;
use cairn_core::tum::TumDataset;
use cairn_perception::describe::{Fpfh, LocalDescriptor};
use cairn_slam::map::SavedMap;
use cairn_slam::relocalise::KeyframeMapper;
use cairn_slam::{L3dLoopDetector, PoseGraph, Slam, SlamConfig, SlamFrame, TrackingState};
use clap::{Args, ValueEnum};

use crate::ros::params::{NodeConfig, TopicParams};
use crate::slam_bag::{BagFrames, SlamTopics, is_bag};
use crate::viz::{Recorder, VizArgs};

/// Arguments of `cairn slam`.
#[derive(Debug, Args)]
pub struct SlamArgs {
    /// TUM RGB-D folder (rgb.txt, depth.txt, rgb/, depth/; groundtruth.txt
    /// is used for the ATE when present), or a rosbag2 bag (directory,
    /// .mcap, .db3) with /camera/rgb/image_color, /camera/depth/image,
    /// /camera/rgb/camera_info and optionally /tf (world → kinect).
    #[arg(value_name = "INPUT")]
    pub(crate) input: PathBuf,
    /// Estimated trajectory (TUM format), one pose per input frame.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Parameters as a ROS 2 parameter file (`cairn_slam: ros__parameters:`
    /// with dotted names, as config/slam.yaml; missing ones default); its
    /// `topics.*` name the bag topics unless the flags below do.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Camera calibration (ROS camera_info YAML); default: the bag's
    /// camera_info, or INPUT/calib.yaml, else fr1/fr2/fr3 from the folder name.
    #[arg(long, value_name = "FILE")]
    pub(crate) calib: Option<PathBuf>,
    /// Per-frame log (tab-separated: state, keyframe, inliers, residual,
    /// stage times, input warnings); default: OUT with `.log` appended.
    #[arg(long, value_name = "FILE")]
    pub(crate) log: Option<PathBuf>,
    /// Process only the first N frames.
    #[arg(long)]
    pub(crate) frames: Option<usize>,
    /// Bag input: the colour image topic (default: `topics.rgb` of
    /// --config, else /camera/rgb/image_color).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) rgb_topic: Option<String>,
    /// Bag input: the depth image topic, 32FC1 metres or 16UC1 millimetres
    /// (default: `topics.depth` of --config, else /camera/depth/image).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) depth_topic: Option<String>,
    /// Bag input: the colour camera's CameraInfo topic (default:
    /// `topics.camera_info` of --config, else /camera/rgb/camera_info).
    #[arg(long, value_name = "TOPIC")]
    pub(crate) info_topic: Option<String>,
    /// Loop closure: `fpfh` runs the L3D pipeline (keyframe clouds →
    /// keypoint descriptors → mutual nearest neighbours → RANSAC → overlap →
    /// ICP and graph checks) with FPFH descriptors, `l3d` with the learned
    /// DIP descriptors (models/l3d); `none` runs without.
    /// Thresholds: the `loops.*` parameters (config/slam.yaml). Accepted and
    /// rejected loops go to OUT.loops.
    #[arg(long = "loop", value_enum, default_value_t = LoopArg::Fpfh)]
    pub(crate) loop_closure: LoopArg,
    /// `--rrd FILE` / `--connect URL`: rerun visualisation of the run.
    #[command(flatten)]
    pub(crate) viz: VizArgs,
    /// `--loop l3d`: a folder with dip.json and dip.safetensors (as
    /// `cairn train l3d --out` writes) instead of the built-in weights.
    #[arg(long, value_name = "DIR")]
    pub(crate) weights: Option<PathBuf>,
    /// Save the run's keyframes as a map in DIR (poses after the pose graph,
    /// described clouds, graph edges), described with the `--loop`
    /// descriptor (fpfh when loops are off).
    #[arg(long, value_name = "DIR")]
    pub(crate) save_map: Option<PathBuf>,
    /// Load a map saved with --save-map and relocalise against it: the run
    /// starts in its own frame and, once a keyframe registers against the
    /// map (two map keyframes agreeing), every pose moves into the map's
    /// frame. The map's descriptor is used.
    #[arg(long, value_name = "DIR")]
    pub(crate) load_map: Option<PathBuf>,
}

/// Loop-closure choices of `cairn slam --loop`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LoopArg {
    /// no loop closure (odometry, sliding window, pose graph only)
    None,
    /// L3D loop closure with FPFH descriptors
    Fpfh,
    /// L3D loop closure with the learned DIP descriptors
    L3d,
}

impl SlamArgs {
    /// Arguments for tracking `input` into `out` with every default.
    pub fn new(input: PathBuf, out: PathBuf) -> Self {
        SlamArgs {
            input,
            out,
            config: None,
            calib: None,
            log: None,
            frames: None,
            rgb_topic: None,
            depth_topic: None,
            info_topic: None,
            loop_closure: LoopArg::Fpfh,
            viz: VizArgs::default(),
            weights: None,
            save_map: None,
            load_map: None,
        }
    }

    /// The bag topics: each flag, else the parameter file's `topics.*`.
    fn topics(&self, file: &TopicParams) -> SlamTopics {
        let pick = |flag: &Option<String>, from_file: &String| flag.clone().unwrap_or_else(|| from_file.clone());
        SlamTopics {
            rgb: pick(&self.rgb_topic, &file.rgb),
            depth: pick(&self.depth_topic, &file.depth),
            camera_info: pick(&self.info_topic, &file.camera_info),
        }
    }
}

/// What tracking a whole input gave.
pub struct Tracked {
    /// Per-frame results.
    pub results: Vec<SlamFrame>,
    /// The final trajectory (every frame through its keyframe).
    pub trajectory: Vec<(f64, Rigid3, TrackingState)>,
    /// Loop decisions and the loops the graph dropped.
    pub loops: crate::loop_log::LoopRecord,
    /// The final pose graph.
    pub graph: PoseGraph,
    /// Ground truth, when the input has it.
    pub groundtruth: Option<Trajectory>,
    /// Wall-clock time (s).
    pub wall: f64,
    /// What --save-map / --load-map did, for the summary.
    pub map_note: Option<String>,
}

/// Runs `cairn slam` and returns the summary it prints.
pub fn run(args: &SlamArgs) -> Result<String> {
    run_recorded(args, &Recorder::open(&args.viz, "cairn_slam")?)
}

/// Runs `cairn slam`, logging to `recorder` (not to `args.viz`).
pub fn run_recorded(args: &SlamArgs, recorder: &Recorder) -> Result<String> {
    let tracked = track_recorded(args, recorder)?;
    write_outputs(args, &tracked.results, &tracked.trajectory)?;
    let mut text = summary(args, tracked.groundtruth.as_ref(), &tracked.results, tracked.wall)?;
    if let Some(note) = &tracked.map_note {
        text.push_str(note);
    }
    if args.loop_closure != LoopArg::None {
        text.push_str(&crate::loop_log::write(&args.out, &tracked.loops, &tracked.results)?);
    }
    Ok(text)
}

/// Tracks the input of `args` (nothing is written but its `--rrd`).
pub fn track(args: &SlamArgs) -> Result<Tracked> {
    track_recorded(args, &Recorder::open(&args.viz, "cairn_slam")?)
}

/// Tracks the input of `args`, logging every frame to `recorder`.
pub fn track_recorded(args: &SlamArgs, recorder: &Recorder) -> Result<Tracked> {
    // The node's parameter file: SLAM parameters, and the topics it names.
    let NodeConfig { slam: config, node } = NodeConfig::read(args.config.as_deref())?;
    let limit = args.frames.unwrap_or(usize::MAX);
    let opening = || format!("opening {}", args.input.display());
    let start = Instant::now();
    let (results, mut slam, groundtruth) = if is_bag(&args.input) {
        let frames =
            BagFrames::open(&args.input, args.calib.as_deref(), &args.topics(&node.topics)).with_context(opening)?;
        let count = limit.min(frames.len());
        let mut slam = start_slam(args, frames.calibration.camera(), config, count)?;
        let bar = crate::progress::bar(format!("tracking {}", args.input.display()), "frames");
        bar.set_length(count as u64);
        let mut results = Vec::with_capacity(count);
        frames.for_each(count, |stamp, rgb, depth| {
            let index = results.len();
            let frame = slam.process(stamp, &rgb, &depth).with_context(|| format!("frame {index}"))?;
            recorder.slam_frame(index, &rgb, &depth, &frame, &slam);
            results.push(frame);
            bar.set_position(results.len() as u64);
            Ok(())
        })?;
        bar.finish_and_clear();
        (results, slam, frames.groundtruth)
    } else {
        let dataset = TumDataset::open(&args.input, args.calib.as_deref()).with_context(opening)?;
        let count = limit.min(dataset.frames.len());
        let mut slam = start_slam(args, dataset.calibration.camera(), config, count)?;
        let results = track_folder(args, &dataset, &mut slam, count, recorder)?;
        let file = dataset.dir.join("groundtruth.txt");
        let groundtruth = file.exists().then(|| Trajectory::read(&file, TrajectoryFormat::Tum)).transpose()?;
        (results, slam, groundtruth)
    };
    recorder.slam_finish(&slam, groundtruth.as_ref());
    let map_note = finish_map(args, &mut slam)?;
    Ok(Tracked {
        results,
        trajectory: slam.trajectory(),
        loops: decisions_of(&slam),
        graph: slam.graph().clone(),
        groundtruth,
        wall: start.elapsed().as_secs_f64(),
        map_note,
    })
}

/// The loop detector's decisions, with the graph's later rejections.
fn decisions_of(slam: &Slam) -> crate::loop_log::LoopRecord {
    let decisions = slam.loop_detector().map(|d| d.decisions().to_vec()).unwrap_or_default();
    let dropped = slam.graph().rejected().iter().map(|e| (e.from, e.to)).collect();
    (decisions, dropped)
}

/// The SLAM system for `camera`, once `count` frames are known to exist.
fn start_slam(args: &SlamArgs, camera: PinholeCamera, config: SlamConfig, count: usize) -> Result<Slam> {
    if count == 0 {
        return Err(anyhow!("{} has no associated colour/depth frames", args.input.display()));
    }
    let detector = loop_detector_with(args.loop_closure, &config, args.weights.as_deref())?;
    let mapper = mapper(args, &config)?;
    let mut slam = Slam::new(camera, config)?;
    if let Some(detector) = detector {
        slam = slam.with_loop_detector(Box::new(detector));
    }
    Ok(match mapper {
        Some(mapper) => slam.with_mapper(mapper),
        None => slam,
    })
}

/// The keyframe mapper --save-map / --load-map ask for.
fn mapper(args: &SlamArgs, config: &SlamConfig) -> Result<Option<KeyframeMapper>> {
    let loaded = match &args.load_map {
        Some(dir) => Some(SavedMap::read(dir).with_context(|| format!("--load-map {}", dir.display()))?),
        None => None,
    };
    let choice = match (&loaded, args.loop_closure) {
        (Some(map), _) if map.descriptor == "l3d" => LoopArg::L3d,
        (Some(map), _) if map.descriptor == "fpfh" => LoopArg::Fpfh,
        (Some(map), _) => return Err(anyhow!("the map's descriptor {:?} is unknown (fpfh or l3d)", map.descriptor)),
        (None, _) if args.save_map.is_none() => return Ok(None),
        (None, LoopArg::None) => LoopArg::Fpfh,
        (None, choice) => choice,
    };
    let Some(descriptor) = descriptor(choice, config, args.weights.as_deref())? else { return Ok(None) };
    let mut mapper = KeyframeMapper::new(config.loops.clone(), descriptor);
    if args.save_map.is_some() {
        mapper = mapper.recording();
    }
    Ok(Some(match loaded {
        Some(map) => mapper.with_map(map)?,
        None => mapper,
    }))
}

/// Writes --save-map and says what the mapper did.
fn finish_map(args: &SlamArgs, slam: &mut Slam) -> Result<Option<String>> {
    let mut note = String::new();
    if let Some(mapper) = slam.mapper()
        && args.load_map.is_some()
    {
        note.push_str(&match mapper.relocalisation() {
            Some(r) => format!(
                "relocalised at {:.6} s (keyframe {}) against map keyframe {} (overlap {:.2}, {} inliers); \
                 poses are in the map's frame\n",
                r.stamp, r.keyframe, r.map_keyframe, r.overlap, r.inliers
            ),
            None => {
                format!("not relocalised ({} keyframes tried): poses are in this run's own frame\n", mapper.attempts())
            }
        });
    }
    if let Some(dir) = &args.save_map {
        slam.finish_loops()?;
        let map = slam.take_map().ok_or_else(|| anyhow!("--save-map: no keyframe mapper"))?;
        map.write(dir).with_context(|| format!("--save-map {}", dir.display()))?;
        note.push_str(&format!("map: {} keyframes saved to {}\n", map.keyframes.len(), dir.display()));
    }
    Ok((!note.is_empty()).then_some(note))
}

/// The loop detector `--loop` asks for (`l3d`: the built-in weights).
pub fn loop_detector(choice: LoopArg, config: &SlamConfig) -> Result<Option<L3dLoopDetector>> {
    loop_detector_with(choice, config, None)
}

/// The loop detector `--loop` asks for; `l3d` reads its weights from
/// `weights` (a `cairn train l3d` folder) when given.
pub fn loop_detector_with(
    choice: LoopArg,
    config: &SlamConfig,
    weights: Option<&std::path::Path>,
) -> Result<Option<L3dLoopDetector>> {
    Ok(descriptor(choice, config, weights)?.map(|d| L3dLoopDetector::new(config.loops.clone(), d)))
}

/// The descriptor of a `--loop` choice (`None` for none).
fn descriptor(
    choice: LoopArg,
    config: &SlamConfig,
    weights: Option<&std::path::Path>,
) -> Result<Option<Box<dyn LocalDescriptor>>> {
    let loops = &config.loops;
    Ok(match choice {
        LoopArg::None => None,
        LoopArg::Fpfh => {
            Some(Box::new(Fpfh { radius_m: loops.feature_radius_voxels * loops.voxel_m, max_neighbours: 100 }))
        }
        LoopArg::L3d => Some(Box::new(crate::loops::dip_descriptor(weights, loops.seed)?)),
    })
}

/// Tracks the first `count` frames of a TUM folder; images are decoded on a
/// second thread while the tracker runs.
fn track_folder(
    args: &SlamArgs,
    dataset: &TumDataset,
    slam: &mut Slam,
    count: usize,
    recorder: &Recorder,
) -> Result<Vec<SlamFrame>> {
    let bar = crate::progress::bar(format!("tracking {}", args.input.display()), "frames");
    bar.set_length(count as u64);
    let mut results: Vec<SlamFrame> = Vec::with_capacity(count);
    std::thread::scope(|scope| -> Result<()> {
        let (sender, receiver) = sync_channel(4);
        scope.spawn(move || {
            for index in 0..count {
                let frame = dataset.load_rgb(index).and_then(|rgb| Ok((rgb, dataset.load_depth(index)?)));
                if sender.send((index, frame)).is_err() {
                    break;
                }
            }
        });
        for (index, frame) in receiver {
            let (rgb, depth) = frame.with_context(|| format!("reading frame {index}"))?;
            let stamp = dataset.frames[index].stamp;
            let frame = slam.process(stamp, &rgb, &depth).with_context(|| format!("frame {index}"))?;
            recorder.slam_frame(index, &rgb, &depth, &frame, slam);
            results.push(frame);
            bar.set_position(results.len() as u64);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    Ok(results)
}

/// Writes the final trajectory and the per-frame log.
fn write_outputs(args: &SlamArgs, results: &[SlamFrame], trajectory: &[(f64, Rigid3, TrackingState)]) -> Result<()> {
    write_trajectory(&args.out, trajectory)?;
    let log_path = args.log.clone().unwrap_or_else(|| PathBuf::from(format!("{}.log", args.out.display())));
    write_frame_log(&log_path, results)
}

/// Writes a final trajectory ([`Slam::trajectory`]) as a TUM file — the
/// one writer of `cairn slam`, `cairn replay` and the node's `--save`.
pub(crate) fn write_trajectory(out: &Path, trajectory: &[(f64, Rigid3, TrackingState)]) -> Result<()> {
    let stamps = trajectory.iter().map(|t| t.0).collect();
    let poses = trajectory.iter().map(|t| t.1).collect();
    let estimate = Trajectory::with_stamps(out.display().to_string(), stamps, poses)?;
    estimate.write(out, TrajectoryFormat::Tum).with_context(|| format!("writing {}", out.display()))
}

/// Writes the per-frame log (tab-separated, one line per frame).
pub(crate) fn write_frame_log(log_path: &Path, results: &[SlamFrame]) -> Result<()> {
    let mut log = String::from(
        "# stamp\tstate\tkeyframe\tnew_keyframe\tinliers\tmean_residual_px\tpyramid_ms\tedges_ms\tdistance_ms\ttracking_ms\tkeyframe_ms\ttotal_ms\twindow_ms\tloops_ms\tgraph_ms\twarnings\n",
    );
    for frame in results {
        let (r, t, b) = (&frame.tracking, &frame.tracking.timing, &frame.backend);
        log.push_str(&format!(
            "{:.6}\t{}\t{}\t{}\t{}\t{:.3}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{:.2}\t{}\n",
            r.stamp,
            state_name(&r.tracking_state),
            r.keyframe_id.map_or("-".into(), |k| k.to_string()),
            u8::from(r.new_keyframe),
            r.inliers,
            r.mean_residual_px,
            t.pyramid_ms,
            t.edges_ms,
            t.distance_ms,
            t.tracking_ms,
            t.keyframe_ms,
            t.total_ms,
            b.window_ms,
            b.loops_ms,
            b.graph_ms,
            r.warnings.names()
        ));
    }
    std::fs::write(log_path, log).with_context(|| format!("writing {}", log_path.display()))
}

/// `tracking`, `relocalised`, or `lost:<reason>`.
fn state_name(state: &TrackingState) -> String {
    match state {
        TrackingState::Tracking => "tracking".into(),
        TrackingState::Relocalised => "relocalised".into(),
        TrackingState::Reinitialised => "reinitialised".into(),
        TrackingState::Lost(reason) => format!("lost:{reason:?}"),
    }
}

/// The printed summary: counts, speed, and the ATE when ground truth exists.
fn summary(args: &SlamArgs, groundtruth: Option<&Trajectory>, results: &[SlamFrame], wall: f64) -> Result<String> {
    let frames = results.len();
    let lost = results.iter().filter(|r| !r.tracking.tracking_state.is_tracked()).count();
    let keyframes = results.iter().filter(|r| r.tracking.new_keyframe).count();
    let tracking_seconds: f64 = results.iter().map(|r| r.tracking.timing.total_ms).sum::<f64>() / 1e3;
    let per_keyframe = |f: fn(&SlamFrame) -> f64| results.iter().map(f).sum::<f64>() / keyframes.max(1) as f64;
    let loops: usize = results.iter().filter(|r| r.graph.is_some()).count();
    let mut text = format!(
        "{frames} frames → {} ({keyframes} keyframes, {lost} lost)\n\
         tracking: {:.1} frames/s ({:.2} ms/frame); wall clock with image loading and back end: {:.1} frames/s\n\
         back end per keyframe (between frames): window {:.1} ms, loop detection {:.1} ms, pose graph {:.1} ms \
         ({loops} graph optimisations)\n",
        args.out.display(),
        frames as f64 / tracking_seconds.max(1e-9),
        1e3 * tracking_seconds / frames.max(1) as f64,
        frames as f64 / wall.max(1e-9),
        per_keyframe(|r| r.backend.window_ms),
        per_keyframe(|r| r.backend.loops_ms),
        per_keyframe(|r| r.backend.graph_ms),
    );
    let log = args.log.clone().unwrap_or_else(|| PathBuf::from(format!("{}.log", args.out.display())));
    if lost > 0 {
        text.push_str(&format!("warning: {lost} frames were not tracked (flagged lost:… in {})\n", log.display()));
    }
    let warned = results.iter().filter(|r| r.tracking.warnings.any()).count();
    if warned > 0 {
        text.push_str(&format!(
            "warning: {warned} frames had input problems (missing depth, stamp gaps or repeats; see the warnings column of {})\n",
            log.display()
        ));
    }
    if let Some(reference) = groundtruth {
        let options = EvalOptions { align: Alignment::Se3, ..Default::default() };
        let report = Trajectory::read(&args.out, TrajectoryFormat::Tum)
            .and_then(|estimate| metrics::ate(reference, &estimate, &options));
        // The trajectory is written either way; an ATE that cannot be
        // computed (e.g. every frame lost: no motion to align) is reported.
        text.push_str(&match report {
            Ok(report) => {
                format!("ATE RMSE (SE(3)-aligned): {:.4} m over {} poses\n", report.stats.rmse, report.stats.pairs)
            }
            Err(error) => format!("ATE against {}: not computed ({error})\n", reference.name),
        });
    }
    Ok(text)
}
