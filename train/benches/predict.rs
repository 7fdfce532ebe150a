//! Prediction accuracy of the scheduler's simulator: profile ONE
//! configuration (a residual MLP, harmony, 4 microbatches on a device far
//! smaller than the model), then predict the step time of other
//! configurations — deeper, wider, more microbatches, smaller microbatches,
//! naive and resident schedules — run each on the CPU device and print
//! predicted against measured with the relative error. The same for a
//! GPT stack, profiled on its own first configuration.
//!
//! `cargo bench -p cairn-train --bench predict --profile dev` (the dev
//! profile is optimised; add `-- --steps N` for more timed steps). The
//! measured step time is the median over the timed steps after one warm-up
//! step; on a machine shared with other jobs both sides are noisy. It
//! asserts nothing about speed.

use std::time::Instant;

use cairn_train::costs::Profile;
use cairn_train::models::gpt::{GptConfig, gpt_model};
use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::plan::mib;
use cairn_train::sim::Engines;
use cairn_train::simulate::{SimInput, simulate};
use cairn_train::{CpuDevice, Footprint, Model, OptimizerConfig, Plan, Schedule, Trainer};

const MIB: u64 = 1024 * 1024;

/// One configuration to predict and run.
struct Case {
    label: &'static str,
    model: fn() -> cairn_train::Result<Model>,
    schedule: Schedule,
    microbatches: usize,
    capacity: u64,
}

fn mlp(layers: usize, hidden: usize, rows: usize) -> cairn_train::Result<Model> {
    mlp_model(&MlpConfig { layers, hidden, ffn_mult: 1, rows, ..Default::default() })
}

fn gpt(layers: usize, hidden: usize, rows: usize) -> cairn_train::Result<Model> {
    gpt_model(&GptConfig { layers, hidden, heads: 4, seq: 32, rows, seed: 0 })
}

fn mlp_cases() -> Vec<Case> {
    let case = |label, model, schedule, microbatches, capacity| Case { label, model, schedule, microbatches, capacity };
    vec![
        case("profiled: mlp 16×256, 8 rows, harmony ×4", || mlp(16, 256, 8), Schedule::Harmony, 4, 3 * MIB),
        case("deeper: mlp 32×256, harmony ×4", || mlp(32, 256, 8), Schedule::Harmony, 4, 3 * MIB),
        case("more microbatches: harmony ×16", || mlp(16, 256, 8), Schedule::Harmony, 16, 3 * MIB),
        case("smaller microbatches: 4 rows, harmony ×8", || mlp(16, 256, 4), Schedule::Harmony, 8, 3 * MIB),
        case("schedule: naive ×4", || mlp(16, 256, 8), Schedule::Naive, 4, 3 * MIB),
        case("schedule: resident ×4", || mlp(16, 256, 8), Schedule::Resident, 4, 64 * MIB),
        case("wider: mlp 16×384, harmony ×4", || mlp(16, 384, 8), Schedule::Harmony, 4, 6 * MIB),
    ]
}

fn gpt_cases() -> Vec<Case> {
    let case = |label, model, schedule, microbatches, capacity| Case { label, model, schedule, microbatches, capacity };
    vec![
        case("profiled: gpt 8×128, 4×32 tokens, harmony ×4", || gpt(8, 128, 4), Schedule::Harmony, 4, 6 * MIB),
        case("deeper: gpt 16×128, harmony ×4", || gpt(16, 128, 4), Schedule::Harmony, 4, 6 * MIB),
        case("more microbatches: harmony ×12", || gpt(8, 128, 4), Schedule::Harmony, 12, 6 * MIB),
        case("schedule: naive ×4", || gpt(8, 128, 4), Schedule::Naive, 4, 6 * MIB),
    ]
}

/// Predicted and measured seconds of one case: step, then compute busy.
struct Outcome {
    step: (f64, f64),
    compute: (f64, f64),
    peak: u64,
}

fn run(case: &Case, profile: &Profile, steps: usize) -> cairn_train::Result<Outcome> {
    let model = (case.model)()?;
    let weights = model.init_weights(0);
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    let plan = Plan::build(case.schedule, &footprint, case.microbatches, case.capacity)?;
    let (times, loss_s) = profile.layer_times(&footprint)?;
    let input = SimInput { footprint: &footprint, layers: &times, loss_s, costs: &profile.costs };
    let predicted = simulate(&plan, input, Engines::SerialDevice)?;
    let device = CpuDevice::new(case.capacity);
    let mut trainer = Trainer::new(model, plan, device, OptimizerConfig::default(), weights)?;
    let mut reports: Vec<_> = (0..steps + 1).map(|_| trainer.step()).collect::<Result<_, _>>()?;
    let mut timed = reports.split_off(1);
    timed.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let median = &timed[timed.len() / 2];
    Ok(Outcome {
        step: (predicted.step_s, median.seconds),
        compute: (predicted.busy.compute_s, median.device.busy.compute_s),
        peak: predicted.peak_bytes,
    })
}

fn table(title: &str, cases: &[Case], steps: usize) -> cairn_train::Result<Vec<f64>> {
    let first = (cases[0].model)()?;
    let start = Instant::now();
    let profile = Profile::measure(&first, &first.init_weights(0), OptimizerConfig::default(), 5)?;
    println!("\n{title}: profiled {:?} in {:.2} s", first.name, start.elapsed().as_secs_f64());
    let c = profile.costs;
    println!(
        "  swap costs: h2d {:.2} GB/s + {:.1} µs/tensor, d2h {:.2} GB/s + {:.1} µs/tensor, update {:.2} GB/s",
        1e-9 / c.h2d.per_byte_s.max(1e-30),
        1e6 * c.h2d.per_tensor_s,
        1e-9 / c.d2h.per_byte_s.max(1e-30),
        1e6 * c.d2h.per_tensor_s,
        1e-9 / c.update.per_byte_s.max(1e-30)
    );
    println!(
        "  {:<46} {:>11} {:>10} {:>7} | {:>9} {:>9} | {:>8}",
        "configuration", "predicted s", "measured s", "error", "compute p", "compute m", "peak MiB"
    );
    let mut errors = Vec::new();
    for case in cases {
        let outcome = run(case, &profile, steps)?;
        let ((predicted, measured), (compute_p, compute_m)) = (outcome.step, outcome.compute);
        let error = (predicted - measured) / measured;
        println!(
            "  {:<46} {predicted:>11.4} {measured:>10.4} {:>+6.1}% | {compute_p:>9.4} {compute_m:>9.4} | {:>8.2}",
            case.label,
            100.0 * error,
            mib(outcome.peak)
        );
        errors.push(error);
    }
    Ok(errors)
}

fn main() -> cairn_train::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let steps = args.iter().position(|a| a == "--steps").and_then(|i| args.get(i + 1)?.parse().ok()).unwrap_or(7);
    let mut errors = table("residual MLP", &mlp_cases(), steps)?;
    errors.extend(table("GPT blocks", &gpt_cases(), steps)?);
    let others: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    let within = others.iter().filter(|e| **e <= 0.25).count();
    let mean = others.iter().sum::<f64>() / others.len() as f64;
    println!("\n{within} of {} configurations within 25%; mean |error| {:.1}%", others.len(), 100.0 * mean);
    Ok(())
}
