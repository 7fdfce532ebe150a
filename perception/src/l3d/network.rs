//! DIP's descriptor network (Poiesi & Boscaini, ICPR 2020), as L3D uses it:
//! a PointNet on one canonical patch (256 points in the keypoint's local
//! reference frame, divided by the patch radius) → a 32-D, L2-normalised
//! descriptor.
//!
//! Layout (widths in [`DipConfig`]): a shared per-point MLP (ReLU) whose
//! last layer max-pools over the patch's points, then an MLP head whose
//! last layer is linear and L2-normalises. No BatchNorm: the layers are pure
//! functions, so cairn-train can recompute them, and the same weights serve
//! training (the layers are cairn-train [`Layer`]s) and inference
//! ([`DipNetwork::forward`], a plain loop over the layers without the
//! engine). Weights live in safetensors with the config as JSON beside
//! them ([`super::weights`]); `cairn train l3d` writes both.
//!
//! Shapes: input `"x"` `[patches, points, 3]`; per-point layers keep
//! `[patches, points, width]`, the pooling one returns `[patches, width]`;
//! head layers `[patches, width]`.

use cairn_train::model::{Init, Layer, LayerCtx, LayerOutput, ParamSpec, TensorMap, input};
use cairn_train::models::layer_norm;
use cairn_train::{HostTensor, Result as TrainResult};
use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::matching::Descriptors;
use super::patch::Patch;
use crate::{Error, Result};

/// Sizes of the network and the patch geometry its weights were trained
/// on (saved as JSON next to the weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DipConfig {
    /// Points per canonical patch. Default 256 (DIP's).
    pub points: usize,
    /// Patch radius (m): neighbours within it make the patch. Default 0.25
    /// (5 voxels of the loop detector's 5 cm, FPFH's radius).
    pub patch_radius_m: f32,
    /// Widths of the shared per-point MLP; the last is max-pooled.
    /// Default `[32, 64]` (CPU cost, see the `dip` bench).
    pub point_widths: Vec<usize>,
    /// Hidden widths of the head (LayerNorm + ReLU each). Default `[64]`.
    pub head_widths: Vec<usize>,
    /// Descriptor dimension. Default 32 (L3D's).
    pub dim: usize,
}

impl Default for DipConfig {
    fn default() -> Self {
        DipConfig { points: 256, patch_radius_m: 0.25, point_widths: vec![32, 64], head_widths: vec![64], dim: 32 }
    }
}

impl DipConfig {
    /// Checks the sizes.
    pub fn validate(&self) -> Result<()> {
        let widths = self.point_widths.iter().chain(&self.head_widths);
        if self.points == 0 || self.dim == 0 || self.point_widths.is_empty() || widths.clone().any(|&w| w == 0) {
            return Err(Error::Config(format!("dip: points, dim and every width must be > 0: {self:?}")));
        }
        if !(self.patch_radius_m > 0.0 && self.patch_radius_m.is_finite()) {
            return Err(Error::Config(format!("dip: patch_radius_m must be > 0, got {}", self.patch_radius_m)));
        }
        Ok(())
    }

    /// The layers, first to last.
    pub fn layers(&self) -> Vec<Box<dyn Layer>> {
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        let mut fan_in = 3;
        for (i, &width) in self.point_widths.iter().enumerate() {
            let pool = i + 1 == self.point_widths.len();
            layers.push(Box::new(PointLayer { fan_in, fan_out: width, pool }));
            fan_in = width;
        }
        for &width in &self.head_widths {
            layers.push(Box::new(HeadLayer { fan_in, fan_out: width, last: false }));
            fan_in = width;
        }
        layers.push(Box::new(HeadLayer { fan_in, fan_out: self.dim, last: true }));
        layers
    }
}

/// One layer of the shared per-point MLP: `relu(x·W + b)` on every point,
/// max-pooled over the patch when it is the last.
#[derive(Debug, Clone, Copy)]
pub struct PointLayer {
    fan_in: usize,
    fan_out: usize,
    pool: bool,
}

impl Layer for PointLayer {
    fn kind(&self) -> &str {
        if self.pool { "dip-point-pool" } else { "dip-point" }
    }

    fn params(&self) -> Vec<ParamSpec> {
        let std = (2.0 / self.fan_in as f32).sqrt(); // He initialisation (ReLU)
        vec![
            ParamSpec::new("w", &[self.fan_in, self.fan_out], Init::Normal(std)),
            ParamSpec::new("b", &[self.fan_out], Init::Zeros),
        ]
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let [w, b] = weights else { return Err(bad_weights("dip point layer", 2, weights.len())) };
        let x = input(inputs, "x")?; // [patches, points, fan_in]
        let (patches, points, fan_in) = x.dims3()?;
        let rows = x.reshape((patches * points, fan_in))?; // [patches·points, fan_in]
        let h = rows.matmul(w)?; // [patches·points, fan_out]
        let y = if self.pool {
            // max(relu(h + b)) = relu(max(h) + b): pool first, so the bias
            // and the ReLU touch one row per patch, not one per point.
            h.reshape((patches, points, self.fan_out))?.max(1)?.broadcast_add(b)?.relu()? // [patches, fan_out]
        } else {
            h.broadcast_add(b)?.relu()?.reshape((patches, points, self.fan_out))?
        };
        Ok(LayerOutput { outputs: TensorMap::from([("x".to_string(), y)]), aux_loss: None })
    }

    fn scratch_bytes(&self, inputs: &TensorMap) -> u64 {
        // The pre-activation and the ReLU output, per point.
        let rows = inputs.get("x").map_or(0, |x| x.dims().iter().rev().skip(1).product::<usize>()) as u64;
        8 * rows * self.fan_out as u64
    }
}

/// One layer of the head: `relu(LN(x·W + b))`, or for the last
/// `normalise(x·W + b)`.
#[derive(Debug, Clone, Copy)]
pub struct HeadLayer {
    fan_in: usize,
    fan_out: usize,
    last: bool,
}

impl Layer for HeadLayer {
    fn kind(&self) -> &str {
        if self.last { "dip-out" } else { "dip-head" }
    }

    fn params(&self) -> Vec<ParamSpec> {
        let std = (if self.last { 1.0 } else { 2.0 } / self.fan_in as f32).sqrt();
        let mut params = vec![
            ParamSpec::new("w", &[self.fan_in, self.fan_out], Init::Normal(std)),
            ParamSpec::new("b", &[self.fan_out], Init::Zeros),
        ];
        if !self.last {
            params.push(ParamSpec::new("ln.gain", &[self.fan_out], Init::Ones));
            params.push(ParamSpec::new("ln.bias", &[self.fan_out], Init::Zeros));
        }
        params
    }

    fn forward(&self, weights: &[Tensor], inputs: &TensorMap, _ctx: LayerCtx) -> TrainResult<LayerOutput> {
        let x = input(inputs, "x")?; // [patches, fan_in]
        let y = match (weights, self.last) {
            ([w, b], true) => l2_normalise(&x.matmul(w)?.broadcast_add(b)?)?,
            ([w, b, gain, bias], false) => layer_norm(&x.matmul(w)?.broadcast_add(b)?, gain, bias)?.relu()?,
            _ => return Err(bad_weights("dip head layer", if self.last { 2 } else { 4 }, weights.len())),
        }; // [patches, fan_out]
        Ok(LayerOutput { outputs: TensorMap::from([("x".to_string(), y)]), aux_loss: None })
    }
}

/// Rows divided by their L2 norm (with a tiny floor so a zero row stays
/// finite and differentiable).
pub fn l2_normalise(x: &Tensor) -> TrainResult<Tensor> {
    let norm = (x.sqr()?.sum_keepdim(D::Minus1)? + 1e-12)?.sqrt()?;
    Ok(x.broadcast_div(&norm)?)
}

fn bad_weights(layer: &str, expected: usize, got: usize) -> cairn_train::Error {
    cairn_train::Error::Schedule(format!("{layer} takes {expected} weights, got {got}"))
}

/// Patches per forward call of [`DipNetwork::describe`] (bounds the
/// intermediate tensors to `CHUNK × points × width` floats).
const CHUNK: usize = 256;

/// The network with its weights, ready for inference.
pub struct DipNetwork {
    config: DipConfig,
    layers: Vec<Box<dyn Layer>>,
    weights: Vec<Vec<Tensor>>,
    device: Device,
}

impl std::fmt::Debug for DipNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DipNetwork").field("config", &self.config).finish_non_exhaustive()
    }
}

impl DipNetwork {
    /// A network from host weights (per layer, in `params` order), checked
    /// against the config's shapes.
    pub fn new(config: DipConfig, weights: &[Vec<HostTensor>]) -> Result<Self> {
        config.validate()?;
        let layers = config.layers();
        if weights.len() != layers.len() {
            return Err(Error::Input(format!("dip: {} layers but {} weight sets", layers.len(), weights.len())));
        }
        let mut tensors = Vec::new();
        for (l, (layer, given)) in layers.iter().zip(weights).enumerate() {
            let specs = layer.params();
            if specs.len() != given.len() {
                return Err(Error::Input(format!("dip: layer {l} takes {} weights, got {}", specs.len(), given.len())));
            }
            for (spec, w) in specs.iter().zip(given) {
                if spec.shape != w.shape || w.data.len() != w.shape.iter().product::<usize>() {
                    return Err(Error::Input(format!(
                        "dip: weight {l}.{} has shape {:?}, the config needs {:?}",
                        spec.name, w.shape, spec.shape
                    )));
                }
                if w.data.iter().any(|v| !v.is_finite()) {
                    return Err(Error::Input(format!("dip: weight {l}.{} has a non-finite value", spec.name)));
                }
            }
            tensors.push(given.iter().map(HostTensor::to_tensor).collect::<TrainResult<Vec<_>>>()?);
        }
        Ok(DipNetwork { config, layers, weights: tensors, device: Device::Cpu })
    }

    /// The same network with its weights on `device` (a CUDA GPU with the
    /// `cuda` feature); [`DipNetwork::describe`] then runs there.
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        let weights = self
            .weights
            .iter()
            .map(|layer| layer.iter().map(|w| w.to_device(device)).collect::<candle_core::Result<Vec<_>>>())
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(DipNetwork { config: self.config.clone(), layers: self.config.layers(), weights, device: device.clone() })
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The config.
    pub fn config(&self) -> &DipConfig {
        &self.config
    }

    /// The forward pass on `"x"` `[patches, points, 3]` → `[patches, dim]`.
    pub fn forward(&self, x: Tensor) -> Result<Tensor> {
        let mut map = TensorMap::from([("x".to_string(), x)]);
        for (l, (layer, weights)) in self.layers.iter().zip(&self.weights).enumerate() {
            let ctx = LayerCtx { step: 0, microbatch: 0, layer: l };
            map = layer.forward(weights, &map, ctx)?.outputs;
        }
        Ok(input(&map, "x")?.clone())
    }

    /// Descriptors of canonical patches (each of `config.points` points).
    pub fn describe(&self, patches: &[Patch]) -> Result<Descriptors> {
        let points = self.config.points;
        let mut data = Vec::with_capacity(patches.len() * self.config.dim);
        for chunk in patches.chunks(CHUNK) {
            if let Some(bad) = chunk.iter().find(|p| p.points.len() != points) {
                let n = bad.points.len();
                return Err(Error::Input(format!("dip: a patch has {n} points, the network takes {points}")));
            }
            let flat: Vec<f32> = chunk.iter().flat_map(|p| p.points.iter().flatten().copied()).collect();
            let x = Tensor::from_vec(flat, (chunk.len(), points, 3), &self.device)?; // [chunk, points, 3]
            data.extend(self.forward(x)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Descriptors::new(self.config.dim, data)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::l3d::patch::canonical_patches;
    use crate::l3d::points::Neighbours;
    use nalgebra::{Point3, Rotation3, UnitQuaternion, Vector3};

    fn network(seed: u64) -> DipNetwork {
        let config = DipConfig::default();
        let model_weights = init(&config, seed);
        DipNetwork::new(config, &model_weights).unwrap()
    }

    fn init(config: &DipConfig, seed: u64) -> Vec<Vec<HostTensor>> {
        let model = cairn_train::Model {
            name: "dip".into(),
            layers: config.layers(),
            objective: Box::new(crate::l3d::HardestContrastive::default()),
            data: Box::new(crate::l3d::pairs::PatchPairData {
                pairs: Vec::new(),
                per_microbatch: 1,
                points: config.points,
                exclusion_m: 0.1,
                seed: 0,
            }),
        };
        model.init_weights(seed)
    }

    /// A bumpy surface with distinct features.
    fn surface() -> Vec<Point3<f32>> {
        let mut points = Vec::new();
        for i in 0..60 {
            for j in 0..60 {
                let (x, y) = (i as f32 * 0.02 - 0.6, j as f32 * 0.02 - 0.6);
                let z = 0.1 * (5.0 * x).sin() * (3.0 * y + 0.5).cos() + 0.3 * x * x;
                points.push(Point3::new(x, y, z));
            }
        }
        points
    }

    #[test]
    fn descriptors_are_unit_vectors_of_the_configured_size() {
        let net = network(1);
        let x = Tensor::randn(0f32, 0.5, (5, 256, 3), &Device::Cpu).unwrap();
        let y = net.forward(x).unwrap();
        assert_eq!(y.dims(), &[5, 32]);
        for row in y.to_vec2::<f32>().unwrap() {
            let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        }
    }

    #[test]
    fn a_turned_cloud_gets_the_same_descriptors_through_its_local_frames() {
        let net = network(2);
        let points = surface();
        let turn = Rotation3::from(UnitQuaternion::from_euler_angles(0.4, 1.2, -2.0));
        let moved: Vec<_> =
            points.iter().map(|p| (turn * p.cast::<f64>() + Vector3::new(1.0, 2.0, -0.5)).cast::<f32>()).collect();
        let keypoints = [610, 1250, 1830, 2440];
        let a = canonical_patches(&Neighbours::new(points).unwrap(), &keypoints, 0.25, 256, 7);
        let b = canonical_patches(&Neighbours::new(moved).unwrap(), &keypoints, 0.25, 256, 7);
        assert_eq!(a.len(), keypoints.len());
        let (da, db) = (net.describe(&a).unwrap(), net.describe(&b).unwrap());
        assert_eq!(da.len(), b.len());
        let mut differ = 0.0f32;
        for i in 0..da.len() {
            let d: f32 = da.get(i).iter().zip(db.get(i)).map(|(p, q)| (p - q).powi(2)).sum::<f32>().sqrt();
            assert!(d < 1e-3, "patch {i}: {d}");
            differ = differ.max(da.get(0).iter().zip(da.get(i)).map(|(p, q)| (p - q).abs()).sum());
        }
        assert!(differ > 1e-3, "different patches should get different descriptors");
    }
}
