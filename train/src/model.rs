//! The model interface: an ordered list of [`Layer`]s, each a pure function
//! from named tensors to named tensors, grouped into packs (contiguous layer
//! ranges) by a schedule. The engine knows nothing about what the layers are.

use std::collections::BTreeMap;
use std::ops::Range;

use candle_core::Tensor;

use crate::host::{HostMap, HostTensor, mix_seed};
use crate::{Error, Result};

/// Named tensors flowing between layers (e.g. `"x"`, or queries, memory
/// tokens and position encodings for a decoder layer).
pub type TensorMap = BTreeMap<String, Tensor>;

/// A pack: a contiguous range of layer indices that a schedule moves and runs
/// as one unit.
pub type Pack = Range<usize>;

/// Where a layer call sits in training; the seed of any randomness in the
/// layer (dropout) derives from it, so a recomputed forward pass reproduces
/// the original exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerCtx {
    /// Optimizer step (iteration) index.
    pub step: u64,
    /// Microbatch index within the step.
    pub microbatch: usize,
    /// Layer index within the model.
    pub layer: usize,
}

impl LayerCtx {
    /// The seed for this (step, microbatch, layer).
    pub fn seed(&self) -> u64 {
        mix_seed(&[self.step, self.microbatch as u64, self.layer as u64])
    }
}

/// How a parameter is initialised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// All zeros (biases).
    Zeros,
    /// All ones (norm gains).
    Ones,
    /// Normal with this standard deviation (weight matrices).
    Normal(f32),
}

/// One parameter of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name within the layer (`"w1"`, `"ln.gain"`).
    pub name: String,
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Initialisation.
    pub init: Init,
}

impl ParamSpec {
    /// A parameter spec.
    pub fn new(name: &str, shape: &[usize], init: Init) -> Self {
        Self { name: name.to_string(), shape: shape.to_vec(), init }
    }

    /// Bytes of the parameter in fp32.
    pub fn bytes(&self) -> u64 {
        4 * self.shape.iter().product::<usize>() as u64
    }
}

/// What a layer returns: its named outputs and an optional auxiliary scalar
/// loss, whose gradient the engine adds in the backward pass of the layer's
/// pack.
#[derive(Debug)]
pub struct LayerOutput {
    /// Named output tensors (the next layer's inputs).
    pub outputs: TensorMap,
    /// An auxiliary scalar loss (already weighted), if any.
    pub aux_loss: Option<Tensor>,
}

/// One layer: a pure function of (weights, inputs, seed). No hidden state
/// (no BatchNorm running statistics) so recomputation reproduces it exactly.
pub trait Layer: Send + Sync {
    /// A short kind name for plans and logs (`"gpt-block"`).
    fn kind(&self) -> &str;
    /// The parameters, in the order `forward` receives them.
    fn params(&self) -> Vec<ParamSpec>;
    /// The forward pass. `weights` follow [`Layer::params`]; gradients flow
    /// to them when they are candle `Var`s.
    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, ctx: LayerCtx) -> Result<LayerOutput>;
    /// Bytes of intermediate tensors the forward pass creates besides its
    /// outputs (attention scores, MLP hidden units); the device reserves them
    /// while the layer runs and, in backward, while the graph is alive.
    fn scratch_bytes(&self, _inputs: &TensorMap) -> u64 {
        0
    }
}

/// The training objective of a microbatch: a scalar loss from the last
/// layer's outputs and the microbatch's targets.
pub trait Objective: Send + Sync {
    /// The loss (a scalar tensor).
    fn loss(&self, outputs: &TensorMap, targets: &TensorMap) -> Result<Tensor>;
}

/// Training data: the inputs and targets of microbatch `microbatch` of step
/// `step` (deterministic, so every schedule sees the same split and order).
pub trait DataSource: Send + Sync {
    /// Inputs and targets of one microbatch, in host memory.
    fn microbatch(&self, step: u64, microbatch: usize) -> Result<(HostMap, HostMap)>;
}

/// A model: layers in order, the objective on the last layer's outputs, and
/// its data.
pub struct Model {
    /// A short description (`"mlp 80×256"`).
    pub name: String,
    /// The layers, first to last.
    pub layers: Vec<Box<dyn Layer>>,
    /// The loss of a microbatch.
    pub objective: Box<dyn Objective>,
    /// Training data.
    pub data: Box<dyn DataSource>,
}

impl Model {
    /// Deterministic initial fp32 weights, per layer in `params` order.
    pub fn init_weights(&self, seed: u64) -> Vec<Vec<HostTensor>> {
        let layer_weights = |(l, layer): (usize, &dyn Layer)| {
            let param = |(i, spec): (usize, ParamSpec)| match spec.init {
                Init::Zeros => HostTensor::zeros(&spec.shape),
                Init::Ones => HostTensor { data: vec![1.0; spec.shape.iter().product()], shape: spec.shape },
                Init::Normal(std) => HostTensor::normal(&spec.shape, std, mix_seed(&[seed, l as u64, i as u64])),
            };
            layer.params().into_iter().enumerate().map(param).collect()
        };
        self.layers.iter().map(|layer| layer.as_ref()).enumerate().map(layer_weights).collect()
    }

    /// Weight bytes of each layer.
    pub fn layer_bytes(&self) -> Vec<u64> {
        self.layers.iter().map(|layer| layer.params().iter().map(ParamSpec::bytes).sum()).collect()
    }

    /// Weight bytes of the whole model.
    pub fn weight_bytes(&self) -> u64 {
        self.layer_bytes().iter().sum()
    }
}

/// Takes a named tensor out of a map, or says which one is missing.
pub fn input<'a>(inputs: &'a TensorMap, name: &str) -> Result<&'a Tensor> {
    inputs.get(name).ok_or_else(|| Error::Schedule(format!("layer input {name:?} is missing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_depend_on_every_coordinate() {
        let ctx = LayerCtx { step: 3, microbatch: 1, layer: 2 };
        assert_ne!(ctx.seed(), LayerCtx { step: 4, ..ctx }.seed());
        assert_ne!(ctx.seed(), LayerCtx { microbatch: 0, ..ctx }.seed());
        assert_ne!(ctx.seed(), LayerCtx { layer: 1, ..ctx }.seed());
    }

    #[test]
    fn missing_input_is_an_error() {
        let err = input(&TensorMap::new(), "x").unwrap_err();
        assert!(err.to_string().contains("\"x\""));
    }
}
