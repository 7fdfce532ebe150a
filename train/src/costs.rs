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

use crate::device::{Category, CpuDevice};
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

/// Median seconds of `repeats` runs of `work`, after one warm-up run.
fn median_seconds(repeats: usize, mut work: impl FnMut() -> Result<()>) -> Result<f64> {
    work()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        work()?;
        times.push(start.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
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
    /// microbatch size and at half of it (median of `repeats` runs), and the
    /// swap costs with `optimizer`.
    pub fn measure(model: &Model, weights: &[Vec<HostTensor>], optimizer: OptimizerConfig, repeats: usize) -> Result<Self> {
        let (footprint, _) = Footprint::measure(model, weights)?;
        let (inputs, targets) = model.data.microbatch(0, 0)?;
        let mut h: TensorMap = inputs.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<_>>()?;
        let targets: TensorMap = targets.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<_>>()?;
        let rows = h.values().next().map(|t| t.dim(0)).transpose()?.unwrap_or(1);
        let sizes = [rows, (rows / 2).max(1)];
        let (mut full, mut half, mut loss_s) = (Vec::new(), Vec::new(), [0.0; 2]);
        for l in 0..model.layers.len() {
            for (k, &size) in sizes.iter().enumerate() {
                let x = narrow_rows(&h, size)?;
                let times = layer_times(model, weights, l, &x, repeats, None)?;
                if l + 1 == model.layers.len() {
                    let y = narrow_rows(&targets, size)?;
                    let with_loss = layer_times(model, weights, l, &x, repeats, Some(&y))?;
                    loss_s[k] = (with_loss.backward_s - times.backward_s).max(0.0);
                }
                if k == 0 { full.push(times) } else { half.push(times) }
            }
            let w: Vec<Tensor> = weights[l].iter().map(HostTensor::to_tensor).collect::<Result<_>>()?;
            h = model.layers[l].forward(&w, &h, LayerCtx { step: 0, microbatch: 0, layer: l })?.outputs;
        }
        let costs = SwapCosts::measure(&footprint, optimizer, repeats)?;
        Ok(Self { rows, footprint, full, half, loss_s, costs })
    }
}

/// One layer's forward and backward seconds on input `x`; the backward is
/// seeded by the loss on `targets` when given, else by a unit output
/// gradient.
fn layer_times(
    model: &Model,
    weights: &[Vec<HostTensor>],
    l: usize,
    x: &TensorMap,
    repeats: usize,
    targets: Option<&TensorMap>,
) -> Result<LayerTimes> {
    let device = CpuDevice::new(u64::MAX);
    let pack = l..l + 1;
    let frozen = upload_weights(&device, &pack, false, |l| Ok(weights[l].clone()))?;
    let vars = upload_weights(&device, &pack, true, |l| Ok(weights[l].clone()))?;
    let w: Vec<Tensor> = frozen[0].iter().map(|d| d.tensor.clone()).collect();
    let ctx = LayerCtx { step: 0, microbatch: 0, layer: l };
    let forward_s = median_seconds(repeats, || model.layers[l].forward(&w, x, ctx).map(|_| ()))?;
    let out = model.layers[l].forward(&w, x, ctx)?.outputs;
    let ones: TensorMap = out.iter().map(|(k, t)| Ok((k.clone(), t.ones_like()?))).collect::<Result<_>>()?;
    let inputs: DeviceMap = upload_map(&device, &host_map(x)?, Category::Activations, l > 0)?;
    let call = Call { step: 0, microbatch: 0, microbatches: 1 };
    let backward_s = median_seconds(repeats, || {
        let seed = match targets {
            Some(targets) => Seed::Loss(targets),
            None => Seed::OutputGrad(&ones),
        };
        backward_pack(&device, model, &pack, &vars, &inputs, seed, call).map(|_| ())
    })?;
    Ok(LayerTimes { forward_s, backward_s })
}

impl SwapCosts {
    /// Measures every cost at 1 KiB and at the model's mean parameter
    /// tensor size (at least 16 KiB), `repeats` times each (median).
    pub fn measure(footprint: &Footprint, optimizer: OptimizerConfig, repeats: usize) -> Result<Self> {
        let tensors: usize = footprint.layer_tensors.iter().sum();
        let mean = footprint.layer_weights.iter().sum::<u64>() / tensors.max(1) as u64;
        let sizes = [1024u64, mean.max(16 * 1024)];
        let device = CpuDevice::new(u64::MAX);
        let at = |size: u64| -> Result<[f64; 6]> {
            let host = HostTensor::normal(&[(size / 4) as usize], 1.0, size);
            let on_device = device.upload(&host, Category::Weights, true)?;
            let tensor = on_device.tensor.clone();
            let mut state = LayerState::new(vec![host.clone()]);
            let mut sum = host.clone();
            Ok([
                median_seconds(repeats, || device.upload(&host, Category::Weights, true).map(|_| ()))?,
                median_seconds(repeats, || device.download(&tensor, Category::Gradients).map(|_| ()))?,
                median_seconds(repeats, || {
                    std::hint::black_box(host.clone());
                    Ok(())
                })?,
                median_seconds(repeats, || (&tensor + &tensor).map(|_| ()).map_err(Error::from))?,
                median_seconds(repeats, || {
                    sum.accumulate(&host);
                    Ok(())
                })?,
                median_seconds(repeats, || optimizer.apply(&mut state, std::slice::from_ref(&host), 0))?,
            ])
        };
        let (small, large) = (at(sizes[0])?, at(sizes[1])?);
        let line = |i: usize| Linear::fit((sizes[0], small[i]), (sizes[1], large[i]));
        Ok(Self { h2d: line(0), d2h: line(1), host_copy: line(2), device_add: line(3), host_add: line(4), update: line(5) })
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
