//! Acceptance (d): the noise model's statistics on a flat wall facing the
//! camera: axial σ at 1 m and 3 m within 10 % of 0.0012 + 0.0019·(z − 0.4)²,
//! an unbiased mean, RGB noise σ ≈ 2/255, holes everywhere beyond 4.5 m, and
//! `None` (noise off) giving the exact depth.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_core::transform::Rigid3;
use cairn_sim::geometry::{Rect, V3};
use cairn_sim::noise::NoiseModel;
use cairn_sim::scene::Light;
use cairn_sim::texture::Texture;
use cairn_sim::{RgbdCamera, Scene};

/// A uniform grey wall at world z = `distance`, camera at the origin looking
/// along +z (the optical frame equals the world frame).
fn wall(distance: f32) -> Scene {
    let rect = Rect::new(V3::new(-50.0, -50.0, distance), V3::y() * 100.0, V3::x() * 100.0, 0);
    let tex = Texture::Checker { size: 1000.0, colours: [[0.4; 3], [0.4; 3]] };
    Scene::from_parts("wall", 0, vec![rect], vec![tex], vec![Light { p_in_world: V3::zeros(), intensity: 0.0 }])
}

fn mean_and_sigma(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (mean, (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[test]
fn axial_sigma_follows_the_kinect_formula() {
    let camera = RgbdCamera::tum_fr1().unwrap();
    let model = NoiseModel::default();
    for (distance, expected) in [(1.0, 0.001884), (3.0, 0.014044)] {
        let frame = camera.render(&wall(distance as f32), &Rigid3::identity(), Some(7)).unwrap();
        let depths: Vec<f64> = frame.depth.data.iter().filter(|&&d| d > 0.0).map(|&d| f64::from(d)).collect();
        assert!(depths.len() > 300_000, "{} valid pixels", depths.len());
        let (mean, sigma) = mean_and_sigma(&depths);
        eprintln!("wall at {distance} m: mean {mean:.5} m, σ {sigma:.6} m (formula {expected})");
        assert!((model.axial_sigma(distance) - expected).abs() < 1e-12);
        assert!((sigma / expected - 1.0).abs() < 0.1, "σ {sigma} vs {expected}");
        assert!((mean - distance).abs() < 3.0 * expected / (depths.len() as f64).sqrt() + 1e-5);
    }
}

#[test]
fn rgb_noise_is_two_levels() {
    let camera = RgbdCamera::tum_fr1().unwrap();
    let clean = camera.render(&wall(1.0), &Rigid3::identity(), None).unwrap();
    let noisy = camera.render(&wall(1.0), &Rigid3::identity(), Some(3)).unwrap();
    let diffs: Vec<f64> =
        clean.rgb.data.iter().zip(&noisy.rgb.data).map(|(&a, &b)| f64::from(b) - f64::from(a)).collect();
    let (mean, sigma) = mean_and_sigma(&diffs);
    eprintln!("RGB noise: mean {mean:.4}, σ {sigma:.4} levels");
    // Rounding to integer levels adds 1/12 of a level² of variance.
    let expected = (4.0f64 + 1.0 / 12.0).sqrt();
    assert!((sigma / expected - 1.0).abs() < 0.1);
    // Unbiased around the unrounded level: ambient 0.25 × albedo 0.4 = 0.1,
    // display √ → 80.64 levels, which the clean image rounds to 81.
    let unrounded = 0.1f64.sqrt() * 255.0;
    assert!((mean - (unrounded - 81.0)).abs() < 0.05, "mean {mean}");
}

#[test]
fn holes_beyond_four_and_a_half_metres() {
    let camera = RgbdCamera::tum_fr1().unwrap();
    let far = camera.render(&wall(5.0), &Rigid3::identity(), Some(1)).unwrap();
    assert_eq!(far.depth.valid_count(), 0);
    let near = camera.render(&wall(4.4), &Rigid3::identity(), Some(1)).unwrap();
    assert!(near.depth.valid_count() > 280_000);
    let ideal = camera.render(&wall(5.0), &Rigid3::identity(), None).unwrap();
    assert!(ideal.depth.data.iter().all(|&d| (d - 5.0).abs() < 1e-5));
}

#[test]
fn holes_at_depth_discontinuities() {
    // A 1 m square at 1 m in front of a wall at 2 m: its outline is a hole.
    let mut scene = wall(2.0);
    scene.rects.push(Rect::new(V3::new(-0.5, -0.5, 1.0), V3::y(), V3::x(), 0));
    let scene = Scene::from_parts("step", 0, scene.rects, scene.textures, scene.lights);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let frame = camera.render(&scene, &Rigid3::identity(), Some(2)).unwrap();
    let ideal = camera.render(&scene, &Rigid3::identity(), None).unwrap();
    let mut at_steps = 0;
    for v in 1..479u32 {
        for u in 1..639u32 {
            let z = ideal.depth.get(u, v).unwrap();
            let step = [(u - 1, v), (u + 1, v), (u, v - 1), (u, v + 1)]
                .iter()
                .any(|&(a, b)| (ideal.depth.get(a, b).unwrap() - z).abs() > 0.5);
            if step {
                at_steps += 1;
                assert_eq!(frame.depth.get(u, v), None, "pixel {u},{v} at a step is not a hole");
            }
        }
    }
    assert!(at_steps > 1000, "{at_steps} step pixels");
}
