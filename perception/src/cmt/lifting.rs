//! CMT's coordinate lifting (paper §3.3, "coordinate encoding"; official
//! `_rv_pe` and `_rv_query_embed`), the geometry under the position
//! encodings ([`super::position`]): image pixels lifted at the depth bins
//! through `img2lidar`, and anchors projected into every view with
//! `lidar2img` and lifted back along their pixel's ray. Points come out
//! normalised by the point-cloud range, `[0, 1]` inside it.

use cairn_train::Result as TrainResult;
use candle_core::{D, Tensor};

use super::CmtConfig;

/// The depth bins (metres).
pub fn depths(config: &CmtConfig) -> Vec<f64> {
    let p = &config.position;
    let step = (p.depth_max - p.depth_start) / p.depth_bins as f64;
    (0..p.depth_bins).map(|k| p.depth_start + k as f64 * step).collect()
}

/// Pixel centres `(u, v)` of the image tokens of one camera, row-major.
pub fn token_pixels(config: &CmtConfig) -> Vec<[f64; 2]> {
    let [columns, rows] = config.image_grid();
    let stride = config.image.stride as f64;
    let centre = |i: usize| (i as f64 + 0.5) * stride;
    (0..rows).flat_map(|r| (0..columns).map(move |c| [centre(c), centre(r)])).collect()
}

/// Points in the LiDAR frame normalised by the point-cloud range:
/// `(p − min) / (max − min)` on the last axis of `points` `[.., 3]`.
fn normalise(points: &Tensor, range: &[f64; 6]) -> TrainResult<Tensor> {
    let (dtype, device) = (points.dtype(), points.device());
    let min = Tensor::new(&range[..3], device)?.to_dtype(dtype)?;
    let extent: Vec<f64> = (0..3).map(|i| range[i + 3] - range[i]).collect();
    let extent = Tensor::new(extent.as_slice(), device)?.to_dtype(dtype)?;
    Ok(points.broadcast_sub(&min)?.broadcast_div(&extent)?)
}

/// Lifts homogeneous image points `pixels` `[.., P, 4]` = `(u·d, v·d, d, 1)`
/// through `img2lidar` `[.., 4, 4]` (same leading dims) into normalised
/// LiDAR points `[.., P, 3]`.
pub fn lift(pixels: &Tensor, img2lidar: &Tensor, range: &[f64; 6]) -> TrainResult<Tensor> {
    let points = pixels.broadcast_matmul(&img2lidar.t()?)?; // [.., P, 4]
    normalise(&points.narrow(D::Minus1, 0, 3)?, range)
}

/// The image tokens' lifted points, `[B, N, T, bins, 3]` normalised
/// (before the MLP), from `img2lidar` `[B, N, 4, 4]`.
pub fn image_token_points(config: &CmtConfig, img2lidar: &Tensor) -> TrainResult<Tensor> {
    let (b, n, _, _) = img2lidar.dims4()?;
    let depths = depths(config);
    let pixels = token_pixels(config);
    let mut homogeneous = Vec::with_capacity(pixels.len() * depths.len() * 4);
    for [u, v] in &pixels {
        for d in &depths {
            homogeneous.extend([u * d, v * d, *d, 1.0]);
        }
    }
    let rows = pixels.len() * depths.len();
    let homogeneous =
        Tensor::from_vec(homogeneous, (1, 1, rows, 4), img2lidar.device())?.to_dtype(img2lidar.dtype())?;
    let points = lift(&homogeneous, img2lidar, &config.point_cloud_range)?; // [B, N, T·bins, 3]
    Ok(points.reshape((b, n, pixels.len(), depths.len(), 3))?)
}

/// The anchors `[B, Qt, 3]` (normalised) projected into every view:
/// `[B, N, Qt, 4]` = `lidar2img · (p, 1)`, i.e. `(u·z, v·z, z, 1)`.
pub fn project(config: &CmtConfig, anchors: &Tensor, lidar2img: &Tensor) -> TrainResult<Tensor> {
    let (dtype, device) = (anchors.dtype(), anchors.device());
    let range = &config.point_cloud_range;
    let (b, qt, _) = anchors.dims3()?;
    let extent: Vec<f64> = (0..3).map(|i| range[i + 3] - range[i]).collect();
    let extent = Tensor::new(extent.as_slice(), device)?.to_dtype(dtype)?;
    let min = Tensor::new(&range[..3], device)?.to_dtype(dtype)?;
    let metres = anchors.broadcast_mul(&extent)?.broadcast_add(&min)?;
    let homogeneous = Tensor::cat(&[&metres, &Tensor::ones((b, qt, 1), dtype, device)?], 2)?.unsqueeze(1)?; // [B, 1, Qt, 4]
    Ok(homogeneous.broadcast_matmul(&lidar2img.t()?)?)
}

/// Image-plane points `(u, v, 1)` `[B, N, Qt, 3]` of projections
/// `[B, N, Qt, 4]`, divided by `depth` `[B, N, Qt, 1]` (moved ±1e-6 away
/// from 0, as official), and which of them the view sees (in front, inside
/// the image) `[B, N, Qt, 1]` as 0/1. Unseen points are zeroed so that
/// their (masked) lift stays finite.
pub fn image_plane(config: &CmtConfig, projected: &Tensor, depth: &Tensor) -> TrainResult<(Tensor, Tensor)> {
    let dtype = projected.dtype();
    let front = depth.gt(0.0)?.to_dtype(dtype)?;
    let safe = (depth + ((&front * 2.0)? - 1.0)? * 1e-6)?;
    let uvw = projected.narrow(3, 0, 3)?.broadcast_div(&safe)?; // [B, N, Qt, 3]
    let [width, height] = config.image.size.map(|s| s as f64);
    let between = |x: &Tensor, max: f64| -> TrainResult<Tensor> {
        Ok((x.ge(0.0)?.to_dtype(dtype)? * x.lt(max)?.to_dtype(dtype)?)?)
    };
    let inside = (between(&uvw.narrow(3, 0, 1)?, width)? * between(&uvw.narrow(3, 1, 1)?, height)?)?;
    let visible = (inside * front)?; // [B, N, Qt, 1]
    Ok((uvw.broadcast_mul(&visible)?, visible))
}

/// Image-plane points `(u, v, 1)` `[B, N, Qt, 3]` lifted at the depth bins
/// through `img2lidar` `[B, N, 4, 4]`: normalised points `[B, N, Qt, bins, 3]`.
pub fn lift_pixels(config: &CmtConfig, uvw: &Tensor, img2lidar: &Tensor) -> TrainResult<Tensor> {
    let (b, n, qt, _) = uvw.dims4()?;
    let (dtype, device) = (uvw.dtype(), uvw.device());
    let depths = Tensor::new(depths(config).as_slice(), device)?.to_dtype(dtype)?;
    let bins = depths.dim(0)?;
    let scaled = uvw.unsqueeze(3)?.broadcast_mul(&depths.reshape((1, 1, 1, bins, 1))?)?; // [B, N, Qt, bins, 3]
    let ones = Tensor::ones((b, n, qt, bins, 1), dtype, device)?;
    let lifted = Tensor::cat(&[&scaled, &ones], 4)?.reshape((b, n, qt * bins, 4))?;
    Ok(lift(&lifted, img2lidar, &config.point_cloud_range)?.reshape((b, n, qt, bins, 3))?)
}

/// The anchors' lifted points in every view: anchors `[B, Qt, 3]`
/// normalised → (points `[B, N, Qt, bins, 3]` normalised, visible
/// `[B, N, Qt]` as 0/1). As the official code, the division by the
/// projected depth uses a detached depth.
pub fn query_points(
    config: &CmtConfig,
    anchors: &Tensor,
    lidar2img: &Tensor,
    img2lidar: &Tensor,
) -> TrainResult<(Tensor, Tensor)> {
    let projected = project(config, anchors, lidar2img)?; // [B, N, Qt, 4]
    let depth = projected.narrow(3, 2, 1)?.detach(); // [B, N, Qt, 1]
    let (uvw, visible) = image_plane(config, &projected, &depth)?;
    Ok((lift_pixels(config, &uvw, img2lidar)?, visible.squeeze(3)?))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cmt::model::tests::ring_matrices;
    use candle_core::{DType, Device, Var};
    use nalgebra::{Matrix4, Vector4};

    /// The small preset with 4 depth bins (fewer finite differences).
    fn config() -> CmtConfig {
        let mut config = CmtConfig::small();
        config.position.depth_bins = 4;
        config
    }

    fn matrix(t: &Tensor, b: usize, n: usize) -> Matrix4<f64> {
        let rows = t.narrow(0, b, 1).unwrap().narrow(1, n, 1).unwrap().flatten_all().unwrap();
        Matrix4::from_row_slice(&rows.to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap())
    }

    fn denormalise(config: &CmtConfig, p: &[f64]) -> Vector4<f64> {
        let r = config.point_cloud_range;
        Vector4::new(p[0] * (r[3] - r[0]) + r[0], p[1] * (r[4] - r[1]) + r[1], p[2] * (r[5] - r[2]) + r[2], 1.0)
    }

    #[test]
    fn image_token_points_reproject_onto_their_pixel_at_their_depth() {
        let config = CmtConfig::small();
        let (lidar2img, img2lidar) = ring_matrices(&config, 1, DType::F32);
        let points = image_token_points(&config, &img2lidar).unwrap(); // [1, N, T, bins, 3]
        let (pixels, depths) = (token_pixels(&config), depths(&config));
        let values = points.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let values: Vec<f64> = values.iter().map(|v| *v as f64).collect();
        for n in 0..config.image.cameras {
            let project = matrix(&lidar2img, 0, n);
            for (t, [u, v]) in pixels.iter().enumerate() {
                for (k, d) in depths.iter().enumerate() {
                    let at = ((n * pixels.len() + t) * depths.len() + k) * 3;
                    let q = project * denormalise(&config, &values[at..at + 3]);
                    assert!((q.z - d).abs() < 1e-4 * d, "camera {n} token {t}: depth {} vs {d}", q.z);
                    assert!((q.x / q.z - u).abs() < 1e-2 && (q.y / q.z - v).abs() < 1e-2, "{q} vs ({u}, {v})");
                }
            }
        }
    }

    #[test]
    fn an_anchor_ahead_is_seen_by_the_front_camera_only() {
        let config = CmtConfig::small();
        let (lidar2img, img2lidar) = ring_matrices(&config, 1, DType::F32);
        // 20 m ahead (+x), at the cameras' height; and one behind (−x).
        let r = config.point_cloud_range;
        let normal = |x: f64, z: f64| [((x - r[0]) / (r[3] - r[0])) as f32, 0.5, ((z - r[2]) / (r[5] - r[2])) as f32];
        let anchors = Tensor::new(&[[normal(20.0, 1.5), normal(-20.0, 1.5)]], &Device::Cpu).unwrap();
        let (_, visible) = query_points(&config, &anchors, &lidar2img, &img2lidar).unwrap();
        let visible = visible.squeeze(0).unwrap().to_vec2::<f32>().unwrap(); // [N, 2]
        let seen = |q: usize| (0..6).filter(|n| visible[*n][q] == 1.0).collect::<Vec<_>>();
        assert_eq!(seen(0), vec![0], "ahead: camera 0 (yaw 0)");
        assert_eq!(seen(1), vec![3], "behind: camera 3 (yaw 180°)");
    }

    /// `Σ points ⊙ weights` — a scalar whose gradient is every point's.
    fn scalar(points: &Tensor, weights: &Tensor) -> Tensor {
        (points * weights).unwrap().sum_all().unwrap()
    }

    fn central_difference(values: &[f64], f: impl Fn(&[f64]) -> f64) -> Vec<f64> {
        let h = 1e-6;
        (0..values.len())
            .map(|i| {
                let (mut plus, mut minus) = (values.to_vec(), values.to_vec());
                plus[i] += h;
                minus[i] -= h;
                (f(&plus) - f(&minus)) / (2.0 * h)
            })
            .collect()
    }

    fn assert_close(analytic: &[f64], numeric: &[f64]) {
        for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
            assert!((a - n).abs() < 1e-5 * (1.0 + n.abs()), "element {i}: autograd {a} vs differences {n}");
        }
    }

    #[test]
    fn the_lifting_gradient_matches_central_differences() {
        let config = config();
        let cpu = &Device::Cpu;
        let (lidar2img, img2lidar) = ring_matrices(&config, 1, DType::F64);
        // Image tokens: d/d img2lidar (camera 1 only, to keep it short).
        let camera = img2lidar.narrow(1, 1, 1).unwrap().contiguous().unwrap();
        let var = Var::from_tensor(&camera).unwrap();
        let points = image_token_points(&config, var.as_tensor()).unwrap();
        let weights = Tensor::randn(0f64, 1.0, points.dims(), cpu).unwrap();
        let grads = scalar(&points, &weights).backward().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let numeric = central_difference(&camera.flatten_all().unwrap().to_vec1::<f64>().unwrap(), |m| {
            let m = Tensor::from_slice(m, (1, 1, 4, 4), cpu).unwrap();
            scalar(&image_token_points(&config, &m).unwrap(), &weights).to_scalar::<f64>().unwrap()
        });
        assert_close(&analytic, &numeric);

        // Queries: d/d anchors, the projected depth held (detached, as official).
        let anchors = Tensor::new(&[[[0.7f64, 0.52, 0.8], [0.6, 0.45, 0.7], [0.3, 0.55, 0.6]]], cpu).unwrap();
        let var = Var::from_tensor(&anchors).unwrap();
        let (points, visible) = query_points(&config, var.as_tensor(), &lidar2img, &img2lidar).unwrap();
        assert!(visible.sum_all().unwrap().to_scalar::<f64>().unwrap() >= 3.0, "each anchor seen somewhere");
        let weights = Tensor::randn(0f64, 1.0, points.dims(), cpu).unwrap();
        let grads = scalar(&points, &weights).backward().unwrap();
        let analytic = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let depth = project(&config, &anchors, &lidar2img).unwrap().narrow(3, 2, 1).unwrap();
        let numeric = central_difference(&anchors.flatten_all().unwrap().to_vec1::<f64>().unwrap(), |a| {
            let a = Tensor::from_slice(a, (1, 3, 3), cpu).unwrap();
            let projected = project(&config, &a, &lidar2img).unwrap();
            let (uvw, _) = image_plane(&config, &projected, &depth).unwrap();
            scalar(&lift_pixels(&config, &uvw, &img2lidar).unwrap(), &weights).to_scalar::<f64>().unwrap()
        });
        assert_close(&analytic, &numeric);
        assert!(analytic.iter().any(|g| g.abs() > 1e-3), "a gradient reaches the anchors");
    }
}
