//! Tracking speed on one core: renders a short cairn-sim office sequence
//! (TUM fr1 camera, 640×480, Kinect-like noise, generated loop) in memory,
//! then runs [`Odometry`] over it inside a one-thread rayon pool and prints
//! frames/s with the mean time of each stage, and the ATE for reference.
//!
//! `cargo bench -p cairn-slam --bench track` (optionally `-- FRAMES`,
//! default 120). It prints figures and asserts nothing about speed; on a
//! machine shared with other jobs the wall clock is pessimistic.

use std::time::Instant;

use cairn_core::Trajectory;
use cairn_core::metrics::{self, EvalOptions};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::{FrameResult, Odometry, SlamConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let frames: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(120);
    let camera = RgbdCamera::tum_fr1()?;
    let scene = Scene::generate(SceneKind::Office, 0);
    // One lap in `frames` frames at 30 Hz: ≈ 0.4 m/s at 120 frames.
    let path = generate(&scene, PathShape::Loop, 1.0, frames.max(2) * 2, 30.0)?;
    let render_start = Instant::now();
    let rendered: Vec<_> = (0..frames)
        .map(|k| camera.render(&scene, &path.world_from_body[k], Some(k as u64)))
        .collect::<Result<_, _>>()?;
    println!("rendered {frames} frames in {:.1} s", render_start.elapsed().as_secs_f64());

    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let stamps = path.stamps.clone().unwrap_or_default();
    let results: Vec<FrameResult> = pool.install(|| -> Result<_, cairn_slam::Error> {
        let mut odometry = Odometry::new(camera.camera, SlamConfig::default())?;
        let mut results = Vec::with_capacity(frames);
        for (k, frame) in rendered.iter().enumerate() {
            results.push(odometry.process(stamps[k], &frame.rgb, &frame.depth)?);
        }
        Ok(results)
    })?;

    let n = results.len() as f64;
    let mean = |f: fn(&FrameResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    let total = mean(|r| r.timing.total_ms);
    println!("tracking on 1 thread: {frames} frames at 640×480, {:.1} frames/s ({total:.2} ms/frame)", 1e3 / total);
    println!(
        "  per frame (ms): pyramid {:.2}, edges {:.2}, distance transform {:.2}, tracking {:.2}, keyframes {:.2}",
        mean(|r| r.timing.pyramid_ms),
        mean(|r| r.timing.edges_ms),
        mean(|r| r.timing.distance_ms),
        mean(|r| r.timing.tracking_ms),
        mean(|r| r.timing.keyframe_ms),
    );
    let slowest = results.iter().map(|r| r.timing.total_ms).fold(0.0, f64::max);
    let keyframes = results.iter().filter(|r| r.new_keyframe).count();
    let lost = results.iter().filter(|r| !r.tracking_state.is_tracked()).count();
    println!("  slowest frame {slowest:.2} ms; {keyframes} keyframes, {lost} lost");
    let estimate = Trajectory::with_stamps(
        "estimate",
        results.iter().map(|r| r.stamp).collect(),
        results.iter().map(|r| r.world_from_camera).collect(),
    )?;
    let truth = Trajectory::with_stamps("truth", stamps[..frames].to_vec(), path.world_from_body[..frames].to_vec())?;
    let ate = metrics::ate(&truth, &estimate, &EvalOptions::default())?;
    println!("  ATE RMSE (SE(3)-aligned) {:.4} m", ate.stats.rmse);
    Ok(())
}
