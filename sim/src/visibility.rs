//! Camera visibility of objects: the fraction of an object's pixels, over
//! all cameras, that the rendered images show (not hidden by something
//! nearer). The unoccluded silhouette is rendered again for the object
//! alone, over the 2D box its 3D box projects to (on a coarser pixel grid
//! for large ones), and each of its pixels is looked up in the view's
//! object-id buffer.

use cairn_core::transform::Rigid3;
use nalgebra::Point3;
use rayon::prelude::*;

use crate::geometry::V3;
use crate::scene::Scene;
use crate::street::ObjectState;
use crate::view::{Pinhole, View};

/// Pixel samples per object and camera at most: larger silhouettes are
/// sampled on a coarser grid (every `s`-th pixel, weighted by `s²`).
const SAMPLES: u32 = 4096;

/// Per object of `objects`: shown pixels / silhouette pixels over all the
/// `views` (rendered by `cameras`, each with its `camera_from_lidar`), 0
/// when no camera sees it.
pub fn visible_fractions(
    scene: &Scene,
    objects: &[ObjectState],
    views: &[View],
    cameras: &[(Pinhole, Rigid3)],
    world_from_lidar: &Rigid3,
) -> Vec<f64> {
    objects
        .par_iter()
        .map(|object| {
            let parts: Vec<usize> =
                (0..scene.cuboid_object.len()).filter(|&c| scene.cuboid_object[c] == object.id).collect();
            let (mut seen, mut whole) = (0f64, 0f64);
            for ((pinhole, camera_from_lidar), view) in cameras.iter().zip(views) {
                let world_from_camera = world_from_lidar * camera_from_lidar.inverse();
                let (s, w) = silhouette(scene, &parts, object, pinhole, &world_from_camera, view);
                seen += s;
                whole += w;
            }
            if whole == 0.0 { 0.0 } else { (seen / whole).min(1.0) }
        })
        .collect()
}

/// Over the pixels of `pinhole` whose ray hits one of the cuboids `parts`
/// (the object alone): how many `view` shows the object at, and how many
/// there are (sampled, see [`SAMPLES`]).
fn silhouette(
    scene: &Scene,
    parts: &[usize],
    object: &ObjectState,
    pinhole: &Pinhole,
    world_from_camera: &Rigid3,
    view: &View,
) -> (f64, f64) {
    let Some((u0, v0, u1, v1)) = projected_bounds(object, pinhole, world_from_camera) else {
        return (0.0, 0.0);
    };
    let area = (u1 - u0 + 1) * (v1 - v0 + 1);
    let stride = (1..).find(|s| area / (s * s) <= SAMPLES).unwrap_or(1);
    let (fx, fy, cx, cy) = pinhole.intrinsics;
    let rotation = world_from_camera.rotation.to_rotation_matrix().matrix().cast::<f32>();
    let origin = world_from_camera.translation.vector.cast::<f32>();
    let (mut shown, mut count) = (0u64, 0u64);
    for v in (v0..=v1).step_by(stride as usize) {
        for u in (u0..=u1).step_by(stride as usize) {
            let ray = V3::new(((f64::from(u) - cx) / fx) as f32, ((f64::from(v) - cy) / fy) as f32, 1.0);
            let dir = rotation * ray;
            if parts.iter().any(|&c| scene.cuboids[c].intersect(&origin, &dir, 1e-4, scene.far).is_some()) {
                count += 1;
                let pixel = v as usize * pinhole.width as usize + u as usize;
                shown += u64::from(view.object.get(pixel) == Some(&object.id));
            }
        }
    }
    let weight = f64::from(stride * stride);
    (shown as f64 * weight, count as f64 * weight)
}

/// The pixel rectangle (inclusive) covering the object's box in the image;
/// the whole image when the box reaches behind the camera, `None` when it is
/// entirely behind or outside.
fn projected_bounds(
    object: &ObjectState,
    pinhole: &Pinhole,
    world_from_camera: &Rigid3,
) -> Option<(u32, u32, u32, u32)> {
    let (fx, fy, cx, cy) = pinhole.intrinsics;
    let (w, h) = (f64::from(pinhole.width), f64::from(pinhole.height));
    let (sin, cos) = f64::from(object.yaw).sin_cos();
    let [l, wd, ht] = object.size.map(f64::from);
    let b = object.bottom.cast::<f64>();
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    let mut behind = 0;
    for k in 0..8 {
        let (dx, dy) = (if k & 1 == 0 { l / 2.0 } else { -l / 2.0 }, if k & 2 == 0 { wd / 2.0 } else { -wd / 2.0 });
        let p_in_world =
            Point3::new(b.x + cos * dx - sin * dy, b.y + sin * dx + cos * dy, b.z + if k & 4 == 0 { 0.0 } else { ht });
        let p = world_from_camera.inverse_transform_point(&p_in_world);
        if p.z <= 1e-3 {
            behind += 1;
            continue;
        }
        let (u, v) = (fx * p.x / p.z + cx, fy * p.y / p.z + cy);
        lo = (lo.0.min(u), lo.1.min(v));
        hi = (hi.0.max(u), hi.1.max(v));
    }
    if behind == 8 {
        return None;
    }
    if behind > 0 {
        lo = (0.0, 0.0);
        hi = (w - 1.0, h - 1.0);
    }
    let (u0, v0) = (lo.0.floor().max(0.0), lo.1.floor().max(0.0));
    let (u1, v1) = (hi.0.ceil().min(w - 1.0), hi.1.ceil().min(h - 1.0));
    (u0 <= u1 && v0 <= v1).then_some((u0 as u32, v0 as u32, u1 as u32, v1 as u32))
}
