//! CMT's training objective, as the official head computes it
//! (junjie18/CMT `CmtHead.loss`), summed over every decoder layer (the
//! auxiliary losses of the inner layers count like the last one's):
//!
//! - **matched queries**: per sample, the anchor queries are matched to the
//!   ground truth ([`crate::cmt::matching`], on detached host copies);
//!   sigmoid focal loss over all queries × classes (matched queries' class
//!   is 1, everything else 0), normalised by `max(matched + 0.1 ·
//!   unmatched, 1)` over the microbatch, × `class_weight`; L1 on the
//!   matched queries' box codes with `code_weights`, normalised by the
//!   number of matched queries, × `box_weight`.
//! - **denoising queries** (the first `Dn` queries, see
//!   [`crate::cmt::denoise`]): their boxes are known by construction, no
//!   matching; focal loss with their class (background when the noise went
//!   beyond `denoise_split`), normalised by `max(n · π/6 · split³, 1)` for
//!   `n` real denoising queries (the official DN-DETR factor), and L1 on all
//!   of them normalised by `n`, both × `denoise_weight`.
//!
//! # Targets (the [`cairn_train::DataSource`]'s second map)
//! `G` = the most boxes of a sample in the microbatch (at least 1):
//! - `gt_codes` `[B, G, 10]`: box codes ([`crate::cmt::boxes::encode`]).
//! - `gt_labels` `[B, G]`: class labels (as f32).
//! - `gt_valid` `[B, G]`: 1 for a real box, 0 for padding.
//! - `dn_codes` `[B, Dn, 10]`, `dn_labels` `[B, Dn]` (−1: background),
//!   `dn_valid` `[B, Dn]`: the denoising queries' targets; absent when
//!   `Dn = 0`.

use cairn_train::model::{Objective, TensorMap, input};
use candle_core::{DType, Tensor};

use crate::cmt::boxes::CODE_SIZE;
use crate::cmt::config::CmtConfig;
use crate::cmt::matching::{Predictions, Targets, match_queries, read_targets};
use crate::{Error, Result};

/// The loss of one decoder layer, in parts (each already weighted).
#[derive(Debug)]
pub struct LayerLoss {
    /// Focal loss of the matched (anchor) queries.
    pub class: Tensor,
    /// L1 box loss of the matched queries.
    pub boxes: Tensor,
    /// Focal and L1 losses of the denoising queries (none when `Dn = 0`).
    pub denoise: Option<(Tensor, Tensor)>,
}

/// CMT's objective (see the module doc).
#[derive(Debug, Clone)]
pub struct CmtLoss {
    /// The configuration (classes, decoder layers, loss weights).
    pub config: CmtConfig,
}

impl Objective for CmtLoss {
    fn loss(&self, outputs: &TensorMap, targets: &TensorMap) -> cairn_train::Result<Tensor> {
        let mut total: Option<Tensor> = None;
        for layer in self.layers(outputs, targets).map_err(to_train)? {
            let mut parts = vec![layer.class, layer.boxes];
            parts.extend(layer.denoise.into_iter().flat_map(|(class, boxes)| [class, boxes]));
            for part in parts {
                total = Some(match total {
                    Some(sum) => (sum + part)?,
                    None => part,
                });
            }
        }
        total.ok_or_else(|| cairn_train::Error::Schedule("cmt loss: the decoder has no layers".into()))
    }
}

/// A crate error as cairn-train's (the trainer's traits return it).
pub(crate) fn to_train(error: Error) -> cairn_train::Error {
    match error {
        Error::Train(inner) => inner,
        Error::Tensor(inner) => cairn_train::Error::Tensor(inner),
        other => cairn_train::Error::Schedule(format!("cmt loss: {other}")),
    }
}

impl CmtLoss {
    /// The loss parts of every decoder layer, first to last.
    pub fn layers(&self, outputs: &TensorMap, targets: &TensorMap) -> Result<Vec<LayerLoss>> {
        let samples = read_targets(targets)?;
        let denoise = match targets.get("dn_codes") {
            Some(codes) => Some((codes, input(targets, "dn_labels")?, input(targets, "dn_valid")?)),
            None => None,
        };
        let dn = denoise.map(|(codes, _, _)| codes.dim(1)).transpose()?.unwrap_or(0);
        (0..self.config.decoder.layers)
            .map(|l| {
                let class = input(outputs, &format!("class.{l}"))?.to_dtype(DType::F32)?; // [B, Qt, C]
                let boxes = input(outputs, &format!("box.{l}"))?.to_dtype(DType::F32)?; // [B, Qt, 10]
                let (_, qt, _) = class.dims3()?;
                if qt <= dn || boxes.dims3()? != (class.dim(0)?, qt, CODE_SIZE) || class.dim(0)? != samples.len() {
                    return Err(Error::Input(format!(
                        "cmt loss: layer {l} predicts {:?} / {:?} for {} samples and {dn} denoising queries",
                        class.dims(),
                        boxes.dims(),
                        samples.len()
                    )));
                }
                let (matched_class, matched_boxes) =
                    self.matched(&class.narrow(1, dn, qt - dn)?, &boxes.narrow(1, dn, qt - dn)?, &samples)?;
                let denoise = match denoise {
                    Some((codes, labels, valid)) => {
                        Some(self.denoised(&class.narrow(1, 0, dn)?, &boxes.narrow(1, 0, dn)?, codes, labels, valid)?)
                    }
                    None => None,
                };
                Ok(LayerLoss { class: matched_class, boxes: matched_boxes, denoise })
            })
            .collect()
    }

    /// Focal and L1 losses of the anchor queries `[B, Q, C]`, `[B, Q, 10]`
    /// after Hungarian matching.
    fn matched(&self, class: &Tensor, boxes: &Tensor, samples: &[Targets]) -> Result<(Tensor, Tensor)> {
        let (b, q, c) = class.dims3()?;
        let train = &self.config.train;
        let (logits, codes) = (class.flatten_all()?.to_vec1::<f32>()?, boxes.flatten_all()?.to_vec1::<f32>()?);
        let mut class_target = vec![0f32; b * q * c];
        let mut box_target = vec![0f32; b * q * CODE_SIZE];
        let mut box_weight = vec![0f32; b * q * CODE_SIZE];
        let mut matched = 0usize;
        for (s, sample) in samples.iter().enumerate() {
            let predictions = Predictions {
                logits: &logits[s * q * c..(s + 1) * q * c],
                codes: &codes[s * q * CODE_SIZE..(s + 1) * q * CODE_SIZE],
                classes: c,
            };
            for (query, gt) in match_queries(&predictions, sample, train)? {
                let row = s * q + query;
                class_target[row * c + sample.labels[gt]] = 1.0;
                for k in 0..CODE_SIZE {
                    box_target[row * CODE_SIZE + k] = sample.codes[gt][k] as f32;
                    box_weight[row * CODE_SIZE + k] = train.code_weights[k] as f32;
                }
                matched += 1;
            }
        }
        let device = class.device();
        let class_target = Tensor::from_vec(class_target, (b, q, c), device)?;
        let unmatched = (b * q - matched) as f64;
        let class_norm = (matched as f64 + train.negative_weight * unmatched).max(1.0);
        let ones = Tensor::ones((b, q, 1), DType::F32, device)?;
        let focal = sigmoid_focal(class, &class_target, &ones, train.focal_gamma, train.focal_alpha)?;
        let box_target = Tensor::from_vec(box_target, (b, q, CODE_SIZE), device)?;
        let box_weight = Tensor::from_vec(box_weight, (b, q, CODE_SIZE), device)?;
        let l1 = weighted_l1(boxes, &box_target, &box_weight)?;
        let box_norm = (matched as f64).max(1.0);
        Ok(((focal * (train.class_weight / class_norm))?, (l1 * (train.box_weight / box_norm))?))
    }

    /// Focal and L1 losses of the denoising queries `[B, Dn, C]`,
    /// `[B, Dn, 10]` against their known targets.
    fn denoised(
        &self,
        class: &Tensor,
        boxes: &Tensor,
        codes: &Tensor,
        labels: &Tensor,
        valid: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (b, dn, c) = class.dims3()?;
        let train = &self.config.train;
        let device = class.device();
        let labels = labels.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let valid = valid.to_dtype(DType::F32)?.to_device(device)?.reshape((b, dn, 1))?;
        let real = valid.sum_all()?.to_scalar::<f32>()? as f64;
        let mut one_hot = vec![0f32; b * dn * c];
        for (row, label) in labels.iter().enumerate() {
            if *label >= 0.0 && (*label as usize) < c {
                one_hot[row * c + *label as usize] = 1.0;
            }
        }
        let one_hot = Tensor::from_vec(one_hot, (b, dn, c), device)?;
        let focal = sigmoid_focal(class, &one_hot, &valid, train.focal_gamma, train.focal_alpha)?;
        let class_norm = (real * std::f64::consts::PI / 6.0 * train.denoise_split.powi(3)).max(1.0);
        let code_weights: Vec<f32> = train.code_weights.iter().map(|w| *w as f32).collect();
        let code_weights = Tensor::from_vec(code_weights, (1, 1, CODE_SIZE), device)?;
        let weights = valid.broadcast_mul(&code_weights)?; // [B, Dn, 10]
        let codes = codes.to_dtype(DType::F32)?.to_device(device)?;
        let l1 = weighted_l1(boxes, &codes, &weights)?;
        let scale = train.denoise_weight;
        Ok(((focal * (scale * train.class_weight / class_norm))?, (l1 * (scale * train.box_weight / real.max(1.0)))?))
    }
}

/// Sum over all elements of the sigmoid focal loss of `logits` against
/// 0/1 `targets` (same shape), each element × `weights` (broadcast):
/// `BCE(x, t) · (α t + (1−α)(1−t)) · p_t^γ` with `p_t = (1−p) t + p (1−t)`
/// (mmdet's `sigmoid_focal_loss`). Numerically stable for large logits.
pub fn sigmoid_focal(logits: &Tensor, targets: &Tensor, weights: &Tensor, gamma: f64, alpha: f64) -> Result<Tensor> {
    let p = ((logits * 0.5)?.tanh()? + 1.0)?.affine(0.5, 0.0)?; // σ(x)
    // BCE with logits: max(x, 0) − x t + ln(1 + e^{−|x|}).
    let softplus = (logits.abs()?.neg()?.exp()? + 1.0)?.log()?;
    let bce = ((logits.relu()? - (logits * targets)?)? + softplus)?;
    let pt = ((&p + targets)? - (&p * targets)?.affine(2.0, 0.0)?)?; // (1−p)t + p(1−t)
    let alpha_t = targets.affine(2.0 * alpha - 1.0, 1.0 - alpha)?; // α t + (1−α)(1−t)
    let focal = (bce * alpha_t)?.mul(&pt.powf(gamma)?)?;
    Ok(focal.broadcast_mul(weights)?.sum_all()?)
}

/// `Σ weights · |prediction − target|` over all elements.
pub fn weighted_l1(prediction: &Tensor, target: &Tensor, weights: &Tensor) -> Result<Tensor> {
    Ok((prediction - target)?.abs()?.mul(weights)?.sum_all()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;
    use crate::cmt::config::TrainConfig;
    use crate::cmt::matching::ground_truth_map;

    fn central_difference_check(f: impl Fn(&Tensor) -> Tensor, x: &[f64], shape: &[usize]) {
        let var = Var::from_slice(x, shape, &Device::Cpu).unwrap();
        let grads = f(var.as_tensor()).backward().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let value = |v: &[f64]| f(&Tensor::from_slice(v, shape, &Device::Cpu).unwrap()).to_scalar::<f64>().unwrap();
        for i in 0..x.len() {
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += 1e-6;
            minus[i] -= 1e-6;
            let numeric = (value(&plus) - value(&minus)) / 2e-6;
            assert!(
                (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "d[{i}] {numeric} vs {}",
                analytic[i]
            );
        }
    }

    fn tensor(values: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_slice(values, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn focal_loss_has_the_hand_computed_value_and_is_stable() {
        let x = tensor(&[0.0, 100.0, -100.0], &[3]);
        let t = tensor(&[1.0, 0.0, 1.0], &[3]);
        let w = tensor(&[1.0], &[1]);
        let each: Vec<f64> = (0..3)
            .map(|i| {
                let loss = sigmoid_focal(&x.narrow(0, i, 1).unwrap(), &t.narrow(0, i, 1).unwrap(), &w, 2.0, 0.25);
                loss.unwrap().to_scalar::<f64>().unwrap()
            })
            .collect();
        // x = 0, t = 1: ln 2 · α · (1/2)².
        assert!((each[0] - 2f64.ln() * 0.25 * 0.25).abs() < 1e-12, "{each:?}");
        // Confidently wrong: BCE ≈ 100, p_t ≈ 1.
        assert!((each[1] - 100.0 * 0.75).abs() < 1e-6 && (each[2] - 100.0 * 0.25).abs() < 1e-6, "{each:?}");
    }

    #[test]
    fn focal_and_l1_losses_have_the_numerical_gradient() {
        let logits = [-3.0, -0.5, 0.2, 1.7, 4.0, -1.2];
        let targets = tensor(&[0.0, 1.0, 0.0, 1.0, 0.0, 1.0], &[2, 3]);
        let weights = tensor(&[1.0, 0.5], &[2, 1]);
        central_difference_check(|x| sigmoid_focal(x, &targets, &weights, 2.0, 0.25).unwrap(), &logits, &[2, 3]);
        central_difference_check(|x| sigmoid_focal(x, &targets, &weights, 1.5, 0.4).unwrap(), &logits, &[2, 3]);
        let target = tensor(&[0.5, 0.5, 0.5, 0.0, 0.0, 0.0], &[2, 3]);
        let code_weights = tensor(&[2.0, 1.0, 0.2, 2.0, 1.0, 0.2], &[2, 3]);
        central_difference_check(|x| weighted_l1(x, &target, &code_weights).unwrap(), &logits, &[2, 3]);
    }

    fn config() -> CmtConfig {
        let mut config = CmtConfig::small();
        config.classes = 3;
        config.decoder.layers = 2;
        config
    }

    fn code(x: f64, y: f64) -> [f64; CODE_SIZE] {
        [x, y, 0.625, 1.5, -0.5, 0.375, 0.0, 1.0, 1.0, 0.0]
    }

    /// Outputs for 2 samples, `dn` denoising queries and 4 anchor queries:
    /// anchor query 1 predicts each sample's box, perfectly when `perfect`.
    fn outputs(dn: usize, perfect: bool) -> (TensorMap, Vec<Var>) {
        let (b, q, c) = (2, dn + 4, 3);
        let mut logits = vec![-3.0f32; b * q * c];
        let mut codes = vec![0.0f32; b * q * CODE_SIZE];
        for s in 0..b {
            let row = s * q + dn + 1;
            logits[row * c + s] = if perfect { 6.0 } else { -3.0 };
            let target = code(10.0 * s as f64, 5.0);
            for k in 0..CODE_SIZE {
                codes[row * CODE_SIZE + k] = target[k] as f32 + if perfect { 0.0 } else { 0.7 };
            }
        }
        let class = Var::from_vec(logits, (b, q, c), &Device::Cpu).unwrap();
        let boxes = Var::from_vec(codes, (b, q, CODE_SIZE), &Device::Cpu).unwrap();
        let mut map = TensorMap::new();
        for l in 0..2 {
            map.insert(format!("class.{l}"), class.as_tensor().clone());
            map.insert(format!("box.{l}"), boxes.as_tensor().clone());
        }
        (map, vec![class, boxes])
    }

    fn targets() -> TensorMap {
        let samples: Vec<Targets> =
            (0..2).map(|s| Targets { codes: vec![code(10.0 * s as f64, 5.0)], labels: vec![s] }).collect();
        let host = ground_truth_map(&samples).unwrap();
        assert_eq!(
            read_targets(&host.iter().map(|(k, v)| (k.clone(), v.to_tensor().unwrap())).collect()).unwrap(),
            samples
        );
        host.into_iter().map(|(k, v)| (k, v.to_tensor().unwrap())).collect()
    }

    #[test]
    fn good_predictions_cost_less_and_every_output_gets_a_gradient() {
        let loss = CmtLoss { config: config() };
        let targets = targets();
        let (good, _) = outputs(0, true);
        let (bad, vars) = outputs(0, false);
        let good_loss = loss.loss(&good, &targets).unwrap().to_scalar::<f32>().unwrap();
        let bad_loss = loss.loss(&bad, &targets).unwrap();
        let parts = loss.layers(&good, &targets).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].boxes.to_scalar::<f32>().unwrap().abs() < 1e-6, "perfect boxes: zero L1");
        assert!(good_loss < bad_loss.to_scalar::<f32>().unwrap());
        let grads = bad_loss.backward().unwrap();
        for var in &vars {
            let grad = grads.get(var.as_tensor()).unwrap().abs().unwrap().sum_all().unwrap();
            assert!(grad.to_scalar::<f32>().unwrap() > 0.0);
        }
    }

    #[test]
    fn the_l1_part_is_the_weighted_distance_over_matched_boxes() {
        let loss = CmtLoss { config: config() };
        let (bad, _) = outputs(0, false);
        let parts = loss.layers(&bad, &targets()).unwrap();
        // Every value of both matched codes is off by 0.7: 0.25 · 0.7 · Σ w · 2 boxes / 2.
        let expected = 0.25 * 0.7 * TrainConfig::paper().code_weights.iter().sum::<f64>();
        let got = f64::from(parts[1].boxes.to_scalar::<f32>().unwrap());
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    #[test]
    fn denoising_queries_are_trained_on_their_own_targets() {
        let loss = CmtLoss { config: config() };
        let (outputs, _) = outputs(3, true);
        let mut targets = targets();
        let dn_codes: Vec<f32> = (0..6).flat_map(|i| code(i as f64, 0.0)).map(|v| v as f32).collect();
        targets.insert("dn_codes".into(), Tensor::from_vec(dn_codes, (2, 3, CODE_SIZE), &Device::Cpu).unwrap());
        targets.insert("dn_labels".into(), Tensor::new(&[[0f32, -1.0, 2.0], [1.0, 1.0, 0.0]], &Device::Cpu).unwrap());
        targets.insert("dn_valid".into(), Tensor::new(&[[1f32, 1.0, 1.0], [1.0, 1.0, 0.0]], &Device::Cpu).unwrap());
        let parts = loss.layers(&outputs, &targets).unwrap();
        let (class, boxes) = parts[0].denoise.as_ref().unwrap();
        // The denoising queries predict zeros: L1 = Σ over 5 real queries of w · |code|.
        let weights = TrainConfig::paper().code_weights;
        let l1: f64 =
            (0..5).map(|i| code(i as f64, 0.0).iter().zip(weights).map(|(v, w)| w * v.abs()).sum::<f64>()).sum();
        let got = f64::from(boxes.to_scalar::<f32>().unwrap());
        assert!((got - 0.25 * l1 / 5.0).abs() < 1e-4, "{got}");
        assert!(class.to_scalar::<f32>().unwrap() > 0.0);
    }

    #[test]
    fn mismatched_outputs_are_errors() {
        let loss = CmtLoss { config: config() };
        let (mut outputs, _) = outputs(0, true);
        outputs.remove("box.1");
        assert!(loss.loss(&outputs, &targets()).is_err());
        let mut three_layers = config();
        three_layers.decoder.layers = 3;
        assert!(CmtLoss { config: three_layers }.loss(&outputs, &targets()).is_err());
    }
}
