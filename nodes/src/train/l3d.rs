//! `cairn train l3d`: trains the DIP descriptor network
//! ([`cairn_perception::l3d::network`]) through the swapping trainer,
//! self-supervised on cairn-sim office scenes only.
//!
//! Data: for each training scene (office seeds `first_scene..` — disjoint
//! from the evaluation scenes, office seeds 0–9), a loop around the room is
//! rendered at `views` poses with the QVGA TUM fr1 sensor and Kinect-like
//! depth noise (an independent noise seed per view); each view becomes a
//! keyframe cloud exactly as the loop detector builds one
//! ([`keyframe_points`]: every second pixel up to 4 m, 5 cm voxels).
//! Neighbouring views (one and two steps apart along the loop) form pairs
//! related by the known rigid motion; their ground-truth correspondences
//! and canonical patches ([`view_pair`]) feed the hardest-contrastive loss
//! ([`HardestContrastive`]). The weights, their config, the loss log (CSV
//! and PNG) and `train.json` (the resolved settings) go to `--out`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_core::calib::Calibration;
use cairn_perception::l3d::network::DipConfig;
use cairn_perception::l3d::pairs::{PairConfig, PatchPairData, ViewPair, view_pair};
use cairn_perception::l3d::weights;
use cairn_perception::l3d::{HardestContrastive, Neighbours};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::config::LoopConfig;
use cairn_slam::loop_detector::keyframe_points;
use cairn_train::losslog::LossLog;
use cairn_train::{CpuDevice, Footprint, Model, OptimizerConfig, Plan, Schedule, StepReport, Trainer};
use clap::Args;

use super::{ScheduleArg, parse_bytes, weights_checksum};

/// The sensor the loop-closure evaluation renders with (calib/tum_fr1_qvga.yaml).
const QVGA: &str = include_str!("../../../calib/tum_fr1_qvga.yaml");

/// Fewest correspondences for a view pair to be used.
const MIN_CORRESPONDENCES: usize = 32;

/// Arguments of `cairn train l3d`.
#[derive(Debug, Clone, Args)]
pub struct L3dArgs {
    /// Optimizer steps.
    #[arg(long, default_value_t = 800)]
    pub steps: usize,
    /// Seed of the initial weights and of the microbatch sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder: dip.json, dip.safetensors, loss.csv, loss.png, train.json.
    #[arg(long, default_value = "models/l3d")]
    pub out: PathBuf,
    /// Schedule (all give bit-identical weights on the CPU device).
    #[arg(long, value_enum, default_value = "harmony")]
    pub schedule: ScheduleArg,
    /// Device capacity (B, KiB, MiB or GiB).
    #[arg(long, default_value = "64MiB")]
    pub device_mem: String,
    /// Microbatches per step.
    #[arg(long, default_value_t = 2)]
    pub microbatches: usize,
    /// Correspondences per microbatch (the hardest negatives are searched among them).
    #[arg(long, default_value_t = 128)]
    pub pairs: usize,
    /// Training scenes: office seeds first_scene..first_scene + scenes.
    #[arg(long, default_value_t = 16)]
    pub scenes: u64,
    /// First training scene seed (evaluation uses office seeds 0–9).
    #[arg(long, default_value_t = 100)]
    pub first_scene: u64,
    /// Rendered views per scene, evenly along one loop.
    #[arg(long, default_value_t = 12)]
    pub views: usize,
}

/// Runs `cairn train l3d`.
pub fn run(args: &L3dArgs) -> Result<String> {
    if args.steps == 0 || args.microbatches == 0 || args.pairs < 2 || args.scenes == 0 || args.views < 3 {
        bail!("need --steps, --microbatches, --scenes ≥ 1, --pairs ≥ 2 and --views ≥ 3");
    }
    if args.first_scene < 10 {
        bail!("--first-scene {} overlaps the evaluation scenes (office seeds 0–9)", args.first_scene);
    }
    let capacity = parse_bytes(&args.device_mem)?;
    let config = DipConfig::default();
    let start = std::time::Instant::now();
    let pairs = render_pairs(args, &config)?;
    let correspondences: usize = pairs.iter().map(ViewPair::len).sum();
    let data_s = start.elapsed().as_secs_f64();
    let data = PatchPairData {
        pairs,
        per_microbatch: args.pairs,
        points: config.points,
        exclusion_m: 2.0 * LoopConfig::default().voxel_m,
        seed: args.seed,
    };
    let view_pairs = data.pairs.len();
    let model = Model {
        name: "dip".into(),
        layers: config.layers(),
        objective: Box::new(HardestContrastive::default()),
        data: Box::new(data),
    };
    let mut trainer = trainer(model, args, capacity)?;
    let reports = train(&mut trainer, args)?;
    let trained = trainer.weights()?;
    weights::save(&args.out, &config, &trained).with_context(|| format!("writing {}", args.out.display()))?;
    let checksum = weights_checksum(&trained);
    let (first, last) = (reports[0].loss, reports[reports.len() - 1].loss);
    let summary = serde_json::json!({
        "command": format!("cairn train l3d --steps {} --seed {} --schedule {:?} --pairs {} --microbatches {} --scenes {} --first-scene {} --views {}",
            args.steps, args.seed, args.schedule, args.pairs, args.microbatches, args.scenes, args.first_scene, args.views).to_lowercase(),
        "scenes": format!("office seeds {}..{}", args.first_scene, args.first_scene + args.scenes),
        "view_pairs": view_pairs, "correspondences": correspondences, "network": config,
        "loss": {"first": first, "last": last}, "weights_fnv1a": checksum,
        "data_seconds": data_s, "total_seconds": start.elapsed().as_secs_f64(),
    });
    std::fs::write(args.out.join("train.json"), format!("{summary:#}\n"))?;
    Ok(format!(
        "cairn train l3d: {view_pairs} view pairs, {correspondences} correspondences (office seeds {}..{}) in {data_s:.1} s\n\
         loss {first:.4} → {last:.4} over {} steps in {:.1} s\n\
         wrote {}/{{dip.json,dip.safetensors,loss.csv,loss.png,train.json}}; weights checksum (FNV-1a) {checksum}\n",
        args.first_scene,
        args.first_scene + args.scenes,
        args.steps,
        start.elapsed().as_secs_f64(),
        args.out.display(),
    ))
}

/// Renders every training scene's views and pairs neighbouring views.
fn render_pairs(args: &L3dArgs, config: &DipConfig) -> Result<Vec<ViewPair>> {
    let camera = RgbdCamera::new(Calibration::from_yaml_str(QVGA, "calib/tum_fr1_qvga.yaml")?);
    let loops = LoopConfig::default();
    let bar = crate::progress::bar("rendering training views", "views");
    bar.set_length(args.scenes * args.views as u64);
    let mut pairs = Vec::new();
    for scene_seed in args.first_scene..args.first_scene + args.scenes {
        let scene = Scene::generate(SceneKind::Office, scene_seed);
        let path = generate(&scene, PathShape::Loop, 1.0, args.views, 30.0)?;
        let mut views = Vec::new();
        for (k, world_from_camera) in path.world_from_body.iter().enumerate() {
            let noise_seed = scene_seed * 100_000 + k as u64;
            let frame = camera.render(&scene, world_from_camera, Some(noise_seed))?;
            let points =
                keyframe_points(&frame.depth, &camera.camera, loops.depth_stride, loops.max_depth_m, loops.voxel_m)?;
            views.push((*world_from_camera, Neighbours::new(points)?));
            bar.inc(1);
        }
        for (i, (world_from_a, a)) in views.iter().enumerate() {
            for step in 1..=2 {
                let (world_from_b, b) = &views[(i + step) % views.len()];
                let b_from_a = world_from_b.inverse() * world_from_a;
                let seed = cairn_train::host::mix_seed(&[args.seed, scene_seed, i as u64, step as u64]);
                let pair = view_pair(a, b, &b_from_a, config, &PairConfig::default(), seed);
                if pair.len() >= MIN_CORRESPONDENCES {
                    pairs.push(pair);
                }
            }
        }
    }
    bar.finish_and_clear();
    if pairs.is_empty() {
        bail!("no view pair of the training scenes has {MIN_CORRESPONDENCES} correspondences");
    }
    Ok(pairs)
}

/// The trainer for the schedule and device the flags ask for.
fn trainer(model: Model, args: &L3dArgs, capacity: u64) -> Result<Trainer> {
    let schedule = match args.schedule {
        ScheduleArg::Resident => Schedule::Resident,
        ScheduleArg::Naive => Schedule::Naive,
        ScheduleArg::Harmony => Schedule::Harmony,
    };
    let weights = model.init_weights(args.seed);
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    let plan = Plan::build(schedule, &footprint, args.microbatches, capacity)?;
    Ok(Trainer::new(model, plan, CpuDevice::new(capacity), OptimizerConfig::default(), weights)?)
}

/// The training loop: one step at a time, the loss logged (CSV as it goes,
/// PNG at the end), a progress bar on a terminal.
fn train(trainer: &mut Trainer, args: &L3dArgs) -> Result<Vec<StepReport>> {
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let mut log = LossLog::open(&args.out.join("loss.csv"), 0)?;
    let lr = f64::from(OptimizerConfig::default().lr());
    let (start, bar) = (std::time::Instant::now(), crate::progress::bar("cairn train l3d", "steps"));
    bar.set_length(args.steps as u64);
    let mut reports = Vec::with_capacity(args.steps);
    for step in 0..args.steps {
        let report = trainer.step().with_context(|| format!("step {step} of cairn train l3d"))?;
        log.record(report.step, report.loss, Some(lr), start.elapsed().as_secs_f64())?;
        bar.set_message(format!("cairn train l3d (loss {:.4})", report.loss));
        bar.inc(1);
        reports.push(report);
    }
    bar.finish_and_clear();
    log.write_png()?;
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    fn run(extra: &[&str]) -> anyhow::Result<String> {
        let argv = [&["cairn", "train", "l3d"], extra].concat();
        crate::run(&crate::Cli::try_parse_from(argv)?)
    }

    #[test]
    fn evaluation_scenes_are_refused_for_training() {
        let err = run(&["--first-scene", "3", "--out", "/nonexistent/never-written"]).unwrap_err();
        assert!(format!("{err:#}").contains("evaluation scenes"), "{err:#}");
    }

    #[test]
    fn a_tiny_run_writes_weights_that_load() {
        let out = std::env::temp_dir().join(format!("cairn-train-l3d-{}", std::process::id()));
        let text =
            run(&["--steps", "2", "--scenes", "1", "--views", "6", "--pairs", "16", "--out", out.to_str().unwrap()])
                .unwrap();
        assert!(text.contains("loss"), "{text}");
        let network = cairn_perception::l3d::DipNetwork::load(&out).unwrap();
        assert_eq!(network.config().dim, 32);
        assert!(out.join("loss.png").is_file() && out.join("train.json").is_file());
        std::fs::remove_dir_all(&out).unwrap();
    }
}
