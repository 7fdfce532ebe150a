//! `cairn train cmt`: trains the CMT detector ([`cairn_perception::cmt`])
//! through the swapping trainer on a sample set (`cairn sim drive`, or
//! nuScenes in the same `sample_info.json` layout).
//!
//! Per step: `--microbatches` microbatches of `--batch` samples
//! ([`CmtData`]: epoch shuffles, masked-modal dropping, denoising queries),
//! the [`CmtLoss`] (Hungarian-matched focal + L1 on every decoder layer,
//! plus the denoising losses), AdamW on the host. `--out` receives
//! `cmt.json` + `cmt.safetensors` (the network, loadable by
//! [`cairn_perception::cmt::Cmt::load`]), `checkpoint.safetensors` (weights,
//! optimizer moments, the resolved run config and the step: a run with the
//! same flags resumes from it; a corrupt or foreign one is an error),
//! `loss.csv`, `loss.png` and `train.json`. Every file is written next to
//! its destination and renamed into place, so an interrupted run leaves the
//! previous files whole.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cairn_core::samples::SampleSet;
use cairn_perception::cmt::batch::CmtData;
use cairn_perception::cmt::loss::CmtLoss;
use cairn_perception::cmt::{CmtConfig, model, weights};
use cairn_train::losslog::LossLog;
use cairn_train::{Footprint, Model, OptimizerConfig, Plan, Schedule, StepReport, Trainer};
use clap::Args;

use super::device::{DeviceArg, open_device};
use super::{ScheduleArg, parse_bytes, weights_checksum};

/// The trainer checkpoint's file name in `--out`.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// Arguments of `cairn train cmt`.
#[derive(Debug, Clone, Args)]
pub struct CmtArgs {
    /// Preset: `small` (trains on a 2-core CPU) or `full` (the paper's sizes).
    #[arg(long, default_value = "small")]
    pub config: String,
    /// Training sample set: a folder with sample_info.json (`cairn sim drive --out DIR`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Optimizer steps (counted from the start of the run, also when resuming).
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Seed of the initial weights, the sample order, masked-modal draws and denoising noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder (see the module doc); resumed from when it holds a checkpoint.
    #[arg(long, default_value = "models/cmt")]
    pub out: PathBuf,
    /// Schedule (on the CPU device they agree to float rounding: CMT's
    /// decoder layers share their memory tokens, so a pack boundary between
    /// them sums those gradients in another order).
    #[arg(long, value_enum, default_value = "harmony")]
    pub schedule: ScheduleArg,
    /// Device capacity (B, KiB, MiB or GiB).
    #[arg(long, default_value = "4GiB")]
    pub device_mem: String,
    /// Where to train.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceArg,
    /// Samples per microbatch.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Microbatches per step.
    #[arg(long, default_value_t = 2)]
    pub microbatches: usize,
    /// Train without masked-modal dropping (drop probabilities 0): the ablation.
    #[arg(long)]
    pub no_masked_modal: bool,
    /// Write the network and the checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 25)]
    pub checkpoint_every: usize,
    /// AdamW learning rate (betas 0.9, 0.999, weight decay 0.01).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
}

impl CmtArgs {
    /// The network configuration the flags ask for.
    pub fn network_config(&self) -> Result<CmtConfig> {
        let mut config = CmtConfig::preset(&self.config)?;
        if self.no_masked_modal {
            config.train.drop_images = 0.0;
            config.train.drop_points = 0.0;
            config.name = format!("{}-no-masked-modal", config.name);
        }
        model::validate(&config)?;
        Ok(config)
    }

    /// AdamW at `--lr`, otherwise the trainer's defaults.
    pub fn optimizer(&self) -> Result<OptimizerConfig> {
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("--lr must be positive, got {}", self.lr);
        }
        Ok(match OptimizerConfig::default() {
            OptimizerConfig::AdamW { beta1, beta2, eps, weight_decay, .. } => {
                OptimizerConfig::AdamW { lr: self.lr, beta1, beta2, eps, weight_decay }
            }
            other => other,
        })
    }

    /// The resolved run configuration kept in (and checked against) the
    /// checkpoint: everything that changes the weights.
    fn run_json(&self, config: &CmtConfig) -> String {
        serde_json::json!({
            "network": config, "data": self.data, "seed": self.seed, "batch": self.batch,
            "microbatches": self.microbatches, "optimizer": self.optimizer().ok(),
        })
        .to_string()
    }
}

/// Runs `cairn train cmt`.
pub fn run(args: &CmtArgs) -> Result<String> {
    if args.steps == 0 || args.batch == 0 || args.microbatches == 0 || args.checkpoint_every == 0 {
        bail!("--steps, --batch, --microbatches and --checkpoint-every must be at least 1");
    }
    let capacity = parse_bytes(&args.device_mem)?;
    let config = args.network_config()?;
    args.optimizer()?;
    let set = SampleSet::read(&args.data).with_context(|| format!("reading the sample set {}", args.data.display()))?;
    let samples = set.data_list.len();
    let data = CmtData::new(set, config.clone(), args.batch, args.microbatches, args.seed)?;
    let model = Model {
        name: format!("cmt-{}", config.name),
        layers: model::layers(&config),
        objective: Box::new(CmtLoss { config: config.clone() }),
        data: Box::new(data),
    };
    let start = std::time::Instant::now();
    let mut trainer = trainer(model, args, capacity)?;
    let run_json = args.run_json(&config);
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let checkpoint = args.out.join(CHECKPOINT_FILE);
    if checkpoint.exists() {
        trainer
            .load_checkpoint(&checkpoint, &run_json)
            .with_context(|| format!("resuming from {} (delete it to start afresh)", checkpoint.display()))?;
    }
    let first = trainer.steps();
    if first as usize >= args.steps {
        bail!("{} is already at step {first}; ask for more than --steps {}", checkpoint.display(), args.steps);
    }
    let packs: Vec<[usize; 2]> = trainer.plan.packs.iter().map(|p| [p.start, p.end]).collect();
    let reports = train(&mut trainer, args, &config, &run_json)?;
    let peak = reports.iter().map(|r| r.device.peak_bytes).max().unwrap_or(0);
    let checksum = weights_checksum(&trainer.weights()?);
    let step_s = mean_step_seconds(&reports);
    let (loss_first, loss_last) = (reports[0].loss, reports[reports.len() - 1].loss);
    let summary = serde_json::json!({
        "command": command_line(args), "samples": samples, "network": config,
        "parameters": model::parameter_count(&config), "first_step": first, "steps": args.steps,
        "loss": {"first": loss_first, "last": loss_last}, "seconds_per_step": step_s,
        "weights_fnv1a": checksum, "total_seconds": start.elapsed().as_secs_f64(),
        "schedule": format!("{:?}", args.schedule).to_lowercase(), "packs": packs, "peak_device_bytes": peak,
    });
    write_atomic(&args.out.join("train.json"), format!("{summary:#}\n").as_bytes())?;
    Ok(format!(
        "cairn train cmt ({}): {samples} samples, steps {first}..{} of {} × {} samples\n\
         loss {loss_first:.4} → {loss_last:.4}; {step_s:.2} s per step (mean after the first); {:.1} s in all\n\
         {} packs over {} layers, peak device memory {:.1} MiB\n\
         wrote {}/{{cmt.json,cmt.safetensors,{CHECKPOINT_FILE},loss.csv,loss.png,train.json}}; weights checksum (FNV-1a) {checksum}\n",
        config.name,
        args.steps,
        args.microbatches,
        args.batch,
        start.elapsed().as_secs_f64(),
        packs.len(),
        trainer.model.layers.len(),
        peak as f64 / (1024.0 * 1024.0),
        args.out.display(),
    ))
}

/// The command line that reproduces the run.
fn command_line(args: &CmtArgs) -> String {
    format!(
        "cairn train cmt --config {} --data {} --steps {} --seed {} --schedule {:?} --batch {} --microbatches {} --lr {}{}",
        args.config,
        args.data.display(),
        args.steps,
        args.seed,
        args.schedule,
        args.batch,
        args.microbatches,
        args.lr,
        if args.no_masked_modal { " --no-masked-modal" } else { "" }
    )
    .to_lowercase()
}

/// Mean seconds of the steps after the first (which pre-processes and
/// caches the samples), or of the only one.
fn mean_step_seconds(reports: &[StepReport]) -> f64 {
    let timed = if reports.len() > 1 { &reports[1..] } else { reports };
    timed.iter().map(|r| r.seconds).sum::<f64>() / timed.len().max(1) as f64
}

/// The trainer for the schedule and device the flags ask for.
fn trainer(model: Model, args: &CmtArgs, capacity: u64) -> Result<Trainer> {
    let schedule = match args.schedule {
        ScheduleArg::Resident => Schedule::Resident,
        ScheduleArg::Naive => Schedule::Naive,
        ScheduleArg::Harmony => Schedule::Harmony,
    };
    let weights = model.init_weights(args.seed);
    let (footprint, _) = Footprint::measure(&model, &weights).context("measuring the network's footprint")?;
    let plan = Plan::build(schedule, &footprint, args.microbatches, capacity)?;
    let device = open_device(args.device, capacity)?;
    Ok(Trainer::with_device(model, plan, device, args.optimizer()?, weights)?)
}

/// The training loop: one step at a time, the loss logged (CSV as it goes,
/// PNG at the end), the network and checkpoint written every
/// `--checkpoint-every` steps and at the end, a progress bar on a terminal.
fn train(trainer: &mut Trainer, args: &CmtArgs, config: &CmtConfig, run_json: &str) -> Result<Vec<StepReport>> {
    let first = trainer.steps();
    let mut log = LossLog::open(&args.out.join("loss.csv"), first)?;
    let lr = f64::from(args.lr);
    let (start, bar) = (std::time::Instant::now(), crate::progress::bar("cairn train cmt", "steps"));
    bar.set_length(args.steps as u64);
    bar.set_position(first);
    let mut reports = Vec::with_capacity(args.steps);
    for step in first as usize..args.steps {
        let report = trainer.step().with_context(|| format!("step {step} of cairn train cmt"))?;
        log.record(report.step, report.loss, Some(lr), start.elapsed().as_secs_f64())?;
        bar.set_message(format!("cairn train cmt (loss {:.4})", report.loss));
        bar.inc(1);
        reports.push(report);
        if (step + 1) % args.checkpoint_every == 0 || step + 1 == args.steps {
            save(trainer, &args.out, config, run_json)?;
        }
    }
    bar.finish_and_clear();
    log.write_png()?;
    Ok(reports)
}

/// Writes the network (`cmt.json`, `cmt.safetensors`) and the trainer
/// checkpoint into `out`, each through a temporary file renamed into place.
fn save(trainer: &Trainer, out: &Path, config: &CmtConfig, run_json: &str) -> Result<()> {
    trainer.save_checkpoint(&out.join(CHECKPOINT_FILE), run_json)?; // renames into place itself
    let staging = out.join(".cmt.partial");
    weights::save(&staging, config, &trainer.weights()?).with_context(|| format!("writing {}", staging.display()))?;
    for name in [weights::CONFIG_FILE, weights::WEIGHTS_FILE] {
        std::fs::rename(staging.join(name), out.join(name)).with_context(|| format!("moving {name} into place"))?;
    }
    std::fs::remove_dir(&staging).ok(); // empty now; a leftover is harmless
    Ok(())
}

/// Writes `bytes` to `path` through `path.partial`, renamed into place.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("moving {} into place", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cairn_sim::drive::{DriveOptions, write_drive};
    use cairn_sim::rig::Rig;
    use clap::Parser;

    fn run(extra: &[&str]) -> anyhow::Result<String> {
        let argv = [&["cairn", "train", "cmt"], extra].concat();
        crate::run(&crate::Cli::try_parse_from(argv)?)
    }

    fn summary(out: &std::path::Path) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join("train.json")).unwrap()).unwrap()
    }

    fn losses(out: &std::path::Path) -> Vec<f64> {
        let rows = cairn_train::losslog::read_csv(&out.join("loss.csv")).unwrap();
        rows.iter().map(|row| row.loss).collect()
    }

    /// A few steps on a 2-sample drive set lower the loss, and harmony
    /// swapping packs follows the resident run's loss curve. Not bit for bit:
    /// every decoder layer reads the same `memory`, `memory_pe` and
    /// `query_pe`, and a pack boundary between decoder layers sums their
    /// gradients in another order (float addition does not associate); the
    /// curves then agree to rounding (measured: 3e-7 relative after 4 steps).
    #[test]
    fn training_lowers_the_loss_and_harmony_follows_the_resident_run() {
        let dir = std::env::temp_dir().join(format!("cairn-train-cmt-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 2, seed: 1000, image_scale: 0.2, ..Default::default() };
        write_drive(&options, &Rig::nuscenes().unwrap(), &dir.join("data"), |_| {}).unwrap();
        let data = dir.join("data").display().to_string();
        let common = ["--data", &data, "--steps", "4", "--no-masked-modal"];
        let resident = dir.join("resident").display().to_string();
        run(&[&common[..], &["--schedule", "resident", "--device-mem", "4GiB", "--out", &resident]].concat()).unwrap();
        let harmony = dir.join("harmony").display().to_string();
        let text = run(&[&common[..], &["--schedule", "harmony", "--device-mem", "64MiB", "--out", &harmony]].concat())
            .unwrap();
        assert!(text.contains("loss"), "{text}");
        let packs = summary(&dir.join("harmony"))["packs"].as_array().unwrap().len();
        assert!(packs > 2, "harmony swaps packs: {packs}");
        let (resident, harmony) = (losses(&dir.join("resident")), losses(&dir.join("harmony")));
        assert_eq!(resident.len(), 4);
        assert_eq!(resident[0], harmony[0], "the first forward pass is the same computation");
        for (r, h) in resident.iter().zip(&harmony) {
            assert!((r - h).abs() < 1e-4 * r.abs(), "resident {resident:?} vs harmony {harmony:?}");
        }
        assert!(harmony[3] < 0.8 * harmony[0], "the loss falls: {harmony:?}");
        let network = cairn_perception::cmt::Cmt::load(&dir.join("harmony")).unwrap();
        assert_eq!(network.config().decoder.queries, 200);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_corrupt_checkpoint_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("cairn-train-cmt-corrupt-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 1, seed: 1001, image_scale: 0.2, ..Default::default() };
        write_drive(&options, &Rig::nuscenes().unwrap(), &dir.join("data"), |_| {}).unwrap();
        std::fs::create_dir_all(dir.join("out")).unwrap();
        std::fs::write(dir.join("out").join(super::CHECKPOINT_FILE), b"not a checkpoint").unwrap();
        let (data, out) = (dir.join("data").display().to_string(), dir.join("out").display().to_string());
        let err = run(&["--data", &data, "--steps", "1", "--out", &out]).unwrap_err();
        assert!(format!("{err:#}").contains("corrupt"), "{err:#}");
        assert!(run(&["--data", &data, "--config", "huge", "--out", &out]).is_err());
        let err = run(&["--data", &data, "--lr", "0", "--out", &out]).unwrap_err();
        assert!(format!("{err:#}").contains("--lr"), "{err:#}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
