//! RGB-D rendering speed: frames/s at 640×480 (TUM fr1 camera, office
//! scene, no PNG encoding) along a generated loop, with noise on and off.
//!
//! `cargo bench -p cairn-sim --bench render` prints wall-clock frames/s and
//! the CPU time per frame (from /proc/self/stat, Linux), which on a machine
//! shared with other jobs tells what an idle one would do:
//! `noise on: 120 frames 640x480 in 4.15 s = 28.9 frames/s wall, 65 ms CPU/frame, 87% valid depth`
//! (2-core machine, load ≈ 2 from other builds).

use std::time::Instant;

use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};

/// User + system CPU seconds of this process so far (`None` off Linux).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime, stime are 14, 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() -> Result<(), cairn_sim::Error> {
    let scene = Scene::generate(SceneKind::Office, 0);
    let camera = RgbdCamera::tum_fr1()?;
    let frames = 120;
    let path = generate(&scene, PathShape::Loop, 1.0, frames, 30.0)?;
    // Warm up (thread pool, caches).
    camera.render(&scene, &path.world_from_body[0], Some(0))?;
    println!("office seed 0: {} rectangles, {} rayon threads", scene.rects.len(), rayon::current_num_threads());
    for (label, noise) in [("noise on", true), ("noise off", false)] {
        let (start, cpu_start) = (Instant::now(), cpu_seconds());
        let mut valid = 0usize;
        for (k, world_from_camera) in path.world_from_body.iter().enumerate() {
            let frame = camera.render(&scene, world_from_camera, noise.then_some(k as u64))?;
            valid += frame.depth.valid_count();
        }
        let seconds = start.elapsed().as_secs_f64();
        let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| (end - start) / frames as f64);
        println!(
            "{label}: {frames} frames 640x480 in {seconds:.2} s = {:.1} frames/s wall, {} CPU/frame, {:.0}% valid depth",
            frames as f64 / seconds,
            cpu.map_or("?".into(), |c| format!("{:.0} ms", c * 1e3)),
            100.0 * valid as f64 / (frames * 640 * 480) as f64
        );
    }
    Ok(())
}
