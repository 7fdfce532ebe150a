//! Rendering speed, no encoding: RGB-D frames/s at 640×480 (TUM fr1
//! camera) in the default office (along a generated loop) and street (the
//! front camera's pose along the ego's drive), and LiDAR sweeps/s (nuScenes
//! LIDAR_TOP: 32 beams × 1084 firings) along the same drive, with noise.
//!
//! `cargo bench -p cairn-sim --bench render` prints wall-clock rates and the
//! CPU time per frame (from /proc/self/stat, Linux), which on a machine
//! shared with other jobs tells what an idle one would do. It asserts
//! nothing about speed.

use std::time::Instant;

use cairn_core::transform::Rigid3;
use cairn_sim::drive::{Drive, DriveOptions};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::rig::Rig;
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

/// Runs `work` for each of `count` items (`unit`, singular) and prints the rate.
fn measure(label: &str, unit: &str, count: usize, mut work: impl FnMut(usize) -> String) {
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let mut note = String::new();
    for k in 0..count {
        note = work(k);
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| (end - start) / count as f64);
    println!(
        "{label}: {count} {unit}s in {seconds:.2} s = {:.1} {unit}s/s wall, {} CPU/{unit}{note}",
        count as f64 / seconds,
        cpu.map_or("?".into(), |c| format!("{:.0} ms", c * 1e3)),
    );
}

fn main() -> Result<(), cairn_sim::Error> {
    let camera = RgbdCamera::tum_fr1()?;
    println!("{} rayon threads", rayon::current_num_threads());

    let office = Scene::generate(SceneKind::Office, 0);
    let frames = 120;
    let path = generate(&office, PathShape::Loop, 1.0, frames, 30.0)?;
    camera.render(&office, &path.world_from_body[0], Some(0))?; // warm-up
    println!("office seed 0: {} rectangles", office.rects.len());
    for (label, noise) in [("office rgbd, noise on", true), ("office rgbd, noise off", false)] {
        measure(label, "frame", frames, |k| {
            let frame = camera.render(&office, &path.world_from_body[k], noise.then_some(k as u64));
            let valid = frame.map_or(0, |f| f.depth.valid_count());
            format!(", {:.0}% valid depth", 100.0 * valid as f64 / (640 * 480) as f64)
        });
    }

    // The street of a 20 s drive; the scene at t = 0, the sensors moving.
    let rig = Rig::nuscenes()?;
    let drive = Drive::new(DriveOptions { samples: 41, ..Default::default() }, &rig)?;
    let street = drive.scene(0);
    let front_from_lidar = rig.cameras[0].camera_from_lidar()?;
    let pose = |k: usize| -> Rigid3 { drive.world_from_lidar(k as f64 / 30.0) * front_from_lidar.inverse() };
    println!("street seed 0: {} rectangles, {} objects", street.rects.len(), drive.street.agents.len());
    camera.render(&street, &pose(0), Some(0))?;
    measure("street rgbd (front camera pose), noise on", "frame", frames, |k| {
        let valid = camera.render(&street, &pose(k), Some(k as u64)).map_or(0, |f| f.depth.valid_count());
        format!(", {:.0}% valid depth", 100.0 * valid as f64 / (640 * 480) as f64)
    });
    let sweeps = 100;
    measure("street lidar 32 beams x 1084, noise on", "sweep", sweeps, |k| {
        let scan = drive.lidar.scan(&street, &drive.world_from_lidar(k as f64 / 20.0), Some(k as u64));
        format!(", {} points/sweep", scan.points.len())
    });
    Ok(())
}
