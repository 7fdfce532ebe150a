//! Time profiles for the scheduler, measured on one configuration: each
//! layer's forward and backward (recompute + backward, as the executor runs
//! it) seconds at the profiled microbatch size and at half of it, the extra
//! seconds of the loss, and the cost model of swaps and host work on the CPU
//! device ([`SwapCosts`]: seconds per tensor and per byte of an upload, a
//! download, a host copy of master weights, a gradient accumulation on the
//! device and on the host, and the optimizer step).
//!
//! Other configurations reuse the profile through [`Profile::layer_times`]:
//! per layer kind, time = a + c · work with work = √(weight bytes) · input
//! bytes (the multiply-adds of a layer whose weights are square matrices
//! over its rows), fitted by least squares over every profiled layer at both
//! microbatch sizes. Same-shaped layers (deeper stacks, other microbatch
//! counts) reuse their measured time; other widths or microbatch sizes
//! follow the fitted law.

use std::time::Instant;

use candle_core::Tensor;
use serde::Serialize;

use crate::device::{Category, CpuDevice, DeviceTensor, SwapDevice};
use crate::exec::{Call, DeviceMap, Seed, backward_pack, upload_map, upload_weights};
use crate::host::{HostMap, HostTensor};
use crate::model::{LayerCtx, Model, TensorMap};
use crate::optim::{LayerState, OptimizerConfig};
use crate::profile::Footprint;
use crate::{Error, Result};

/// Seconds of an operation over `tensors` tensors holding `bytes` in all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Linear {
    /// Fixed seconds per tensor.
    pub per_tensor_s: f64,
    /// Seconds per byte.
    pub per_byte_s: f64,
}

impl Linear {
    /// Predicted seconds.
    pub fn seconds(&self, tensors: usize, bytes: u64) -> f64 {
        tensors as f64 * self.per_tensor_s + bytes as f64 * self.per_byte_s
    }

    /// The line through a small and a large measurement `(bytes, seconds)`.
    fn fit(small: (u64, f64), large: (u64, f64)) -> Self {
        let per_byte_s = ((large.1 - small.1) / (large.0 - small.0).max(1) as f64).max(0.0);
        Self { per_tensor_s: (small.1 - per_byte_s * small.0 as f64).max(0.0), per_byte_s }
    }
}

/// Cost model of swaps and host work on the CPU device, measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SwapCosts {
    /// Host → device upload.
    pub h2d: Linear,
    /// Device → host download.
    pub d2h: Linear,
    /// Copy of master weights out of the host state before their upload.
    pub host_copy: Linear,
    /// In-place gradient accumulation on the device.
    pub device_add: Linear,
    /// Gradient accumulation in host memory (across tasks).
    pub host_add: Linear,
    /// The optimizer step per parameter tensor and byte.
    pub update: Linear,
}

/// Seconds of one layer for one microbatch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LayerTimes {
    /// Forward without gradients.
    pub forward_s: f64,
    /// Recompute with gradients, then backward (an inner layer: seeded by
    /// its output gradient).
    pub backward_s: f64,
}

/// A measured profile of one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    /// Rows (first-axis length) of the profiled microbatch.
    pub rows: usize,
    /// The profiled model's footprint.
    pub footprint: Footprint,
    /// Per layer at `rows`.
    pub full: Vec<LayerTimes>,
    /// Per layer at `rows / 2` (equal to `full` when `rows` is 1).
    pub half: Vec<LayerTimes>,
    /// Extra seconds of the last layer's backward when seeded by the loss,
    /// at `rows` and at `rows / 2`.
    pub loss_s: [f64; 2],
    /// Swaps and host work.
    pub costs: SwapCosts,
}

/// Mean seconds of `repeats` runs of `work`, after one warm-up run. The
/// mean of one timed loop, not the median: on a machine shared with other
/// jobs it includes the same waiting for a core that a training step does.
fn mean_seconds(repeats: usize, mut work: impl FnMut() -> Result<()>) -> Result<f64> {
    work()?;
    let start = Instant::now();
    for _ in 0..repeats.max(1) {
        work()?;
    }
    Ok(start.elapsed().as_secs_f64() / repeats.max(1) as f64)
}

/// The first `rows` rows (first axis) of every tensor.
fn narrow_rows(map: &TensorMap, rows: usize) -> Result<TensorMap> {
    map.iter().map(|(k, t)| Ok((k.clone(), t.narrow(0, 0, rows.min(t.dim(0)?))?))).collect()
}

fn host_map(map: &TensorMap) -> Result<HostMap> {
    map.iter().map(|(k, t)| Ok((k.clone(), HostTensor::from_tensor(t)?))).collect()
}

impl Profile {
    /// Profiles `model` with `weights`: every layer at the model's
    /// microbatch size and at half of it, in whole passes over the model
    /// (forward first to last, backward last to first, as in a step, so
    /// caches hold what they would), `repeats` passes after a warm-up one
    /// (mean); and the swap costs with `optimizer`.
    pub fn measure(
        model: &Model,
        weights: &[Vec<HostTensor>],
        optimizer: OptimizerConfig,
        repeats: usize,
    ) -> Result<Self> {
        let (footprint, _) = Footprint::measure(model, weights)?;
        let (inputs, targets) = model.data.microbatch(0, 0)?;
        let targets: TensorMap = targets.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<_>>()?;
        let mut layer_inputs =
            vec![inputs.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<_>>()?];
        let device = CpuDevice::new(u64::MAX);
        let all = 0..model.layers.len();
        let frozen = upload_weights(&device, &all, false, |l| Ok(weights[l].clone()))?;
        let vars = upload_weights(&device, &all, true, |l| Ok(weights[l].clone()))?;
        for (l, layer) in model.layers.iter().enumerate() {
            let w: Vec<Tensor> = frozen[l].iter().map(|d| d.tensor.clone()).collect();
            let out = layer.forward(&w, &layer_inputs[l], LayerCtx { step: 0, microbatch: 0, layer: l })?.outputs;
            layer_inputs.push(out);
        }
        let rows = layer_inputs[0].values().next().map(|t| t.dim(0)).transpose()?.unwrap_or(1);
        let pass =
            Pass { model, device: &device, frozen: &frozen, vars: &vars, inputs: &layer_inputs, targets: &targets };
        let mut sums = [(vec![LayerTimes::default(); model.layers.len()], 0.0), (Vec::new(), 0.0)];
        sums[1].0 = sums[0].0.clone();
        for round in 0..=repeats.max(1) {
            for (k, size) in [rows, (rows / 2).max(1)].into_iter().enumerate() {
                let (times, loss_s) = pass.run(size)?;
                if round > 0 {
                    sums[k].0.iter_mut().zip(&times).for_each(|(s, t)| {
                        s.forward_s += t.forward_s;
                        s.backward_s += t.backward_s;
                    });
                    sums[k].1 += loss_s;
                }
            }
        }
        let n = repeats.max(1) as f64;
        let mean = |(times, loss_s): &(Vec<LayerTimes>, f64)| -> (Vec<LayerTimes>, f64) {
            let times = times.iter().map(|t| LayerTimes { forward_s: t.forward_s / n, backward_s: t.backward_s / n });
            (times.collect(), (loss_s / n).max(0.0))
        };
        let ((full, full_loss), (half, half_loss)) = (mean(&sums[0]), mean(&sums[1]));
        let costs = SwapCosts::measure(&footprint, optimizer, repeats)?;
        Ok(Self { rows, footprint, full, half, loss_s: [full_loss, half_loss], costs })
    }
}

/// What a profiling pass over the model needs.
struct Pass<'a> {
    model: &'a Model,
    device: &'a CpuDevice,
    frozen: &'a [Vec<DeviceTensor>],
    vars: &'a [Vec<DeviceTensor>],
    /// Every layer's input at the full microbatch size, then the output.
    inputs: &'a [TensorMap],
    targets: &'a TensorMap,
}

impl Pass<'_> {
    /// One pass at `rows` rows: each layer's forward (first to last) and
    /// backward (last to first) seconds, and the loss's extra seconds in
    /// the last layer's backward.
    fn run(&self, rows: usize) -> Result<(Vec<LayerTimes>, f64)> {
        let layers = self.model.layers.len();
        let mut times = vec![LayerTimes::default(); layers];
        for (l, time) in times.iter_mut().enumerate() {
            let x = narrow_rows(&self.inputs[l], rows)?;
            let w: Vec<Tensor> = self.frozen[l].iter().map(|d| d.tensor.clone()).collect();
            let start = Instant::now();
            self.model.layers[l].forward(&w, &x, LayerCtx { step: 0, microbatch: 0, layer: l })?;
            time.forward_s = start.elapsed().as_secs_f64();
        }
        let mut loss_s = 0.0;
        for l in (0..layers).rev() {
            let x = narrow_rows(&self.inputs[l], rows)?;
            let ones = narrow_rows(&self.inputs[l + 1], rows)?;
            let ones: TensorMap = ones.iter().map(|(k, t)| Ok((k.clone(), t.ones_like()?))).collect::<Result<_>>()?;
            times[l].backward_s = self.backward(l, &x, Seed::OutputGrad(&ones))?;
            if l + 1 == layers {
                let targets = narrow_rows(self.targets, rows)?;
                loss_s = self.backward(l, &x, Seed::Loss(&targets))? - times[l].backward_s;
            }
        }
        Ok((times, loss_s))
    }

    /// Seconds of one layer's backward (recompute included) on input `x`.
    fn backward(&self, l: usize, x: &TensorMap, seed: Seed<'_>) -> Result<f64> {
        let inputs: DeviceMap = upload_map(self.device, &host_map(x)?, Category::Activations, l > 0)?;
        let call = Call { step: 0, microbatch: 0, microbatches: 1 };
        let start = Instant::now();
        backward_pack(self.device, self.model, &(l..l + 1), &self.vars[l..l + 1], &inputs, seed, call)?;
        Ok(start.elapsed().as_secs_f64())
    }
}

impl SwapCosts {
    /// Measures every cost at 1 KiB and at the model's mean parameter
    /// tensor size (at least 16 KiB): each op over up to 256 distinct
    /// buffers (16 MiB at most), so that, as in a step, they are not all in
    /// cache; `repeats` rounds after a warm-up one (mean per op).
    pub fn measure(footprint: &Footprint, optimizer: OptimizerConfig, repeats: usize) -> Result<Self> {
        let tensors: usize = footprint.layer_tensors.iter().sum();
        let mean = footprint.layer_weights.iter().sum::<u64>() / tensors.max(1) as u64;
        let sizes = [1024u64, mean.max(16 * 1024)];
        let device = CpuDevice::new(u64::MAX);
        let at = |size: u64| -> Result<[f64; 6]> {
            let count = ((16 << 20) / size).clamp(4, 256) as usize;
            let hosts: Vec<HostTensor> =
                (0..count).map(|i| HostTensor::normal(&[(size / 4) as usize], 1.0, i as u64)).collect();
            let on_device: Vec<Tensor> = hosts
                .iter()
                .map(|h| Ok(device.upload(h, Category::Weights, true)?.tensor.clone()))
                .collect::<Result<_>>()?;
            let mut states: Vec<LayerState> = hosts.iter().map(|h| LayerState::new(vec![h.clone()])).collect();
            let mut sums = hosts.clone();
            let per = |seconds: f64| seconds / count as f64;
            Ok([
                per(mean_seconds(repeats, || {
                    hosts.iter().try_for_each(|h| device.upload(h, Category::Weights, true).map(|_| ()))
                })?),
                per(mean_seconds(repeats, || {
                    on_device.iter().try_for_each(|t| device.download(t, Category::Gradients).map(|_| ()))
                })?),
                per(mean_seconds(repeats, || {
                    hosts.iter().for_each(|h| drop(std::hint::black_box(h.clone())));
                    Ok(())
                })?),
                per(mean_seconds(repeats, || {
                    on_device.windows(2).try_for_each(|p| (&p[0] + &p[1]).map(|_| ()).map_err(Error::from))
                })?),
                per(mean_seconds(repeats, || {
                    sums.iter_mut().zip(&hosts).for_each(|(s, h)| s.accumulate(h));
                    Ok(())
                })?),
                per(mean_seconds(repeats, || {
                    states.iter_mut().zip(&hosts).try_for_each(|(s, h)| optimizer.apply(s, std::slice::from_ref(h), 0))
                })?),
            ])
        };
        let (small, large) = (at(sizes[0])?, at(sizes[1])?);
        let line = |i: usize| Linear::fit((sizes[0], small[i]), (sizes[1], large[i]));
        Ok(Self {
            h2d: line(0),
            d2h: line(1),
            host_copy: line(2),
            device_add: line(3),
            host_add: line(4),
            update: line(5),
        })
    }
}

/// `t = a + c · work`, fitted by least squares (`c ≥ 0`, `a ≥ 0`; through
/// the origin when the points do not spread).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Law {
    a: f64,
    c: f64,
}

impl Law {
    fn fit(points: &[(f64, f64)]) -> Self {
        let n = points.len().max(1) as f64;
        let (mx, my) = points.iter().fold((0.0, 0.0), |(x, y), p| (x + p.0 / n, y + p.1 / n));
        let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let through_origin = || Self { a: 0.0, c: if mx > 0.0 { my / mx } else { 0.0 } };
        if sxx <= 1e-12 * mx * mx * n {
            return through_origin();
        }
        let c = sxy / sxx;
        let a = my - c * mx;
        if c < 0.0 || a < 0.0 { through_origin() } else { Self { a, c } }
    }

    fn at(&self, work: f64) -> f64 {
        self.a + self.c * work
    }
}

/// The work of layer `l`: √(weight bytes) · input bytes.
fn work(footprint: &Footprint, l: usize) -> f64 {
    (footprint.layer_weights[l] as f64).sqrt() * footprint.boundary[l] as f64
}

impl Profile {
    /// Per-layer times and the loss's extra seconds for a model with this
    /// footprint (any depth, width or microbatch size of profiled layer
    /// kinds), from the fitted laws.
    pub fn layer_times(&self, footprint: &Footprint) -> Result<(Vec<LayerTimes>, f64)> {
        let half = self.footprint.with_rows(self.rows, (self.rows / 2).max(1));
        let mut times = Vec::with_capacity(footprint.kinds.len());
        for (l, kind) in footprint.kinds.iter().enumerate() {
            let mut forward = Vec::new();
            let mut backward = Vec::new();
            for (p, _) in self.footprint.kinds.iter().enumerate().filter(|(_, k)| *k == kind) {
                for (f, t) in [(&self.footprint, self.full[p]), (&half, self.half[p])] {
                    forward.push((work(f, p), t.forward_s));
                    backward.push((work(f, p), t.backward_s));
                }
            }
            if forward.is_empty() {
                return Err(Error::Config(format!("layer kind {kind:?} was not profiled")));
            }
            let w = work(footprint, l);
            times.push(LayerTimes { forward_s: Law::fit(&forward).at(w), backward_s: Law::fit(&backward).at(w) });
        }
        let loss_points = [(self.footprint.targets as f64, self.loss_s[0]), (half.targets as f64, self.loss_s[1])];
        Ok((times, Law::fit(&loss_points).at(footprint.targets as f64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::mlp::{MlpConfig, mlp_model};

    #[test]
    fn law_fits_a_line_and_falls_back_to_the_origin() {
        let law = Law::fit(&[(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]);
        assert!((law.a - 1.0).abs() < 1e-9 && (law.c - 2.0).abs() < 1e-9);
        let flat = Law::fit(&[(2.0, 4.0), (2.0, 6.0)]);
        assert_eq!((flat.a, flat.at(4.0)), (0.0, 10.0));
        assert_eq!(Law::fit(&[(1.0, 5.0), (2.0, 1.0)]).a, 0.0, "a falling line goes through the origin");
    }

    #[test]
    fn profile_covers_every_layer_and_transfers_to_a_deeper_model() {
        let config = MlpConfig { layers: 3, hidden: 16, rows: 4, ..Default::default() };
        let model = mlp_model(&config).unwrap();
        let profile = Profile::measure(&model, &model.init_weights(0), OptimizerConfig::default(), 1).unwrap();
        assert_eq!((profile.full.len(), profile.half.len(), profile.rows), (3, 3, 4));
        assert!(profile.full.iter().all(|t| t.forward_s > 0.0 && t.backward_s > 0.0));
        assert!(profile.costs.h2d.per_byte_s > 0.0 || profile.costs.h2d.per_tensor_s > 0.0);
        let deeper = mlp_model(&MlpConfig { layers: 6, ..config }).unwrap();
        let (footprint, _) = Footprint::measure(&deeper, &deeper.init_weights(0)).unwrap();
        let (times, _) = profile.layer_times(&footprint).unwrap();
        assert_eq!(times.len(), 6);
        let mut other = footprint.clone();
        other.kinds[0] = "conv".into();
        assert!(profile.layer_times(&other).is_err());
    }
}
