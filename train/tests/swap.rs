//! Swap volume and capacity: measured bytes against the closed-form formulas
//! of `naive` and `harmony`, the naive/harmony ratio at 1, 4 and 16
//! microbatches on a model ten times the device (CI sizes: 4 MiB device,
//! ≥ 40 MiB of weights), harmony training that model for 20 steps within
//! the capacity, and `resident` failing with a clear out-of-memory error.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::{CpuDevice, DeviceStats, Error, Footprint, Model, OptimizerConfig, Plan, Schedule, Trainer};

const MIB: u64 = 1024 * 1024;

fn small() -> Model {
    mlp_model(&MlpConfig { layers: 5, hidden: 16, ffn_mult: 2, rows: 4, ..Default::default() }).unwrap()
}

/// 80 blocks of 256 → 256 → 256: 80 × 0.50 MiB = 40.2 MiB of weights.
fn big() -> Model {
    mlp_model(&MlpConfig { layers: 80, hidden: 256, ffn_mult: 1, rows: 8, ..Default::default() }).unwrap()
}

fn trainer(
    model: Model,
    schedule: Schedule,
    microbatches: usize,
    capacity: u64,
) -> Result<(Trainer, Footprint), Error> {
    let weights = model.init_weights(3);
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    let plan = Plan::build(schedule, &footprint, microbatches, capacity)?;
    Ok((Trainer::new(model, plan, CpuDevice::new(capacity), OptimizerConfig::default(), weights)?, footprint))
}

fn one_step(model: Model, schedule: Schedule, microbatches: usize, capacity: u64) -> (DeviceStats, Footprint, usize) {
    let (mut trainer, footprint) = trainer(model, schedule, microbatches, capacity).unwrap();
    let packs = trainer.plan.packs.len();
    (trainer.step().unwrap().device, footprint, packs)
}

#[test]
fn naive_bytes_match_the_closed_form() {
    let m = 3;
    let (stats, f, _) = one_step(small(), Schedule::Naive, m as usize, 1 << 30);
    let (w, l) = (f.weights(&(0..5)), f.layer_weights.len() as u64);
    let (x, a, y) = (f.boundary[0], f.boundary[1], f.targets);
    assert_eq!(stats.h2d.weights, 2 * m * w, "weights in for forward and again for backward");
    assert_eq!(stats.d2h.gradients, m * w, "gradients out after every backward");
    // Inputs twice (forward, backward), stashed inputs of layers 1.., targets, output gradients of layers ..L−1.
    assert_eq!(stats.h2d.activations, m * (2 * x + (l - 1) * a + y + (l - 1) * a));
    // Stashed outputs of layers ..L−1 and input gradients of layers 1...
    assert_eq!(stats.d2h.activations, m * 2 * (l - 1) * a);
    assert_eq!((stats.h2d.gradients, stats.d2h.weights), (0, 0));
}

#[test]
fn harmony_bytes_match_the_closed_form() {
    let m = 4;
    let f = Footprint::measure(&small(), &small().init_weights(3)).unwrap().0;
    let capacity = 4 * f.weights(&(0..2)) + f.backward_activations(&(0..2));
    let (stats, f, packs) = one_step(small(), Schedule::Harmony, m as usize, capacity);
    let plan = Plan::build(Schedule::Harmony, &f, m as usize, capacity).unwrap();
    let p = packs as u64;
    assert!(p >= 3, "{p} packs");
    let (w, last) = (f.weights(&(0..5)), f.weights(plan.packs.last().unwrap()));
    let (x, a, y) = (f.boundary[0], f.boundary[1], f.targets);
    assert_eq!(stats.h2d.weights, 2 * w - last, "once per pack for forward, once for backward, last pack fused");
    assert_eq!(stats.d2h.gradients, w, "gradients out once per pack");
    // Forward: input of pack 0, stashes of packs 1..P−1; backward: stash (or input) + output gradient or targets.
    assert_eq!(stats.h2d.activations, m * (x + (p - 2) * a) + m * ((p - 1) * a + x + y + (p - 1) * a));
    assert_eq!(stats.d2h.activations, m * 2 * (p - 1) * a);
}

#[test]
fn harmony_moves_ten_times_fewer_bytes_than_naive_at_16_microbatches() {
    let capacity = 4 * MIB;
    assert!(big().weight_bytes() >= 10 * capacity);
    let mut ratios = Vec::new();
    for m in [1, 4, 16] {
        let (naive, _, _) = one_step(big(), Schedule::Naive, m, capacity);
        let (harmony, _, _) = one_step(big(), Schedule::Harmony, m, capacity);
        let total = |s: &DeviceStats| s.h2d.total() + s.d2h.total();
        ratios.push(total(&naive) as f64 / total(&harmony) as f64);
        eprintln!(
            "{m} microbatches: naive {} B, harmony {} B, ratio {:.1}",
            total(&naive),
            total(&harmony),
            ratios.last().unwrap()
        );
    }
    assert!(ratios[0] < ratios[1] && ratios[1] < ratios[2], "{ratios:?}");
    assert!(ratios[2] >= 10.0, "{ratios:?}");
}

#[test]
fn harmony_trains_a_model_ten_times_the_device_within_capacity() {
    let capacity = 4 * MIB;
    let (mut trainer, _) = trainer(big(), Schedule::Harmony, 4, capacity).unwrap();
    assert!(trainer.model.weight_bytes() >= 10 * capacity);
    let reports: Vec<_> = (0..20).map(|_| trainer.step().unwrap()).collect();
    let peak = reports.iter().map(|r| r.device.peak_bytes).max().unwrap();
    eprintln!("peak {peak} B of {capacity} B; loss {} → {}", reports[0].loss, reports[19].loss);
    assert!(peak <= capacity);
    assert!(reports[19].loss < reports[0].loss);
}

#[test]
fn resident_on_a_small_device_is_an_out_of_memory_error() {
    let (mut trainer, _) = trainer(big(), Schedule::Resident, 1, 4 * MIB).unwrap();
    let err = trainer.step().unwrap_err();
    assert!(matches!(err, Error::OutOfMemory { capacity, .. } if capacity == 4 * MIB), "{err}");
    assert!(err.to_string().contains("out of memory"));
}
