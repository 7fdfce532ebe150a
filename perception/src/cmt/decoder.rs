//! CMT's transformer decoder (paper §3.4; official `PETRTransformerDecoder`
//! with post-norm layers `self_attn → norm → cross_attn → norm → ffn →
//! norm`): one cairn-train layer per decoder layer, with that layer's
//! prediction heads ([`super::heads`]).
//!
//! - Self-attention over the queries: queries and keys are `query +
//!   query_pe`, values `query`; the additive `attention_mask` `[Qt, Qt]`
//!   (when given) keeps the denoising groups apart.
//! - Cross-attention over the memory `[bev_tokens; image_tokens]`: queries
//!   `query + query_pe`, keys `memory + memory_pe`, values `memory`.
//! - FFN `dim → ffn → dim` with ReLU. Residual + LayerNorm after each.
//!
//! The first layer starts from zero queries (the official `target`).
//! Dropout (0.1 in the official training) is left out.
//!
//! Tensors: consumes `query` (absent at layer 0); reads `query_pe`,
//! `memory`, `memory_pe`, `reference`, `attention_mask`, passing them on;
//! writes `query` `[B, Qt, C]` and `class.{l}`, `box.{l}` (earlier layers'
//! outputs pass through, so the last layer holds all of them).

use cairn_train::Result as TrainResult;
use cairn_train::model::{Init, Layer, LayerCtx, LayerOutput, ParamSpec, TensorMap, input};
use cairn_train::models::{layer_norm, softmax_last};
use candle_core::Tensor;

use super::CmtConfig;
use super::heads;
use super::model::{bad_weights, linear, pass_through};

/// Weights of one multi-head attention: `wq, bq, wk, bk, wv, bv, wo, bo`.
const ATTENTION_WEIGHTS: usize = 8;

/// Multi-head attention: `q_in` `[B, Lq, C]`, `k_in`, `v_in` `[B, Lk, C]`,
/// an optional additive mask `[Lq, Lk]` → `[B, Lq, C]`. One head at a time
/// (bounds the score tensor to `B × Lq × Lk`).
pub fn attention(
    q_in: &Tensor,
    k_in: &Tensor,
    v_in: &Tensor,
    w: &[Tensor],
    heads: usize,
    mask: Option<&Tensor>,
) -> TrainResult<Tensor> {
    let (b, lq, c) = q_in.dims3()?;
    let lk = k_in.dim(1)?;
    let hd = c / heads;
    let split = |x: Tensor, len: usize| -> TrainResult<Tensor> {
        Ok(x.reshape((b, len, heads, hd))?.transpose(1, 2)?.contiguous()?) // [B, heads, len, hd]
    };
    let q = split(linear(q_in, &w[0], &w[1])?, lq)?;
    let k = split(linear(k_in, &w[2], &w[3])?, lk)?;
    let v = split(linear(v_in, &w[4], &w[5])?, lk)?;
    let scale = 1.0 / (hd as f64).sqrt();
    let mut contexts = Vec::with_capacity(heads);
    for h in 0..heads {
        let (qh, kh, vh) =
            (q.narrow(1, h, 1)?.squeeze(1)?, k.narrow(1, h, 1)?.squeeze(1)?, v.narrow(1, h, 1)?.squeeze(1)?);
        let mut scores = (qh.matmul(&kh.t()?)? * scale)?; // [B, Lq, Lk]
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        contexts.push(softmax_last(&scores)?.matmul(&vh)?); // [B, Lq, hd]
    }
    let context = Tensor::cat(&contexts, 2)?; // [B, Lq, C], heads in order
    linear(&context, &w[6], &w[7])
}

/// One post-norm decoder layer and its heads.
#[derive(Debug, Clone)]
pub struct DecoderLayer {
    index: usize,
    config: CmtConfig,
}

impl DecoderLayer {
    /// Decoder layer `index` of a configuration.
    pub fn new(config: &CmtConfig, index: usize) -> Self {
        DecoderLayer { index, config: config.clone() }
    }

    fn attention_specs(prefix: &str, dim: usize) -> Vec<ParamSpec> {
        let std = (1.0 / dim as f32).sqrt();
        ["q", "k", "v", "o"]
            .iter()
            .flat_map(|p| {
                [
                    ParamSpec::new(&format!("{prefix}.w{p}"), &[dim, dim], Init::Normal(std)),
                    ParamSpec::new(&format!("{prefix}.b{p}"), &[dim], Init::Zeros),
                ]
            })
            .collect()
    }

    /// The layer's own parameters (before the heads').
    fn layer_params(&self) -> Vec<ParamSpec> {
        let (dim, ffn) = (self.config.decoder.dim, self.config.decoder.ffn);
        let norm = |name: &str| {
            [
                ParamSpec::new(&format!("{name}.gain"), &[dim], Init::Ones),
                ParamSpec::new(&format!("{name}.bias"), &[dim], Init::Zeros),
            ]
        };
        let mut specs = Self::attention_specs("self", dim);
        specs.extend(norm("ln1"));
        specs.extend(Self::attention_specs("cross", dim));
        specs.extend(norm("ln2"));
        specs.push(ParamSpec::new("ffn.w1", &[dim, ffn], Init::Normal((2.0 / dim as f32).sqrt())));
        specs.push(ParamSpec::new("ffn.b1", &[ffn], Init::Zeros));
        specs.push(ParamSpec::new("ffn.w2", &[ffn, dim], Init::Normal((1.0 / ffn as f32).sqrt())));
        specs.push(ParamSpec::new("ffn.b2", &[dim], Init::Zeros));
        specs.extend(norm("ln3"));
        specs
    }

    /// The decoder layer proper: queries `[B, Qt, C]` → `[B, Qt, C]`.
    fn decode(&self, w: &[Tensor], query: &Tensor, inputs: &TensorMap) -> TrainResult<Tensor> {
        let heads = self.config.decoder.heads;
        let (query_pe, memory, memory_pe) =
            (input(inputs, "query_pe")?, input(inputs, "memory")?, input(inputs, "memory_pe")?);
        let mask = inputs.get("attention_mask").map(|m| m.to_dtype(query.dtype())).transpose()?;
        let a = ATTENTION_WEIGHTS;
        // Self-attention (queries and keys carry the query PE, values not).
        let positioned = (query + query_pe)?;
        let attended = attention(&positioned, &positioned, query, &w[..a], heads, mask.as_ref())?;
        let x = layer_norm(&(query + attended)?, &w[a], &w[a + 1])?;
        // Cross-attention over [BEV; image] tokens, keys with their PE.
        let keys = (memory + memory_pe)?;
        let attended = attention(&(&x + query_pe)?, &keys, memory, &w[a + 2..2 * a + 2], heads, None)?;
        let x = layer_norm(&(x + attended)?, &w[2 * a + 2], &w[2 * a + 3])?;
        // Feed-forward.
        let f = 2 * a + 4;
        let hidden = linear(&x, &w[f], &w[f + 1])?.relu()?; // [B, Qt, ffn]
        let x = (&x + linear(&hidden, &w[f + 2], &w[f + 3])?)?;
        layer_norm(&x, &w[f + 4], &w[f + 5])
    }
}

impl Layer for DecoderLayer {
    fn kind(&self) -> &str {
        "cmt-decoder"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let mut specs = self.layer_params();
        specs.extend(heads::params(&self.config).into_iter().map(|mut spec| {
            spec.name = format!("head.{}", spec.name);
            spec
        }));
        specs
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let own = self.layer_params().len();
        if weights.len() != own + heads::params(&self.config).len() {
            return Err(bad_weights("cmt decoder layer", self.params().len(), weights.len()));
        }
        let query_pe = input(inputs, "query_pe")?; // [B, Qt, C]
        let query = match inputs.get("query") {
            Some(query) => query.clone(),
            None => query_pe.zeros_like()?,
        };
        let query = self.decode(&weights[..own], &query, inputs)?;
        let (logits, code) = heads::forward(&self.config, &weights[own..], &query, input(inputs, "reference")?)?;
        let mut outputs = pass_through(inputs, &["query"]);
        outputs.insert(format!("class.{}", self.index), logits);
        outputs.insert(format!("box.{}", self.index), code);
        outputs.insert("query".into(), query);
        Ok(LayerOutput { outputs, aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        let shape = |name: &str| inputs.get(name).and_then(|t| t.dims3().ok()).unwrap_or((0, 0, 0));
        let ((b, qt, dim), (_, tokens, _)) = (shape("query_pe"), shape("memory"));
        let (b, qt, dim, tokens, ffn) =
            (b as u64, qt as u64, dim as u64, tokens as u64, self.config.decoder.ffn as u64);
        // Projections (q, k, v, context) of both attentions, the FFN hidden
        // units, and three score tensors of one head over the memory.
        4 * b * (8 * qt * dim + 3 * tokens * dim + qt * ffn + 3 * qt * tokens)
    }
}

/// The decoder layers, first to last.
pub fn layers(config: &CmtConfig) -> Vec<Box<dyn Layer>> {
    (0..config.decoder.layers).map(|l| Box::new(DecoderLayer::new(config, l)) as Box<dyn Layer>).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cmt::model::tests::{ring_inputs, small_network};
    use candle_core::{DType, Device};

    #[test]
    fn attention_ignores_masked_keys() {
        let cpu = &Device::Cpu;
        let (c, heads) = (8, 2);
        let w: Vec<Tensor> = (0..8)
            .map(|i| if i % 2 == 0 { Tensor::randn(0f32, 0.5, (c, c), cpu) } else { Tensor::randn(0f32, 0.1, c, cpu) })
            .collect::<candle_core::Result<_>>()
            .unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 4, c), cpu).unwrap();
        // Query 0 may not see keys 2 and 3.
        let mut mask = vec![0f32; 16];
        mask[2] = -1e9;
        mask[3] = -1e9;
        let mask = Tensor::from_vec(mask, (4, 4), cpu).unwrap();
        let changed =
            Tensor::cat(&[x.narrow(1, 0, 2).unwrap(), Tensor::randn(0f32, 1.0, (1, 2, c), cpu).unwrap()], 1).unwrap();
        let row = |keys: &Tensor, q: usize| {
            let y = attention(&x, keys, keys, &w, heads, Some(&mask)).unwrap();
            y.narrow(1, q, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert_eq!(row(&x, 0), row(&changed, 0), "masked keys do not reach query 0");
        assert_ne!(row(&x, 1), row(&changed, 1), "query 1 sees them");
    }

    #[test]
    fn anchor_queries_do_not_see_masked_denoising_queries() {
        let net = small_network();
        let config = net.config().clone();
        let (dn, q) = (4, config.decoder.queries);
        let qt = dn + q;
        // The official mask: anchor queries may not see the denoising ones.
        let mut mask = vec![0f32; qt * qt];
        for row in dn..qt {
            mask[row * qt..row * qt + dn].fill(-1e9);
        }
        let mask = Tensor::from_vec(mask, (qt, qt), &Device::Cpu).unwrap();
        let run = |dn_anchors: Tensor, mask: &Tensor| {
            let mut inputs = ring_inputs(&config, 1, dn);
            inputs.insert("images".into(), Tensor::ones(inputs["images"].dims(), DType::F32, &Device::Cpu).unwrap());
            inputs.insert("denoise_anchors".into(), dn_anchors);
            inputs.insert("attention_mask".into(), mask.clone());
            let out = net.forward(inputs).unwrap();
            let last = format!("class.{}", config.decoder.layers - 1);
            out[&last].narrow(1, dn, q).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        let (a, b) = (
            Tensor::full(0.3f32, (1, dn, 3), &Device::Cpu).unwrap(),
            Tensor::full(0.7f32, (1, dn, 3), &Device::Cpu).unwrap(),
        );
        let differ = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(differ(&run(a.clone(), &mask), &run(b.clone(), &mask)) < 1e-6, "masked: anchor outputs unchanged");
        let open = mask.zeros_like().unwrap();
        assert!(differ(&run(a, &open), &run(b, &open)) > 1e-4, "unmasked: the denoising queries reach them");
    }
}
