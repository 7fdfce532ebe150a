//! CMT's prediction heads (paper §3.4; official `SeparateTaskHead` with one
//! group per decoder layer, i.e. each layer has its own weights): per
//! decoder layer, the output LayerNorm of the decoder (the official
//! `post_norm`, applied to every intermediate output), then one small MLP
//! per attribute — centre offset (2), height offset (1), log dims (3),
//! (sin, cos) of yaw (2), velocity (2), class logits — each
//! `Linear(dim → 64, no bias) → LayerNorm → ReLU → Linear(64 → out)`.
//!
//! Box code (mod.rs): centres are `sigmoid(offset + inverse_sigmoid(reference))`
//! denormalised over the point-cloud range; the reference is the layer's
//! anchor, the same for every layer as in the official code. The class
//! logits get the constant prior bias `decoder.class_bias` (−2.19) on top
//! of a zero-initialised learnable bias (the same optimisation as the
//! official bias initialised to −2.19).

use cairn_train::Result as TrainResult;
use cairn_train::model::{Init, ParamSpec};
use cairn_train::models::layer_norm;
use candle_core::Tensor;

use super::CmtConfig;
use super::model::bad_weights;

/// Hidden width of every head MLP (the official `head_conv`).
pub const HEAD_HIDDEN: usize = 64;

/// Clamp of the inverse sigmoid (mmdet's `inverse_sigmoid` eps).
const INVERSE_SIGMOID_EPS: f64 = 1e-5;

/// The attribute heads and their output widths, in box-code order of their
/// raw outputs: centre (x, y), height (z), dims (log w, log l, log h), rot
/// (sin, cos), vel (vx, vy), then the class logits.
fn attributes(classes: usize) -> [(&'static str, usize); 6] {
    [("center", 2), ("height", 1), ("dim", 3), ("rot", 2), ("vel", 2), ("class", classes)]
}

/// The heads' parameters: the output norm, then per attribute
/// `w1, ln.gain, ln.bias, w2, b2`.
pub fn params(config: &CmtConfig) -> Vec<ParamSpec> {
    let dim = config.decoder.dim;
    let mut specs =
        vec![ParamSpec::new("norm.gain", &[dim], Init::Ones), ParamSpec::new("norm.bias", &[dim], Init::Zeros)];
    for (name, out) in attributes(config.classes) {
        specs.push(ParamSpec::new(&format!("{name}.w1"), &[dim, HEAD_HIDDEN], Init::Normal((2.0 / dim as f32).sqrt())));
        specs.push(ParamSpec::new(&format!("{name}.ln.gain"), &[HEAD_HIDDEN], Init::Ones));
        specs.push(ParamSpec::new(&format!("{name}.ln.bias"), &[HEAD_HIDDEN], Init::Zeros));
        let std = (1.0 / HEAD_HIDDEN as f32).sqrt();
        specs.push(ParamSpec::new(&format!("{name}.w2"), &[HEAD_HIDDEN, out], Init::Normal(std)));
        specs.push(ParamSpec::new(&format!("{name}.b2"), &[out], Init::Zeros));
    }
    specs
}

/// `sigmoid(x)` as `(1 + tanh(x/2)) / 2` (finite gradient everywhere).
pub fn sigmoid(x: &Tensor) -> TrainResult<Tensor> {
    Ok((((x * 0.5)?.tanh()? + 1.0)? * 0.5)?)
}

/// `ln(x / (1 − x))` with `x` clamped to `[eps, 1 − eps]`.
pub fn inverse_sigmoid(x: &Tensor) -> TrainResult<Tensor> {
    let x = x.clamp(0.0, 1.0)?;
    let (numerator, denominator) =
        (x.clamp(INVERSE_SIGMOID_EPS, 1.0)?, x.affine(-1.0, 1.0)?.clamp(INVERSE_SIGMOID_EPS, 1.0)?);
    Ok((numerator.log()? - denominator.log()?)?)
}

/// Box code `[.., 10]` from the raw head outputs and the reference
/// `[.., 3]` (normalised): `[cx, cy, log w, log l, cz, log h, sin, cos,
/// vx, vy]`, centres in metres.
pub fn decode_box(
    center: &Tensor,
    height: &Tensor,
    dims: &Tensor,
    rot: &Tensor,
    vel: &Tensor,
    reference: &Tensor,
    range: &[f64; 6],
) -> TrainResult<Tensor> {
    let inverse = inverse_sigmoid(reference)?;
    let last = reference.rank() - 1;
    let metres = |offset: &Tensor, axis: usize, count: usize| -> TrainResult<Tensor> {
        let unit = sigmoid(&(offset + inverse.narrow(last, axis, count)?)?)?;
        let parts: Vec<Tensor> = (0..count)
            .map(|i| unit.narrow(last, i, 1)?.affine(range[axis + i + 3] - range[axis + i], range[axis + i]))
            .collect::<candle_core::Result<_>>()?;
        Ok(Tensor::cat(&parts, last)?)
    };
    let (xy, z) = (metres(center, 0, 2)?, metres(height, 2, 1)?);
    let (w_l, h) = (dims.narrow(last, 0, 2)?, dims.narrow(last, 2, 1)?);
    Ok(Tensor::cat(&[&xy, &w_l, &z, &h, rot, vel], last)?)
}

/// The heads of one decoder layer on its queries `[B, Qt, C]` → (class
/// logits `[B, Qt, classes]`, box code `[B, Qt, 10]`). `weights` follow
/// [`params`].
pub fn forward(
    config: &CmtConfig,
    weights: &[Tensor],
    query: &Tensor,
    reference: &Tensor,
) -> TrainResult<(Tensor, Tensor)> {
    let expected = 2 + 5 * attributes(config.classes).len();
    if weights.len() != expected {
        return Err(bad_weights("cmt heads", expected, weights.len()));
    }
    let x = layer_norm(query, &weights[0], &weights[1])?; // [B, Qt, C]
    let head = |i: usize| -> TrainResult<Tensor> {
        let w = &weights[2 + 5 * i..7 + 5 * i];
        let hidden = layer_norm(&x.broadcast_matmul(&w[0])?, &w[1], &w[2])?.relu()?; // [B, Qt, 64]
        Ok(hidden.broadcast_matmul(&w[3])?.broadcast_add(&w[4])?)
    };
    let (center, height, dims, rot, vel) = (head(0)?, head(1)?, head(2)?, head(3)?, head(4)?);
    let logits = (head(5)? + config.decoder.class_bias)?;
    let code = decode_box(&center, &height, &dims, &rot, &vel, reference, &config.point_cloud_range)?;
    Ok((logits, code))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    const RANGE: [f64; 6] = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0];

    #[test]
    fn a_zero_offset_lands_on_the_reference_in_metres() {
        let cpu = &Device::Cpu;
        let reference = Tensor::new(&[[0.5f64, 0.75, 0.25]], cpu).unwrap();
        let zeros = |n: usize| Tensor::zeros((1, n), candle_core::DType::F64, cpu).unwrap();
        let dims = Tensor::new(&[[0.1f64, 0.2, 0.3]], cpu).unwrap();
        let rot = Tensor::new(&[[0.6f64, 0.8]], cpu).unwrap();
        let vel = Tensor::new(&[[1.0f64, -1.0]], cpu).unwrap();
        let code = decode_box(&zeros(2), &zeros(1), &dims, &rot, &vel, &reference, &RANGE).unwrap();
        let code = code.to_vec2::<f64>().unwrap()[0].clone();
        let expected = [0.0, 27.0, 0.1, 0.2, -3.0, 0.3, 0.6, 0.8, 1.0, -1.0];
        for (a, b) in code.iter().zip(expected) {
            assert!((a - b).abs() < 1e-9, "{code:?}");
        }
        let x = Tensor::new(&[0.1f64, 0.5, 0.9], cpu).unwrap();
        let back = sigmoid(&inverse_sigmoid(&x).unwrap()).unwrap().to_vec1::<f64>().unwrap();
        assert!(back.iter().zip([0.1, 0.5, 0.9]).all(|(a, b)| (a - b).abs() < 1e-12), "{back:?}");
    }

    #[test]
    fn the_box_denormalisation_gradient_matches_central_differences() {
        let cpu = &Device::Cpu;
        let values = [0.3f64, -0.2, 0.1, 0.62, 0.41, 0.77];
        let code_weights = Tensor::new(&[[2.0f64, 1.5, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0]], cpu).unwrap();
        let fixed = |n: usize| Tensor::ones((1, n), candle_core::DType::F64, cpu).unwrap();
        // (centre offset 2, height offset 1, reference 3) → Σ weights ⊙ code.
        let f = |v: &Tensor| -> Tensor {
            let (center, height, reference) =
                (v.narrow(1, 0, 2).unwrap(), v.narrow(1, 2, 1).unwrap(), v.narrow(1, 3, 3).unwrap());
            let code = decode_box(&center, &height, &fixed(3), &fixed(2), &fixed(2), &reference, &RANGE).unwrap();
            (code * &code_weights).unwrap().sum_all().unwrap()
        };
        let var = Var::from_tensor(&Tensor::new(&[values], cpu).unwrap()).unwrap();
        let grads = f(var.as_tensor()).backward().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let h = 1e-6;
        for i in 0..values.len() {
            let (mut plus, mut minus) = (values, values);
            plus[i] += h;
            minus[i] -= h;
            let at = |v: [f64; 6]| f(&Tensor::new(&[v], cpu).unwrap()).to_scalar::<f64>().unwrap();
            let numeric = (at(plus) - at(minus)) / (2.0 * h);
            assert!((analytic[i] - numeric).abs() < 1e-5 * (1.0 + numeric.abs()), "{i}: {} vs {numeric}", analytic[i]);
        }
        assert!(analytic.iter().all(|g| g.abs() > 1e-3), "every input moves the centre: {analytic:?}");
    }
}
