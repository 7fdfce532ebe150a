//! Rendering whole RGB-D sequences into TUM folders: the options the CLI
//! exposes (`cairn sim rgbd …`), the camera path they select, and the
//! render-and-write loop with a progress callback.

use std::path::{Path, PathBuf};

use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;

use crate::anchor::{anchor, up_of};
use crate::dataset::TumWriter;
use crate::noise::frame_seed;
use crate::path::{PathShape, generate, resample};
use crate::render::RgbdCamera;
use crate::scene::Scene;
use crate::{Error, Result};

/// Camera rate of rendered sequences (Hz), as the Kinect.
pub const FRAME_RATE: f64 = 30.0;

/// Where the camera goes.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraPath {
    /// A generated path with this many laps.
    Generated {
        /// Shape of the path.
        shape: PathShape,
        /// Number of laps over the whole sequence.
        laps: f64,
    },
    /// A recorded trajectory file, re-anchored into the scene (see
    /// [`crate::anchor`]) and resampled at [`FRAME_RATE`].
    Recorded {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: TrajectoryFormat,
    },
}

/// Options of [`render_rgbd_sequence`].
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceOptions {
    /// Number of frames (a recorded path may give fewer: it ends with the
    /// recording); `None` = the whole recording (generated paths: 300).
    pub frames: Option<usize>,
    /// Kinect-like noise on (the default) or an ideal sensor.
    pub noise: bool,
    /// Seed of the per-frame noise.
    pub noise_seed: u64,
    /// Camera path.
    pub path: CameraPath,
}

impl Default for SequenceOptions {
    fn default() -> Self {
        SequenceOptions {
            frames: None,
            noise: true,
            noise_seed: 0,
            path: CameraPath::Generated { shape: PathShape::Loop, laps: 1.0 },
        }
    }
}

/// Progress of a sequence: `done` of `total` frames written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Frames written so far.
    pub done: usize,
    /// Frames in the sequence.
    pub total: usize,
}

/// Default frame count of generated paths.
pub const DEFAULT_GENERATED_FRAMES: usize = 300;

/// The camera trajectory (`world_from_camera`, at [`FRAME_RATE`]) that
/// `options` select in `scene`, and the scene to render it in: `scene`
/// itself, or `scene` without the furniture a recorded path runs into (see
/// [`crate::anchor`]).
pub fn camera_trajectory(scene: &Scene, options: &SequenceOptions) -> Result<(Trajectory, Scene)> {
    match &options.path {
        CameraPath::Generated { shape, laps } => {
            let frames = options.frames.unwrap_or(DEFAULT_GENERATED_FRAMES);
            Ok((generate(scene, *shape, *laps, frames, FRAME_RATE)?, scene.clone()))
        }
        CameraPath::Recorded { path, format } => {
            let recording = Trajectory::read(path, *format)?;
            let resampled = resample(&recording, FRAME_RATE, options.frames)?;
            let anchored = anchor(&resampled, scene, up_of(*format))?;
            Ok((anchored.trajectory, scene.without_obstacles(&anchored.removed_obstacles)))
        }
    }
}

/// Renders the sequence `options` select and writes it as a TUM folder in
/// `out_dir`, calling `progress` after each frame. Returns the camera
/// trajectory written to `groundtruth.txt`.
pub fn render_rgbd_sequence(
    scene: &Scene,
    camera: &RgbdCamera,
    options: &SequenceOptions,
    out_dir: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<Trajectory> {
    let (trajectory, scene) = camera_trajectory(scene, options)?;
    let stamps = trajectory.stamps.as_deref().ok_or_else(|| Error::Trajectory("camera path has no stamps".into()))?;
    let mut writer = TumWriter::create(out_dir, &camera.calibration)?;
    let total = trajectory.len();
    for (k, (stamp, world_from_camera)) in stamps.iter().zip(&trajectory.world_from_body).enumerate() {
        let seed = options.noise.then(|| frame_seed(options.noise_seed, k as u64));
        let frame = camera.render(&scene, world_from_camera, seed)?;
        writer.write_frame(*stamp, &frame, world_from_camera)?;
        progress(Progress { done: k + 1, total });
    }
    writer.finish()?;
    Ok(trajectory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_paths_take_the_requested_frames() {
        let scene = Scene::generate(crate::SceneKind::Office, 0);
        let options = SequenceOptions { frames: Some(10), ..Default::default() };
        let (trajectory, rendered) = camera_trajectory(&scene, &options).unwrap();
        assert_eq!(rendered.rects, scene.rects);
        assert_eq!(trajectory.len(), 10);
        let stamps = trajectory.stamps.unwrap();
        assert!((stamps[1] - stamps[0] - 1.0 / 30.0).abs() < 1e-6);
    }

    #[test]
    fn kitti_recordings_play_at_ten_hertz_with_y_down() {
        // Five KITTI poses 0.1 m apart along the camera's z (forward), 10 Hz.
        let text: String = (0..5).map(|k| format!("1 0 0 0 0 1 0 0 0 0 1 {}\n", 0.1 * f64::from(k))).collect();
        let path = std::env::temp_dir().join(format!("cairn-sim-kitti-{}.txt", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let scene = Scene::generate(crate::SceneKind::Office, 0);
        let path_option = CameraPath::Recorded { path: path.clone(), format: TrajectoryFormat::Kitti };
        let options = SequenceOptions { path: path_option, ..Default::default() };
        let (trajectory, _) = camera_trajectory(&scene, &options).unwrap();
        std::fs::remove_file(path).unwrap();
        // 0.4 s at 30 Hz: 13 frames; level: the camera's y axis points down.
        assert_eq!(trajectory.len(), 13);
        let down = trajectory.world_from_body[0].rotation * nalgebra::Vector3::y();
        assert!((down - -nalgebra::Vector3::z()).norm() < 1e-9);
        let travelled =
            trajectory.world_from_body[12].translation.vector - trajectory.world_from_body[0].translation.vector;
        assert!((travelled.norm() - 0.4).abs() < 1e-9 && travelled.z.abs() < 1e-9);
    }
}
