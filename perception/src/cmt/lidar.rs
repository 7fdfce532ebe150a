//! CMT's LiDAR tokens: the pillar feature net (PointPillars: a shared
//! linear layer, LayerNorm and ReLU per point, max-pooled over the pillar),
//! the scatter of pillar features onto the dense BEV grid, a 2D BEV backbone
//! (a stage at the pillar resolution, then one stride-2 stage per factor of 2
//! of `lidar.bev_stride`, each conv → GroupNorm → ReLU twice) and a 1×1
//! projection to the decoder width: `bev_tokens` `[B, Tb, C]`, row-major over
//! the BEV token grid ([`CmtConfig::bev_grid`]).
//!
//! Deviation from the official CMT, stated: the official BEV map comes from
//! a sparse 3D VoxelNet (spconv, 0.075 m voxels, stride 8); sparse 3D
//! convolution has no Rust implementation, so cairn encodes pillars
//! ([`super::pillars`]) and runs this dense 2D backbone to the same token
//! stride. Dropped or missing points (`pillar_valid` all 0) give an empty
//! canvas, and the tokens then carry only what the backbone makes of zeros —
//! the official masked-modal behaviour of zeroed features.
//!
//! Each part is one cairn-train [`Layer`], so the swapping trainer can move
//! them separately; every layer passes on the inputs later layers need.

use cairn_train::Result as TrainResult;
use cairn_train::model::{Init, Layer, LayerCtx, LayerOutput, ParamSpec, TensorMap, input};
use candle_core::{DType, Tensor};

use super::CmtConfig;
use super::pillars::POINT_FEATURES;

/// The LiDAR branch's layers, first to last: pillar net + scatter, the BEV
/// stages, the token projection.
pub fn layers(config: &CmtConfig) -> Vec<Box<dyn Layer>> {
    let lidar = &config.lidar;
    let [columns, rows] = config.pillar_grid();
    let mut layers: Vec<Box<dyn Layer>> =
        vec![Box::new(PillarNet { channels: lidar.pillar_channels, grid: [columns, rows] })];
    let mut fan_in = lidar.pillar_channels;
    for (k, &channels) in lidar.bev_channels.iter().enumerate() {
        let stride = if k == 0 { 1 } else { 2 };
        layers.push(Box::new(BevStage { fan_in, channels, stride }));
        fan_in = channels;
    }
    layers.push(Box::new(BevTokens { fan_in, dim: config.decoder.dim }));
    layers
}

/// The inputs the pillar net consumes; everything else passes on
/// (`pillar_valid` too: the position layer zeroes the BEV tokens of a
/// sample without points, the masked-modal behaviour).
const PILLAR_INPUTS: [&str; 3] = ["pillar_points", "pillar_mask", "pillar_cells"];

/// `inputs` without `consumed`, plus `outputs`.
fn pass_on(inputs: &TensorMap, consumed: &[&str], outputs: Vec<(&str, Tensor)>) -> TensorMap {
    let mut map: TensorMap =
        inputs.iter().filter(|(k, _)| !consumed.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    map.extend(outputs.into_iter().map(|(k, v)| (k.to_string(), v)));
    map
}

fn bad_weights(layer: &str, expected: usize, got: usize) -> cairn_train::Error {
    cairn_train::Error::Schedule(format!("{layer}: expected {expected} weights, got {got}"))
}

/// Layer norm over the last dimension with gain and bias.
fn layer_norm(x: &Tensor, gain: &Tensor, bias: &Tensor) -> TrainResult<Tensor> {
    let mean = x.mean_keepdim(candle_core::D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let variance = centred.sqr()?.mean_keepdim(candle_core::D::Minus1)?;
    let normed = centred.broadcast_div(&(variance + 1e-5)?.sqrt()?)?;
    Ok(normed.broadcast_mul(gain)?.broadcast_add(bias)?)
}

/// Group norm of `[B, C, H, W]` with per-channel gain and bias.
pub fn group_norm(x: &Tensor, groups: usize, gain: &Tensor, bias: &Tensor) -> TrainResult<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let grouped = x.reshape((b, groups, (c / groups) * h * w))?; // [B, G, C/G·H·W]
    let normed =
        layer_norm(&grouped, &Tensor::ones(1, x.dtype(), x.device())?, &Tensor::zeros(1, x.dtype(), x.device())?)?;
    let normed = normed.reshape((b, c, h, w))?;
    let per_channel = |t: &Tensor| t.reshape((1, c, 1, 1));
    Ok(normed.broadcast_mul(&per_channel(gain)?)?.broadcast_add(&per_channel(bias)?)?)
}

/// GroupNorm groups for `channels`: 8 when they divide, else fewer.
fn groups_for(channels: usize) -> usize {
    (1..=8).rev().find(|g| channels.is_multiple_of(*g)).unwrap_or(1)
}

/// The pillar feature net and the scatter: `pillar_*` → `bev_canvas`
/// `[B, C, rows, columns]`.
#[derive(Debug, Clone, Copy)]
pub struct PillarNet {
    channels: usize,
    grid: [usize; 2],
}

impl Layer for PillarNet {
    fn kind(&self) -> &str {
        "cmt-pillar-net"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let c = self.channels;
        vec![
            ParamSpec::new("w", &[POINT_FEATURES, c], Init::Normal((2.0 / POINT_FEATURES as f32).sqrt())),
            ParamSpec::new("ln.gain", &[c], Init::Ones),
            ParamSpec::new("ln.bias", &[c], Init::Zeros),
        ]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let [w, gain, bias] = weights else { return Err(bad_weights("cmt pillar net", 3, weights.len())) };
        let points = input(inputs, "pillar_points")?; // [B, P, M, 9]
        let (b, p, m, f) = points.dims4()?;
        let c = self.channels;
        let h = points.reshape((b * p * m, f))?.matmul(w)?; // [B·P·M, C]
        let h = layer_norm(&h, gain, bias)?.relu()?.reshape((b, p, m, c))?;
        // Absent points → 0; after the ReLU every value is ≥ 0, so the max
        // over a pillar's slots is the max over its real points.
        let mask = input(inputs, "pillar_mask")?.reshape((b, p, m, 1))?;
        let pooled = h.broadcast_mul(&mask)?.max(2)?; // [B, P, C]
        let valid = input(inputs, "pillar_valid")?.reshape((b, p, 1))?;
        let pooled = pooled.broadcast_mul(&valid)?; // padding pillars add nothing
        // Scatter: cell indices offset per sample into one [B·rows·cols, C] canvas.
        let [columns, rows] = self.grid;
        let cells_per_sample = (rows * columns) as f64;
        let offsets =
            Tensor::arange(0u32, b as u32, points.device())?.to_dtype(DType::F32)?.affine(cells_per_sample, 0.0)?;
        let cells = input(inputs, "pillar_cells")?.broadcast_add(&offsets.reshape((b, 1))?)?; // [B, P]
        let cells = cells.flatten_all()?.to_dtype(DType::U32)?;
        let canvas = Tensor::zeros((b * rows * columns, c), pooled.dtype(), pooled.device())?;
        let canvas = canvas.index_add(&cells, &pooled.reshape((b * p, c))?, 0)?; // [B·rows·cols, C]
        let canvas = canvas.reshape((b, rows, columns, c))?.permute((0, 3, 1, 2))?.contiguous()?; // [B, C, rows, cols]
        Ok(LayerOutput { outputs: pass_on(inputs, &PILLAR_INPUTS, vec![("bev_canvas", canvas)]), aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        let points = inputs.get("pillar_points").map_or(0, |t| t.elem_count() / POINT_FEATURES) as u64;
        let [columns, rows] = self.grid;
        let samples = inputs.get("pillar_points").map_or(1, |t| t.dims().first().copied().unwrap_or(1)) as u64;
        4 * self.channels as u64 * (3 * points + 2 * samples * (rows * columns) as u64)
    }
}

/// One BEV backbone stage: two 3×3 convolutions (the first with `stride`),
/// each followed by GroupNorm and ReLU; `bev_canvas` in, `bev_canvas` out.
#[derive(Debug, Clone, Copy)]
pub struct BevStage {
    fan_in: usize,
    channels: usize,
    stride: usize,
}

impl Layer for BevStage {
    fn kind(&self) -> &str {
        "cmt-bev-stage"
    }

    fn params(&self) -> Vec<ParamSpec> {
        let (i, c) = (self.fan_in, self.channels);
        let he = |fan_in: usize| Init::Normal((2.0 / (9 * fan_in) as f32).sqrt());
        vec![
            ParamSpec::new("conv1.w", &[c, i, 3, 3], he(i)),
            ParamSpec::new("gn1.gain", &[c], Init::Ones),
            ParamSpec::new("gn1.bias", &[c], Init::Zeros),
            ParamSpec::new("conv2.w", &[c, c, 3, 3], he(c)),
            ParamSpec::new("gn2.gain", &[c], Init::Ones),
            ParamSpec::new("gn2.bias", &[c], Init::Zeros),
        ]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let [w1, g1, b1, w2, g2, b2] = weights else { return Err(bad_weights("cmt bev stage", 6, weights.len())) };
        let x = input(inputs, "bev_canvas")?; // [B, C_in, H, W]
        let groups = groups_for(self.channels);
        let y = group_norm(&x.conv2d(w1, 1, self.stride, 1, 1)?, groups, g1, b1)?.relu()?; // [B, C, H/s, W/s]
        let y = group_norm(&y.conv2d(w2, 1, 1, 1, 1)?, groups, g2, b2)?.relu()?;
        Ok(LayerOutput { outputs: pass_on(inputs, &["bev_canvas"], vec![("bev_canvas", y)]), aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        let cells = inputs.get("bev_canvas").map_or(0, |t| {
            let d = t.dims();
            d.first().copied().unwrap_or(0) * d.iter().skip(2).product::<usize>()
        }) as u64;
        // Four feature maps of the stage's output size (conv, norm, relu ×2).
        4 * 4 * self.channels as u64 * cells / (self.stride * self.stride) as u64
    }
}

/// The 1×1 projection of the last BEV stage to the decoder width, flattened
/// row-major into `bev_tokens` `[B, rows·cols, C]`.
#[derive(Debug, Clone, Copy)]
pub struct BevTokens {
    fan_in: usize,
    dim: usize,
}

impl Layer for BevTokens {
    fn kind(&self) -> &str {
        "cmt-bev-tokens"
    }

    fn params(&self) -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("w", &[self.fan_in, self.dim], Init::Normal((1.0 / self.fan_in as f32).sqrt())),
            ParamSpec::new("b", &[self.dim], Init::Zeros),
        ]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let [w, bias] = weights else { return Err(bad_weights("cmt bev tokens", 2, weights.len())) };
        let x = input(inputs, "bev_canvas")?; // [B, C_in, rows, cols]
        let (b, c, rows, columns) = x.dims4()?;
        let x = x.permute((0, 2, 3, 1))?.reshape((b * rows * columns, c))?; // [B·rows·cols, C_in], row-major cells
        let tokens = x.matmul(w)?.broadcast_add(bias)?.reshape((b, rows * columns, self.dim))?; // [B, Tb, C]
        Ok(LayerOutput { outputs: pass_on(inputs, &["bev_canvas"], vec![("bev_tokens", tokens)]), aux_loss: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmt::pillars::{pillar_inputs, pillarise};
    use cairn_core::cloud::PointCloud;
    use candle_core::{Device, Var};
    use nalgebra::Point3;

    fn tiny() -> CmtConfig {
        let mut config = CmtConfig::small();
        config.point_cloud_range = [-4.8, -4.8, -2.0, 4.8, 4.8, 2.0]; // 16×16 pillars of 0.6 m → 4×4 tokens
        config.lidar.pillar_channels = 4;
        config.lidar.bev_channels = vec![4, 8, 8];
        config.decoder.dim = 8;
        config.decoder.heads = 2;
        config
    }

    fn weights(layers: &[Box<dyn Layer>], seed: u64) -> Vec<Vec<Tensor>> {
        let init = |(l, layer): (usize, &dyn Layer)| {
            let specs = layer.params();
            specs
                .iter()
                .enumerate()
                .map(|(i, spec)| {
                    let host = match spec.init {
                        Init::Zeros => cairn_train::HostTensor::zeros(&spec.shape),
                        Init::Ones => cairn_train::HostTensor {
                            data: vec![1.0; spec.shape.iter().product()],
                            shape: spec.shape.clone(),
                        },
                        Init::Normal(std) => {
                            cairn_train::HostTensor::normal(&spec.shape, std, seed + (l * 100 + i) as u64)
                        }
                    };
                    host.to_tensor().expect("a tensor")
                })
                .collect()
        };
        layers.iter().map(|layer| layer.as_ref()).enumerate().map(init).collect()
    }

    fn run(layers: &[Box<dyn Layer>], weights: &[Vec<Tensor>], mut map: TensorMap) -> TensorMap {
        for (l, (layer, w)) in layers.iter().zip(weights).enumerate() {
            let ctx = LayerCtx { step: 0, microbatch: 0, layer: l };
            map = layer.forward(w, &map, ctx).expect("forward").outputs;
        }
        map
    }

    fn inputs(config: &CmtConfig, clouds: &[PointCloud]) -> TensorMap {
        let pillars: Vec<_> = clouds.iter().map(|c| pillarise(c, config)).collect();
        let host = pillar_inputs(&pillars, config.lidar.max_points);
        let mut map: TensorMap = host.iter().map(|(k, v)| (k.clone(), v.to_tensor().expect("tensor"))).collect();
        map.insert("passenger".into(), Tensor::new(&[7.0f32], &Device::Cpu).expect("tensor"));
        map
    }

    fn cloud(points: &[[f32; 3]]) -> PointCloud {
        let mut cloud = PointCloud::with_capacity(points.len());
        points.iter().for_each(|p| cloud.push(Point3::new(p[0], p[1], p[2])));
        cloud
    }

    #[test]
    fn tokens_have_the_grid_shape_and_other_inputs_pass_through() {
        let config = tiny();
        config.validate().expect("valid");
        let layers = layers(&config);
        let w = weights(&layers, 1);
        let out = run(&layers, &w, inputs(&config, &[cloud(&[[1.0, 1.0, 0.0]]), cloud(&[])]));
        assert_eq!(out["bev_tokens"].dims(), &[2, 16, 8]);
        assert!(out.contains_key("passenger"));
        assert!(!out.contains_key("pillar_points") && !out.contains_key("bev_canvas"));
        assert!(out.contains_key("pillar_valid"), "the position layer needs it");
    }

    #[test]
    fn a_pillar_lands_in_its_cell_of_the_canvas() {
        let config = tiny();
        let layers = layers(&config);
        let w = weights(&layers, 2);
        // (1.0, −2.0): column (1.0 + 4.8)/0.6 = 9, row (−2.0 + 4.8)/0.6 = 4.
        let out = layers[0]
            .forward(
                &w[0],
                &inputs(&config, &[cloud(&[[1.0, -2.0, 0.5], [1.1, -1.9, 0.0]])]),
                LayerCtx { step: 0, microbatch: 0, layer: 0 },
            )
            .expect("forward")
            .outputs;
        let canvas = out["bev_canvas"].to_dtype(DType::F32).expect("f32"); // [1, C, 16, 16]
        let energy =
            canvas.sqr().expect("sq").sum(1).expect("sum").flatten_all().expect("flat").to_vec1::<f32>().expect("vec");
        let lit: Vec<usize> = (0..energy.len()).filter(|&i| energy[i] > 0.0).collect();
        assert_eq!(lit, vec![4 * 16 + 9]);
    }

    #[test]
    fn a_sample_does_not_see_its_neighbour_in_the_batch() {
        let config = tiny();
        let layers = layers(&config);
        let w = weights(&layers, 3);
        let a = cloud(&[[1.0, 1.0, 0.0], [-3.0, 2.0, 1.0]]);
        let alone = run(&layers, &w, inputs(&config, std::slice::from_ref(&a)));
        let paired = run(&layers, &w, inputs(&config, &[a, cloud(&[[2.0, -2.0, 0.0]; 5])]));
        let first = paired["bev_tokens"].get(0).expect("sample 0");
        let diff = (first - alone["bev_tokens"].get(0).expect("sample 0")).expect("sub").abs().expect("abs");
        assert!(diff.max_all().expect("max").to_scalar::<f32>().expect("scalar") < 1e-5);
    }

    #[test]
    fn gradients_reach_the_pillar_net_through_the_scatter() {
        let config = tiny();
        let layers = layers(&config);
        let w = weights(&layers, 4);
        let vars: Vec<Vec<Var>> =
            w.iter().map(|ws| ws.iter().map(|t| Var::from_tensor(t).expect("var")).collect()).collect();
        let mut map = inputs(&config, &[cloud(&[[1.0, 1.0, 0.0], [1.2, 1.1, 0.3]])]);
        for (l, (layer, ws)) in layers.iter().zip(&vars).enumerate() {
            let ws: Vec<Tensor> = ws.iter().map(|v| v.as_tensor().clone()).collect();
            map = layer.forward(&ws, &map, LayerCtx { step: 0, microbatch: 0, layer: l }).expect("forward").outputs;
        }
        let grads = map["bev_tokens"].sqr().expect("sq").sum_all().expect("sum").backward().expect("backward");
        let g = grads.get(vars[0][0].as_tensor()).expect("pillar net weight has a gradient");
        assert!(g.abs().expect("abs").sum_all().expect("sum").to_scalar::<f32>().expect("scalar") > 0.0);
    }
}
