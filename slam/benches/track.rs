//! Tracking speed on one core: renders a short cairn-sim office sequence
//! (TUM fr1 camera, 640×480, Kinect-like noise, generated loop) in memory,
//! then runs [`Odometry`] over it inside a one-thread rayon pool and prints
//! frames/s with the mean time of each stage, and the ATE for reference.
//!
//! `cargo bench -p cairn-slam --bench track` (optionally `-- FRAMES`,
//! default 120). It prints figures and asserts nothing about speed. On a
//! machine shared with other jobs the wall clock is pessimistic: it also
//! prints the process CPU time per frame (Linux /proc/self/stat) and the
//! fastest of 20 runs of each stage on one frame. Then the whole [`Slam`]
//! system (tracking + sliding window + pose graph, no loop detector) on
//! the same frames: its tracking rate and the back end's cost per keyframe.

use std::time::Instant;

use cairn_core::Trajectory;
use cairn_core::metrics::{self, EvalOptions};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::distance::DistanceField;
use cairn_slam::edges::canny;
use cairn_slam::frame::Frame;
use cairn_slam::{FrameResult, Odometry, Slam, SlamConfig, SlamFrame};

/// User + system CPU seconds of this process so far (`None` off Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime, stime are 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Fastest of `runs` runs of `work`, in milliseconds (freeing its result
/// is not timed).
fn fastest_ms<T>(runs: usize, mut work: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            let result = std::hint::black_box(work());
            let elapsed = start.elapsed().as_secs_f64() * 1e3;
            drop(result);
            elapsed
        })
        .fold(f64::INFINITY, f64::min)
}

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
    let cpu_start = cpu_seconds();
    let results: Vec<FrameResult> = pool.install(|| -> Result<_, cairn_slam::Error> {
        let mut odometry = Odometry::new(camera.camera, SlamConfig::default())?;
        let mut results = Vec::with_capacity(frames);
        for (k, frame) in rendered.iter().enumerate() {
            results.push(odometry.process(stamps[k], &frame.rgb, &frame.depth)?);
        }
        Ok(results)
    })?;

    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| (end - start) / frames as f64);
    let n = results.len() as f64;
    let mean = |f: fn(&FrameResult) -> f64| results.iter().map(f).sum::<f64>() / n;
    let total = mean(|r| r.timing.total_ms);
    println!(
        "tracking on 1 thread: {frames} frames at 640×480, {:.1} frames/s ({total:.2} ms/frame wall, {} CPU)",
        1e3 / total,
        cpu.map_or("?".into(), |c| format!("{:.2} ms/frame", c * 1e3))
    );
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
    println!(
        "  slowest frame {slowest:.2} ms; {keyframes} keyframes, {lost} lost; {:.1} LM iterations per frame",
        mean(|r| r.iterations as f64)
    );
    let estimate = Trajectory::with_stamps(
        "estimate",
        results.iter().map(|r| r.stamp).collect(),
        results.iter().map(|r| r.world_from_camera).collect(),
    )?;
    let truth = Trajectory::with_stamps("truth", stamps[..frames].to_vec(), path.world_from_body[..frames].to_vec())?;
    let ate = metrics::ate(&truth, &estimate, &EvalOptions::default())?;
    println!("  ATE RMSE (SE(3)-aligned) {:.4} m", ate.stats.rmse);
    let slam_frames: Vec<SlamFrame> = pool.install(|| -> Result<_, cairn_slam::Error> {
        let mut slam = Slam::new(camera.camera, SlamConfig::default())?;
        rendered.iter().enumerate().map(|(k, frame)| slam.process(stamps[k], &frame.rgb, &frame.depth)).collect()
    })?;
    let tracking_ms = slam_frames.iter().map(|f| f.tracking.timing.total_ms).sum::<f64>() / n;
    let keyframes: Vec<&SlamFrame> = slam_frames.iter().filter(|f| f.tracking.new_keyframe).collect();
    let window_ms: Vec<f64> = keyframes.iter().map(|f| f.backend.window_ms).collect();
    println!(
        "Slam (tracking + window + graph) on 1 thread: tracking {:.1} frames/s; back end between frames: \
         window {:.2} ms per keyframe (max {:.2}) over {} keyframes",
        1e3 / tracking_ms,
        window_ms.iter().sum::<f64>() / window_ms.len().max(1) as f64,
        window_ms.iter().copied().fold(0.0, f64::max),
        keyframes.len()
    );

    // Stages on one frame, fastest of 20 (robust to other jobs).
    let config = SlamConfig::default();
    let frame = pool.install(|| Frame::new(&rendered[0].rgb, &config.edges));
    let level0 = &frame.levels[0];
    let whole = fastest_ms(20, || pool.install(|| Frame::new(&rendered[0].rgb, &config.edges)));
    let edges = fastest_ms(20, || canny(&level0.gray, &config.edges));
    let distance = fastest_ms(20, || DistanceField::new(&level0.edges));
    println!(
        "  fastest of 20 on one frame (ms): preprocessing, all levels {whole:.2}; level 0: Canny {edges:.2}, distance transform {distance:.2}"
    );
    Ok(())
}
