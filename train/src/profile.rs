//! Layer profiles: the memory footprint a plan needs (weight bytes per layer,
//! activation bytes at every layer boundary, per-layer scratch), measured by
//! running one microbatch through the model on the host.

use std::time::Instant;

use candle_core::Tensor;
use serde::Serialize;

use crate::Result;
use crate::host::HostTensor;
use crate::model::{LayerCtx, Model, Pack, TensorMap};

/// Per-layer memory (bytes; activations per microbatch) and forward time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Footprint {
    /// Weight bytes of each layer.
    pub layer_weights: Vec<u64>,
    /// Activation bytes at each boundary: `boundary[l]` is layer `l`'s input,
    /// `boundary[layers]` the model output.
    pub boundary: Vec<u64>,
    /// Scratch bytes of each layer (see `Layer::scratch_bytes`).
    pub scratch: Vec<u64>,
    /// Target bytes of a microbatch.
    pub targets: u64,
    /// Parameter tensors of each layer (each is one transfer).
    pub layer_tensors: Vec<usize>,
    /// Kind of each layer (`Layer::kind`), for time profiles.
    pub kinds: Vec<String>,
}

/// Bytes of the tensors in a map.
pub fn map_bytes(map: &TensorMap) -> u64 {
    map.values().map(|t| 4 * t.elem_count() as u64).sum()
}

impl Footprint {
    /// Runs microbatch 0 of step 0 through every layer with these weights.
    /// Returns the footprint and each layer's forward time in seconds.
    pub fn measure(model: &Model, weights: &[Vec<HostTensor>]) -> Result<(Self, Vec<f64>)> {
        let (inputs, targets) = model.data.microbatch(0, 0)?;
        let mut h: TensorMap = inputs.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<_>>()?;
        let mut boundary = vec![map_bytes(&h)];
        let (mut scratch, mut times) = (Vec::new(), Vec::new());
        for (l, layer) in model.layers.iter().enumerate() {
            let w: Vec<Tensor> = weights[l].iter().map(HostTensor::to_tensor).collect::<Result<_>>()?;
            scratch.push(layer.scratch_bytes(&h));
            let start = Instant::now();
            h = layer.forward(&w, &h, LayerCtx { step: 0, microbatch: 0, layer: l })?.outputs;
            times.push(start.elapsed().as_secs_f64());
            boundary.push(map_bytes(&h));
        }
        let targets = targets.values().map(HostTensor::bytes).sum();
        let layer_tensors = model.layers.iter().map(|layer| layer.params().len()).collect();
        let kinds = model.layers.iter().map(|layer| layer.kind().to_string()).collect();
        Ok((Self { layer_weights: model.layer_bytes(), boundary, scratch, targets, layer_tensors, kinds }, times))
    }

    /// Weight bytes of a pack.
    pub fn weights(&self, pack: &Pack) -> u64 {
        self.layer_weights[pack.clone()].iter().sum()
    }

    /// Activation bytes a pack's backward holds for one microbatch: its input
    /// and the input's gradient, the output gradient, the targets, and every
    /// layer's output and scratch (alive in the autograd graph).
    pub fn backward_activations(&self, pack: &Pack) -> u64 {
        let graph: u64 = pack.clone().map(|l| self.boundary[l + 1] + self.scratch[l]).sum();
        2 * self.boundary[pack.start] + self.boundary[pack.end] + self.targets + graph
    }

    /// The footprint of the same model with `rows_to` instead of `rows_from`
    /// samples per microbatch: activation, scratch and target bytes scale
    /// with the rows (every activation has the batch as its first axis, as
    /// in both benchmark models), weights do not. Exact when `rows_from`
    /// divides each activation's bytes evenly.
    pub fn with_rows(&self, rows_from: usize, rows_to: usize) -> Self {
        let scale = |bytes: u64| bytes * rows_to as u64 / rows_from.max(1) as u64;
        Self {
            boundary: self.boundary.iter().copied().map(scale).collect(),
            scratch: self.scratch.iter().copied().map(scale).collect(),
            targets: scale(self.targets),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::mlp::{MlpConfig, mlp_model};

    #[test]
    fn mlp_footprint_by_hand() {
        let config = MlpConfig { layers: 3, hidden: 8, ffn_mult: 2, rows: 4, ..Default::default() };
        let model = mlp_model(&config).unwrap();
        let (footprint, times) = Footprint::measure(&model, &model.init_weights(0)).unwrap();
        // ln 2·8, w1 8·16, b1 16, w2 16·8, b2 8 = 296 floats.
        assert_eq!(footprint.layer_weights, vec![4 * 296; 3]);
        assert_eq!(footprint.boundary, vec![4 * 32; 4]);
        assert_eq!(footprint.scratch[0], 4 * 4 * (8 + 3 * 16));
        assert_eq!(footprint.weights(&(0..2)), 8 * 296);
        assert_eq!(times.len(), 3);
        assert_eq!((footprint.layer_tensors[0], footprint.kinds[2].as_str()), (6, "mlp-block"));
    }

    #[test]
    fn footprint_scales_with_rows_like_a_measured_one() {
        let config = MlpConfig { layers: 2, hidden: 8, rows: 4, ..Default::default() };
        let model = mlp_model(&config).unwrap();
        let (four, _) = Footprint::measure(&model, &model.init_weights(0)).unwrap();
        let model = mlp_model(&MlpConfig { rows: 2, ..config }).unwrap();
        let (two, _) = Footprint::measure(&model, &model.init_weights(0)).unwrap();
        assert_eq!(four.with_rows(4, 2), two);
    }
}
