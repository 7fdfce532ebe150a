//! `cairn train bench`: train a benchmark model (GPT blocks or a residual
//! MLP) for a few steps under a schedule on a capacity-enforced device (the
//! CPU, or a CUDA GPU with `--device cuda` in a `--features cuda` build),
//! and print step time, swap bytes by category, peak device bytes and the plan.
//! `--plan auto` profiles the model and lets the scheduler pick harmony's
//! packs and microbatch size ([`auto`]); `--loss-log FILE.csv` writes the
//! loss per step and a PNG loss curve next to it.
//! `cairn train l3d`: trains the L3D (DIP) descriptor network ([`l3d`]).
//! `cairn train cmt`: trains the CMT detector on a sample set ([`cmt`]).

mod auto;
pub mod cmt;
mod device;
pub mod l3d;

use anyhow::{Context, Result, bail};
use cairn_train::losslog::LossLog;
use cairn_train::models::gpt::{GptConfig, gpt_model};
use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::plan::mib;
use cairn_train::{Model, OptimizerConfig, Schedule, StepReport, Traffic, Trainer};
use clap::{Args, Subcommand, ValueEnum};
use device::{DeviceArg, open_device};

/// The `train` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train a benchmark model for a few steps and report throughput and swap volume.
    Bench(BenchArgs),
    /// Train the L3D (DIP) descriptor network on cairn-sim scenes (see [`l3d`]).
    L3d(l3d::L3dArgs),
    /// Train the CMT detector on a sample set (see [`cmt`]).
    Cmt(cmt::CmtArgs),
}

/// Benchmark model.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModelArg {
    /// Pre-norm GPT blocks (causal attention + 4× MLP) on `[rows, seq, hidden]`.
    Gpt,
    /// Residual MLP blocks on `[rows, hidden]`.
    Mlp,
}

/// Schedule.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScheduleArg {
    /// No swapping within an iteration (needs the whole model on the device).
    Resident,
    /// Per microbatch and layer: weights in twice, gradients out.
    Naive,
    /// Harmony: pack grouping over all microbatches, prefetch, recomputation.
    Harmony,
}

/// How harmony's packs and microbatch size are chosen.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanArg {
    /// The greedy capacity rule: longest packs that fit, `--rows` × `--microbatches` as given.
    Greedy,
    /// Profile, then search pack sizes and microbatch sizes (same samples per
    /// step) with the simulator; the least predicted step time that fits wins.
    Auto,
}

/// Arguments of `cairn train bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Benchmark model.
    #[arg(long, value_enum)]
    model: ModelArg,
    /// Number of blocks.
    #[arg(long)]
    layers: usize,
    /// Model width.
    #[arg(long)]
    hidden: usize,
    /// Device capacity (B, KiB, MiB or GiB; e.g. `32MiB`).
    #[arg(long, default_value = "32MiB")]
    device_mem: String,
    /// Where to train.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Microbatches per step.
    #[arg(long, default_value_t = 4)]
    microbatches: usize,
    /// Schedule.
    #[arg(long, value_enum)]
    schedule: ScheduleArg,
    /// Training steps (step time is the mean over steps after the first).
    #[arg(long, default_value_t = 3)]
    steps: usize,
    /// Rows (mlp) or sequences (gpt) per microbatch.
    #[arg(long, default_value_t = 8)]
    rows: usize,
    /// Tokens per sequence (gpt).
    #[arg(long, default_value_t = 32)]
    seq: usize,
    /// Attention heads (gpt).
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// MLP hidden units per block as a multiple of `--hidden` (mlp).
    #[arg(long, default_value_t = 1)]
    ffn_mult: usize,
    /// Checkpoint file (safetensors): resumed from when it exists, written
    /// after every step. `--steps` counts from the start of the run.
    #[arg(long, value_name = "FILE")]
    checkpoint: Option<std::path::PathBuf>,
    /// How harmony's plan is chosen (`auto` needs `--schedule harmony`).
    #[arg(long, value_enum, default_value = "greedy")]
    plan: PlanArg,
    /// Profile the model and print the simulator's predicted step time next
    /// to the measured one (implied by `--plan auto`).
    #[arg(long)]
    predict: bool,
    /// Timed runs per profiled layer and cost (their mean is kept).
    #[arg(long, default_value_t = 3)]
    profile_repeats: usize,
    /// Loss log: `step,loss,lr,wall_s` per step, and a PNG loss curve with
    /// the same name (`.png`) written at the end.
    #[arg(long, value_name = "FILE.csv")]
    loss_log: Option<std::path::PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

impl BenchArgs {
    /// The resolved configuration saved in (and checked against)
    /// checkpoints, with the microbatch split the run uses.
    fn config_json(&self, rows: usize, microbatches: usize) -> String {
        serde_json::json!({
            "model": format!("{:?}", self.model), "layers": self.layers, "hidden": self.hidden,
            "device_mem": self.device_mem, "microbatches": microbatches,
            "schedule": format!("{:?}", self.schedule), "rows": rows, "seq": self.seq,
            "heads": self.heads, "ffn_mult": self.ffn_mult, "optimizer": OptimizerConfig::default(), "init_seed": 0,
        })
        .to_string()
    }
}

/// FNV-1a over the bits of every weight: equal runs print equal checksums.
pub fn weights_checksum(weights: &[Vec<cairn_train::HostTensor>]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for value in weights.iter().flatten().flat_map(|w| &w.data) {
        for byte in value.to_bits().to_le_bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Runs a `train` subcommand.
pub fn run(command: &TrainCommand) -> Result<String> {
    match command {
        TrainCommand::Bench(args) => bench(args),
        TrainCommand::L3d(args) => l3d::run(args),
        TrainCommand::Cmt(args) => cmt::run(args),
    }
}

/// Parses `32MiB`, `512KiB`, `1GiB`, `4096` (bytes; `B`, `KB`, `MB`, `GB` are
/// powers of 1000).
pub fn parse_bytes(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().with_context(|| format!("bad byte size {text:?} (e.g. 32MiB)"))?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        other => bail!("unknown byte unit {other:?} in {text:?} (B, KiB, MiB, GiB, KB, MB, GB)"),
    };
    Ok((value * scale).round() as u64)
}

fn model(args: &BenchArgs, rows: usize) -> Result<Model> {
    Ok(match args.model {
        ModelArg::Gpt => {
            let config =
                GptConfig { layers: args.layers, hidden: args.hidden, heads: args.heads, seq: args.seq, rows, seed: 0 };
            gpt_model(&config)?
        }
        ModelArg::Mlp => {
            let config = MlpConfig {
                layers: args.layers,
                hidden: args.hidden,
                ffn_mult: args.ffn_mult,
                rows,
                ..Default::default()
            };
            mlp_model(&config)?
        }
    })
}

fn bench(args: &BenchArgs) -> Result<String> {
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    let capacity = parse_bytes(&args.device_mem)?;
    if matches!(args.device, DeviceArg::Cuda) && (args.predict || matches!(args.plan, PlanArg::Auto)) {
        bail!("--predict and --plan auto profile the CPU device; with --device cuda use --plan greedy");
    }
    let schedule = match args.schedule {
        ScheduleArg::Resident => Schedule::Resident,
        ScheduleArg::Naive => Schedule::Naive,
        ScheduleArg::Harmony => Schedule::Harmony,
    };
    let auto::Planned { model, weights, footprint, plan, outlook } = auto::plan(args, schedule, capacity)?;
    let plan_text = plan.describe(&footprint);
    let (name, weight_bytes) = (model.name.clone(), model.weight_bytes());
    let packs: Vec<[usize; 2]> = plan.packs.iter().map(|p| [p.start, p.end]).collect();
    let (rows, microbatches) = (outlook.rows, outlook.microbatches);
    let device = open_device(args.device, capacity)?;
    let mut trainer = Trainer::with_device(model, plan, device, OptimizerConfig::default(), weights)?;
    let config = args.config_json(rows, microbatches);
    if let Some(path) = args.checkpoint.as_deref().filter(|p| p.exists()) {
        trainer.load_checkpoint(path, &config)?;
    }
    let reports = train(&mut trainer, args, &config, &format!("{schedule} {name}"))?;
    let checksum = weights_checksum(&trainer.weights()?);
    let timed = if reports.len() > 1 { &reports[1..] } else { &reports[..] };
    let step_s = timed.iter().map(|r| r.seconds).sum::<f64>() / timed.len() as f64;
    let samples = (rows * microbatches) as f64;
    let last = reports.last().context("no step ran")?;
    let peak = reports.iter().map(|r| r.device.peak_bytes).max().unwrap_or(0);
    if args.json {
        let traffic = |t: &Traffic| serde_json::json!({"total": t.total(), "weights": t.weights, "activations": t.activations, "gradients": t.gradients});
        let losses: Vec<f64> = reports.iter().map(|r| r.loss).collect();
        let mut value = serde_json::json!({
            "model": name, "schedule": schedule.to_string(), "microbatches": microbatches, "rows": rows,
            "device_mem_bytes": capacity, "weight_bytes": weight_bytes, "packs": packs,
            "steps": args.steps, "step_seconds": step_s, "samples_per_second": samples / step_s,
            "h2d_bytes": traffic(&last.device.h2d), "d2h_bytes": traffic(&last.device.d2h),
            "peak_device_bytes": peak, "busy_seconds": last.device.busy, "losses": losses,
            "first_step": reports[0].step, "weights_fnv1a": checksum,
        });
        if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), auto::json(&outlook, step_s))
        {
            object.extend(extra);
        }
        return Ok(format!("{value}\n"));
    }
    let text = text(&name, weight_bytes, capacity, &plan_text, &reports, step_s, samples, peak);
    let prediction = auto::text(&outlook, step_s);
    Ok(format!("{text}{prediction}weights checksum (FNV-1a): {checksum}\n"))
}

/// Runs the remaining steps up to `--steps`, checkpointing after each and
/// logging the loss (`--loss-log`; the curve is drawn at the end).
fn train(trainer: &mut Trainer, args: &BenchArgs, config: &str, label: &str) -> Result<Vec<StepReport>> {
    let first = trainer.steps() as usize;
    if first >= args.steps {
        bail!("the checkpoint is already at step {first}; ask for more than --steps {}", args.steps);
    }
    let mut log = args.loss_log.as_deref().map(|path| LossLog::open(path, first as u64)).transpose()?;
    let (start, lr) = (std::time::Instant::now(), f64::from(OptimizerConfig::default().lr()));
    let bar = crate::progress::bar(label, "steps");
    bar.set_length(args.steps as u64);
    bar.set_position(first as u64);
    let mut reports = Vec::new();
    for step in first..args.steps {
        let report = trainer.step().with_context(|| format!("step {step} of {label}"))?;
        if let Some(log) = log.as_mut() {
            log.record(report.step, report.loss, Some(lr), start.elapsed().as_secs_f64())?;
        }
        reports.push(report);
        if let Some(path) = &args.checkpoint {
            trainer.save_checkpoint(path, config)?;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(log) = &log {
        log.write_png()?;
    }
    Ok(reports)
}

#[allow(clippy::too_many_arguments)]
fn text(
    name: &str,
    weights: u64,
    capacity: u64,
    plan: &str,
    reports: &[StepReport],
    step_s: f64,
    samples: f64,
    peak: u64,
) -> String {
    let last = &reports[reports.len() - 1];
    let traffic = |t: &Traffic| {
        format!(
            "{:.2} MiB (weights {:.2}, activations {:.2}, gradients {:.2})",
            mib(t.total()),
            mib(t.weights),
            mib(t.activations),
            mib(t.gradients)
        )
    };
    let busy = last.device.busy;
    let mut out = format!(
        "cairn train bench: {name}, {:.2} MiB of weights on a {:.2} MiB device\n{plan}",
        mib(weights),
        mib(capacity)
    );
    out += &format!("loss: {:.5} → {:.5} over steps {}..={}\n", reports[0].loss, last.loss, reports[0].step, last.step);
    out += &format!("step time: {:.3} s ({:.1} samples/s)\n", step_s, samples / step_s);
    out += &format!("per iteration, host → device: {}\n", traffic(&last.device.h2d));
    out += &format!("per iteration, device → host: {}\n", traffic(&last.device.d2h));
    out += &format!("peak device bytes: {peak} ({:.2} MiB of {:.2} MiB)\n", mib(peak), mib(capacity));
    out += &format!(
        "busy (s, last step): compute {:.3}, swap-in {:.3}, swap-out {:.3}, cpu optimizer {:.3}\n",
        busy.compute_s, busy.swap_in_s, busy.swap_out_s, busy.cpu_s
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes_parse() {
        assert_eq!(parse_bytes("32MiB").unwrap(), 32 << 20);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_bytes("2MB").unwrap(), 2_000_000);
        assert!(parse_bytes("32 parsecs").is_err());
        assert!(parse_bytes("MiB").is_err());
    }

    fn bench_json(schedule: &str, device: &str) -> Result<serde_json::Value> {
        use clap::Parser;
        let argv = [
            "cairn",
            "train",
            "bench",
            "--model",
            "gpt",
            "--layers",
            "8",
            "--hidden",
            "16",
            "--heads",
            "2",
            "--seq",
            "4",
            "--rows",
            "2",
            "--device-mem",
            device,
            "--microbatches",
            "4",
            "--schedule",
            schedule,
            "--steps",
            "2",
            "--json",
        ];
        let out = crate::run(&crate::Cli::try_parse_from(argv)?)?;
        Ok(serde_json::from_str(&out)?)
    }

    #[test]
    fn cuda_device_with_a_cpu_profiled_plan_is_an_error() {
        use clap::Parser;
        let argv = "cairn train bench --model mlp --layers 2 --hidden 8 --device cuda --schedule harmony --plan auto";
        let err = crate::run(&crate::Cli::try_parse_from(argv.split(' ')).unwrap()).unwrap_err();
        assert!(format!("{err:#}").contains("--plan greedy"), "{err:#}");
    }

    #[test]
    fn bench_json_reports_traffic_by_category_and_peak() {
        let naive = bench_json("naive", "96KiB").unwrap();
        let harmony = bench_json("harmony", "96KiB").unwrap();
        for value in [&naive, &harmony] {
            for key in ["h2d_bytes", "d2h_bytes"] {
                let t = &value[key];
                let parts = ["weights", "activations", "gradients"].map(|k| t[k].as_u64().unwrap());
                assert_eq!(t["total"].as_u64().unwrap(), parts.iter().sum::<u64>(), "{key}");
            }
            assert!(value["peak_device_bytes"].as_u64().unwrap() <= 96 * 1024);
            assert!(value["step_seconds"].as_f64().unwrap() > 0.0);
        }
        let weights = naive["weight_bytes"].as_u64().unwrap();
        assert!(weights > 96 * 1024, "the model must not fit the device");
        assert_eq!(naive["h2d_bytes"]["weights"].as_u64().unwrap(), 2 * 4 * weights);
        assert!(harmony["h2d_bytes"]["weights"].as_u64().unwrap() < 2 * weights);
    }

    #[test]
    fn resident_on_a_small_device_reports_out_of_memory() {
        let err = bench_json("resident", "96KiB").unwrap_err();
        assert!(format!("{err:#}").contains("out of memory"), "{err:#}");
    }
}
