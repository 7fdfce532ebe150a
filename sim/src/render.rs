//! The RGB-D camera: a pinhole with plumb_bob distortion (the ray of each
//! pixel goes through its undistorted position), casting one ray per pixel
//! with rayon over bands of rows, tile by tile ([`crate::tile`]). Depth is the optical-frame z (TUM style, not the ray
//! length); the optical frame has x right, y down, z forward.

use cairn_core::transform::Rigid3;
use cairn_core::{Calibration, DepthImage, PinholeCamera, RgbImage};
use nalgebra::Point2;
use rayon::prelude::*;

use crate::Result;
use crate::geometry::V3;
use crate::noise::{NoiseModel, row_rng};
use crate::scene::Scene;
use crate::tile::{TILE, trace_band};

/// One rendered RGB-D frame.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbdFrame {
    /// Colour image.
    pub rgb: RgbImage,
    /// Depth in metres along the optical axis; 0 = hole.
    pub depth: DepthImage,
}

/// A simulated RGB-D camera (registered colour and depth, one calibration).
#[derive(Debug, Clone)]
pub struct RgbdCamera {
    /// The calibration the camera was built from (written as `calib.yaml`).
    pub calibration: Calibration,
    /// The camera model (`calibration.camera()`).
    pub camera: PinholeCamera,
    /// The noise model used when noise is on.
    pub noise: NoiseModel,
    /// Per pixel, row-major: the ray direction in the camera frame, scaled
    /// to z = 1 so the hit parameter is the depth.
    rays_in_camera: Vec<V3>,
}

impl RgbdCamera {
    /// A camera for `calibration`, with the default noise model.
    pub fn new(calibration: Calibration) -> Self {
        let camera = calibration.camera();
        let (w, h) = (camera.width as usize, camera.height as usize);
        let mut rays_in_camera = Vec::with_capacity(w * h);
        for v in 0..h {
            for u in 0..w {
                let distorted = Point2::new((u as f64 - camera.cx) / camera.fx, (v as f64 - camera.cy) / camera.fy);
                let n = camera.undistort_normalized(distorted);
                rays_in_camera.push(V3::new(n.x as f32, n.y as f32, 1.0));
            }
        }
        RgbdCamera { calibration, camera, noise: NoiseModel::default(), rays_in_camera }
    }

    /// A camera from a ROS `camera_info` YAML file.
    pub fn from_yaml_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        Ok(Self::new(Calibration::from_yaml_file(path)?))
    }

    /// The TUM fr1 Kinect (640×480, distorted), built in.
    pub fn tum_fr1() -> Result<Self> {
        Ok(Self::new(crate::dataset::builtin_calibration("fr1")?))
    }

    /// Renders `scene` seen from `world_from_camera`. With `noise_seed`
    /// the noise model is applied (seeded); with `None` the frame is ideal.
    pub fn render(&self, scene: &Scene, world_from_camera: &Rigid3, noise_seed: Option<u64>) -> Result<RgbdFrame> {
        let (w, h) = (self.camera.width as usize, self.camera.height as usize);
        let rotation = world_from_camera.rotation.to_rotation_matrix().matrix().cast::<f32>();
        let origin = world_from_camera.translation.vector.cast::<f32>();
        let mut rgb = vec![0u8; 3 * w * h];
        let mut clean = vec![0f32; w * h];
        let rgb_sigma = self.noise.rgb_sigma as f32;
        // Bands of TILE rows in parallel, traced tile by tile; then the
        // colour noise row by row, in pixel order.
        rgb.par_chunks_mut(3 * w * TILE).zip(clean.par_chunks_mut(w * TILE)).enumerate().for_each(
            |(band, (rgb_band, depth_band))| {
                let (v0, rows) = (band * TILE, depth_band.len() / w);
                let mut colours = vec![scene.sky; rows * w];
                let ray = |u: usize, v: usize| self.rays_in_camera[v * w + u];
                trace_band(scene, (&rotation, &origin), w, v0..v0 + rows, ray, |u, v, dir, hit| {
                    if let Some(hit) = hit {
                        let i = (v - v0) * w + u;
                        depth_band[i] = hit.t;
                        colours[i] = scene.shade(&hit, &origin, dir);
                    }
                });
                for r in 0..rows {
                    // Streams 0..h are the colour noise, h..2h the depth noise.
                    let mut rng = noise_seed.map(|seed| row_rng(seed, v0 + r));
                    for (i, colour) in colours[r * w..(r + 1) * w].iter().enumerate() {
                        for (k, c) in colour.iter().enumerate() {
                            let noise = rng.as_mut().map_or(0.0, |r| r.normal());
                            // sqrt: a cheap display gamma.
                            let value = c.max(0.0).sqrt() + rgb_sigma * noise;
                            // `as u8` saturates; + 0.5 rounds (no libm `roundf`).
                            rgb_band[3 * (r * w + i) + k] = (value * 255.0 + 0.5).max(0.0) as u8;
                        }
                    }
                }
            },
        );
        let depth = match noise_seed {
            None => clean,
            Some(seed) => {
                let mut noisy = vec![0f32; w * h];
                noisy.par_chunks_mut(w).enumerate().for_each(|(v, row)| {
                    self.noise.depth_row(&clean, w, v, &mut row_rng(seed, h + v), row);
                });
                noisy
            }
        };
        Ok(RgbdFrame {
            rgb: RgbImage::new(w as u32, h as u32, rgb)?,
            depth: DepthImage::new(w as u32, h as u32, depth)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rect;
    use crate::scene::Light;
    use crate::texture::Texture;
    use nalgebra::{Isometry3, Vector3};

    fn small_camera(distortion: bool) -> RgbdCamera {
        let mut camera = PinholeCamera::new(8, 6, 10.0, 10.0, 3.5, 2.5);
        if distortion {
            camera.distortion = cairn_core::Distortion::plumb_bob([0.1, 0.0, 0.0, 0.0, 0.0]);
        }
        RgbdCamera::new(Calibration::new("test", camera).unwrap())
    }

    /// A grey wall at world z = `z`, facing the camera at the origin.
    fn wall(z: f32) -> Scene {
        let rect = Rect::new(V3::new(-50.0, -50.0, z), V3::y() * 100.0, V3::x() * 100.0, 0);
        let tex = Texture::Checker { size: 100.0, colours: [[0.5; 3], [0.5; 3]] };
        Scene::from_parts("wall", 0, vec![rect], vec![tex], vec![Light { p_in_world: V3::zeros(), intensity: 0.0 }])
    }

    #[test]
    fn depth_is_z_not_ray_length() {
        let frame = small_camera(true).render(&wall(2.0), &Isometry3::identity(), None).unwrap();
        assert!(frame.depth.data.iter().all(|&d| (d - 2.0).abs() < 1e-5));
        // Ambient 0.25 × albedo 0.5 = 0.125, √ = 0.3536 → 90.
        assert_eq!(frame.rgb.get(0, 0), Some([90, 90, 90]));
    }

    #[test]
    fn pixel_rays_reproject_to_their_pixel() {
        let camera = small_camera(true);
        for (i, ray) in camera.rays_in_camera.iter().enumerate() {
            let p = nalgebra::Point3::new(f64::from(ray.x), f64::from(ray.y), 1.0);
            let pixel = camera.camera.project(p).unwrap();
            assert!((pixel.x - (i % 8) as f64).abs() < 1e-3 && (pixel.y - (i / 8) as f64).abs() < 1e-3);
        }
    }

    #[test]
    fn moving_the_camera_back_adds_depth() {
        let world_from_camera = Isometry3::translation(0.0, 0.0, -1.0);
        let frame = small_camera(false).render(&wall(2.0), &world_from_camera, None).unwrap();
        assert!((frame.depth.data[0] - 3.0).abs() < 1e-5);
        let turned = Isometry3::rotation(Vector3::y() * std::f64::consts::PI);
        let frame = small_camera(false).render(&wall(2.0), &turned, None).unwrap();
        assert_eq!(frame.depth.valid_count(), 0);
    }
}
