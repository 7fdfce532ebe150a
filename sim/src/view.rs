//! Rendering a rectified pinhole view (a surround camera) with per-pixel
//! ground truth: colour, depth (optical z) and the id of the object seen
//! ([`NO_OBJECT`] for the static world and the sky). Bands of rows in
//! parallel (rayon), tile by tile ([`crate::tile`]), noise-free, so a view depends only on the scene and the pose.

use cairn_core::RgbImage;
use cairn_core::transform::Rigid3;
use rayon::prelude::*;

use crate::Result;
use crate::geometry::V3;
use crate::scene::{NO_OBJECT, Scene};
use crate::tile::{TILE, trace_band};

/// A rendered view and its per-pixel ground truth.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Colour image.
    pub rgb: RgbImage,
    /// Depth along the optical axis (metres), row-major; 0 where the ray
    /// hit nothing.
    pub depth: Vec<f32>,
    /// Object id per pixel, row-major ([`NO_OBJECT`]: none).
    pub object: Vec<u32>,
}

/// A rectified pinhole: `(fx, fy, cx, cy)` and size; pixel centres at
/// integer coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pinhole {
    /// Focal lengths and principal point, pixels.
    pub intrinsics: (f64, f64, f64, f64),
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Pinhole {
    /// Renders `scene` seen from `world_from_camera` (optical frame: x
    /// right, y down, z forward).
    pub fn render(&self, scene: &Scene, world_from_camera: &Rigid3) -> Result<View> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (fx, fy, cx, cy) = self.intrinsics;
        let rotation = world_from_camera.rotation.to_rotation_matrix().matrix().cast::<f32>();
        let origin = world_from_camera.translation.vector.cast::<f32>();
        let mut rgb = vec![0u8; 3 * w * h];
        let mut depth = vec![0f32; w * h];
        let mut object = vec![NO_OBJECT; w * h];
        rgb.par_chunks_mut(3 * w * TILE)
            .zip(depth.par_chunks_mut(w * TILE))
            .zip(object.par_chunks_mut(w * TILE))
            .enumerate()
            .for_each(|(band, ((rgb_band, depth_band), object_band))| {
                let (v0, rows) = (band * TILE, depth_band.len() / w);
                let ray =
                    |u: usize, v: usize| V3::new(((u as f64 - cx) / fx) as f32, ((v as f64 - cy) / fy) as f32, 1.0);
                trace_band(scene, (&rotation, &origin), w, v0..v0 + rows, ray, |u, v, dir, hit| {
                    let i = (v - v0) * w + u;
                    let mut colour = scene.sky;
                    if let Some(hit) = hit {
                        depth_band[i] = hit.t;
                        object_band[i] = scene.object_of(&hit).unwrap_or(NO_OBJECT);
                        colour = scene.shade(&hit, &origin, dir);
                    }
                    for (k, c) in colour.iter().enumerate() {
                        rgb_band[3 * i + k] = (c.max(0.0).sqrt() * 255.0 + 0.5).min(255.0) as u8;
                    }
                });
            });
        Ok(View { rgb: RgbImage::new(self.width, self.height, rgb)?, depth, object })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Rect;
    use crate::texture::Texture;
    use nalgebra::Isometry3;

    #[test]
    fn object_ids_and_depth_of_a_square_in_front() {
        // A 2 m square of object 7 at z = 4, in front of a camera at the origin.
        let square = Rect::new(V3::new(-1.0, -1.0, 4.0), V3::y() * 2.0, V3::x() * 2.0, 0);
        let grey = Texture::Checker { size: 1.0, colours: [[0.5; 3], [0.5; 3]] };
        let mut scene = Scene::from_parts("t", 0, vec![square], vec![grey], Vec::new());
        scene.rect_object = vec![7];
        scene.sky = [1.0; 3];
        let pinhole = Pinhole { intrinsics: (10.0, 10.0, 4.5, 4.5), width: 10, height: 10 };
        let view = pinhole.render(&scene, &Isometry3::identity()).unwrap();
        // ±1 m at 4 m is ±2.5 px around the centre 4.5: pixels 2..=7.
        for v in 0..10 {
            for u in 0..10 {
                let inside = (2..=7).contains(&u) && (2..=7).contains(&v);
                let i = v * 10 + u;
                assert_eq!(view.object[i] == 7, inside, "pixel ({u}, {v})");
                assert_eq!(view.depth[i], if inside { 4.0 } else { 0.0 });
            }
        }
        assert_eq!(view.rgb.get(0, 0), Some([255; 3]));
    }
}
