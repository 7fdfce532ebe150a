//! The CUDA device against the CPU device (feature `cuda`, needs a GPU):
//!
//! - parity: after 20 steps, `naive` and `harmony` on CUDA give parameters
//!   within |a − b| ≤ 1e-5·max(|b|, 1e-3) of `resident` on the CPU device
//!   (same microbatch split and order), for both benchmark models — the
//!   setups of tests/parity.rs;
//! - capacity: `harmony` on CUDA trains a model ≥ 10× the device capacity
//!   (40 MiB of weights on a 4 MiB budget) for 20 steps without passing it.
//!
//! Without the `cuda` feature, or without a usable GPU, every trial is
//! reported as ignored (skipped), never as passed. Run on a GPU machine with
//! `cargo test -p cairn-train --features cuda --test cuda_parity`, or through
//! scripts/gpu-check.sh.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use libtest_mimic::{Arguments, Failed, Trial};

/// Why the trials cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    #[cfg(feature = "cuda")]
    {
        gpu::open(1).err().map(|e| format!("no usable GPU: {e}"))
    }
    #[cfg(not(feature = "cuda"))]
    {
        Some("cairn-train was built without the `cuda` feature".into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let missing = unavailable();
    if let Some(reason) = &missing {
        eprintln!("skipping the CUDA trials: {reason}");
    }
    let names = ["cuda_parity/mlp_schedules_match_cpu_resident", "cuda_parity/gpt_schedules_match_cpu_resident"];
    let mut trials: Vec<Trial> = names.into_iter().map(|name| Trial::test(name, move || run(name))).collect();
    trials.push(Trial::test("cuda_capacity/harmony_trains_a_model_ten_times_the_device", || {
        run("cuda_capacity/harmony_trains_a_model_ten_times_the_device")
    }));
    let trials = trials.into_iter().map(|t| t.with_ignored_flag(missing.is_some())).collect();
    libtest_mimic::run(&args, trials).exit();
}

#[cfg(not(feature = "cuda"))]
fn run(name: &str) -> Result<(), Failed> {
    Err(format!("{name} needs `--features cuda`").into())
}

#[cfg(feature = "cuda")]
fn run(name: &str) -> Result<(), Failed> {
    match name {
        "cuda_parity/mlp_schedules_match_cpu_resident" => gpu::parity(&gpu::mlp, gpu::sgd()),
        "cuda_parity/gpt_schedules_match_cpu_resident" => gpu::parity(&gpu::gpt, gpu::adamw()),
        _ => gpu::capacity(),
    }
}

#[cfg(feature = "cuda")]
mod gpu {
    use cairn_train::cuda::CudaDevice;
    use cairn_train::models::gpt::{GptConfig, gpt_model};
    use cairn_train::models::mlp::{MlpConfig, mlp_model};
    use cairn_train::{CpuDevice, Footprint, HostTensor, Model, OptimizerConfig, Plan, Schedule, SwapDevice, Trainer};
    use libtest_mimic::Failed;

    const STEPS: usize = 20;
    const MICROBATCHES: usize = 3;
    const MIB: u64 = 1024 * 1024;

    /// GPU 0 with a budget of `capacity` bytes.
    pub fn open(capacity: u64) -> cairn_train::Result<CudaDevice> {
        CudaDevice::new(0, capacity)
    }

    pub fn mlp() -> Model {
        let config = MlpConfig { layers: 6, hidden: 16, ffn_mult: 2, rows: 4, dropout: 0.1, aux_weight: 0.01, seed: 1 };
        mlp_model(&config).unwrap()
    }

    pub fn gpt() -> Model {
        gpt_model(&GptConfig { layers: 4, hidden: 16, heads: 2, seq: 8, rows: 2, seed: 2 }).unwrap()
    }

    pub fn sgd() -> OptimizerConfig {
        OptimizerConfig::Sgd { lr: 0.05, momentum: 0.9, weight_decay: 1e-4 }
    }

    pub fn adamw() -> OptimizerConfig {
        OptimizerConfig::AdamW { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 }
    }

    /// The weights after `STEPS` steps of a fresh model on `device`.
    fn train(
        make: &dyn Fn() -> Model,
        schedule: Schedule,
        device: Box<dyn SwapDevice>,
        optimizer: OptimizerConfig,
    ) -> Result<Vec<Vec<HostTensor>>, Failed> {
        let model = make();
        let weights = model.init_weights(7);
        let (footprint, _) = Footprint::measure(&model, &weights)?;
        let plan = Plan::build(schedule, &footprint, MICROBATCHES, device.capacity())?;
        let mut trainer = Trainer::with_device(model, plan, device, optimizer, weights)?;
        for _ in 0..STEPS {
            trainer.step()?;
        }
        Ok(trainer.weights()?)
    }

    /// A capacity that splits the model into packs of about two layers.
    fn two_layer_capacity(make: &dyn Fn() -> Model) -> Result<u64, Failed> {
        let model = make();
        let (footprint, _) = Footprint::measure(&model, &model.init_weights(7))?;
        Ok(4 * footprint.weights(&(0..2)) + footprint.backward_activations(&(0..2)))
    }

    pub fn parity(make: &dyn Fn() -> Model, optimizer: OptimizerConfig) -> Result<(), Failed> {
        let reference = train(make, Schedule::Resident, Box::new(CpuDevice::new(1 << 30)), optimizer)?;
        let capacity = two_layer_capacity(make)?;
        for schedule in [Schedule::Naive, Schedule::Harmony] {
            let weights = train(make, schedule, Box::new(open(capacity)?), optimizer)?;
            let mut worst = 0.0f32;
            for (l, (a, b)) in weights.iter().zip(&reference).enumerate() {
                for (i, (a, b)) in a.iter().zip(b).enumerate() {
                    for (x, y) in a.data.iter().zip(&b.data) {
                        let allowed = 1e-5 * y.abs().max(1e-3);
                        worst = worst.max((x - y).abs() / allowed);
                        if (x - y).abs() > allowed || !x.is_finite() {
                            return Err(format!("{schedule}: layer {l} parameter {i}: cuda {x} vs cpu {y}").into());
                        }
                    }
                }
            }
            eprintln!("{schedule} on CUDA: worst |a − b| is {worst:.3} of the tolerance");
        }
        Ok(())
    }

    /// 80 blocks of 256 → 256 → 256 (40.2 MiB of weights) on a 4 MiB budget.
    pub fn capacity() -> Result<(), Failed> {
        let capacity = 4 * MIB;
        let model = mlp_model(&MlpConfig { layers: 80, hidden: 256, ffn_mult: 1, rows: 8, ..Default::default() })?;
        if model.weight_bytes() < 10 * capacity {
            return Err(format!("the model has only {} B of weights", model.weight_bytes()).into());
        }
        let weights = model.init_weights(3);
        let (footprint, _) = Footprint::measure(&model, &weights)?;
        let plan = Plan::build(Schedule::Harmony, &footprint, 4, capacity)?;
        let mut trainer = Trainer::new(model, plan, open(capacity)?, OptimizerConfig::default(), weights)?;
        let reports = (0..STEPS).map(|_| trainer.step()).collect::<Result<Vec<_>, _>>()?;
        let peak = reports.iter().map(|r| r.device.peak_bytes).max().unwrap_or(0);
        let (first, last) = (reports[0].loss, reports[STEPS - 1].loss);
        eprintln!("harmony on CUDA: peak {peak} B of {capacity} B; loss {first} → {last}");
        if peak > capacity || last >= first {
            return Err(format!("peak {peak} B of {capacity} B, loss {first} → {last}").into());
        }
        Ok(())
    }
}
