//! The box coder: a [`LidarBox`] ↔ the network's 10-value box code
//! `[cx, cy, log w, log l, cz, log h, sin yaw, cos yaw, vx, vy]` (the
//! official `normalize_bbox` / `denormalize_bbox`, junjie18/CMT
//! `core/bbox/util.py`), and centres ↔ `[0, 1]³` over the point-cloud range
//! (anchors and denoising queries live there).
//!
//! Velocity: a ground-truth velocity that nuScenes does not know (NaN) is
//! already 0 in [`LidarBox::from_instance`]; the official dataset does the
//! same (`gt_velocity[nan_mask] = [0, 0]`) and keeps the box's full L1 weight
//! on it (the head's `isfinite` filter then never fires), so the coder
//! simply encodes the 0.
//!
//! The tensor half ([`code_to_metric`], [`normalise_centres`]) is written in
//! candle ops so gradients flow through it; it is checked against central
//! differences in the tests.

use candle_core::Tensor;

use crate::detection::LidarBox;
use crate::{Error, Result};

/// Values per box code.
pub const CODE_SIZE: usize = 10;

/// The box code of a box: `[cx, cy, ln w, ln l, cz, ln h, sin yaw, cos yaw,
/// vx, vy]`. A size that is not positive and finite cannot be coded.
pub fn encode(lidar_box: &LidarBox) -> Result<[f64; CODE_SIZE]> {
    if lidar_box.size.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::Input(format!("box size {:?} must be positive and finite to be coded", lidar_box.size)));
    }
    if lidar_box.centre.iter().chain(&[lidar_box.yaw]).any(|v| !v.is_finite()) {
        return Err(Error::Input(format!("box centre {:?} / yaw {} is not finite", lidar_box.centre, lidar_box.yaw)));
    }
    let [x, y, z] = lidar_box.centre;
    let [w, l, h] = lidar_box.size;
    let (sin, cos) = lidar_box.yaw.sin_cos();
    let velocity = lidar_box.velocity.map(|v| if v.is_finite() { v } else { 0.0 });
    Ok([x, y, w.ln(), l.ln(), z, h.ln(), sin, cos, velocity[0], velocity[1]])
}

/// The box a code describes (sizes `exp` of the logs, yaw
/// `atan2(sin, cos)`), with its class label and score.
pub fn decode(code: &[f32], label: usize, score: f64) -> Result<LidarBox> {
    let c: [f32; CODE_SIZE] =
        code.try_into().map_err(|_| Error::Input(format!("a box code has {CODE_SIZE} values, got {}", code.len())))?;
    let v = c.map(f64::from);
    Ok(LidarBox {
        centre: [v[0], v[1], v[4]],
        size: [v[2].exp(), v[3].exp(), v[5].exp()],
        yaw: v[6].atan2(v[7]),
        velocity: [v[8], v[9]],
        label,
        score,
    })
}

/// A centre in metres → `[0, 1]³` over `range` (`[x_min, y_min, z_min,
/// x_max, y_max, z_max]`); outside the range it falls outside `[0, 1]`.
pub fn normalise_centre(range: &[f64; 6], centre: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|k| (centre[k] - range[k]) / (range[k + 3] - range[k]))
}

/// A `[0, 1]³` centre → metres (the inverse of [`normalise_centre`]).
pub fn denormalise_centre(range: &[f64; 6], normalised: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|k| range[k] + normalised[k] * (range[k + 3] - range[k]))
}

/// Whether a centre lies inside the range (bounds included), as mmdet3d's
/// `ObjectRangeFilter` keeps ground truth (it tests x and y only).
pub fn in_range(range: &[f64; 6], centre: [f64; 3]) -> bool {
    (0..2).all(|k| centre[k] >= range[k] && centre[k] <= range[k + 3])
}

/// The metric part of codes `[…, 10]` as tensors: `[…, 8]` = `[cx, cy, cz,
/// w, l, h, vx, vy]` (sizes `exp` of the logs). Differentiable.
pub fn code_to_metric(codes: &Tensor) -> Result<Tensor> {
    let last = codes.rank().checked_sub(1).ok_or_else(|| Error::Input("a box code tensor needs a rank".into()))?;
    let pick = |start: usize, len: usize| codes.narrow(last, start, len);
    let sizes = Tensor::cat(&[pick(2, 2)?, pick(5, 1)?], last)?.exp()?; // […, 3]: w, l, h
    Ok(Tensor::cat(&[pick(0, 2)?, pick(4, 1)?, sizes, pick(8, 2)?], last)?)
}

/// Centres `[…, 3]` in metres → `[0, 1]³` over `range`, as tensors.
/// Differentiable.
pub fn normalise_centres(centres: &Tensor, range: &[f64; 6]) -> Result<Tensor> {
    let device = centres.device();
    let low: Vec<f32> = range[..3].iter().map(|v| *v as f32).collect();
    let extent: Vec<f32> = (0..3).map(|k| (range[k + 3] - range[k]) as f32).collect();
    let low = Tensor::from_slice(&low, 3, device)?.to_dtype(centres.dtype())?;
    let extent = Tensor::from_slice(&extent, 3, device)?.to_dtype(centres.dtype())?;
    Ok(centres.broadcast_sub(&low)?.broadcast_div(&extent)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use candle_core::{Device, Var};

    use super::*;

    fn a_box() -> LidarBox {
        LidarBox {
            centre: [12.5, -3.0, 0.8],
            size: [1.9, 4.6, 1.6],
            yaw: 2.9,
            velocity: [3.0, -0.5],
            label: 0,
            score: 1.0,
        }
    }

    #[test]
    fn a_box_survives_the_code_round_trip() {
        for yaw in [-3.1, -1.0, 0.0, 0.7, 3.1] {
            let original = LidarBox { yaw, ..a_box() };
            let code = encode(&original).unwrap();
            let code32: Vec<f32> = code.iter().map(|v| *v as f32).collect();
            let back = decode(&code32, 0, 1.0).unwrap();
            for k in 0..3 {
                assert!((back.centre[k] - original.centre[k]).abs() < 1e-5);
                assert!((back.size[k] - original.size[k]).abs() < 1e-5);
            }
            assert!((back.yaw - yaw).abs() < 1e-5, "{} vs {yaw}", back.yaw);
            assert_eq!(back.velocity.map(|v| v as f32), original.velocity.map(|v| v as f32));
        }
    }

    #[test]
    fn the_code_layout_is_the_official_one() {
        let code = encode(&a_box()).unwrap();
        assert_eq!(code[0], 12.5);
        assert_eq!(code[1], -3.0);
        assert!((code[2] - 1.9f64.ln()).abs() < 1e-12);
        assert!((code[3] - 4.6f64.ln()).abs() < 1e-12);
        assert_eq!(code[4], 0.8);
        assert!((code[5] - 1.6f64.ln()).abs() < 1e-12);
        assert!((code[6] - 2.9f64.sin()).abs() < 1e-12 && (code[7] - 2.9f64.cos()).abs() < 1e-12);
        assert_eq!([code[8], code[9]], [3.0, -0.5]);
    }

    #[test]
    fn unknown_velocity_is_coded_as_zero_and_bad_boxes_are_errors() {
        let code = encode(&LidarBox { velocity: [f64::NAN, 1.0], ..a_box() }).unwrap();
        assert_eq!([code[8], code[9]], [0.0, 1.0]);
        assert!(encode(&LidarBox { size: [0.0, 1.0, 1.0], ..a_box() }).is_err());
        assert!(encode(&LidarBox { centre: [f64::NAN, 0.0, 0.0], ..a_box() }).is_err());
        assert!(decode(&[0.0; 9], 0, 1.0).is_err());
    }

    #[test]
    fn centres_normalise_over_the_range_and_back() {
        let range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0];
        assert_eq!(normalise_centre(&range, [-54.0, 54.0, -1.0]), [0.0, 1.0, 0.5]);
        let centre = [12.5, -3.0, 0.8];
        let back = denormalise_centre(&range, normalise_centre(&range, centre));
        assert!(back.iter().zip(centre).all(|(a, b)| (a - b).abs() < 1e-12));
        assert!(in_range(&range, centre) && !in_range(&range, [60.0, 0.0, 0.0]));
        let tensor = Tensor::new(&[[12.5f32, -3.0, 0.8]], &Device::Cpu).unwrap();
        let normalised = normalise_centres(&tensor, &range).unwrap().to_vec2::<f32>().unwrap();
        let expected = normalise_centre(&range, centre);
        assert!(normalised[0].iter().zip(expected).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-6));
    }

    #[test]
    fn the_metric_code_matches_the_host_decoder() {
        let code = encode(&a_box()).unwrap().map(|v| v as f32);
        let metric = code_to_metric(&Tensor::new(&code, &Device::Cpu).unwrap()).unwrap().to_vec1::<f32>().unwrap();
        let host = decode(&code, 0, 1.0).unwrap();
        let expected = [host.centre.to_vec(), host.size.to_vec(), host.velocity.to_vec()].concat();
        assert!(metric.iter().zip(expected).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-5), "{metric:?}");
    }

    /// Gradient of `sum(weights · f(x))` by candle autograd against central
    /// differences, in f64.
    fn check_gradient(f: impl Fn(&Tensor) -> Tensor, x: &[f64], shape: &[usize]) {
        let var = Var::from_slice(x, shape, &Device::Cpu).unwrap();
        let out = f(var.as_tensor());
        let count = out.elem_count();
        let weights: Vec<f64> = (0..count).map(|i| 0.3 + 0.17 * i as f64).collect();
        let weights = Tensor::from_slice(&weights, out.shape(), &Device::Cpu).unwrap();
        let grads = (out * &weights).unwrap().sum_all().unwrap().backward().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let scalar = |values: &[f64]| -> f64 {
            let t = Tensor::from_slice(values, shape, &Device::Cpu).unwrap();
            (f(&t) * &weights).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()
        };
        let h = 1e-6;
        for i in 0..x.len() {
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += h;
            minus[i] -= h;
            let numeric = (scalar(&plus) - scalar(&minus)) / (2.0 * h);
            assert!(
                (numeric - analytic[i]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "d[{i}]: {numeric} vs {}",
                analytic[i]
            );
        }
    }

    #[test]
    fn the_tensor_coder_has_the_numerical_gradient() {
        let codes =
            [1.0, -2.0, 0.3, 1.2, 0.5, -0.1, 0.2, 0.9, 1.5, -0.4, 3.0, 4.0, -0.5, 0.1, -1.0, 0.6, -0.8, 0.6, 0.0, 2.0];
        check_gradient(|t| code_to_metric(t).unwrap(), &codes, &[2, CODE_SIZE]);
        let range = [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0];
        check_gradient(
            |t| normalise_centres(t, &range).unwrap().sqr().unwrap(),
            &[3.0, -7.0, 1.0, 20.0, 5.0, -2.0],
            &[2, 3],
        );
    }
}
