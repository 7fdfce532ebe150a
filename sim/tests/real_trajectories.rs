//! Real TUM motion (fr1_xyz, fr2_desk ground truth from
//! ../shared/data/trajectories) drives the renderer: each recording is
//! resampled at 30 Hz, re-anchored into the office, stays in free space with
//! its relative motion unchanged, and renders frames with mostly valid depth.
//!
//! Without the shared data folder the trials are reported as ignored
//! (skipped), never as passed.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::path::{Path, PathBuf};

use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_sim::anchor::ANCHOR_MARGIN;
use cairn_sim::sequence::{CameraPath, SequenceOptions, camera_trajectory};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use libtest_mimic::{Arguments, Failed, Trial};
use nalgebra::Point3;

const SEQUENCES: [(&str, &str); 2] =
    [("fr1_xyz", "tum_fr1_xyz_groundtruth.txt"), ("fr2_desk", "tum_fr2_desk_groundtruth.txt")];

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/trajectories")
}

fn check(file: &Path) -> Result<(), Failed> {
    let scene = Scene::generate(SceneKind::Office, 4);
    let options = SequenceOptions {
        frames: None,
        path: CameraPath::Recorded { path: file.to_path_buf(), format: TrajectoryFormat::Tum },
        ..Default::default()
    };
    let (camera_path, rendered_scene) = camera_trajectory(&scene, &options)?;
    eprintln!(
        "{}: {} frames, {} of {} pieces of furniture removed from the path",
        file.display(),
        camera_path.len(),
        scene.obstacles.len() - rendered_scene.obstacles.len(),
        scene.obstacles.len()
    );
    let scene = rendered_scene;
    let recording = Trajectory::read(file, TrajectoryFormat::Tum)?;
    let (stamps, recorded_stamps) =
        (camera_path.stamps.as_ref().ok_or("no stamps")?, recording.stamps.as_ref().ok_or("no stamps")?);
    // 30 Hz on the recording's own clock, from its first stamp to its last.
    let span = recorded_stamps[recorded_stamps.len() - 1] - recorded_stamps[0];
    if stamps[0] != recorded_stamps[0] || camera_path.len() != (span * 30.0).floor() as usize + 1 {
        return Err(format!("{} frames from {} for a {span} s recording", camera_path.len(), stamps[0]).into());
    }
    for pose in &camera_path.world_from_body {
        if !scene.is_free(&Point3::from(pose.translation.vector), ANCHOR_MARGIN) {
            return Err(format!("camera leaves free space at {:?}", pose.translation.vector).into());
        }
    }
    // Relative motion is unchanged: compare with the recording interpolated
    // at the same stamps.
    let original = cairn_sim::path::resample(&recording, 30.0, None)?;
    let (a0, b0) = (original.world_from_body[0], camera_path.world_from_body[0]);
    for (a, b) in original.world_from_body.iter().zip(&camera_path.world_from_body) {
        let difference = (a0.inverse() * a).inverse() * (b0.inverse() * b);
        if difference.translation.vector.norm() > 1e-9 || difference.rotation.angle() > 1e-9 {
            return Err("relative motion changed by re-anchoring".into());
        }
    }
    let camera = RgbdCamera::tum_fr1()?;
    for k in [0, camera_path.len() / 2, camera_path.len() - 1] {
        let frame = camera.render(&scene, &camera_path.world_from_body[k], Some(k as u64))?;
        let valid = frame.depth.valid_count() as f64 / f64::from(640 * 480);
        if valid < 0.5 {
            return Err(format!("frame {k}: only {:.0}% valid depth", 100.0 * valid).into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = data_dir();
    let trials = SEQUENCES
        .iter()
        .map(|(name, file)| {
            let path = dir.join(file);
            let present = path.is_file();
            Trial::test(format!("anchored_and_rendered/{name}"), move || check(&path)).with_ignored_flag(!present)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
