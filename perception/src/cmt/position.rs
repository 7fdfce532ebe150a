//! CMT's coordinate-guided position encodings (paper §3.3, "CMT: position
//! encodings"; official `_rv_pe`, `pos2embed`, `query_embed`):
//! - image PE: each image token's pixel centre lifted at `depth_bins` depths
//!   `d_k = depth_start + k·(depth_max − depth_start)/depth_bins` through
//!   `img2lidar` (the homogeneous pixel `(u·d, v·d, d, 1)`), normalised by the
//!   point-cloud range, flattened (3·bins) → MLP (`image_hidden`) → `dim`.
//!   The official code takes the token's top-left pixel; we take its centre.
//!   It applies no inverse sigmoid here (PETR does), and neither do we.
//! - BEV PE: the official `pos2embed` (sine/cosine of `2π·x / (1 + i/F)`,
//!   `F = bev_frequencies` per axis, `[y; x]`) of the normalised BEV cell
//!   centres → MLP `4F → dim → dim`.
//! - query PE: BEV PE MLP of the anchor's xy + Σ over the views that see the
//!   anchor (in front, inside the image, camera present) of the image PE MLP
//!   of the anchor projected into the view and lifted along the depth bins.
//!
//! One layer, since the MLPs are shared between tokens and queries. It owns
//! the learnable anchors `[Q, 3]` in `[0, 1]³`, stored as an offset from a
//! fixed uniform draw (`anchors.delta`, zero at start: the same optimisation
//! as the official uniform-initialised embedding, as cairn-train
//! initialises with zeros, ones or normals only), and prepends the
//! `denoise_anchors` (Dn first). A missing camera's image tokens and a
//! point-less sample's BEV tokens (`pillar_valid` all 0) are zeroed here,
//! their position encodings kept (the official masked-modal training). It consumes `image_tokens`, `bev_tokens`,
//! the camera matrices, `image_valid` and `denoise_anchors`; it writes
//! `memory` `[B, Tb + Ti, C]` (`[bev_tokens; image_tokens]`), `memory_pe`
//! (their PEs), `query_pe` `[B, Qt, C]` and `reference` `[B, Qt, 3]`.

use std::f64::consts::PI;

use cairn_train::Result as TrainResult;
use cairn_train::model::{Init, Layer, LayerCtx, LayerOutput, ParamSpec, TensorMap, input};
use candle_core::{D, Tensor};

use super::CmtConfig;
use super::lifting::{image_token_points, query_points};
use super::model::{bad_weights, linear, pass_through};

/// The seed of the fixed uniform anchor draw (part of the architecture:
/// weights store offsets from it).
const ANCHOR_SEED: u64 = 0xC377_A9C4;

/// The fixed uniform draw in `[0, 1)³` the learnable anchors start from.
pub fn anchor_base(queries: usize) -> Vec<f32> {
    cairn_train::host::uniform(queries * 3, ANCHOR_SEED)
}

/// The official `pos2embed`: `pos` `[.., 2]` in `[0, 1]` → `[.., 4F]`,
/// `[y; x]`, each `(sin, cos)` of `2π·p / (1 + i/F)` for `i` in `0..F`,
/// interleaved.
pub fn pos2embed(pos: &Tensor, frequencies: usize) -> TrainResult<Tensor> {
    let (dtype, device) = (pos.dtype(), pos.device());
    let scale: Vec<f64> = (0..frequencies).map(|i| 2.0 * PI / (1.0 + i as f64 / frequencies as f64)).collect();
    let scale = Tensor::new(scale.as_slice(), device)?.to_dtype(dtype)?; // [F]
    let axis = |i: usize| -> TrainResult<Tensor> {
        let angles = pos.narrow(D::Minus1, i, 1)?.broadcast_mul(&scale)?; // [.., F]
        let pairs = Tensor::stack(&[angles.sin()?, angles.cos()?], D::Minus1)?; // [.., F, 2]
        Ok(pairs.flatten_from(pairs.rank() - 2)?) // [.., 2F]
    };
    Ok(Tensor::cat(&[axis(1)?, axis(0)?], D::Minus1)?)
}

/// Normalised BEV token centres `[Tb, 2]` (x, y), row-major over rows (y).
pub fn bev_centres(config: &CmtConfig) -> Vec<f32> {
    let [columns, rows] = config.bev_grid();
    let centre = |i: usize, n: usize| ((i as f64 + 0.5) / n as f64) as f32;
    (0..rows).flat_map(|r| (0..columns).flat_map(move |c| [centre(c, columns), centre(r, rows)])).collect()
}

/// The image tokens `[B, N·T, C]` with a missing camera's tokens zeroed,
/// and the BEV tokens (when the LiDAR branch ran) zeroed for a sample
/// without pillars — the official masked-modal training zeroes the
/// dropped modality's features and keeps their position encodings.
fn present_tokens(inputs: &TensorMap) -> TrainResult<(Tensor, Option<Tensor>)> {
    let image_tokens = input(inputs, "image_tokens")?; // [B, N·T, C]
    let (b, tokens, c) = image_tokens.dims3()?;
    let valid = input(inputs, "image_valid")?.to_dtype(image_tokens.dtype())?; // [B, N]
    let n = valid.dim(1)?;
    let per_camera = image_tokens.reshape((b, n, tokens / n.max(1), c))?;
    let image_tokens = per_camera.broadcast_mul(&valid.reshape((b, n, 1, 1))?)?.reshape((b, tokens, c))?;
    let bev_tokens = match (inputs.get("bev_tokens"), inputs.get("pillar_valid")) {
        (Some(bev), Some(pillars)) => {
            let present = pillars.to_dtype(bev.dtype())?.max_keepdim(1)?.unsqueeze(2)?; // [B, 1, 1]
            Some(bev.broadcast_mul(&present)?)
        }
        (bev, _) => bev.cloned(),
    };
    Ok((image_tokens, bev_tokens))
}

/// The position-encoding layer (see the module doc).
#[derive(Debug, Clone)]
pub struct PositionLayer {
    config: CmtConfig,
}

impl PositionLayer {
    /// The layer for a configuration.
    pub fn new(config: &CmtConfig) -> Self {
        PositionLayer { config: config.clone() }
    }

    /// Two-layer MLP with a ReLU between.
    fn mlp(x: &Tensor, w: &[Tensor]) -> TrainResult<Tensor> {
        linear(&linear(x, &w[0], &w[1])?.relu()?, &w[2], &w[3])
    }

    /// The anchors `[B, Qt, 3]`: denoising anchors first, then the learnable.
    fn anchors(&self, delta: &Tensor, inputs: &TensorMap, b: usize) -> TrainResult<Tensor> {
        let q = self.config.decoder.queries;
        let base = Tensor::from_vec(anchor_base(q), (q, 3), delta.device())?.to_dtype(delta.dtype())?;
        let learnable = (base + delta)?.unsqueeze(0)?.broadcast_as((b, q, 3))?;
        match inputs.get("denoise_anchors") {
            Some(dn) if dn.dim(1)? > 0 => {
                Ok(Tensor::cat(&[&dn.to_dtype(delta.dtype())?, &learnable.contiguous()?], 1)?)
            }
            _ => Ok(learnable.contiguous()?),
        }
    }

    /// Image PE `[B, N·T, C]` of the image tokens.
    fn image_pe(&self, img2lidar: &Tensor, mlp: &[Tensor]) -> TrainResult<Tensor> {
        let points = image_token_points(&self.config, img2lidar)?; // [B, N, T, bins, 3]
        let (b, n, t, bins, _) = points.dims5()?;
        Self::mlp(&points.reshape((b, n * t, bins * 3))?, mlp)
    }

    /// Query PE `[B, Qt, C]`, of the anchors clamped to `[0, 1]` (the
    /// official `inverse_sigmoid(x).sigmoid()`, which clamps).
    fn query_pe(&self, anchors: &Tensor, inputs: &TensorMap, image: &[Tensor], bev: &[Tensor]) -> TrainResult<Tensor> {
        let anchors = &anchors.clamp(0.0, 1.0)?;
        let bev_pe = Self::mlp(&pos2embed(&anchors.narrow(2, 0, 2)?, self.config.position.bev_frequencies)?, bev)?;
        let (lidar2img, img2lidar) = (input(inputs, "lidar2img")?, input(inputs, "img2lidar")?);
        let (points, visible) = query_points(&self.config, anchors, lidar2img, img2lidar)?;
        let (b, n, qt, bins, _) = points.dims5()?;
        let valid = input(inputs, "image_valid")?.to_dtype(anchors.dtype())?.reshape((b, n, 1))?;
        let mask = visible.broadcast_mul(&valid)?.unsqueeze(3)?; // [B, N, Qt, 1]
        let image_pe = Self::mlp(&points.reshape((b, n, qt, bins * 3))?, image)?; // [B, N, Qt, C]
        Ok((bev_pe + image_pe.broadcast_mul(&mask)?.sum(1)?)?)
    }
}

impl Layer for PositionLayer {
    fn kind(&self) -> &str {
        "cmt-position"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let p = &self.config.position;
        let dim = self.config.decoder.dim;
        let (bins3, hidden, f4) = (3 * p.depth_bins, p.image_hidden, 4 * p.bev_frequencies);
        let he = |fan_in: usize| Init::Normal((2.0 / fan_in as f32).sqrt());
        let plain = |fan_in: usize| Init::Normal((1.0 / fan_in as f32).sqrt());
        vec![
            ParamSpec::new("anchors.delta", &[self.config.decoder.queries, 3], Init::Zeros),
            ParamSpec::new("image_pe.w1", &[bins3, hidden], he(bins3)),
            ParamSpec::new("image_pe.b1", &[hidden], Init::Zeros),
            ParamSpec::new("image_pe.w2", &[hidden, dim], plain(hidden)),
            ParamSpec::new("image_pe.b2", &[dim], Init::Zeros),
            ParamSpec::new("bev_pe.w1", &[f4, dim], he(f4)),
            ParamSpec::new("bev_pe.b1", &[dim], Init::Zeros),
            ParamSpec::new("bev_pe.w2", &[dim, dim], plain(dim)),
            ParamSpec::new("bev_pe.b2", &[dim], Init::Zeros),
        ]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        if weights.len() != 9 {
            return Err(bad_weights("cmt position", 9, weights.len()));
        }
        let (delta, image, bev) = (&weights[0], &weights[1..5], &weights[5..9]);
        let (image_tokens, bev_tokens) = present_tokens(inputs)?;
        let b = image_tokens.dim(0)?;
        let anchors = self.anchors(delta, inputs, b)?; // [B, Qt, 3]
        let image_pe = self.image_pe(&input(inputs, "img2lidar")?.to_dtype(delta.dtype())?, image)?;
        let (memory, memory_pe) = match &bev_tokens {
            Some(bev_tokens) => {
                let tb = bev_tokens.dim(1)?;
                let centres = Tensor::from_vec(bev_centres(&self.config), (tb, 2), delta.device())?;
                let bev_pe = Self::mlp(
                    &pos2embed(&centres.to_dtype(delta.dtype())?, self.config.position.bev_frequencies)?,
                    bev,
                )?;
                let bev_pe = bev_pe.unsqueeze(0)?.broadcast_as((b, tb, bev_pe.dim(1)?))?.contiguous()?;
                (Tensor::cat(&[bev_tokens, &image_tokens], 1)?, Tensor::cat(&[&bev_pe, &image_pe], 1)?)
            }
            None => (image_tokens, image_pe),
        };
        let query_pe = self.query_pe(&anchors, inputs, image, bev)?;
        let consumed =
            ["image_tokens", "bev_tokens", "pillar_valid", "lidar2img", "img2lidar", "image_valid", "denoise_anchors"];
        let mut outputs = pass_through(inputs, &consumed);
        outputs.insert("memory".into(), memory);
        outputs.insert("memory_pe".into(), memory_pe);
        outputs.insert("query_pe".into(), query_pe);
        outputs.insert("reference".into(), anchors);
        Ok(LayerOutput { outputs, aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // Lifted points (4 per bin, twice) and the MLP's hidden units (twice)
        // for every image token and every (view, query) pair, and the BEV
        // MLP over the BEV tokens and the queries.
        let p = &self.config.position;
        let (bins, hidden, dim) = (p.depth_bins as u64, p.image_hidden as u64, self.config.decoder.dim as u64);
        let tokens = inputs.get("image_tokens").and_then(|x| x.dims3().ok()).map_or(0, |(b, t, _)| (b * t) as u64);
        let b = inputs.get("image_tokens").and_then(|x| x.dim(0).ok()).unwrap_or(0) as u64;
        let dn = inputs.get("denoise_anchors").and_then(|x| x.dim(1).ok()).unwrap_or(0);
        let qt = b * (dn + self.config.decoder.queries) as u64;
        let views = self.config.image.cameras as u64;
        let bev = inputs.get("bev_tokens").and_then(|x| x.dims3().ok()).map_or(0, |(b, t, _)| (b * t) as u64);
        let per_lift = 8 * bins + 2 * hidden + dim;
        4 * (tokens * per_lift + qt * views * per_lift + (bev + qt) * (4 * p.bev_frequencies as u64 + 3 * dim))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn pos2embed_matches_hand_values() {
        let pos = Tensor::new(&[[0.25f64, 0.5]], &Device::Cpu).unwrap();
        let e = pos2embed(&pos, 2).unwrap().to_vec2::<f64>().unwrap()[0].clone();
        let tau = 2.0 * PI;
        let expected = [
            (0.5 * tau).sin(),
            (0.5 * tau).cos(),
            (0.5 * tau / 1.5).sin(),
            (0.5 * tau / 1.5).cos(),
            (0.25 * tau).sin(),
            (0.25 * tau).cos(),
            (0.25 * tau / 1.5).sin(),
            (0.25 * tau / 1.5).cos(),
        ];
        for (a, b) in e.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{e:?}");
        }
    }

    #[test]
    fn a_missing_camera_zeroes_its_tokens_and_a_pointless_sample_its_bev_tokens() {
        let cpu = &Device::Cpu;
        let image_tokens = Tensor::ones((1, 4, 2), DType::F32, cpu).unwrap(); // 2 cameras × 2 tokens
        let inputs = TensorMap::from([
            ("image_tokens".to_string(), image_tokens),
            ("image_valid".to_string(), Tensor::new(&[[1f32, 0.0]], cpu).unwrap()),
            ("bev_tokens".to_string(), Tensor::ones((1, 3, 2), DType::F32, cpu).unwrap()),
            ("pillar_valid".to_string(), Tensor::zeros((1, 5), DType::F32, cpu).unwrap()),
        ]);
        let (image, bev) = present_tokens(&inputs).unwrap();
        assert_eq!(
            image.sum_keepdim(2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            [2.0, 2.0, 0.0, 0.0]
        );
        assert_eq!(bev.unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn an_anchor_beyond_the_range_gets_the_query_pe_of_its_clamp() {
        let config = CmtConfig::small();
        let layer = PositionLayer::new(&config);
        let weights: Vec<Tensor> = crate::cmt::model::init_weights(&config, 9)
            .remove(crate::cmt::lidar::layers(&config).len() + crate::cmt::backbone::layers(&config).len())
            .iter()
            .map(|w| w.to_tensor().unwrap())
            .collect();
        let base = anchor_base(config.decoder.queries);
        let mut inputs = crate::cmt::model::tests::ring_inputs(&config, 1, 0);
        let [columns, rows] = config.image_grid();
        let tokens = (1, 6 * columns * rows, config.decoder.dim);
        inputs.insert("image_tokens".into(), Tensor::zeros(tokens, DType::F32, &Device::Cpu).unwrap());
        let query_pe_of_first = |target: [f32; 3]| {
            let mut delta = vec![0f32; 3 * config.decoder.queries];
            for i in 0..3 {
                delta[i] = target[i] - base[i];
            }
            let mut w = weights.clone();
            w[0] = Tensor::from_vec(delta, (config.decoder.queries, 3), &Device::Cpu).unwrap();
            let ctx = LayerCtx { step: 0, microbatch: 0, layer: 0 };
            let out = layer.forward(&w, &inputs, ctx).unwrap().outputs;
            out["query_pe"].narrow(1, 0, 1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
        };
        assert_eq!(query_pe_of_first([1.7, 0.5, -0.3]), query_pe_of_first([1.0, 0.5, 0.0]));
        assert_ne!(query_pe_of_first([0.9, 0.5, 0.1]), query_pe_of_first([1.0, 0.5, 0.0]));
    }
}
