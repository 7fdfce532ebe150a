//! CMT's image branch (paper §3.2 "image tokens"; the official code uses a
//! VoVNet/ResNet backbone and a CP-FPN to stride 16): a ResNet-style
//! backbone — a 7×7 stride-2 stem and a 2×2 max-pool (stride 4), then
//! `image.blocks[k]` basic residual blocks per stage, stage `k` at stride
//! 4·2^k with `image.width`·2^k channels — and an FPN down to the token
//! stride (lateral 1×1 convolutions, nearest-neighbour top-down upsampling,
//! a 3×3 output convolution), then a 1×1 projection to `decoder.dim`.
//! GroupNorm instead of BatchNorm (the layers are pure functions).
//!
//! Layers and tensors: the stem consumes `images` `[B, N, 3, H, W]` and
//! writes `image.features` `[B·N, c, H/4, W/4]`; each stage replaces
//! `image.features` and, at strides ≥ `image.stride`, keeps its output as
//! `image.level.{k}` for the FPN; the FPN consumes the levels and writes
//! `image_tokens` `[B, N·h·w, C]` (camera-major, row-major per camera).

use cairn_train::Result as TrainResult;
use cairn_train::model::{Init, Layer, LayerCtx, LayerOutput, ParamSpec, TensorMap, input};
use candle_core::Tensor;

use super::CmtConfig;
use super::model::{bad_weights, pass_through};

/// The stride of the stem's output (stage 0).
const STEM_STRIDE: usize = 4;

/// GroupNorm over `[n, c, h, w]` with at most 32 groups (the largest
/// divisor of `c` up to 32).
pub fn group_norm(x: &Tensor, gain: &Tensor, bias: &Tensor) -> TrainResult<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let groups = (1..=32.min(c)).rev().find(|g| c.is_multiple_of(*g)).unwrap_or(1);
    let grouped = x.reshape((n, groups, (c / groups) * h * w))?; // [n, groups, c/groups·h·w]
    let centred = grouped.broadcast_sub(&grouped.mean_keepdim(2)?)?;
    let var = centred.sqr()?.mean_keepdim(2)?;
    let normed = centred.broadcast_div(&(var + 1e-5)?.sqrt()?)?.reshape((n, c, h, w))?;
    Ok(normed.broadcast_mul(&gain.reshape((1, c, 1, 1))?)?.broadcast_add(&bias.reshape((1, c, 1, 1))?)?)
}

/// A convolution's weight `[out, in, k, k]` (He initialisation).
fn conv_spec(name: &str, fan_out: usize, fan_in: usize, kernel: usize) -> ParamSpec {
    let std = (2.0 / (fan_in * kernel * kernel) as f32).sqrt();
    ParamSpec::new(name, &[fan_out, fan_in, kernel, kernel], Init::Normal(std))
}

/// A GroupNorm's gain and bias.
fn norm_specs(name: &str, channels: usize) -> [ParamSpec; 2] {
    [
        ParamSpec::new(&format!("{name}.gain"), &[channels], Init::Ones),
        ParamSpec::new(&format!("{name}.bias"), &[channels], Init::Zeros),
    ]
}

/// A convolution with "same" padding for odd kernels.
fn conv(x: &Tensor, w: &Tensor, stride: usize) -> TrainResult<Tensor> {
    let kernel = w.dim(3)?;
    Ok(x.conv2d(w, kernel / 2, stride, 1, 1)?)
}

/// The stem: 7×7 stride-2 convolution, GroupNorm, ReLU, 2×2 max-pool.
#[derive(Debug, Clone)]
pub struct StemLayer {
    width: usize,
}

impl Layer for StemLayer {
    fn kind(&self) -> &str {
        "cmt-image-stem"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let [gain, bias] = norm_specs("gn", self.width);
        vec![conv_spec("conv", self.width, 3, 7), gain, bias]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let [w, gain, bias] = weights else { return Err(bad_weights("cmt image stem", 3, weights.len())) };
        let images = input(inputs, "images")?; // [B, N, 3, H, W]
        let (b, n, channels, h, width) = images.dims5()?;
        let x = images.reshape((b * n, channels, h, width))?; // [B·N, 3, H, W]
        let x = group_norm(&conv(&x, w, 2)?, gain, bias)?.relu()?.max_pool2d(2)?; // [B·N, c, H/4, W/4]
        let mut outputs = pass_through(inputs, &["images"]);
        outputs.insert("image.features".into(), x);
        Ok(LayerOutput { outputs, aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // Convolution output, its GroupNorm intermediates (≈4) and the ReLU,
        // at stride 2.
        let pixels = inputs.get("images").map_or(0, |x| x.elem_count() / 3) as u64;
        4 * 6 * pixels / 4 * self.width as u64
    }
}

/// One backbone stage: `blocks` basic residual blocks (two 3×3
/// convolutions with GroupNorm; a strided 1×1 projection on the shortcut
/// of the first when the shape changes).
#[derive(Debug, Clone)]
pub struct StageLayer {
    index: usize,
    blocks: usize,
    fan_in: usize,
    fan_out: usize,
    stride: usize,
    keep: bool,
}

impl StageLayer {
    fn projects(&self) -> bool {
        self.stride != 1 || self.fan_in != self.fan_out
    }

    /// One block; `w` holds its weights in [`Layer::params`] order.
    fn block(&self, x: &Tensor, w: &[Tensor], first: bool) -> TrainResult<Tensor> {
        let stride = if first { self.stride } else { 1 };
        let h = group_norm(&conv(x, &w[0], stride)?, &w[1], &w[2])?.relu()?;
        let h = group_norm(&conv(&h, &w[3], 1)?, &w[4], &w[5])?;
        let shortcut = if first && self.projects() {
            group_norm(&x.conv2d(&w[6], 0, stride, 1, 1)?, &w[7], &w[8])?
        } else {
            x.clone()
        };
        Ok((h + shortcut)?.relu()?)
    }
}

impl Layer for StageLayer {
    fn kind(&self) -> &str {
        "cmt-image-stage"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let mut specs = Vec::new();
        for block in 0..self.blocks {
            let fan_in = if block == 0 { self.fan_in } else { self.fan_out };
            let [g1, b1] = norm_specs(&format!("{block}.gn1"), self.fan_out);
            let [g2, b2] = norm_specs(&format!("{block}.gn2"), self.fan_out);
            specs.extend([conv_spec(&format!("{block}.conv1"), self.fan_out, fan_in, 3), g1, b1]);
            specs.extend([conv_spec(&format!("{block}.conv2"), self.fan_out, self.fan_out, 3), g2, b2]);
            if block == 0 && self.projects() {
                let [g, b] = norm_specs("0.down.gn", self.fan_out);
                specs.extend([conv_spec("0.down.conv", self.fan_out, fan_in, 1), g, b]);
            }
        }
        specs
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let expected = self.params().len();
        if weights.len() != expected {
            return Err(bad_weights("cmt image stage", expected, weights.len()));
        }
        let mut x = input(inputs, "image.features")?.clone(); // [B·N, fan_in, h, w]
        let mut offset = 0;
        for block in 0..self.blocks {
            let count = if block == 0 && self.projects() { 9 } else { 6 };
            x = self.block(&x, &weights[offset..offset + count], block == 0)?; // [B·N, fan_out, h', w']
            offset += count;
        }
        let mut outputs = pass_through(inputs, &["image.features"]);
        if self.keep {
            outputs.insert(format!("image.level.{}", self.index), x.clone());
        }
        outputs.insert("image.features".into(), x);
        Ok(LayerOutput { outputs, aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // Per block two convolutions with their GroupNorm intermediates
        // (≈5 tensors each) and the residual, of the output's size.
        let Some((bn, _, h, w)) = inputs.get("image.features").and_then(|x| x.dims4().ok()) else { return 0 };
        let out = (bn * self.fan_out * (h / self.stride) * (w / self.stride)) as u64;
        4 * self.blocks as u64 * 12 * out
    }
}

/// The FPN down to the token stride and the projection to tokens.
#[derive(Debug, Clone)]
pub struct FpnLayer {
    /// (stage index, channels) of the levels at strides ≥ the token stride,
    /// finest first.
    levels: Vec<(usize, usize)>,
    fpn: usize,
    dim: usize,
    cameras: usize,
}

impl Layer for FpnLayer {
    fn kind(&self) -> &str {
        "cmt-image-fpn"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let mut specs = Vec::new();
        for (k, channels) in &self.levels {
            specs.push(conv_spec(&format!("lateral.{k}.w"), self.fpn, *channels, 1));
            specs.push(ParamSpec::new(&format!("lateral.{k}.b"), &[self.fpn], Init::Zeros));
        }
        specs.push(conv_spec("out.w", self.fpn, self.fpn, 3));
        specs.push(ParamSpec::new("out.b", &[self.fpn], Init::Zeros));
        specs.push(conv_spec("proj.w", self.dim, self.fpn, 1));
        specs.push(ParamSpec::new("proj.b", &[self.dim], Init::Zeros));
        specs
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let expected = 2 * self.levels.len() + 4;
        if weights.len() != expected {
            return Err(bad_weights("cmt image fpn", expected, weights.len()));
        }
        let bias = |x: Tensor, b: &Tensor| -> TrainResult<Tensor> { Ok(x.broadcast_add(&b.reshape((1, (), 1, 1))?)?) };
        // Top-down: the coarsest lateral, upsampled ×2 onto each finer one.
        let mut top: Option<Tensor> = None;
        for (i, (k, _)) in self.levels.iter().enumerate().rev() {
            let level = input(inputs, &format!("image.level.{k}"))?; // [B·N, c_k, h_k, w_k]
            let lateral = bias(level.conv2d(&weights[2 * i], 0, 1, 1, 1)?, &weights[2 * i + 1])?;
            let (_, _, h, w) = lateral.dims4()?;
            top = Some(match top {
                Some(coarse) => (lateral + coarse.upsample_nearest2d(h, w)?)?,
                None => lateral,
            }); // [B·N, fpn, h_k, w_k]
        }
        let Some(fine) = top else { return Err(bad_weights("cmt image fpn (no level)", 1, 0)) };
        let n = 2 * self.levels.len();
        let out = bias(conv(&fine, &weights[n], 1)?, &weights[n + 1])?; // [B·N, fpn, h, w]
        let tokens = bias(out.conv2d(&weights[n + 2], 0, 1, 1, 1)?, &weights[n + 3])?; // [B·N, C, h, w]
        let (bn, c, h, w) = tokens.dims4()?;
        let b = bn / self.cameras.max(1);
        let tokens = tokens.reshape((b, self.cameras, c, h * w))?.transpose(2, 3)?; // [B, N, h·w, C]
        let tokens = tokens.contiguous()?.reshape((b, self.cameras * h * w, c))?; // [B, N·h·w, C]
        let consumed: Vec<String> = ["image.features".to_string()]
            .into_iter()
            .chain(self.levels.iter().map(|(k, _)| format!("image.level.{k}")))
            .collect();
        let consumed: Vec<&str> = consumed.iter().map(String::as_str).collect();
        let mut outputs = pass_through(inputs, &consumed);
        outputs.insert("image_tokens".into(), tokens);
        Ok(LayerOutput { outputs, aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // Laterals and sums per level, the output convolution and the
        // projection's transposed copy.
        let level = |k: usize| inputs.get(&format!("image.level.{k}")).and_then(|x| x.dims4().ok());
        let mut elements = 0u64;
        for (k, _) in &self.levels {
            if let Some((bn, _, h, w)) = level(*k) {
                elements += 3 * (bn * self.fpn * h * w) as u64;
            }
        }
        if let Some((bn, _, h, w)) = self.levels.first().and_then(|(k, _)| level(*k)) {
            elements += (bn * h * w * (self.fpn + 2 * self.dim)) as u64;
        }
        4 * elements
    }
}

/// The image branch's layers: stem, one layer per stage, the FPN. Stage
/// `k` works at stride 4·2^k; the FPN takes the stages at strides ≥
/// `image.stride` (the configuration is validated by [`super::model`]).
pub fn layers(config: &CmtConfig) -> Vec<Box<dyn Layer>> {
    let image = &config.image;
    let mut layers: Vec<Box<dyn Layer>> = vec![Box::new(StemLayer { width: image.width })];
    let mut levels = Vec::new();
    let mut fan_in = image.width;
    for (k, &blocks) in image.blocks.iter().enumerate() {
        let fan_out = image.width << k;
        let keep = STEM_STRIDE << k >= image.stride;
        let stride = if k == 0 { 1 } else { 2 };
        layers.push(Box::new(StageLayer { index: k, blocks: blocks.max(1), fan_in, fan_out, stride, keep }));
        if keep {
            levels.push((k, fan_out));
        }
        fan_in = fan_out;
    }
    let (fpn, dim, cameras) = (image.fpn_channels, config.decoder.dim, image.cameras);
    layers.push(Box::new(FpnLayer { levels, fpn, dim, cameras }));
    layers
}

/// Checks that the stages reach the token stride (stage `k` is at stride
/// 4·2^k) and that the image size divides into the coarsest stage.
pub fn validate(config: &CmtConfig) -> crate::Result<()> {
    let image = &config.image;
    let deepest = STEM_STRIDE << (image.blocks.len() - 1).min(16);
    let reaches = image.stride.is_power_of_two() && image.stride >= STEM_STRIDE && image.stride <= deepest;
    if !reaches || image.size.iter().any(|s| !s.is_multiple_of(deepest)) {
        return Err(crate::Error::Config(format!(
            "cmt.image: the stages reach stride {deepest}; image.stride ({}) must be a power of two in 4..={deepest} \
             and image.size {:?} multiples of {deepest}",
            image.stride, image.size
        )));
    }
    Ok(())
}
