//! The pack kernels the executor runs: a forward pass without gradients, and
//! a backward pass that recomputes the pack's forward from its input with
//! gradients, then backpropagates from the loss (last pack) or from the
//! gradient of the pack's output (`(out · grad_out).sum().backward()`).
//! Every tensor they keep is registered with the [`SwapDevice`].

use std::collections::BTreeMap;

use candle_core::Tensor;

use crate::Result;
use crate::device::{Category, DeviceTensor, SwapDevice};
use crate::host::{HostMap, HostTensor};
use crate::model::{LayerCtx, Model, Pack, TensorMap};
use crate::profile::map_bytes;

/// Named tensors resident on the device.
pub type DeviceMap = BTreeMap<String, DeviceTensor>;

/// A pack's weights on the device: per layer, per parameter.
pub type PackWeights = Vec<Vec<DeviceTensor>>;

/// The plain tensors of a device map.
pub fn tensors(map: &DeviceMap) -> TensorMap {
    map.iter().map(|(k, v)| (k.clone(), v.tensor.clone())).collect()
}

/// Uploads a host map (as `Var`s if `trainable`, so gradients reach it).
pub fn upload_map(device: &dyn SwapDevice, map: &HostMap, category: Category, trainable: bool) -> Result<DeviceMap> {
    map.iter().map(|(k, v)| Ok((k.clone(), device.upload(v, category, trainable)?))).collect()
}

/// Downloads a tensor map.
pub fn download_map(device: &dyn SwapDevice, map: &TensorMap, category: Category) -> Result<HostMap> {
    map.iter().map(|(k, v)| Ok((k.clone(), device.download(v, category)?))).collect()
}

/// Uploads the weights of `pack` (as `Var`s if `trainable`).
pub fn upload_weights(
    device: &dyn SwapDevice,
    pack: &Pack,
    trainable: bool,
    mut layer_weights: impl FnMut(usize) -> Result<Vec<HostTensor>>,
) -> Result<PackWeights> {
    let upload_layer = |l: usize| -> Result<Vec<DeviceTensor>> {
        let host = layer_weights(l)?;
        host.iter().map(|w| device.upload(w, Category::Weights, trainable)).collect()
    };
    pack.clone().map(upload_layer).collect()
}

/// Where the gradient of a backward pass comes from.
pub enum Seed<'a> {
    /// The last pack: the objective's loss on these targets.
    Loss(&'a TensorMap),
    /// An inner pack: the gradient of the loss with respect to its output.
    OutputGrad(&'a TensorMap),
}

/// The position of a pack call: step, microbatch, and the microbatch count
/// (losses are averaged over microbatches).
#[derive(Debug, Clone, Copy)]
pub struct Call {
    /// Optimizer step.
    pub step: u64,
    /// Microbatch index.
    pub microbatch: usize,
    /// Microbatches per step.
    pub microbatches: usize,
}

impl Call {
    fn ctx(&self, layer: usize) -> LayerCtx {
        LayerCtx { step: self.step, microbatch: self.microbatch, layer }
    }
}

/// Forward of `pack` without gradients; every layer's output and scratch is
/// allocated on the device while it is alive.
pub fn forward_pack(
    device: &dyn SwapDevice,
    model: &Model,
    pack: &Pack,
    weights: &[Vec<DeviceTensor>],
    inputs: DeviceMap,
    call: Call,
) -> Result<DeviceMap> {
    let mut h = inputs;
    for (i, l) in pack.clone().enumerate() {
        let x = tensors(&h);
        let _scratch = device.reserve(model.layers[l].scratch_bytes(&x), Category::Activations)?;
        let w: Vec<Tensor> = weights[i].iter().map(|d| d.tensor.clone()).collect();
        let out = model.layers[l].forward(&w, &x, call.ctx(l))?;
        h = out
            .outputs
            .into_iter()
            .map(|(k, t)| Ok((k, device.adopt(t, Category::Activations)?)))
            .collect::<Result<_>>()?;
    }
    Ok(h)
}

/// What a pack's backward gives back for one microbatch.
pub struct PackGrads {
    /// Weight gradients on the device, per layer, per parameter.
    pub params: PackWeights,
    /// Gradient with respect to the pack's input, on the device (empty when
    /// the input is not trainable, i.e. the first pack).
    pub inputs: TensorMap,
    /// The microbatch's (averaged) loss, for the last pack.
    pub loss: Option<f32>,
}

/// Recompute and backward of `pack` for one microbatch. `weights` must be
/// `Var`s; `inputs` are `Var`s when their gradient is wanted.
pub fn backward_pack(
    device: &dyn SwapDevice,
    model: &Model,
    pack: &Pack,
    weights: &[Vec<DeviceTensor>],
    inputs: &DeviceMap,
    seed: Seed<'_>,
    call: Call,
) -> Result<PackGrads> {
    let x = tensors(inputs);
    let (outputs, aux, _graph) = recompute(device, model, pack, weights, &x, call)?;
    let scale = 1.0 / call.microbatches as f64;
    let (mut root, loss) = match seed {
        Seed::Loss(targets) => {
            let loss = model.objective.loss(&outputs, targets)?.affine(scale, 0.0)?;
            let value = loss.to_scalar::<f32>()?;
            (loss, Some(value))
        }
        Seed::OutputGrad(grads) => (output_dot(&outputs, grads)?, None),
    };
    for term in aux {
        root = (root + term.affine(scale, 0.0)?)?;
    }
    let mut store = root.backward()?;
    let grad_of = |t: &Tensor, store: &mut candle_core::backprop::GradStore| -> Result<Tensor> {
        Ok(match store.remove(t) {
            Some(g) => g,
            None => t.zeros_like()?,
        })
    };
    let mut params = Vec::with_capacity(weights.len());
    for layer in weights {
        let grads = layer.iter().map(|w| device.adopt(grad_of(&w.tensor, &mut store)?, Category::Gradients));
        params.push(grads.collect::<Result<Vec<_>>>()?);
    }
    let mut input_grads = TensorMap::new();
    for (name, t) in x.iter().filter(|(_, t)| t.is_variable()) {
        input_grads.insert(name.clone(), grad_of(t, &mut store)?);
    }
    Ok(PackGrads { params, inputs: input_grads, loss })
}

/// The pack's forward with gradients: outputs, auxiliary losses, and the
/// device reservation for the autograd graph it keeps alive.
fn recompute(
    device: &dyn SwapDevice,
    model: &Model,
    pack: &Pack,
    weights: &[Vec<DeviceTensor>],
    x: &TensorMap,
    call: Call,
) -> Result<(TensorMap, Vec<Tensor>, Vec<crate::device::Allocation>)> {
    let (mut h, mut aux, mut graph) = (x.clone(), Vec::new(), Vec::new());
    for (i, l) in pack.clone().enumerate() {
        graph.push(device.reserve(model.layers[l].scratch_bytes(&h), Category::Activations)?);
        let w: Vec<Tensor> = weights[i].iter().map(|d| d.tensor.clone()).collect();
        let out = model.layers[l].forward(&w, &h, call.ctx(l))?;
        aux.extend(out.aux_loss);
        h = out.outputs;
        graph.push(device.reserve(map_bytes(&h), Category::Activations)?);
    }
    Ok((h, aux, graph))
}

/// `Σ_k sum(out_k · grad_k)`: a scalar whose gradient with respect to each
/// output is the given output gradient.
fn output_dot(outputs: &TensorMap, grads: &TensorMap) -> Result<Tensor> {
    let mut total: Option<Tensor> = None;
    for (name, out) in outputs {
        let grad = crate::model::input(grads, name)?;
        let term = (out * grad.detach())?.sum_all()?;
        total = Some(match total {
            Some(t) => (t + term)?,
            None => term,
        });
    }
    total.ok_or_else(|| crate::Error::Schedule("a pack has no outputs".into()))
}
