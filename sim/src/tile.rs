//! Primary rays by tiles: the rays of an 8×8 pixel tile all leave the
//! camera centre inside one thin pyramid, so the BVH is searched once per
//! tile for the primitives that pyramid meets, sorted by distance. Each
//! pixel then tests those in order (its neighbour's hit first) and stops at
//! the first one farther than its hit, instead of walking the tree. Tiles
//! with very many candidates (along a street, into the sky) fall back to the
//! per-ray BVH search. The result is the same nearest hit either way (the
//! candidates are conservative).

use std::ops::Range;

use nalgebra::Matrix3;

use crate::geometry::{Hit, V3};
use crate::scene::Scene;

/// Tile edge in pixels (and the height of a band of rows).
pub const TILE: usize = 8;

/// Tiles with more candidates than this use the BVH per ray.
const LIMIT: usize = 64;

/// Traces the pixels of `rows` × `0..width`, tile by tile, calling
/// `visit(u, v, dir, hit)` for each pixel (tiles left to right, rows within
/// a tile top to bottom). `ray(u, v)` is the pixel's ray in the camera frame
/// with z = 1; `world_from_camera` is `(rotation, origin)`.
pub fn trace_band(
    scene: &Scene,
    (rotation, origin): (&Matrix3<f32>, &V3),
    width: usize,
    rows: Range<usize>,
    ray: impl Fn(usize, usize) -> V3,
    mut visit: impl FnMut(usize, usize, &V3, Option<Hit>),
) {
    let mut candidates = Vec::new();
    let mut hints: Vec<Option<u32>> = vec![None; rows.len()];
    for u0 in (0..width).step_by(TILE) {
        let columns = u0..(u0 + TILE).min(width);
        let (mut lo, mut hi) = ((f32::MAX, f32::MAX), (f32::MIN, f32::MIN));
        for v in rows.clone() {
            for u in columns.clone() {
                let r = ray(u, v);
                lo = (lo.0.min(r.x), lo.1.min(r.y));
                hi = (hi.0.max(r.x), hi.1.max(r.y));
            }
        }
        // The pyramid x/z ∈ [lo.0, hi.0], y/z ∈ [lo.1, hi.1], z > 0, padded
        // by a hair against rounding.
        let pad = 1e-4;
        let planes = [
            rotation * V3::new(1.0, 0.0, -(lo.0 - pad)),
            rotation * V3::new(-1.0, 0.0, hi.0 + pad),
            rotation * V3::new(0.0, 1.0, -(lo.1 - pad)),
            rotation * V3::new(0.0, -1.0, hi.1 + pad),
            rotation * V3::z(),
        ];
        let listed = scene.candidates_in_cone(origin, &planes, LIMIT, &mut candidates);
        for (k, v) in rows.clone().enumerate() {
            for u in columns.clone() {
                let dir = rotation * ray(u, v);
                let hit = if listed {
                    scene.intersect_among(&candidates, origin, &dir, 1e-4, scene.far, hints[k])
                } else {
                    scene.intersect(origin, &dir, 1e-4, scene.far, hints[k])
                };
                if let Some(h) = &hit {
                    hints[k] = Some(h.primitive);
                }
                visit(u, v, &dir, hit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::SceneKind;
    use nalgebra::{Point3, Vector3};

    /// Every pixel of a 160×120 view traced by tiles and ray by ray.
    fn compare(scene: &Scene, eye: Point3<f32>, target: Point3<f32>) -> usize {
        let view = nalgebra::Isometry3::face_towards(&eye, &target, &Vector3::z());
        // face_towards gives z forward, x left, y up: turn to x right, y down.
        let rotation = view.rotation.to_rotation_matrix().matrix() * Matrix3::from_diagonal(&V3::new(-1.0, -1.0, 1.0));
        let origin = eye.coords;
        let (w, h) = (160, 120);
        let ray = |u: usize, v: usize| V3::new((u as f32 - 79.5) / 120.0, (v as f32 - 59.5) / 120.0, 1.0);
        let mut hits = 0;
        trace_band(scene, (&rotation, &origin), w, 0..h, ray, |u, v, dir, hit| {
            let plain = scene.intersect(&origin, dir, 1e-4, scene.far, None);
            assert_eq!(hit.map(|h| (h.primitive, h.face)), plain.map(|h| (h.primitive, h.face)), "pixel ({u}, {v})");
            hits += usize::from(hit.is_some());
        });
        hits
    }

    #[test]
    fn tiles_find_the_same_hits_as_the_bvh() {
        let office = Scene::generate(SceneKind::Office, 2);
        assert_eq!(compare(&office, Point3::new(0.3, -0.2, 1.4), Point3::new(2.5, 1.0, 0.9)), 160 * 120);
        let street = Scene::generate(SceneKind::Street, 2);
        let hits = compare(&street, Point3::new(150.0, -1.75, 1.6), Point3::new(170.0, 3.0, 1.2));
        assert!(hits > 160 * 60, "{hits} hits");
    }
}
