//! The simulator against the device's accounting: for both benchmark
//! models and every schedule (harmony with chained single-microbatch
//! forwards, one pack, one layer per pack and the greedy packs), the
//! simulated bytes per direction and category and the peak device bytes
//! equal what the CPU device counts in a real step. Then the timeline's
//! invariants: dependencies end before their dependants start, an engine
//! runs one operation at a time in issue order, the serial device overlaps
//! nothing but the optimizer thread, and busy times add up. The scheduler's
//! choice is run and stays within the capacity it predicted. Nothing here
//! checks a time.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_train::costs::{LayerTimes, Linear, Profile, SwapCosts};
use cairn_train::device::Stream;
use cairn_train::models::gpt::{GptConfig, gpt_model};
use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::plan::{harmony_packs, mib};
use cairn_train::search::{SearchSpace, balanced_packs, search};
use cairn_train::sim::{Engine, Engines};
use cairn_train::simulate::{Prediction, SimInput, simulate};
use cairn_train::{CpuDevice, Footprint, Model, OptimizerConfig, Plan, Trainer};

fn mlp() -> Model {
    mlp_model(&MlpConfig { layers: 5, hidden: 16, ffn_mult: 2, rows: 4, ..Default::default() }).unwrap()
}

fn gpt() -> Model {
    gpt_model(&GptConfig { layers: 4, hidden: 16, heads: 2, seq: 4, rows: 2, seed: 0 }).unwrap()
}

/// Synthetic, non-zero durations (the bytes do not depend on them).
fn costs() -> SwapCosts {
    let line = |per_tensor_s, per_byte_s| Linear { per_tensor_s, per_byte_s };
    SwapCosts {
        h2d: line(2e-6, 1e-9),
        d2h: line(3e-6, 2e-9),
        host_copy: line(1e-6, 1e-9),
        device_add: line(1e-6, 5e-10),
        host_add: line(1e-6, 5e-10),
        update: line(5e-6, 4e-9),
    }
}

fn predict(plan: &Plan, footprint: &Footprint, engines: Engines) -> Prediction {
    let times: Vec<LayerTimes> = (0..plan.packs.last().unwrap().end)
        .map(|l| LayerTimes { forward_s: 1e-4 * (1 + l % 3) as f64, backward_s: 3e-4 })
        .collect();
    let costs = costs();
    let input = SimInput { footprint, layers: &times, loss_s: 5e-5, costs: &costs };
    simulate(plan, input, engines).unwrap()
}

fn plans(footprint: &Footprint) -> Vec<Plan> {
    let layers = footprint.layer_weights.len();
    let capacity = 4 * footprint.weights(&(0..2)) + footprint.backward_activations(&(0..2));
    let greedy = harmony_packs(footprint, capacity).unwrap();
    assert!(greedy.len() >= 2, "the greedy packs split the model");
    vec![
        Plan::resident(layers, 1),
        Plan::resident(layers, 3),
        Plan::naive(layers, 1),
        Plan::naive(layers, 3),
        Plan::harmony(greedy.clone(), 1),
        Plan::harmony(greedy, 4),
        Plan::harmony(balanced_packs(layers, 1), 2),
        Plan::harmony(balanced_packs(layers, layers), 3),
        Plan::harmony(balanced_packs(layers, 2), 1),
    ]
}

#[test]
fn simulated_bytes_and_peak_equal_the_measured_accounting() {
    for make in [mlp, gpt] {
        let model = make();
        let weights = model.init_weights(1);
        let (footprint, _) = Footprint::measure(&model, &weights).unwrap();
        for plan in plans(&footprint) {
            let label = format!("{} {} packs {:?} × {}", model.name, plan.schedule, plan.packs, plan.microbatches);
            let predicted = predict(&plan, &footprint, Engines::SerialDevice);
            let device = CpuDevice::new(u64::MAX);
            let mut trainer =
                Trainer::new(make(), plan.clone(), device, OptimizerConfig::default(), weights.clone()).unwrap();
            for _ in 0..2 {
                let measured = trainer.step().unwrap().device;
                assert_eq!(predicted.h2d, measured.h2d, "{label}: host → device");
                assert_eq!(predicted.d2h, measured.d2h, "{label}: device → host");
                assert_eq!(predicted.peak_bytes, measured.peak_bytes, "{label}: peak");
            }
            let overlapped = predict(&plan, &footprint, Engines::Overlapped);
            assert_eq!((overlapped.h2d, overlapped.peak_bytes), (predicted.h2d, predicted.peak_bytes), "{label}");
            // Every op has the same or fewer predecessors on its engine, so nothing ends later.
            assert!(overlapped.step_s <= predicted.step_s + 1e-12, "{label}: overlapping made the step longer");
        }
    }
}

fn check_timeline(prediction: &Prediction, label: &str) {
    let ops = &prediction.timeline.ops;
    for (i, op) in ops.iter().enumerate() {
        assert!(op.end_s >= op.start_s, "{label}: op {i} ends before it starts");
        for &d in &op.deps {
            assert!(d < i, "{label}: op {i} depends on a later op {d}");
            assert!(ops[d].end_s <= op.start_s + 1e-12, "{label}: op {i} starts before its dependency {d} ends");
        }
    }
    for engine in [Engine::Executor, Engine::CopyIn, Engine::CopyOut, Engine::Worker] {
        let on: Vec<_> = ops.iter().filter(|op| op.engine == engine).collect();
        for pair in on.windows(2) {
            assert!(pair[0].end_s <= pair[1].start_s + 1e-12, "{label}: {engine:?} runs two ops at once");
        }
    }
    let end = ops.iter().map(|op| op.end_s).fold(0.0, f64::max);
    assert_eq!(prediction.step_s, end, "{label}");
    let total: f64 = ops.iter().map(|op| op.end_s - op.start_s).sum();
    let busy = prediction.busy;
    assert!((busy.compute_s + busy.swap_in_s + busy.swap_out_s + busy.cpu_s - total).abs() < 1e-9, "{label}");
}

#[test]
fn timelines_keep_dependencies_and_engine_order() {
    let model = mlp();
    let (footprint, _) = Footprint::measure(&model, &model.init_weights(1)).unwrap();
    for plan in plans(&footprint) {
        for engines in [Engines::SerialDevice, Engines::Overlapped] {
            let label = format!("{} {:?} × {} on {engines:?}", plan.schedule, plan.packs, plan.microbatches);
            let prediction = predict(&plan, &footprint, engines);
            check_timeline(&prediction, &label);
            let ops = &prediction.timeline.ops;
            let engines_used = |stream| ops.iter().filter(move |op| op.stream == stream).map(|op| op.engine);
            if engines == Engines::SerialDevice {
                assert!(
                    engines_used(Stream::SwapIn).chain(engines_used(Stream::SwapOut)).all(|e| e == Engine::Executor)
                );
            } else {
                assert!(engines_used(Stream::SwapIn).all(|e| e == Engine::CopyIn), "{label}");
            }
            let updates = ops.iter().filter(|op| op.engine == Engine::Worker).count();
            assert_eq!(updates, if plan.background_update { plan.packs.len() } else { 0 }, "{label}");
            assert!(prediction.busy.compute_s > 0.0 && prediction.busy.cpu_s > 0.0, "{label}");
        }
    }
}

#[test]
fn the_scheduler_choice_runs_within_the_capacity_it_predicted() {
    let config = MlpConfig { layers: 12, hidden: 32, ffn_mult: 2, rows: 8, ..Default::default() };
    let model = mlp_model(&config).unwrap();
    let weights = model.init_weights(0);
    let profile = Profile::measure(&model, &weights, OptimizerConfig::default(), 1).unwrap();
    let footprint = &profile.footprint;
    let capacity = 3 * footprint.weights(&(0..3)) + footprint.backward_activations(&(0..3));
    assert!(capacity < model.weight_bytes(), "the model is larger than the device");
    let space = SearchSpace { samples: 16, capacity, engines: Engines::SerialDevice };
    let choice = search(&profile, footprint, 8, space).unwrap();
    eprintln!(
        "chose {} packs × {} microbatches of {} rows, peak {:.3} MiB of {:.3} MiB ({} of {} plans fit)",
        choice.plan.packs.len(),
        choice.plan.microbatches,
        choice.rows,
        mib(choice.prediction.peak_bytes),
        mib(capacity),
        choice.feasible,
        choice.considered
    );
    check_timeline(&choice.prediction, "choice");
    let model = mlp_model(&MlpConfig { rows: choice.rows, ..config }).unwrap();
    let device = CpuDevice::new(capacity);
    let mut trainer = Trainer::new(model, choice.plan.clone(), device, OptimizerConfig::default(), weights).unwrap();
    let measured = trainer.step().unwrap().device;
    assert_eq!(measured.peak_bytes, choice.prediction.peak_bytes);
    assert_eq!(measured.h2d, choice.prediction.h2d);
    assert!(measured.peak_bytes <= capacity);
}
