//! A GPT-style transformer block stack (pre-norm): each block is
//! `x + Attn(LN₁(x))` then `x + MLP(LN₂(x))`, causal multi-head
//! self-attention and a 4× GELU MLP, on `[rows, seq, hidden]` tokens.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{MseObjective, RegressionData, layer_norm, softmax_last};
use crate::model::{Init, Layer, LayerCtx, LayerOutput, Model, ParamSpec, TensorMap, input};
use crate::{Error, Result};

/// Size of the transformer block stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GptConfig {
    /// Number of transformer blocks.
    pub layers: usize,
    /// Model width (divisible by `heads`).
    pub hidden: usize,
    /// Attention heads.
    pub heads: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// Sequences per microbatch.
    pub rows: usize,
    /// Data seed.
    pub seed: u64,
}

impl Default for GptConfig {
    fn default() -> Self {
        Self { layers: 4, hidden: 64, heads: 4, seq: 16, rows: 2, seed: 0 }
    }
}

/// One pre-norm transformer block.
#[derive(Debug, Clone)]
pub struct GptBlock {
    hidden: usize,
    heads: usize,
}

impl GptBlock {
    /// Causal self-attention of normalised tokens `[rows·seq, hidden]`.
    fn attention(&self, xn: &Tensor, rows: usize, seq: usize, wqkv: &Tensor, bqkv: &Tensor) -> Result<Tensor> {
        let (h, nh) = (self.hidden, self.heads);
        let hd = h / nh;
        let qkv = xn.matmul(wqkv)?.broadcast_add(bqkv)?; // [rows·seq, 3·hidden]
        let qkv = qkv.reshape((rows, seq, 3, nh, hd))?;
        let head = |i: usize| -> Result<Tensor> {
            // [rows, seq, nh, hd] → [rows, nh, seq, hd]
            Ok(qkv.narrow(2, i, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous()?)
        };
        let (q, k, v) = (head(0)?, head(1)?, head(2)?);
        let scores = (q.matmul(&k.t()?.contiguous()?)? * (1.0 / (hd as f64).sqrt()))?; // [rows, nh, seq, seq]
        let probs = softmax_last(&scores.broadcast_add(&causal_mask(seq, xn.device())?)?)?;
        let ctx = probs.matmul(&v)?; // [rows, nh, seq, hd]
        Ok(ctx.transpose(1, 2)?.contiguous()?.reshape((rows * seq, h))?) // [rows·seq, hidden]
    }
}

/// `[seq, seq]` additive mask: 0 on and below the diagonal, −1e9 above.
fn causal_mask(seq: usize, device: &Device) -> Result<Tensor> {
    let mask: Vec<f32> = (0..seq * seq).map(|i| if i % seq > i / seq { -1e9 } else { 0.0 }).collect();
    Ok(Tensor::from_vec(mask, (seq, seq), device)?)
}

impl Layer for GptBlock {
    fn kind(&self) -> &str {
        "gpt-block"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let h = self.hidden;
        let std = 0.02;
        vec![
            ParamSpec::new("ln1.gain", &[h], Init::Ones),
            ParamSpec::new("ln1.bias", &[h], Init::Zeros),
            ParamSpec::new("wqkv", &[h, 3 * h], Init::Normal(std)),
            ParamSpec::new("bqkv", &[3 * h], Init::Zeros),
            ParamSpec::new("wo", &[h, h], Init::Normal(std)),
            ParamSpec::new("bo", &[h], Init::Zeros),
            ParamSpec::new("ln2.gain", &[h], Init::Ones),
            ParamSpec::new("ln2.bias", &[h], Init::Zeros),
            ParamSpec::new("w1", &[h, 4 * h], Init::Normal(std)),
            ParamSpec::new("b1", &[4 * h], Init::Zeros),
            ParamSpec::new("w2", &[4 * h, h], Init::Normal(std)),
            ParamSpec::new("b2", &[h], Init::Zeros),
        ]
    }

    fn forward(&self, w: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> Result<LayerOutput> {
        let [g1, bn1, wqkv, bqkv, wo, bo, g2, bn2, w1, b1, w2, b2] = w else {
            return Err(Error::Schedule(format!("gpt block takes 12 weights, got {}", w.len())));
        };
        let x = input(inputs, "x")?; // [rows, seq, hidden]
        let (rows, seq, h) = x.dims3()?;
        let x = x.reshape((rows * seq, h))?; // [rows·seq, hidden]
        let attn = self.attention(&layer_norm(&x, g1, bn1)?, rows, seq, wqkv, bqkv)?;
        let x = (x + attn.matmul(wo)?.broadcast_add(bo)?)?;
        let mlp = layer_norm(&x, g2, bn2)?.matmul(w1)?.broadcast_add(b1)?.gelu()?; // [rows·seq, 4·hidden]
        let x = (&x + mlp.matmul(w2)?.broadcast_add(b2)?)?;
        let y = x.reshape((rows, seq, h))?; // [rows, seq, hidden]
        Ok(LayerOutput { outputs: TensorMap::from([("x".to_string(), y)]), aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        let Some((rows, seq, h)) = inputs.get("x").and_then(|x| x.dims3().ok()) else { return 0 };
        let tokens = (rows * seq) as u64;
        let (h, nh, seq) = (h as u64, self.heads as u64, seq as u64);
        // LN ×2, qkv (3h), q/k/v copies (3h), context ×2, attention out, residual,
        // MLP hidden ×2 (4h each), and three [rows, heads, seq, seq] score tensors.
        4 * (tokens * (2 * h + 3 * h + 3 * h + 2 * h + 2 * h + 8 * h) + 3 * rows as u64 * nh * seq * seq)
    }
}

/// The GPT-style block stack with its MSE objective and synthetic data.
pub fn gpt_model(config: &GptConfig) -> Result<Model> {
    let GptConfig { layers, hidden, heads, seq, rows, .. } = *config;
    if layers == 0 || hidden == 0 || heads == 0 || seq == 0 || rows == 0 {
        return Err(Error::Config(format!("gpt needs layers, hidden, heads, seq and rows > 0: {config:?}")));
    }
    if hidden % heads != 0 {
        return Err(Error::Config(format!("gpt hidden {hidden} is not divisible by {heads} heads")));
    }
    let block = GptBlock { hidden, heads };
    Ok(Model {
        name: format!("gpt {layers}×{hidden} ({heads} heads, seq {seq})"),
        layers: (0..layers).map(|_| Box::new(block.clone()) as Box<dyn Layer>).collect(),
        objective: Box::new(MseObjective),
        data: Box::new(RegressionData { shape: vec![rows, seq, hidden], seed: config.seed }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_is_causal() {
        // Changing the last token must not change earlier outputs.
        let config = GptConfig { layers: 1, hidden: 8, heads: 2, seq: 4, rows: 1, seed: 0 };
        let model = gpt_model(&config).unwrap();
        let weights: Vec<Tensor> = model.init_weights(3)[0].iter().map(|w| w.to_tensor().unwrap()).collect();
        let (x, _) = model.data.microbatch(0, 0).unwrap();
        let mut x2 = x["x"].clone();
        for v in &mut x2.data[24..] {
            *v += 1.0;
        }
        let ctx = LayerCtx { step: 0, microbatch: 0, layer: 0 };
        let out = |t: &crate::host::HostTensor| {
            let inputs = TensorMap::from([("x".to_string(), t.to_tensor().unwrap())]);
            let y = model.layers[0].forward(&weights, &inputs, ctx).unwrap().outputs["x"].clone();
            y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let (a, b) = (out(&x["x"]), out(&x2));
        assert_eq!(a[..24], b[..24]);
        assert_ne!(a[24..], b[24..]);
    }

    #[test]
    fn heads_must_divide_hidden() {
        let err = gpt_model(&GptConfig { hidden: 10, heads: 4, ..Default::default() }).err().unwrap();
        assert!(err.to_string().contains("divisible"));
    }
}
