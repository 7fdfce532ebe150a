//! Parity: `naive` and `harmony` train to bit-identical parameters as
//! `resident` on the CPU device after 20 steps (same microbatch split and
//! order), for both benchmark models and both optimizers.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_train::models::gpt::{GptConfig, gpt_model};
use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::{CpuDevice, Footprint, HostTensor, Model, OptimizerConfig, Plan, Schedule, Trainer};

const STEPS: usize = 20;
const MICROBATCHES: usize = 3;

/// Trains a fresh model for `STEPS` steps; returns the weights, the losses
/// and the number of packs the plan used.
fn train(
    make: &dyn Fn() -> Model,
    schedule: Schedule,
    capacity: u64,
    optimizer: OptimizerConfig,
) -> (Vec<Vec<HostTensor>>, Vec<f64>, usize) {
    let model = make();
    let weights = model.init_weights(7);
    let (footprint, _) = Footprint::measure(&model, &weights).unwrap();
    let plan = Plan::build(schedule, &footprint, MICROBATCHES, capacity).unwrap();
    let packs = plan.packs.len();
    let mut trainer = Trainer::new(model, plan, CpuDevice::new(capacity), optimizer, weights).unwrap();
    let losses = (0..STEPS).map(|_| trainer.step().unwrap().loss).collect();
    (trainer.weights().unwrap(), losses, packs)
}

/// A capacity that splits the model into packs of about two layers.
fn two_layer_capacity(make: &dyn Fn() -> Model) -> u64 {
    let model = make();
    let (footprint, _) = Footprint::measure(&model, &model.init_weights(7)).unwrap();
    4 * footprint.weights(&(0..2)) + footprint.backward_activations(&(0..2))
}

fn check(make: &dyn Fn() -> Model, optimizer: OptimizerConfig) {
    let (reference, losses, _) = train(make, Schedule::Resident, 1 << 30, optimizer);
    assert!(losses[STEPS - 1] < losses[0], "the loss falls: {losses:?}");
    let capacity = two_layer_capacity(make);
    for schedule in [Schedule::Naive, Schedule::Harmony] {
        let (weights, other_losses, packs) = train(make, schedule, capacity, optimizer);
        if schedule == Schedule::Harmony {
            assert!(packs > 1, "harmony needs several packs to be tested, got {packs}");
        }
        assert_eq!(other_losses, losses, "{schedule} losses");
        for (l, (a, b)) in weights.iter().zip(&reference).enumerate() {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                let same = a.data.iter().zip(&b.data).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{schedule}: layer {l} parameter {i} differs from resident");
            }
        }
    }
}

#[test]
fn mlp_with_dropout_and_aux_loss_is_bit_identical_across_schedules() {
    let make = || {
        let config = MlpConfig { layers: 6, hidden: 16, ffn_mult: 2, rows: 4, dropout: 0.1, aux_weight: 0.01, seed: 1 };
        mlp_model(&config).unwrap()
    };
    check(&make, OptimizerConfig::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 1e-4 });
}

#[test]
fn gpt_is_bit_identical_across_schedules() {
    let make = || gpt_model(&GptConfig { layers: 4, hidden: 16, heads: 2, seq: 8, rows: 2, seed: 2 }).unwrap();
    check(&make, OptimizerConfig::AdamW { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 });
}
