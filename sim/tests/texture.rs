//! Acceptance (c): rendered office frames have structure for edge-based
//! tracking: many pixels with strong intensity gradients spread over the
//! image, and mostly valid depth.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};

/// Fraction of pixels whose Sobel gradient magnitude exceeds `threshold`
/// (grey levels 0–255), and how many of the 4×4 image tiles hold ≥ 1 % such
/// pixels.
fn strong_gradients(grey: &[f32], width: usize, height: usize, threshold: f32) -> (f64, usize) {
    let at = |u: usize, v: usize| grey[v * width + u];
    let mut strong = 0usize;
    let mut tiles = [0usize; 16];
    for v in 1..height - 1 {
        for u in 1..width - 1 {
            let gx = at(u + 1, v - 1) + 2.0 * at(u + 1, v) + at(u + 1, v + 1)
                - at(u - 1, v - 1)
                - 2.0 * at(u - 1, v)
                - at(u - 1, v + 1);
            let gy = at(u - 1, v + 1) + 2.0 * at(u, v + 1) + at(u + 1, v + 1)
                - at(u - 1, v - 1)
                - 2.0 * at(u, v - 1)
                - at(u + 1, v - 1);
            if (gx * gx + gy * gy).sqrt() > threshold {
                strong += 1;
                tiles[(v * 4 / height) * 4 + u * 4 / width] += 1;
            }
        }
    }
    let tile_pixels = width * height / 16;
    (strong as f64 / (width * height) as f64, tiles.iter().filter(|&&n| n * 100 >= tile_pixels).count())
}

#[test]
fn office_frames_have_edges_everywhere() {
    let camera = RgbdCamera::tum_fr1().unwrap();
    for seed in [0, 1] {
        let scene = Scene::generate(SceneKind::Office, seed);
        let path = generate(&scene, PathShape::Figure8, 1.0, 8, 30.0).unwrap();
        for (k, pose) in path.world_from_body.iter().enumerate().step_by(3) {
            let frame = camera.render(&scene, pose, Some(k as u64)).unwrap();
            let grey = frame.rgb.to_gray_f32();
            // Noise alone (σ 2 levels) gives Sobel magnitudes of about 10.
            let (fraction, tiles) = strong_gradients(&grey, 640, 480, 80.0);
            let valid = frame.depth.valid_count() as f64 / (640.0 * 480.0);
            eprintln!(
                "seed {seed} frame {k}: {:.1}% strong-gradient pixels, {tiles}/16 tiles, {:.0}% valid depth",
                100.0 * fraction,
                100.0 * valid
            );
            assert!(fraction > 0.03, "only {fraction} of pixels have strong gradients");
            assert!(tiles >= 8, "edges only in {tiles} of 16 tiles");
            assert!(valid > 0.7, "only {valid} valid depth");
        }
    }
}
