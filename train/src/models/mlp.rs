//! A residual MLP stack: each block is `x + W₂·dropout(gelu(W₁·LN(x) + b₁)) + b₂`
//! on rows of width `hidden`, with an optional auxiliary activation penalty
//! (so the engine's auxiliary-loss path is exercised).

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use super::{MseObjective, RegressionData, layer_norm};
use crate::host::uniform;
use crate::model::{Init, Layer, LayerCtx, LayerOutput, Model, ParamSpec, TensorMap, input};
use crate::{Error, Result};

/// Size and regularisation of the residual MLP stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    /// Number of residual blocks.
    pub layers: usize,
    /// Row width.
    pub hidden: usize,
    /// Hidden units per block = `ffn_mult · hidden`.
    pub ffn_mult: usize,
    /// Rows per microbatch.
    pub rows: usize,
    /// Dropout probability on the hidden units (seeded per step/microbatch/layer).
    pub dropout: f32,
    /// Weight of the auxiliary loss `mean(h²)` per block (0 = none).
    pub aux_weight: f32,
    /// Data seed.
    pub seed: u64,
}

impl Default for MlpConfig {
    fn default() -> Self {
        Self { layers: 8, hidden: 256, ffn_mult: 2, rows: 8, dropout: 0.0, aux_weight: 0.0, seed: 0 }
    }
}

/// One residual MLP block.
#[derive(Debug, Clone)]
pub struct MlpBlock {
    hidden: usize,
    ffn: usize,
    dropout: f32,
    aux_weight: f32,
    /// Blocks in the stack: the output projection starts at 1/√(ffn·layers)
    /// so the residual stream's variance stays bounded with depth (GPT-2 style).
    layers: usize,
}

impl Layer for MlpBlock {
    fn kind(&self) -> &str {
        "mlp-block"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let (h, f) = (self.hidden, self.ffn);
        vec![
            ParamSpec::new("ln.gain", &[h], Init::Ones),
            ParamSpec::new("ln.bias", &[h], Init::Zeros),
            ParamSpec::new("w1", &[h, f], Init::Normal((1.0 / h as f32).sqrt())),
            ParamSpec::new("b1", &[f], Init::Zeros),
            ParamSpec::new("w2", &[f, h], Init::Normal(1.0 / ((f * self.layers) as f32).sqrt())),
            ParamSpec::new("b2", &[h], Init::Zeros),
        ]
    }

    fn forward(&self, w: &[Tensor], inputs: &TensorMap, ctx: LayerCtx) -> Result<LayerOutput> {
        let [gain, bias, w1, b1, w2, b2] = w else {
            return Err(Error::Schedule(format!("mlp block takes 6 weights, got {}", w.len())));
        };
        let x = input(inputs, "x")?; // [rows, hidden]
        let mut h = layer_norm(x, gain, bias)?.matmul(w1)?.broadcast_add(b1)?.gelu()?; // [rows, ffn]
        if self.dropout > 0.0 {
            let keep = 1.0 - self.dropout;
            let mask: Vec<f32> = uniform(h.elem_count(), ctx.seed())
                .into_iter()
                .map(|u| if u < keep { 1.0 / keep } else { 0.0 })
                .collect();
            let mask = Tensor::from_vec(mask, h.dims(), h.device())?;
            h = (h * mask)?;
        }
        let aux_loss =
            if self.aux_weight > 0.0 { Some(h.sqr()?.mean_all()?.affine(self.aux_weight.into(), 0.0)?) } else { None };
        let y = (x + h.matmul(w2)?.broadcast_add(b2)?)?; // [rows, hidden]
        Ok(LayerOutput { outputs: TensorMap::from([("x".to_string(), y)]), aux_loss })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // LayerNorm output + three [rows, ffn] tensors (pre-activation, gelu, dropout).
        let rows = inputs.get("x").map_or(0, |x| x.dims().first().copied().unwrap_or(0)) as u64;
        4 * rows * (self.hidden as u64 + 3 * self.ffn as u64)
    }
}

/// The residual MLP stack with its MSE objective and synthetic data.
pub fn mlp_model(config: &MlpConfig) -> Result<Model> {
    if config.layers == 0 || config.hidden == 0 || config.ffn_mult == 0 || config.rows == 0 {
        return Err(Error::Config(format!("mlp needs layers, hidden, ffn_mult and rows > 0: {config:?}")));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(Error::Config(format!("dropout must be in [0, 1), got {}", config.dropout)));
    }
    let block = MlpBlock {
        hidden: config.hidden,
        ffn: config.ffn_mult * config.hidden,
        dropout: config.dropout,
        aux_weight: config.aux_weight,
        layers: config.layers,
    };
    Ok(Model {
        name: format!("mlp {}×{} (ffn ×{})", config.layers, config.hidden, config.ffn_mult),
        layers: (0..config.layers).map(|_| Box::new(block.clone()) as Box<dyn Layer>).collect(),
        objective: Box::new(MseObjective),
        data: Box::new(RegressionData { shape: vec![config.rows, config.hidden], seed: config.seed }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HostTensor;

    fn run(config: &MlpConfig, ctx: LayerCtx) -> (Tensor, Option<Tensor>) {
        let model = mlp_model(config).unwrap();
        let weights: Vec<Tensor> = model.init_weights(1)[0].iter().map(|w| w.to_tensor().unwrap()).collect();
        let (x, _) = model.data.microbatch(0, 0).unwrap();
        let inputs = TensorMap::from([("x".to_string(), x["x"].to_tensor().unwrap())]);
        let out = model.layers[0].forward(&weights, &inputs, ctx).unwrap();
        (out.outputs["x"].clone(), out.aux_loss)
    }

    #[test]
    fn dropout_is_a_pure_function_of_the_seed() {
        let config = MlpConfig { layers: 1, hidden: 8, rows: 4, dropout: 0.5, aux_weight: 0.1, ..Default::default() };
        let ctx = LayerCtx { step: 1, microbatch: 2, layer: 0 };
        let (a, aux) = run(&config, ctx);
        let (b, _) = run(&config, ctx);
        let (c, _) = run(&config, LayerCtx { microbatch: 3, ..ctx });
        let bits = |t: &Tensor| HostTensor::from_tensor(t).unwrap().data;
        assert_eq!(bits(&a), bits(&b));
        assert_ne!(bits(&a), bits(&c));
        assert!(aux.unwrap().to_scalar::<f32>().unwrap() > 0.0);
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(mlp_model(&MlpConfig { layers: 0, ..Default::default() }).is_err());
        assert!(mlp_model(&MlpConfig { dropout: 1.0, ..Default::default() }).is_err());
    }
}
