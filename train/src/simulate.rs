//! The scheduler's simulator: replays a [`Plan`] the way the executor
//! ([`runner`](crate::runner), [`exec`](crate::exec)) runs it — the same
//! uploads, stashes, output gradients, prefetches, chained forward inputs,
//! recompute graphs, device and host gradient accumulation and updates, in
//! the same order — on a [`Timeline`] of streams and a [`Ledger`] of device
//! bytes. It predicts the step time, the busy time per stream, the peak
//! device bytes and the bytes moved per direction and category; the bytes
//! and the peak equal the [`CpuDevice`](crate::CpuDevice)'s accounting
//! exactly (tested in `tests/simulator.rs`).
//!
//! Durations come from a [`Profile`](crate::costs::Profile): per-layer
//! forward and backward seconds and the [`SwapCosts`]. With
//! [`Engines::SerialDevice`] the prediction is for the CPU device as it runs
//! today (copies and kernels one after another on the executor thread, the
//! optimizer of `harmony` on a background thread); with
//! [`Engines::Overlapped`], for a device whose copy streams overlap compute.

use std::collections::HashMap;

use serde::Serialize;

use crate::costs::{LayerTimes, SwapCosts};
use crate::device::{Category, Stream, StreamBusy, Traffic};
use crate::model::Pack;
use crate::plan::{Plan, Task, TaskKind};
use crate::profile::Footprint;
use crate::sim::{AllocId, Engine, Engines, Ledger, OpId, Timeline};
use crate::{Error, Result};

/// What the simulator needs to know about a model.
#[derive(Debug, Clone, Copy)]
pub struct SimInput<'a> {
    /// Memory footprint.
    pub footprint: &'a Footprint,
    /// Seconds of each layer for one microbatch.
    pub layers: &'a [LayerTimes],
    /// Extra seconds of the loss in the last pack's backward.
    pub loss_s: f64,
    /// Swap and host costs.
    pub costs: &'a SwapCosts,
}

/// The simulator's prediction for one iteration of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Step time (seconds).
    pub step_s: f64,
    /// Busy seconds per stream.
    pub busy: StreamBusy,
    /// Most device bytes allocated at once.
    pub peak_bytes: u64,
    /// Host → device bytes by category.
    pub h2d: Traffic,
    /// Device → host bytes by category.
    pub d2h: Traffic,
    /// Engines the device streams ran on.
    pub engines: Engines,
    /// Every operation (for inspection and tests).
    #[serde(skip)]
    pub timeline: Timeline,
}

/// Device bytes held together with the operation that made them ready.
#[derive(Debug, Clone)]
struct Held {
    alloc: AllocId,
    ready: OpId,
}

struct Walker<'a> {
    plan: &'a Plan,
    input: SimInput<'a>,
    timeline: Timeline,
    ledger: Ledger,
    h2d: Traffic,
    d2h: Traffic,
    prefetched: Option<(usize, bool, Held)>,
    chained: Option<((usize, usize), Held)>,
    /// `(pack, microbatch)` → the download that stashed that pack's input.
    stash: HashMap<(usize, usize), OpId>,
    /// `(pack, microbatch)` → the download of that pack's output gradient.
    output_grads: HashMap<(usize, usize), OpId>,
    /// Pack → when its host gradients are complete (present once a backward ran).
    grads: HashMap<usize, OpId>,
    /// The last compute operation issued (uploads reuse memory it frees).
    last_compute: Option<OpId>,
}

/// Simulates one iteration of `plan`.
pub fn simulate(plan: &Plan, input: SimInput<'_>, engines: Engines) -> Result<Prediction> {
    let layers = input.footprint.layer_weights.len();
    if input.layers.len() != layers || plan.packs.last().map(|p| p.end) != Some(layers) {
        return Err(Error::Config(format!(
            "simulating {} layers with {} layer times and a plan covering {:?}",
            layers,
            input.layers.len(),
            plan.packs.last()
        )));
    }
    let mut walker = Walker {
        plan,
        input,
        timeline: Timeline::new(engines),
        ledger: Ledger::default(),
        h2d: Traffic::default(),
        d2h: Traffic::default(),
        prefetched: None,
        chained: None,
        stash: HashMap::new(),
        output_grads: HashMap::new(),
        grads: HashMap::new(),
        last_compute: None,
    };
    walker.run()?;
    let Walker { timeline, ledger, h2d, d2h, .. } = walker;
    Ok(Prediction {
        step_s: timeline.makespan(),
        busy: timeline.busy(),
        peak_bytes: ledger.peak,
        h2d,
        d2h,
        engines,
        timeline,
    })
}

impl Walker<'_> {
    fn run(&mut self) -> Result<()> {
        for (i, task) in self.plan.tasks.iter().enumerate() {
            match task.kind {
                TaskKind::Forward | TaskKind::Backward => {
                    let trainable = task.kind == TaskKind::Backward;
                    let weights = self.take_weights(task.pack, trainable);
                    if self.plan.prefetch {
                        self.prefetch(i);
                    }
                    if trainable {
                        self.backward(task, &weights)?
                    } else {
                        self.forward(task, &weights, i)
                    }
                    self.ledger.free(weights.alloc);
                }
                TaskKind::Update => self.update(task.pack)?,
            }
        }
        Ok(())
    }

    fn pack(&self, p: usize) -> &Pack {
        &self.plan.packs[p]
    }

    /// An upload of `tensors` tensors, `bytes` in all, that waits for `deps`.
    fn upload(&mut self, category: Category, tensors: usize, bytes: u64, deps: &[OpId]) -> Held {
        let alloc = self.ledger.alloc(bytes);
        let costs = self.input.costs;
        let mut seconds = costs.h2d.seconds(tensors, bytes);
        if category == Category::Weights {
            seconds += costs.host_copy.seconds(tensors, bytes);
        }
        self.h2d.add(category, bytes);
        Held { alloc, ready: self.timeline.push(Stream::SwapIn, seconds, deps) }
    }

    fn download(&mut self, category: Category, tensors: usize, bytes: u64, deps: &[OpId]) -> OpId {
        self.d2h.add(category, bytes);
        self.timeline.push(Stream::SwapOut, self.input.costs.d2h.seconds(tensors, bytes), deps)
    }

    fn take_weights(&mut self, pack: usize, trainable: bool) -> Held {
        if let Some((p, t, held)) = self.prefetched.take() {
            if (p, t) == (pack, trainable) {
                return held;
            }
            self.ledger.free(held.alloc);
        }
        let f = self.input.footprint;
        let range = self.pack(pack).clone();
        let deps: Vec<OpId> = self.last_compute.into_iter().collect();
        self.upload(Category::Weights, f.layer_tensors[range.clone()].iter().sum(), f.weights(&range), &deps)
    }

    fn prefetch(&mut self, i: usize) {
        let next = self.plan.tasks[i + 1..].iter().find(|t| t.kind != TaskKind::Update);
        if let Some(next) = next {
            let trainable = next.kind == TaskKind::Backward;
            let weights = self.take_weights(next.pack, trainable);
            self.prefetched = Some((next.pack, trainable, weights));
        }
    }

    /// The input of `pack` for microbatch `m`: chained from the previous
    /// forward, or uploaded (the batch for pack 0, else the stash).
    fn pack_input(&mut self, pack: usize, m: usize, trainable: bool) -> Held {
        if let Some((key, held)) = self.chained.take() {
            if key == (pack, m) && !trainable {
                return held;
            }
            self.ledger.free(held.alloc);
        }
        let bytes = self.input.footprint.boundary[self.pack(pack).start];
        let deps: Vec<OpId> = self.stash.get(&(pack, m)).copied().into_iter().collect();
        self.upload(Category::Activations, 1, bytes, &deps)
    }

    fn compute(&mut self, seconds: f64, deps: &[OpId]) -> OpId {
        let op = self.timeline.push(Stream::Compute, seconds, deps);
        self.last_compute = Some(op);
        op
    }

    fn forward(&mut self, task: &Task, weights: &Held, index: usize) {
        let (p, f) = (task.pack, self.input.footprint);
        let pack = self.pack(p).clone();
        for m in task.microbatches.clone() {
            let input = self.pack_input(p, m, false);
            // forward_pack: per layer, scratch then outputs; the old input goes.
            let mut h = input.alloc;
            for l in pack.clone() {
                let scratch = self.ledger.alloc(f.scratch[l]);
                let out = self.ledger.alloc(f.boundary[l + 1]);
                self.ledger.free(h);
                self.ledger.free(scratch);
                h = out;
            }
            let seconds: f64 = self.input.layers[pack.clone()].iter().map(|t| t.forward_s).sum();
            let done = self.compute(seconds, &[weights.ready, input.ready]);
            if p + 1 == self.plan.packs.len() {
                self.ledger.free(h);
                continue;
            }
            let stashed = self.download(Category::Activations, 1, f.boundary[pack.end], &[done]);
            self.stash.insert((p + 1, m), stashed);
            let next = self.plan.tasks.get(index + 1);
            if next.is_some_and(|t| t.kind == TaskKind::Forward && t.pack == p + 1 && t.microbatches == (m..m + 1)) {
                self.chained = Some(((p + 1, m), Held { alloc: h, ready: done }));
            } else {
                self.ledger.free(h);
            }
        }
    }

    fn backward(&mut self, task: &Task, weights: &Held) -> Result<()> {
        let (p, f) = (task.pack, self.input.footprint);
        let (pack, last) = (self.pack(p).clone(), p + 1 == self.plan.packs.len());
        let (tensors, weight_bytes) = (f.layer_tensors[pack.clone()].iter().sum::<usize>(), f.weights(&pack));
        let mut acc: Option<AllocId> = None;
        let mut done = None;
        for m in task.microbatches.clone() {
            let input = self.pack_input(p, m, p > 0);
            let seed = if last {
                self.upload(Category::Activations, 1, f.targets, &[])
            } else {
                let ready = self.output_grads.remove(&(p, m)).ok_or_else(|| {
                    Error::Schedule(format!("simulated backward of pack {p}, mb {m} before its output gradient"))
                })?;
                self.upload(Category::Activations, 1, f.boundary[pack.end], &[ready])
            };
            // backward_pack: the recompute graph, then the weight gradients.
            let graph: Vec<AllocId> =
                pack.clone().flat_map(|l| [f.scratch[l], f.boundary[l + 1]]).map(|b| self.ledger.alloc(b)).collect();
            let grads = self.ledger.alloc(weight_bytes);
            graph.into_iter().for_each(|g| self.ledger.free(g));
            let mut seconds: f64 = self.input.layers[pack.clone()].iter().map(|t| t.backward_s).sum();
            if last {
                seconds += self.input.loss_s;
            }
            match acc {
                Some(_) => {
                    seconds += self.input.costs.device_add.seconds(tensors, weight_bytes);
                    self.ledger.free(grads);
                }
                None => acc = Some(grads),
            }
            let op = self.compute(seconds, &[weights.ready, input.ready, seed.ready]);
            done = Some(op);
            if p > 0 {
                let grad = self.download(Category::Activations, 1, f.boundary[pack.start], &[op]);
                self.output_grads.insert((p - 1, m), grad);
            }
            self.ledger.free(seed.alloc);
            self.ledger.free(input.alloc);
        }
        let (Some(acc), Some(done)) = (acc, done) else {
            return Err(Error::Schedule(format!("simulated backward of pack {p} ran no microbatch")));
        };
        let mut ready = self.download(Category::Gradients, tensors, weight_bytes, &[done]);
        if self.grads.contains_key(&p) {
            let seconds = self.input.costs.host_add.seconds(tensors, weight_bytes);
            ready = self.timeline.push_on(Stream::Cpu, Engine::Executor, seconds, &[ready]);
        }
        self.grads.insert(p, ready);
        self.ledger.free(acc);
        Ok(())
    }

    fn update(&mut self, p: usize) -> Result<()> {
        let ready = self
            .grads
            .remove(&p)
            .ok_or_else(|| Error::Schedule(format!("simulated update of pack {p} before its backward")))?;
        let (f, pack) = (self.input.footprint, self.pack(p).clone());
        let seconds = self.input.costs.update.seconds(f.layer_tensors[pack.clone()].iter().sum(), f.weights(&pack));
        let engine = if self.plan.background_update { Engine::Worker } else { Engine::Executor };
        self.timeline.push_on(Stream::Cpu, engine, seconds, &[ready]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footprint(layers: usize) -> Footprint {
        Footprint {
            layer_weights: vec![100; layers],
            boundary: vec![10; layers + 1],
            scratch: vec![5; layers],
            targets: 10,
            layer_tensors: vec![2; layers],
            kinds: vec!["test".into(); layers],
        }
    }

    fn predict(plan: &Plan, engines: Engines) -> Prediction {
        let f = footprint(4);
        let times = vec![LayerTimes { forward_s: 1.0, backward_s: 2.0 }; 4];
        let costs = SwapCosts::default();
        let input = SimInput { footprint: &f, layers: &times, loss_s: 0.0, costs: &costs };
        simulate(plan, input, engines).unwrap()
    }

    #[test]
    fn resident_peak_by_hand() {
        let prediction = predict(&Plan::resident(4, 2), Engines::SerialDevice);
        // weights 400 + acc 400 + fresh grads 400 + input 10 + targets 10 + graph 4·(5 + 10)
        assert_eq!(prediction.peak_bytes, 1280);
        assert_eq!((prediction.h2d.weights, prediction.d2h.gradients), (400, 400));
        // Two microbatches of 4 backward layers at 2 s, nothing else costs time.
        assert_eq!(prediction.step_s, 16.0);
        assert_eq!(prediction.busy.compute_s, 16.0);
    }

    #[test]
    fn naive_forward_and_backward_run_every_layer_per_microbatch() {
        let prediction = predict(&Plan::naive(4, 3), Engines::SerialDevice);
        assert_eq!(prediction.h2d.weights, 2 * 3 * 400);
        assert_eq!(prediction.busy.compute_s, 3.0 * 4.0 * (1.0 + 2.0));
    }

    #[test]
    fn a_plan_for_other_layers_is_an_error() {
        let f = footprint(4);
        let times = vec![LayerTimes::default(); 4];
        let costs = SwapCosts::default();
        let input = SimInput { footprint: &f, layers: &times, loss_s: 0.0, costs: &costs };
        assert!(simulate(&Plan::resident(5, 1), input, Engines::SerialDevice).is_err());
    }
}
