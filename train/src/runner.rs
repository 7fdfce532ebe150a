//! The executor: walks a [`Plan`]'s tasks in order for one iteration, moving
//! weights, activations and gradients between host and a [`SwapDevice`].
//!
//! It issues copies and kernels in task order from the calling thread. On the
//! CPU device they run one after another and their times are booked to the
//! swap-in, swap-out and compute streams (simulated stream accounting); on the
//! CUDA device they are queued on real streams and overlap. Either way a
//! prefetch is an upload issued before the current task's kernels, so both
//! packs' weights are resident together, as with a real copy stream. Update tasks of plans with
//! `background_update` run for real in a background CPU thread, overlapping
//! the remaining backward tasks.
//!
//! Stashes: a forward task copies each microbatch's pack output (the next
//! pack's input) to the host; the backward task brings it back as a `Var`.
//! Output gradients go to the host after each backward and come back for the
//! previous pack's backward. Weight gradients accumulate in fp32, microbatch
//! by microbatch in order — on the device within a task, on the host across
//! tasks — so every schedule sums them identically.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::device::{Category, Stream, SwapDevice};
use crate::exec::{
    Call, DeviceMap, PackWeights, Seed, backward_pack, download_map, forward_pack, tensors, upload_map, upload_weights,
};
use crate::host::{HostMap, HostTensor};
use crate::model::Model;
use crate::optim::LayerState;
use crate::plan::{Plan, Task, TaskKind};
use crate::{Error, Result};

/// Weight gradients of one pack, per layer, per parameter, on the host.
pub type HostGrads = Vec<Vec<HostTensor>>;

/// One iteration's executor state.
pub struct Runner<'a> {
    /// The model.
    pub model: &'a Model,
    /// The plan.
    pub plan: &'a Plan,
    /// The device.
    pub device: &'a dyn SwapDevice,
    /// Host master weights and optimizer state.
    pub states: &'a [Mutex<LayerState>],
    /// Optimizer step.
    pub step: u64,
    /// Inputs and targets of every microbatch (host).
    pub batch: Vec<(HostMap, HostMap)>,
    /// `(pack, microbatch)` → that pack's input (host), for packs > 0.
    stash: HashMap<(usize, usize), HostMap>,
    /// `(pack, microbatch)` → gradient of that pack's output (host).
    output_grads: HashMap<(usize, usize), HostMap>,
    /// A pack input left on the device by the previous forward task.
    chained: Option<((usize, usize), DeviceMap)>,
    /// Prefetched weights: (pack, trainable, weights).
    prefetched: Option<(usize, bool, PackWeights)>,
    /// Accumulated weight gradients per pack (host).
    grads: HashMap<usize, HostGrads>,
    /// Sum of the microbatch losses (the step's mean loss).
    pub loss: f64,
}

/// Locks a layer's state.
pub fn lock(states: &[Mutex<LayerState>], layer: usize) -> Result<std::sync::MutexGuard<'_, LayerState>> {
    states
        .get(layer)
        .ok_or_else(|| Error::Schedule(format!("no layer {layer}")))?
        .lock()
        .map_err(|_| Error::Optimizer("a layer's state was poisoned by a failed update".into()))
}

impl<'a> Runner<'a> {
    /// An executor for one iteration over this batch.
    pub fn new(
        model: &'a Model,
        plan: &'a Plan,
        device: &'a dyn SwapDevice,
        states: &'a [Mutex<LayerState>],
        step: u64,
        batch: Vec<(HostMap, HostMap)>,
    ) -> Self {
        Self {
            model,
            plan,
            device,
            states,
            step,
            batch,
            stash: HashMap::new(),
            output_grads: HashMap::new(),
            chained: None,
            prefetched: None,
            grads: HashMap::new(),
            loss: 0.0,
        }
    }

    /// Runs every task; update tasks go to `updates` (pack, gradients).
    pub fn run(&mut self, updates: &mut dyn FnMut(usize, HostGrads) -> Result<()>) -> Result<()> {
        for (i, task) in self.plan.tasks.iter().enumerate() {
            match task.kind {
                TaskKind::Forward | TaskKind::Backward => {
                    let trainable = task.kind == TaskKind::Backward;
                    let weights = self.take_weights(task.pack, trainable)?;
                    if self.plan.prefetch {
                        self.prefetch(i)?;
                    }
                    if trainable { self.backward(task, &weights)? } else { self.forward(task, &weights, i)? }
                }
                TaskKind::Update => {
                    let grads = self
                        .grads
                        .remove(&task.pack)
                        .ok_or_else(|| Error::Schedule(format!("update of pack {} before its backward", task.pack)))?;
                    updates(task.pack, grads)?;
                }
            }
        }
        Ok(())
    }

    /// The pack's weights: prefetched if they are, else uploaded now.
    fn take_weights(&mut self, pack: usize, trainable: bool) -> Result<PackWeights> {
        if let Some((p, t, weights)) = self.prefetched.take()
            && (p, t) == (pack, trainable)
        {
            return Ok(weights);
        }
        let states = self.states;
        upload_weights(self.device, &self.plan.packs[pack], trainable, |l| Ok(lock(states, l)?.weights.clone()))
    }

    /// Uploads the weights of the next compute task after task `i`.
    fn prefetch(&mut self, i: usize) -> Result<()> {
        let next = self.plan.tasks[i + 1..].iter().find(|t| t.kind != TaskKind::Update);
        if let Some(next) = next {
            let trainable = next.kind == TaskKind::Backward;
            let weights = self.take_weights(next.pack, trainable)?;
            self.prefetched = Some((next.pack, trainable, weights));
        }
        Ok(())
    }

    fn call(&self, microbatch: usize) -> Call {
        Call { step: self.step, microbatch, microbatches: self.plan.microbatches }
    }

    /// The input of `pack` for microbatch `m` on the device.
    fn pack_input(&mut self, pack: usize, m: usize, trainable: bool) -> Result<DeviceMap> {
        if let Some((key, map)) = self.chained.take()
            && key == (pack, m)
            && !trainable
        {
            return Ok(map);
        }
        if pack == 0 {
            return upload_map(self.device, &self.batch[m].0, Category::Activations, false);
        }
        let host =
            self.stash.get(&(pack, m)).ok_or_else(|| Error::Schedule(format!("no stash for pack {pack}, mb {m}")))?;
        upload_map(self.device, host, Category::Activations, trainable)
    }

    fn forward(&mut self, task: &Task, weights: &PackWeights, index: usize) -> Result<()> {
        let (p, packs) = (task.pack, self.plan.packs.len());
        for m in task.microbatches.clone() {
            let inputs = self.pack_input(p, m, false)?;
            let span = self.device.begin(Stream::Compute)?;
            let out = forward_pack(self.device, self.model, &self.plan.packs[p], weights, inputs, self.call(m))?;
            self.device.finish(span)?;
            if p + 1 == packs {
                continue; // the last pack's output is recomputed by its backward
            }
            self.stash.insert((p + 1, m), download_map(self.device, &tensors(&out), Category::Activations)?);
            let next = self.plan.tasks.get(index + 1);
            if next.is_some_and(|t| t.kind == TaskKind::Forward && t.pack == p + 1 && t.microbatches == (m..m + 1)) {
                self.chained = Some(((p + 1, m), out)); // consumed straight away by the next forward
            }
        }
        Ok(())
    }

    fn backward(&mut self, task: &Task, weights: &PackWeights) -> Result<()> {
        let (p, last) = (task.pack, task.pack + 1 == self.plan.packs.len());
        let mut acc: Option<PackWeights> = None;
        for m in task.microbatches.clone() {
            let inputs = self.pack_input(p, m, p > 0)?;
            let seed_host = if last { &self.batch[m].1 } else { self.output_grad(p, m)? };
            let seed_map = upload_map(self.device, seed_host, Category::Activations, false)?;
            let seed_tensors = tensors(&seed_map);
            let seed = if last { Seed::Loss(&seed_tensors) } else { Seed::OutputGrad(&seed_tensors) };
            let span = self.device.begin(Stream::Compute)?;
            let grads =
                backward_pack(self.device, self.model, &self.plan.packs[p], weights, &inputs, seed, self.call(m))?;
            acc = Some(match acc {
                None => grads.params,
                Some(acc) => accumulate_on_device(acc, grads.params)?,
            });
            self.device.finish(span)?;
            self.loss += f64::from(grads.loss.unwrap_or(0.0));
            if p > 0 {
                self.output_grads.insert((p - 1, m), download_map(self.device, &grads.inputs, Category::Activations)?);
            }
            self.output_grads.remove(&(p, m));
        }
        let acc = acc.ok_or_else(|| Error::Schedule(format!("backward of pack {p} ran no microbatch")))?;
        let host = acc
            .iter()
            .map(|layer| layer.iter().map(|g| self.device.download(&g.tensor, Category::Gradients)).collect())
            .collect::<Result<HostGrads>>()?;
        match self.grads.get_mut(&p) {
            Some(sum) => sum.iter_mut().flatten().zip(host.iter().flatten()).for_each(|(a, b)| a.accumulate(b)),
            None => {
                self.grads.insert(p, host);
            }
        }
        Ok(())
    }

    fn output_grad(&self, pack: usize, m: usize) -> Result<&HostMap> {
        self.output_grads
            .get(&(pack, m))
            .ok_or_else(|| Error::Schedule(format!("no output gradient for pack {pack}, mb {m}")))
    }
}

/// `acc += grads` on the device, in place (the sum reuses the accumulator's
/// allocation, as an in-place add on a real device would).
fn accumulate_on_device(acc: PackWeights, grads: PackWeights) -> Result<PackWeights> {
    acc.into_iter()
        .zip(grads)
        .map(|(a, g)| a.into_iter().zip(g).map(|(a, g)| a.add_in_place(&g.tensor)).collect())
        .collect()
}
