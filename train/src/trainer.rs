//! The training loop of one step: draw the microbatches, run the plan's
//! tasks on the device, apply the host optimizer (inline or in a background
//! thread), report loss, time and device statistics.

use std::sync::{Mutex, mpsc};
use std::time::Instant;

use serde::Serialize;

use crate::device::{DeviceStats, Stream, SwapDevice};
use crate::host::HostTensor;
use crate::model::{Model, Pack};
use crate::optim::{LayerState, OptimizerConfig};
use crate::plan::Plan;
use crate::runner::{HostGrads, Runner, lock};
use crate::{Error, Result};

/// What one training step did.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Step index (0-based).
    pub step: u64,
    /// Mean loss over the microbatches.
    pub loss: f64,
    /// Wall-clock seconds of the step.
    pub seconds: f64,
    /// Transfers, peak bytes and stream busy times of the step.
    pub device: DeviceStats,
}

/// A model being trained under a plan on a device.
pub struct Trainer {
    /// The model.
    pub model: Model,
    /// The schedule's plan.
    pub plan: Plan,
    /// The device ([`crate::CpuDevice`], or `crate::cuda::CudaDevice`).
    pub device: Box<dyn SwapDevice>,
    pub(crate) optimizer: OptimizerConfig,
    pub(crate) states: Vec<Mutex<LayerState>>,
    pub(crate) step: u64,
}

impl Trainer {
    /// A trainer starting from these host weights.
    pub fn new(
        model: Model,
        plan: Plan,
        device: impl SwapDevice + 'static,
        optimizer: OptimizerConfig,
        weights: Vec<Vec<HostTensor>>,
    ) -> Result<Self> {
        Self::with_device(model, plan, Box::new(device), optimizer, weights)
    }

    /// [`Trainer::new`] with a device chosen at run time.
    pub fn with_device(
        model: Model,
        plan: Plan,
        device: Box<dyn SwapDevice>,
        optimizer: OptimizerConfig,
        weights: Vec<Vec<HostTensor>>,
    ) -> Result<Self> {
        if weights.len() != model.layers.len() || plan.packs.last().map(|p| p.end) != Some(model.layers.len()) {
            return Err(Error::Config(format!(
                "{} layers, {} weight sets, plan covers {:?}",
                model.layers.len(),
                weights.len(),
                plan.packs.last()
            )));
        }
        let states = weights.into_iter().map(|w| Mutex::new(LayerState::new(w))).collect();
        Ok(Self { model, plan, device, optimizer, states, step: 0 })
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// A copy of the master weights.
    pub fn weights(&self) -> Result<Vec<Vec<HostTensor>>> {
        (0..self.states.len()).map(|l| Ok(lock(&self.states, l)?.weights.clone())).collect()
    }

    /// One optimizer step over the plan's microbatches.
    pub fn step(&mut self) -> Result<StepReport> {
        let batch =
            (0..self.plan.microbatches).map(|m| self.model.data.microbatch(self.step, m)).collect::<Result<_>>()?;
        let start = Instant::now();
        let (states, packs, optimizer, step) = (&self.states[..], &self.plan.packs[..], self.optimizer, self.step);
        let mut runner = Runner::new(&self.model, &self.plan, self.device.as_ref(), states, step, batch);
        let cpu_seconds = if self.plan.background_update {
            std::thread::scope(|scope| {
                let (sender, receiver) = mpsc::channel::<(usize, HostGrads)>();
                let worker = scope.spawn(move || -> Result<f64> {
                    let mut seconds = 0.0;
                    for (pack, grads) in receiver {
                        seconds += apply(states, &packs[pack], &grads, optimizer, step)?;
                    }
                    Ok(seconds)
                });
                let send = |pack, grads| {
                    sender.send((pack, grads)).map_err(|_| Error::Optimizer("the optimizer thread stopped".into()))
                };
                let ran = runner.run(&mut { send });
                drop(sender); // ends the worker's loop
                let seconds = worker.join().map_err(|_| Error::Optimizer("the optimizer thread panicked".into()))??;
                ran.map(|()| seconds)
            })?
        } else {
            let mut seconds = 0.0;
            runner.run(&mut |pack, grads| {
                seconds += apply(states, &packs[pack], &grads, optimizer, step)?;
                Ok(())
            })?;
            seconds
        };
        let loss = runner.loss;
        self.device.busy(Stream::Cpu, std::time::Duration::from_secs_f64(cpu_seconds));
        let device = self.device.end_iteration()?; // waits for the device's streams
        let seconds = start.elapsed().as_secs_f64();
        self.step += 1;
        Ok(StepReport { step, loss, seconds, device })
    }
}

/// The optimizer step of one pack's layers; returns its CPU seconds.
fn apply(
    states: &[Mutex<LayerState>],
    pack: &Pack,
    grads: &HostGrads,
    optimizer: OptimizerConfig,
    step: u64,
) -> Result<f64> {
    let start = Instant::now();
    for (l, layer_grads) in pack.clone().zip(grads) {
        optimizer.apply(&mut *lock(states, l)?, layer_grads, step)?;
    }
    Ok(start.elapsed().as_secs_f64())
}
