//! `cairn train bench --plan auto` and `--predict`: profile the benchmark
//! model (per-layer forward/backward times, swap and optimizer costs), then
//! either search harmony plans — pack sizes and microbatch sizes at the same
//! samples per step — with the event-driven simulator under the device
//! capacity (`auto`), or simulate the plan the flags ask for (`--predict`).
//! The prediction is for the CPU device as it runs today (copies and kernels
//! serial on the executor thread, the optimizer of harmony in a background
//! thread).

use anyhow::{Context, Result, bail};
use cairn_train::costs::Profile;
use cairn_train::search::{SearchSpace, search};
use cairn_train::sim::Engines;
use cairn_train::simulate::{Prediction, SimInput, simulate};
use cairn_train::{Footprint, HostTensor, Model, OptimizerConfig, Plan, Schedule};

use super::{BenchArgs, PlanArg};

/// The model and plan a bench runs, with the simulator's view of it.
pub(super) struct Planned {
    pub model: Model,
    pub weights: Vec<Vec<HostTensor>>,
    pub footprint: Footprint,
    pub plan: Plan,
    pub outlook: Outlook,
}

/// The microbatch split a bench runs and what the simulator expects of it.
pub(super) struct Outlook {
    /// Rows (mlp) or sequences (gpt) per microbatch.
    pub rows: usize,
    /// Microbatches per step.
    pub microbatches: usize,
    /// The predicted step (with `--predict` or `--plan auto`).
    pub prediction: Option<Prediction>,
    /// The predicted step time on a device whose copy streams overlap
    /// compute (what a GPU with the same costs would do).
    pub overlapped_step_s: Option<f64>,
    /// Plans the search simulated and how many fit (`--plan auto`).
    pub searched: Option<(usize, usize)>,
}

impl Planned {
    fn new(model: Model, weights: Vec<Vec<HostTensor>>, footprint: Footprint, plan: Plan, rows: usize) -> Self {
        let microbatches = plan.microbatches;
        let outlook = Outlook { rows, microbatches, prediction: None, overlapped_step_s: None, searched: None };
        Self { model, weights, footprint, plan, outlook }
    }
}

/// Builds the model and its plan as the flags ask.
pub(super) fn plan(args: &BenchArgs, schedule: Schedule, capacity: u64) -> Result<Planned> {
    let auto = matches!(args.plan, PlanArg::Auto);
    if auto && schedule != Schedule::Harmony {
        bail!("--plan auto searches harmony plans: use it with --schedule harmony");
    }
    let model = super::model(args, args.rows)?;
    let weights = model.init_weights(0);
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    if !(auto || args.predict) {
        let plan = Plan::build(schedule, &footprint, args.microbatches, capacity)?;
        return Ok(Planned::new(model, weights, footprint, plan, args.rows));
    }
    let profile = Profile::measure(&model, &weights, OptimizerConfig::default(), args.profile_repeats)
        .context("profiling the model")?;
    if !auto {
        let plan = Plan::build(schedule, &footprint, args.microbatches, capacity)?;
        return predicted(Planned::new(model, weights, footprint, plan, args.rows), &profile);
    }
    let samples = args.rows * args.microbatches;
    let space = SearchSpace { samples, capacity, engines: Engines::SerialDevice };
    let choice = search(&profile, &footprint, args.rows, space)?;
    let model = super::model(args, choice.rows)?;
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    let mut planned = predicted(Planned::new(model, weights, footprint, choice.plan, choice.rows), &profile)?;
    planned.outlook.searched = Some((choice.considered, choice.feasible));
    Ok(planned)
}

/// Adds the simulator's predictions (serial CPU device, and overlapped) for
/// the plan.
fn predicted(mut planned: Planned, profile: &Profile) -> Result<Planned> {
    let (times, loss_s) = profile.layer_times(&planned.footprint)?;
    let input = SimInput { footprint: &planned.footprint, layers: &times, loss_s, costs: &profile.costs };
    let overlapped = simulate(&planned.plan, input, Engines::Overlapped)?;
    planned.outlook.prediction = Some(simulate(&planned.plan, input, Engines::SerialDevice)?);
    planned.outlook.overlapped_step_s = Some(overlapped.step_s);
    Ok(planned)
}

/// The prediction's JSON fields (null without a prediction).
pub(super) fn json(outlook: &Outlook, measured_step_s: f64) -> serde_json::Value {
    let traffic = |t: &cairn_train::Traffic| serde_json::json!({"total": t.total(), "weights": t.weights, "activations": t.activations, "gradients": t.gradients});
    let p = outlook.prediction.as_ref();
    serde_json::json!({
        "plan_search": outlook.searched.map(|(considered, feasible)| serde_json::json!({
            "considered": considered, "feasible": feasible,
            "rows": outlook.rows, "microbatches": outlook.microbatches,
        })),
        "predicted_step_s": p.map(|p| p.step_s),
        "predicted_overlapped_step_s": outlook.overlapped_step_s,
        "measured_step_s": measured_step_s,
        "predicted_busy_seconds": p.map(|p| p.busy),
        "predicted_peak_device_bytes": p.map(|p| p.peak_bytes),
        "predicted_h2d_bytes": p.map(|p| traffic(&p.h2d)),
        "predicted_d2h_bytes": p.map(|p| traffic(&p.d2h)),
    })
}

/// The prediction's text lines (empty without a prediction).
pub(super) fn text(outlook: &Outlook, measured_step_s: f64) -> String {
    let Some(p) = &outlook.prediction else { return String::new() };
    let mut out = String::new();
    if let Some((considered, feasible)) = outlook.searched {
        out += &format!(
            "plan auto: searched {considered} harmony plans ({feasible} fit) → {} microbatch(es) of {} rows\n",
            outlook.microbatches, outlook.rows
        );
    }
    let error = 100.0 * (p.step_s - measured_step_s) / measured_step_s;
    out += &format!(
        "predicted step time: {:.4} s (measured {:.4} s, {error:+.1}%); predicted peak {} B, moved {} B\n",
        p.step_s,
        measured_step_s,
        p.peak_bytes,
        p.h2d.total() + p.d2h.total()
    );
    out += &format!(
        "predicted busy (s): compute {:.3}, swap-in {:.3}, swap-out {:.3}, cpu {:.3}\n",
        p.busy.compute_s, p.busy.swap_in_s, p.busy.swap_out_s, p.busy.cpu_s
    );
    if let Some(overlapped) = outlook.overlapped_step_s {
        out += &format!("predicted step time with copy streams overlapping compute: {overlapped:.4} s\n");
    }
    out
}
