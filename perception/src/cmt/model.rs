//! CMT assembled (paper Fig. 2): the layers in order — LiDAR branch
//! ([`super::lidar`]: pillar net, BEV backbone → `bev_tokens`), image
//! backbone and FPN ([`super::backbone`] → `image_tokens`), position
//! encodings ([`super::position`]), decoder layers with their heads
//! ([`super::decoder`]) — for cairn-train, and [`Cmt`], the same layers run
//! in a plain loop on the CPU for inference (no engine). Without pillar
//! inputs [`Cmt`] skips the LiDAR layers and decodes from the image tokens
//! alone (camera-only inference).
//!
//! `cargo bench -p cairn-perception --bench cmt -- small` runs the small
//! network on the nuScenes sample and prints its per-stage times (on the
//! shared 2-core development machine: ≈0.7 s for one sample, 587 076
//! parameters; `full`, 32 152 068 parameters, takes minutes on that CPU). Weights are per layer in `params` order; their
//! files are [`super::weights`].

use std::time::{Duration, Instant};

use cairn_train::HostTensor;
use cairn_train::host::mix_seed;
use cairn_train::model::{Init, Layer, LayerCtx, TensorMap, input};
use candle_core::Tensor;

use super::{CmtConfig, backbone, decoder, lidar, position};
use crate::{Error, Result};

/// The error of a layer given the wrong number of weights.
pub(crate) fn bad_weights(layer: &str, expected: usize, got: usize) -> cairn_train::Error {
    cairn_train::Error::Schedule(format!("{layer} takes {expected} weights, got {got}"))
}

/// `x · w + b` on the last axis of `x` `[.., in]` (`w` `[in, out]`).
pub(crate) fn linear(x: &Tensor, w: &Tensor, b: &Tensor) -> cairn_train::Result<Tensor> {
    let dims = x.dims().to_vec();
    let fan_in = dims.last().copied().unwrap_or(1);
    let rows = x.elem_count() / fan_in.max(1);
    let y = x.reshape((rows, fan_in))?.matmul(w)?.broadcast_add(b)?; // [rows, out]
    let mut out = dims;
    if let Some(last) = out.last_mut() {
        *last = w.dim(1)?;
    }
    Ok(y.reshape(out)?)
}

/// The inputs a layer passes on: all but `consumed`.
pub(crate) fn pass_through(inputs: &TensorMap, consumed: &[&str]) -> TensorMap {
    inputs.iter().filter(|(name, _)| !consumed.contains(&name.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The network's layers, first to last: LiDAR branch, image branch,
/// position encodings, decoder layers.
pub fn layers(config: &CmtConfig) -> Vec<Box<dyn Layer>> {
    let mut layers = lidar::layers(config);
    layers.extend(backbone::layers(config));
    layers.push(Box::new(position::PositionLayer::new(config)));
    layers.extend(decoder::layers(config));
    layers
}

/// Validates the configuration for this network.
pub fn validate(config: &CmtConfig) -> Result<()> {
    config.validate()?;
    backbone::validate(config)
}

/// Deterministic initial weights per layer (as `cairn_train::Model::init_weights`).
pub fn init_weights(config: &CmtConfig, seed: u64) -> Vec<Vec<HostTensor>> {
    let layer_weights = |(l, layer): (usize, Box<dyn Layer>)| {
        let param = |(i, spec): (usize, cairn_train::model::ParamSpec)| match spec.init {
            Init::Zeros => HostTensor::zeros(&spec.shape),
            Init::Ones => HostTensor { data: vec![1.0; spec.shape.iter().product()], shape: spec.shape },
            Init::Normal(std) => HostTensor::normal(&spec.shape, std, mix_seed(&[seed, l as u64, i as u64])),
        };
        layer.params().into_iter().enumerate().map(param).collect()
    };
    layers(config).into_iter().enumerate().map(layer_weights).collect()
}

/// Learnable parameters of the network.
pub fn parameter_count(config: &CmtConfig) -> usize {
    let count = |layer: &dyn Layer| layer.params().iter().map(|p| p.shape.iter().product::<usize>()).sum::<usize>();
    layers(config).iter().map(|layer| count(layer.as_ref())).sum()
}

/// The network with its weights, ready for inference.
pub struct Cmt {
    config: CmtConfig,
    layers: Vec<Box<dyn Layer>>,
    /// How many of the first layers are the LiDAR branch.
    lidar_layers: usize,
    weights: Vec<Vec<Tensor>>,
}

impl std::fmt::Debug for Cmt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cmt").field("config", &self.config.name).finish_non_exhaustive()
    }
}

impl Cmt {
    /// The network from host weights (per layer, in `params` order),
    /// checked against the configuration's shapes.
    pub fn new(config: CmtConfig, weights: &[Vec<HostTensor>]) -> Result<Self> {
        validate(&config)?;
        let layers = layers(&config);
        if weights.len() != layers.len() {
            return Err(Error::Input(format!("cmt: {} layers but {} weight sets", layers.len(), weights.len())));
        }
        let mut tensors = Vec::with_capacity(layers.len());
        for (l, (layer, given)) in layers.iter().zip(weights).enumerate() {
            let specs = layer.params();
            if specs.len() != given.len() {
                return Err(Error::Input(format!("cmt: layer {l} takes {} weights, got {}", specs.len(), given.len())));
            }
            for (spec, w) in specs.iter().zip(given) {
                if spec.shape != w.shape || w.data.len() != w.shape.iter().product::<usize>() {
                    let (name, got, want) = (&spec.name, &w.shape, &spec.shape);
                    return Err(Error::Input(format!(
                        "cmt: weight {l}.{name} has shape {got:?}, the config needs {want:?}"
                    )));
                }
                if w.data.iter().any(|v| !v.is_finite()) {
                    return Err(Error::Input(format!("cmt: weight {l}.{} has a non-finite value", spec.name)));
                }
            }
            tensors.push(given.iter().map(HostTensor::to_tensor).collect::<cairn_train::Result<Vec<_>>>()?);
        }
        let lidar_layers = lidar::layers(&config).len();
        Ok(Cmt { config, layers, lidar_layers, weights: tensors })
    }

    /// The configuration.
    pub fn config(&self) -> &CmtConfig {
        &self.config
    }

    /// The layers' kinds, first to last.
    pub fn layer_kinds(&self) -> Vec<String> {
        self.layers.iter().map(|layer| layer.kind().to_string()).collect()
    }

    /// The weights as host tensors (per layer).
    pub fn host_weights(&self) -> Result<Vec<Vec<HostTensor>>> {
        let layer = |w: &Vec<Tensor>| w.iter().map(HostTensor::from_tensor).collect::<cairn_train::Result<Vec<_>>>();
        Ok(self.weights.iter().map(layer).collect::<cairn_train::Result<Vec<_>>>()?)
    }

    /// The forward pass: the input map of the tensor contract (mod.rs) →
    /// the last layer's outputs (`class.{l}`, `box.{l}` for every layer).
    /// Without `pillar_points` the LiDAR layers are skipped (camera only).
    pub fn forward(&self, inputs: TensorMap) -> Result<TensorMap> {
        Ok(self.forward_timed(inputs)?.0)
    }

    /// The forward pass with each layer's wall time (kind, time).
    pub fn forward_timed(&self, inputs: TensorMap) -> Result<(TensorMap, Vec<(String, Duration)>)> {
        input(&inputs, "images")?;
        let skip = if inputs.contains_key("pillar_points") { 0 } else { self.lidar_layers };
        let mut map = inputs;
        let mut times = Vec::with_capacity(self.layers.len());
        for (l, (layer, weights)) in self.layers.iter().zip(&self.weights).enumerate().skip(skip) {
            let start = Instant::now();
            map = layer.forward(weights, &map, LayerCtx { step: 0, microbatch: 0, layer: l })?.outputs;
            times.push((layer.kind().to_string(), start.elapsed()));
        }
        Ok((map, times))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::cmt::image::{ResizeCrop, projection};
    use candle_core::{DType, Device};

    /// `lidar2img`, `img2lidar` `[B, N, 4, 4]` of a ring of cameras 1.5 m up,
    /// camera `i` looking along yaw `i·60°` (1600×900 nuScenes-like
    /// intrinsics, resized and cropped for the network).
    pub(crate) fn ring_matrices(config: &CmtConfig, b: usize, dtype: DType) -> (Tensor, Tensor) {
        let k = [[1260.0, 0.0, 800.0], [0.0, 1260.0, 450.0], [0.0, 0.0, 1.0]];
        let resize_crop = ResizeCrop::new(config, 1600, 900).unwrap();
        let n = config.image.cameras;
        let (mut forward, mut inverse) = (Vec::new(), Vec::new());
        for i in 0..b * n {
            let yaw = (i % n) as f64 * std::f64::consts::PI / 3.0;
            let (c, s) = (yaw.cos(), yaw.sin());
            // Rows: right, down, forward (camera axes in LiDAR coordinates).
            let rotation = [[s, -c, 0.0], [0.0, 0.0, -1.0], [c, s, 0.0]];
            let mut camera_from_lidar = [[0.0; 4]; 4];
            for r in 0..3 {
                camera_from_lidar[r][..3].copy_from_slice(&rotation[r]);
                camera_from_lidar[r][3] = -rotation[r][2] * 1.5; // camera centre at z = 1.5
            }
            camera_from_lidar[3][3] = 1.0;
            let (l2i, i2l) = projection(&k, &camera_from_lidar, &resize_crop).unwrap();
            forward.extend(l2i.transpose().iter().copied());
            inverse.extend(i2l.transpose().iter().copied());
        }
        let tensor = |v: Vec<f64>| Tensor::from_vec(v, (b, n, 4, 4), &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
        (tensor(forward), tensor(inverse))
    }

    /// The pillar inputs of a sweep of `points` random points in ±20 m.
    pub(crate) fn pillar_map(config: &CmtConfig, b: usize, points: usize) -> TensorMap {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let sweeps: Vec<_> = (0..b)
            .map(|_| {
                let mut cloud = cairn_core::cloud::PointCloud::with_capacity(points);
                for _ in 0..points {
                    let p = [rng.random_range(-20.0..20.0), rng.random_range(-20.0..20.0), rng.random_range(-2.0..2.0)];
                    cloud.push(nalgebra::Point3::new(p[0], p[1], p[2]));
                }
                cloud.intensity = Some(vec![100.0; points]);
                crate::cmt::pillars::pillarise(&cloud, config)
            })
            .collect();
        let host = crate::cmt::pillars::pillar_inputs(&sweeps, config.lidar.max_points);
        host.into_iter().map(|(k, v)| (k, v.to_tensor().unwrap())).collect()
    }

    /// A full input map (image branch) with `dn` denoising anchors.
    pub(crate) fn ring_inputs(config: &CmtConfig, b: usize, dn: usize) -> TensorMap {
        let [w, h] = config.image.size;
        let n = config.image.cameras;
        let cpu = &Device::Cpu;
        let (lidar2img, img2lidar) = ring_matrices(config, b, DType::F32);
        let qt = dn + config.decoder.queries;
        TensorMap::from([
            ("images".into(), Tensor::randn(0f32, 1.0, (b, n, 3, h, w), cpu).unwrap()),
            ("image_valid".into(), Tensor::ones((b, n), DType::F32, cpu).unwrap()),
            ("lidar2img".into(), lidar2img),
            ("img2lidar".into(), img2lidar),
            ("denoise_anchors".into(), Tensor::rand(0f32, 1.0, (b, dn, 3), cpu).unwrap()),
            ("attention_mask".into(), Tensor::zeros((qt, qt), DType::F32, cpu).unwrap()),
        ])
    }

    pub(crate) fn small_network() -> Cmt {
        let config = CmtConfig::small();
        let weights = init_weights(&config, 7);
        Cmt::new(config, &weights).unwrap()
    }

    #[test]
    fn small_runs_end_to_end_with_the_contract_shapes() {
        let net = small_network();
        let config = net.config().clone();
        let out = net.forward(ring_inputs(&config, 1, 5)).unwrap();
        let qt = 5 + config.decoder.queries;
        for l in 0..config.decoder.layers {
            assert_eq!(out[&format!("class.{l}")].dims(), &[1, qt, config.classes]);
            let boxes = &out[&format!("box.{l}")];
            assert_eq!(boxes.dims(), &[1, qt, 10]);
            let values = boxes.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert!(values.iter().all(|v| v.is_finite()));
            // Centres inside the point-cloud range.
            let r = config.point_cloud_range;
            for code in values.chunks(10) {
                assert!(
                    code[0] >= r[0] as f32
                        && code[0] <= r[3] as f32
                        && code[4] >= r[2] as f32
                        && code[4] <= r[5] as f32
                );
            }
        }
        let [columns, rows] = config.image_grid();
        assert_eq!(out["memory"].dims(), &[1, 6 * columns * rows, config.decoder.dim], "camera only");
        assert!(!out.contains_key("images"), "the stem consumes the images");
    }

    #[test]
    fn with_pillars_the_memory_holds_the_bev_tokens_first() {
        let net = small_network();
        let config = net.config().clone();
        let mut inputs = ring_inputs(&config, 1, 0);
        inputs.extend(pillar_map(&config, 1, 2000));
        let out = net.forward(inputs).unwrap();
        let ([columns, rows], [bev_columns, bev_rows]) = (config.image_grid(), config.bev_grid());
        let tb = bev_columns * bev_rows;
        assert_eq!(out["memory"].dims(), &[1, tb + 6 * columns * rows, config.decoder.dim]);
        assert_eq!(out["memory_pe"].dims(), out["memory"].dims());
        assert!(!out.keys().any(|k| k.starts_with("pillar_")), "the LiDAR branch consumes the pillars");
        let boxes = out[&format!("box.{}", config.decoder.layers - 1)].flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(boxes.iter().all(|v| v.is_finite()));
    }

    /// Regression: the pillar net consumed `pillar_valid`, so a sample whose
    /// points were dropped kept the BEV backbone's output of an empty canvas
    /// instead of zero tokens.
    #[test]
    fn dropped_points_give_zero_bev_tokens_in_the_memory() {
        // Non-zero biases everywhere, so an empty canvas does not map to zero by itself.
        let config = CmtConfig::small();
        let mut weights = init_weights(&config, 7);
        weights.iter_mut().flatten().for_each(|w| w.data.iter_mut().for_each(|v| *v += 0.05));
        let net = Cmt::new(config.clone(), &weights).unwrap();
        let mut inputs = ring_inputs(&config, 1, 0);
        let mut pillars = pillar_map(&config, 1, 2000);
        for key in ["pillar_valid", "pillar_mask", "pillar_points"] {
            let zeroed = pillars[key].zeros_like().unwrap();
            pillars.insert(key.into(), zeroed);
        }
        inputs.extend(pillars);
        let out = net.forward(inputs).unwrap();
        let [bev_columns, bev_rows] = config.bev_grid();
        let bev = out["memory"].narrow(1, 0, bev_columns * bev_rows).unwrap();
        let largest = bev.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(largest, 0.0, "BEV tokens of a sample without points");
    }

    #[test]
    fn a_wrong_weight_shape_is_a_clear_error() {
        let config = CmtConfig::small();
        let mut weights = init_weights(&config, 1);
        weights[0][0] = HostTensor::zeros(&[1]);
        let err = Cmt::new(config, &weights).unwrap_err().to_string();
        assert!(err.contains("weight 0.w has shape [1]"), "{err}");
    }

    #[test]
    fn image_position_and_decoder_layers_reserve_scratch_memory() {
        let config = CmtConfig::small();
        let weights = init_weights(&config, 2);
        let mut map = ring_inputs(&config, 1, 3);
        map.extend(pillar_map(&config, 1, 500));
        let lidar_layers = lidar::layers(&config).len();
        for (l, (layer, w)) in layers(&config).iter().zip(&weights).enumerate() {
            let w: Vec<Tensor> = w.iter().map(|t| t.to_tensor().unwrap()).collect();
            let out = layer.forward(&w, &map, LayerCtx { step: 0, microbatch: 0, layer: l }).unwrap().outputs;
            let scratch = if l < lidar_layers { u64::MAX } else { layer.scratch_bytes(&map) }; // the LiDAR branch's own
            let produced: usize =
                out.iter().filter(|(k, _)| !map.contains_key(*k)).map(|(_, t)| 4 * t.elem_count()).sum();
            assert!(scratch as usize >= produced, "{} reserves {scratch} bytes, makes {produced}", layer.kind());
            map = out;
        }
    }

    #[test]
    fn every_weight_gets_a_finite_gradient_through_the_whole_network() {
        let config = CmtConfig::small();
        // Every weight random (biases and gains too), so that no gradient is
        // zero only because of the initialisation.
        let random = |spec: &cairn_train::model::ParamSpec| {
            let (mean, std) = match spec.init {
                Init::Normal(std) => (0.0, std),
                Init::Ones => (1.0, 0.1),
                Init::Zeros => (0.0, 0.1),
            };
            let w = Tensor::randn(mean as f32, std, spec.shape.as_slice(), &Device::Cpu).unwrap();
            candle_core::Var::from_tensor(&w).unwrap()
        };
        let vars: Vec<Vec<candle_core::Var>> =
            layers(&config).iter().map(|layer| layer.params().iter().map(random).collect()).collect();
        let mut map = ring_inputs(&config, 1, 2);
        map.extend(pillar_map(&config, 1, 2000));
        for (l, (layer, w)) in layers(&config).iter().zip(&vars).enumerate() {
            let w: Vec<Tensor> = w.iter().map(|v| v.as_tensor().clone()).collect();
            map = layer.forward(&w, &map, LayerCtx { step: 0, microbatch: 0, layer: l }).unwrap().outputs;
        }
        // Every layer's heads, as the loss uses them.
        let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
        for l in 0..config.decoder.layers {
            let class = map[&format!("class.{l}")].sum_all().unwrap();
            let boxes = map[&format!("box.{l}")].sqr().unwrap().mean_all().unwrap();
            loss = ((loss + class).unwrap() + boxes).unwrap();
        }
        let grads = loss.backward().unwrap();
        let first_decoder = layers(&config).iter().position(|layer| layer.kind() == "cmt-decoder").unwrap();
        // Gradients that are zero by construction: a key bias shifts every
        // score of a query alike (softmax ignores it); the first layer's
        // self-attention attends over zero queries (the official start), so
        // its values are all its value bias and its scores do not matter.
        let structural = |l: usize, name: &str| {
            name.ends_with(".bk")
                || (l == first_decoder && ["self.wq", "self.bq", "self.wk", "self.wv"].contains(&name))
        };
        for (l, (layer, w)) in layers(&config).iter().zip(&vars).enumerate() {
            for (spec, var) in layer.params().iter().zip(w).filter(|(spec, _)| !structural(l, &spec.name)) {
                let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{l}.{} has no gradient", spec.name));
                let g = g.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(g.iter().all(|v| v.is_finite()), "{l}.{}: non-finite gradient", spec.name);
                assert!(g.iter().any(|v| *v != 0.0), "{l}.{} ({}): zero gradient", spec.name, layer.kind());
            }
        }
    }

    #[test]
    fn parameter_counts_of_the_presets() {
        let (small, full) = (parameter_count(&CmtConfig::small()), parameter_count(&CmtConfig::full()));
        assert!(small < full, "{small} vs {full}");
        eprintln!("parameters: small {small}, full {full}");
    }
}
