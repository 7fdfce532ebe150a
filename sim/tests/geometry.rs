//! Acceptance (a): rendered depth is geometrically consistent with the
//! ground-truth poses. Frame A's noiseless depth, back-projected, moved by
//! `camera_b_from_camera_a` and projected into frame B (distortion
//! included), matches B's depth: median |error| < 1 mm over pixels valid in
//! both and not occluded.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

mod common;

use cairn_core::PinholeCamera;
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, RgbdFrame, Scene, SceneKind};
use nalgebra::Point2;

/// (median |error| m, checked pixels, occluded pixels) of A seen from B.
fn reprojection_error(
    camera: &PinholeCamera,
    a: &RgbdFrame,
    b: &RgbdFrame,
    b_from_a: &nalgebra::Isometry3<f64>,
) -> (f64, usize, usize) {
    let mut errors = Vec::new();
    let mut occluded = 0;
    for v in (0..camera.height).step_by(2) {
        for u in (0..camera.width).step_by(2) {
            let Some(z) = a.depth.get(u, v) else { continue };
            let p_in_a = camera.unproject(Point2::new(f64::from(u), f64::from(v)), f64::from(z));
            let p_in_b = b_from_a * p_in_a;
            let Some(pixel) = camera.project(p_in_b) else { continue };
            let Some(z_b) = common::bilinear(&b.depth, pixel.x, pixel.y) else { continue };
            let error = z_b - p_in_b.z;
            // A surface in front of the point in B hides it: occluded.
            if error < -0.02 {
                occluded += 1;
            } else {
                errors.push(error.abs());
            }
        }
    }
    let checked = errors.len();
    (common::median(&mut errors), checked, occluded)
}

#[test]
fn depth_reprojects_between_frames_within_a_millimetre() {
    let scene = Scene::generate(SceneKind::Office, 11);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let path = generate(&scene, PathShape::Loop, 1.0, 60, 30.0).unwrap();
    for (ia, ib) in [(0, 3), (10, 16), (30, 31)] {
        let (world_from_a, world_from_b) = (path.world_from_body[ia], path.world_from_body[ib]);
        let a = camera.render(&scene, &world_from_a, None).unwrap();
        let b = camera.render(&scene, &world_from_b, None).unwrap();
        let b_from_a = world_from_b.inverse() * world_from_a;
        let (median, checked, occluded) = reprojection_error(&camera.camera, &a, &b, &b_from_a);
        eprintln!("frames {ia}→{ib}: median |error| {:.4} mm over {checked} pixels, {occluded} occluded", median * 1e3);
        assert!(checked > 30_000, "too few pixels checked: {checked}");
        assert!(median < 1e-3, "median |error| {median} m");
        assert!(occluded < checked / 5);
    }
}
