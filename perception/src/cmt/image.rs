//! CMT's image pre-processing (host side; the official test pipeline:
//! `ResizeCropFlipImage` without flip, `NormalizeMultiviewImage`): each
//! camera image is resized to `image.size[0]` pixels wide (aspect kept,
//! bilinear), its top rows cropped to `image.size[1]`, and normalised as BGR
//! `(v − mean) / std`. The projection follows the image: `lidar2img =
//! pad4(cam2img) · lidar2cam` with rows 0–1 scaled by the resize factor and
//! `v` shifted up by the crop; `img2lidar` is its inverse, computed in f64.
//! A missing camera gives a zero image, `image_valid` 0 and zero matrices:
//! its tokens then lift to the LiDAR origin (a constant, moderate PE, where
//! identity matrices would lift pixels thousands of metres away and swamp
//! the attention), no anchor projects in front of it, and the position
//! layer zeroes its tokens.

use std::path::Path;

use cairn_core::samples::{CameraSample, NUSCENES_CAMERAS, SampleInfo, SampleSet};
use cairn_train::model::TensorMap;
use candle_core::{Device, Tensor};
use image::RgbImage;
use image::imageops::{FilterType, crop_imm, resize};
use nalgebra::Matrix4;

use super::CmtConfig;
use crate::{Error, Result};

/// BGR channel means of the normalisation (mod.rs).
pub const MEAN_BGR: [f32; 3] = [103.530, 116.280, 123.675];
/// BGR channel standard deviations of the normalisation (mod.rs).
pub const STD_BGR: [f32; 3] = [57.375, 57.120, 58.395];

/// How an original image maps onto the network image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResizeCrop {
    /// Resize factor (network width / original width).
    pub scale: f64,
    /// Resized size `[width, height]` before the crop.
    pub resized: [usize; 2],
    /// Rows cropped from the top of the resized image.
    pub crop_top: usize,
}

impl ResizeCrop {
    /// The resize and crop of an original `width × height` image.
    pub fn new(config: &CmtConfig, width: usize, height: usize) -> Result<Self> {
        let [out_w, out_h] = config.image.size;
        if width == 0 || height == 0 {
            return Err(Error::Input(format!("cmt image: empty image {width}×{height}")));
        }
        let scale = out_w as f64 / width as f64;
        let resized_h = (height as f64 * scale).round() as usize;
        if resized_h < out_h {
            return Err(Error::Input(format!(
                "cmt image: a {width}×{height} image resized to {out_w} wide is {resized_h} rows, fewer than the \
                 network's {out_h}"
            )));
        }
        Ok(ResizeCrop { scale, resized: [out_w, resized_h], crop_top: resized_h - out_h })
    }
}

/// `lidar2img` of the network image and its inverse `img2lidar`, from the
/// camera's intrinsics `cam2img` and `camera_from_lidar` (row-major).
pub fn projection(
    cam2img: &[[f64; 3]; 3],
    camera_from_lidar: &[[f64; 4]; 4],
    resize: &ResizeCrop,
) -> Result<(Matrix4<f64>, Matrix4<f64>)> {
    let mut intrinsics = Matrix4::identity();
    for (r, row) in cam2img.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            intrinsics[(r, c)] = *v;
        }
    }
    let camera_from_lidar = Matrix4::from_fn(|r, c| camera_from_lidar[r][c]);
    // v' = s·v − crop and u' = s·u on the homogeneous rows.
    let mut image_from_original = Matrix4::identity();
    image_from_original[(0, 0)] = resize.scale;
    image_from_original[(1, 1)] = resize.scale;
    image_from_original[(1, 2)] = -(resize.crop_top as f64);
    let lidar2img = image_from_original * intrinsics * camera_from_lidar;
    let img2lidar = lidar2img
        .try_inverse()
        .filter(|m| m.iter().all(|v| v.is_finite()))
        .ok_or_else(|| Error::Input(format!("cmt image: lidar2img is singular: {lidar2img}")))?;
    Ok((lidar2img, img2lidar))
}

/// The network image `[3, H, W]` (BGR, normalised) of an RGB image.
pub fn normalise(rgb: &RgbImage, resize_crop: &ResizeCrop, config: &CmtConfig) -> Vec<f32> {
    let [out_w, out_h] = config.image.size;
    let [w, h] = resize_crop.resized.map(|s| s as u32);
    let resized = resize(rgb, w, h, FilterType::Triangle);
    let cropped = crop_imm(&resized, 0, resize_crop.crop_top as u32, out_w as u32, out_h as u32).to_image();
    let mut planes = vec![0.0f32; 3 * out_w * out_h];
    for (x, y, pixel) in cropped.enumerate_pixels() {
        let at = y as usize * out_w + x as usize;
        for (channel, rgb_index) in [2usize, 1, 0].into_iter().enumerate() {
            let v = pixel.0[rgb_index] as f32;
            planes[channel * out_w * out_h + at] = (v - MEAN_BGR[channel]) / STD_BGR[channel];
        }
    }
    planes
}

/// One camera of one sample: its normalised image and matrices, or `None`
/// when it is missing from the sample.
pub struct CameraInput {
    /// `[3, H, W]` BGR normalised.
    pub image: Vec<f32>,
    /// `lidar2img` of the network image.
    pub lidar2img: Matrix4<f64>,
    /// Its inverse.
    pub img2lidar: Matrix4<f64>,
}

/// Reads and pre-processes one camera image of a set.
pub fn camera_input(set: &SampleSet, camera: &CameraSample, config: &CmtConfig) -> Result<CameraInput> {
    read_camera(&set.file(&camera.img_path), camera, config)
}

fn read_camera(path: &Path, camera: &CameraSample, config: &CmtConfig) -> Result<CameraInput> {
    let rgb = image::open(path).map_err(|e| Error::Input(format!("{}: {e}", path.display())))?.to_rgb8();
    decoded_camera_input(&rgb, camera, config)
}

/// Pre-processes one camera's image, already decoded (e.g. from a ROS
/// `sensor_msgs/Image`), with the camera's calibration.
pub fn decoded_camera_input(rgb: &RgbImage, camera: &CameraSample, config: &CmtConfig) -> Result<CameraInput> {
    let resize_crop = ResizeCrop::new(config, rgb.width() as usize, rgb.height() as usize)?;
    let (lidar2img, img2lidar) = projection(&camera.cam2img, &camera.lidar2cam, &resize_crop)?;
    Ok(CameraInput { image: normalise(rgb, &resize_crop, config), lidar2img, img2lidar })
}

/// The cameras of a sample in network order: the first `image.cameras` of
/// nuScenes' `CAM_FRONT, CAM_FRONT_RIGHT, CAM_FRONT_LEFT, CAM_BACK,
/// CAM_BACK_LEFT, CAM_BACK_RIGHT`.
pub fn camera_names(config: &CmtConfig) -> Result<&'static [&'static str]> {
    NUSCENES_CAMERAS.get(..config.image.cameras).ok_or_else(|| {
        Error::Config(format!("cmt.image.cameras: {} cameras, the sample sets name 6", config.image.cameras))
    })
}

/// The image part of the input map for a batch of samples: `images`,
/// `image_valid`, `lidar2img`, `img2lidar` (mod.rs).
pub fn image_inputs(set: &SampleSet, samples: &[&SampleInfo], config: &CmtConfig) -> Result<TensorMap> {
    image_inputs_with(samples, config, |_, _, camera| camera_input(set, camera, config))
}

/// [`image_inputs`] with the cameras' inputs from `camera(sample index,
/// camera name, camera)`, called for each camera a sample has (decoded
/// images instead of files).
pub fn image_inputs_with(
    samples: &[&SampleInfo],
    config: &CmtConfig,
    mut camera_input: impl FnMut(usize, &str, &CameraSample) -> Result<CameraInput>,
) -> Result<TensorMap> {
    let names = camera_names(config)?;
    let [w, h] = config.image.size;
    let (b, n) = (samples.len(), names.len());
    let mut images = vec![0.0f32; b * n * 3 * h * w];
    let mut valid = vec![0.0f32; b * n];
    let mut matrices = [Vec::with_capacity(b * n * 16), Vec::with_capacity(b * n * 16)];
    for (i, sample) in samples.iter().enumerate() {
        for (j, name) in names.iter().enumerate() {
            let (lidar2img, img2lidar) = match sample.images.get(*name) {
                Some(camera) => {
                    let input = camera_input(i, name, camera)?;
                    let at = (i * n + j) * 3 * h * w;
                    images[at..at + 3 * h * w].copy_from_slice(&input.image);
                    valid[i * n + j] = 1.0;
                    (input.lidar2img, input.img2lidar)
                }
                None => (Matrix4::zeros(), Matrix4::zeros()),
            };
            for (out, m) in matrices.iter_mut().zip([lidar2img, img2lidar]) {
                out.extend((0..16).map(|k| m[(k / 4, k % 4)] as f32)); // row-major
            }
        }
    }
    let cpu = &Device::Cpu;
    let [lidar2img, img2lidar] = matrices;
    Ok(TensorMap::from([
        ("images".to_string(), Tensor::from_vec(images, (b, n, 3, h, w), cpu)?),
        ("image_valid".to_string(), Tensor::from_vec(valid, (b, n), cpu)?),
        ("lidar2img".to_string(), Tensor::from_vec(lidar2img, (b, n, 4, 4), cpu)?),
        ("img2lidar".to_string(), Tensor::from_vec(img2lidar, (b, n, 4, 4), cpu)?),
    ]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nalgebra::Vector4;

    #[test]
    fn nuscenes_images_resize_and_crop_as_the_official_pipeline() {
        let small = ResizeCrop::new(&CmtConfig::small(), 1600, 900).unwrap();
        assert_eq!((small.scale, small.resized, small.crop_top), (0.2, [320, 180], 52));
        let full = ResizeCrop::new(&CmtConfig::full(), 1600, 900).unwrap();
        assert_eq!((full.scale, full.resized, full.crop_top), (1.0, [1600, 900], 260));
        assert!(ResizeCrop::new(&CmtConfig::small(), 1600, 400).is_err(), "too flat to fill 320×128");
    }

    #[test]
    fn the_projection_follows_the_resize_and_the_crop() {
        let k = [[1000.0, 0.0, 800.0], [0.0, 1000.0, 450.0], [0.0, 0.0, 1.0]];
        // Camera looking along LiDAR +x: x_cam = −y, y_cam = −z, z_cam = x.
        let camera_from_lidar =
            [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        let resize_crop = ResizeCrop::new(&CmtConfig::small(), 1600, 900).unwrap();
        let (lidar2img, img2lidar) = projection(&k, &camera_from_lidar, &resize_crop).unwrap();
        // A point 10 m ahead, 1 m left, 0.5 m up: original pixel
        // (800 − 100, 450 − 50) = (700, 400) → (140, 80 − 52).
        let p = lidar2img * Vector4::new(10.0, 1.0, 0.5, 1.0);
        assert!((p.x / p.z - 140.0).abs() < 1e-9 && (p.y / p.z - 28.0).abs() < 1e-9, "{p}");
        assert!((img2lidar * lidar2img - Matrix4::identity()).norm() < 1e-12);
    }

    #[test]
    fn normalisation_is_bgr_mean_std() {
        let config = CmtConfig::small();
        let rgb = RgbImage::from_pixel(1600, 900, image::Rgb([10, 20, 30]));
        let resize_crop = ResizeCrop::new(&config, 1600, 900).unwrap();
        let planes = normalise(&rgb, &resize_crop, &config);
        let plane = 320 * 128;
        assert_eq!(planes.len(), 3 * plane);
        assert!((planes[0] - (30.0 - 103.530) / 57.375).abs() < 1e-6, "blue first");
        assert!((planes[plane + 5] - (20.0 - 116.280) / 57.120).abs() < 1e-6);
        assert!((planes[2 * plane + 7] - (10.0 - 123.675) / 58.395).abs() < 1e-6, "red last");
    }
}
