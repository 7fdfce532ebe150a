//! Camera paths: resampling a recorded trajectory at the camera rate (linear
//! translation + slerp, on the trajectory's own clock) and generated paths
//! that revisit places (`loop`, `figure8`). All poses are `world_from_camera`
//! in the optical convention (x right, y down, z forward), world z up.

use cairn_core::Trajectory;
use cairn_core::transform::Rigid3;
use nalgebra::{Isometry3, Point3, Rotation3, Translation3, UnitQuaternion, Vector3};

use crate::scene::Scene;
use crate::{Error, Result};

/// First stamp of generated paths, seconds (a TUM-like epoch).
pub const GENERATED_EPOCH: f64 = 1.0e9;

/// Stamp spacing assumed for trajectories without stamps (KITTI: 10 Hz).
pub const UNSTAMPED_PERIOD: f64 = 0.1;

/// A generated path shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathShape {
    /// Laps of an ellipse around the room's middle, looking at its centre.
    Loop,
    /// Laps of a figure eight (Gerono lemniscate), looking along the motion.
    Figure8,
}

impl std::str::FromStr for PathShape {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "loop" => Ok(PathShape::Loop),
            "figure8" => Ok(PathShape::Figure8),
            other => Err(Error::InvalidArgument(format!("unknown path '{other}' (known: loop, figure8)"))),
        }
    }
}

/// The camera at `p_in_world` looking at `target_in_world`, image rows
/// horizontal (world z up). Errors when looking straight up or down.
pub fn look_at(p_in_world: Point3<f64>, target_in_world: Point3<f64>) -> Result<Rigid3> {
    let forward = (target_in_world - p_in_world).normalize();
    let right = forward.cross(&Vector3::z());
    if right.norm() <= 1e-6 || right.norm().is_nan() {
        return Err(Error::Trajectory("look_at: the view direction is vertical".into()));
    }
    let right = right.normalize();
    let down = forward.cross(&right);
    let rotation = Rotation3::from_basis_unchecked(&[right, down, forward]);
    Ok(Isometry3::from_parts(Translation3::from(p_in_world.coords), UnitQuaternion::from_rotation_matrix(&rotation)))
}

/// `frames` poses at `rate_hz` of `laps` laps of `shape` in `scene`'s free
/// middle (ellipse radii: half the room minus 1.5 m, at least 0.5 m).
pub fn generate(scene: &Scene, shape: PathShape, laps: f64, frames: usize, rate_hz: f64) -> Result<Trajectory> {
    if frames < 2 || laps.is_nan() || laps <= 0.0 || rate_hz.is_nan() || rate_hz <= 0.0 {
        return Err(Error::InvalidArgument(format!(
            "a path needs ≥ 2 frames, laps > 0, rate > 0 (got {frames}, {laps}, {rate_hz})"
        )));
    }
    let centre = scene.centre();
    let half = (scene.room.1 - scene.room.0).cast::<f64>() / 2.0;
    let (rx, ry) = ((half.x - 1.5).max(0.5), (half.y - 1.5).max(0.5));
    let mut stamps = Vec::with_capacity(frames);
    let mut poses = Vec::with_capacity(frames);
    for k in 0..frames {
        let phi = std::f64::consts::TAU * laps * k as f64 / frames as f64;
        let height = 1.35 + 0.1 * (3.0 * phi).sin();
        let pose = match shape {
            PathShape::Loop => {
                let p = Point3::new(centre.x + rx * phi.cos(), centre.y + ry * phi.sin(), height);
                look_at(p, Point3::new(centre.x, centre.y, 1.0))?
            }
            PathShape::Figure8 => {
                let p = Point3::new(centre.x + rx * phi.sin(), centre.y + ry * phi.sin() * phi.cos(), height);
                let tangent = Vector3::new(rx * phi.cos(), ry * (2.0 * phi).cos(), 0.0).normalize();
                look_at(p, p + tangent - Vector3::z() * 0.2)?
            }
        };
        stamps.push(GENERATED_EPOCH + k as f64 / rate_hz);
        poses.push(pose);
    }
    let name = match shape {
        PathShape::Loop => "loop",
        PathShape::Figure8 => "figure8",
    };
    Ok(Trajectory::with_stamps(name, stamps, poses)?)
}

/// The pose at time `t` by linear translation and slerp between the two
/// poses around it (clamped at the ends). `stamps` must be increasing.
pub fn interpolate(stamps: &[f64], poses: &[Rigid3], t: f64) -> Option<Rigid3> {
    let last = stamps.len().checked_sub(1)?;
    let i = stamps.partition_point(|&s| s <= t);
    if i == 0 {
        return poses.first().copied();
    }
    if i > last {
        return poses.get(last).copied();
    }
    let (a, b) = (&poses[i - 1], &poses[i]);
    let span = stamps[i] - stamps[i - 1];
    let w = if span > 0.0 { (t - stamps[i - 1]) / span } else { 0.0 };
    let translation = a.translation.vector.lerp(&b.translation.vector, w);
    let rotation = a.rotation.slerp(&b.rotation, w);
    Some(Isometry3::from_parts(Translation3::from(translation), rotation))
}

/// Resamples `trajectory` at `rate_hz` from its first stamp to its last, at
/// most `max_frames` poses; stamps stay on the trajectory's clock. A
/// trajectory without stamps is taken at [`UNSTAMPED_PERIOD`].
pub fn resample(trajectory: &Trajectory, rate_hz: f64, max_frames: Option<usize>) -> Result<Trajectory> {
    if trajectory.len() < 2 || rate_hz.is_nan() || rate_hz <= 0.0 {
        return Err(Error::Trajectory(format!("{}: need ≥ 2 poses and a positive rate", trajectory.name)));
    }
    let all_stamps: Vec<f64> = match &trajectory.stamps {
        Some(s) => s.clone(),
        None => (0..trajectory.len()).map(|k| k as f64 * UNSTAMPED_PERIOD).collect(),
    };
    // Recorded ground truth repeats a stamp now and then (fr2_desk does):
    // keep the first pose of each stamp, drop any that go back in time.
    let (mut stamps, mut recorded) = (Vec::with_capacity(all_stamps.len()), Vec::with_capacity(all_stamps.len()));
    for (&t, pose) in all_stamps.iter().zip(&trajectory.world_from_body) {
        if stamps.last().is_none_or(|&last| t > last) {
            stamps.push(t);
            recorded.push(*pose);
        }
    }
    if stamps.len() < 2 {
        return Err(Error::Trajectory(format!("{}: need ≥ 2 distinct stamps", trajectory.name)));
    }
    let (t0, t1) = (stamps[0], stamps[stamps.len() - 1]);
    let count = (((t1 - t0) * rate_hz).floor() as usize + 1).min(max_frames.unwrap_or(usize::MAX));
    let mut out_stamps = Vec::with_capacity(count);
    let mut poses = Vec::with_capacity(count);
    for k in 0..count {
        let t = t0 + k as f64 / rate_hz;
        if let Some(pose) = interpolate(&stamps, &recorded, t) {
            out_stamps.push(t);
            poses.push(pose);
        }
    }
    Ok(Trajectory::with_stamps(trajectory.name.clone(), out_stamps, poses)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn look_at_builds_an_optical_frame() {
        let pose = look_at(Point3::new(0.0, 0.0, 1.0), Point3::new(2.0, 0.0, 1.0)).unwrap();
        // z forward = +x, x right = −y, y down = −z.
        assert_relative_eq!(pose.rotation * Vector3::z(), Vector3::x(), epsilon = 1e-12);
        assert_relative_eq!(pose.rotation * Vector3::x(), -Vector3::y(), epsilon = 1e-12);
        assert_relative_eq!(pose.rotation * Vector3::y(), -Vector3::z(), epsilon = 1e-12);
        assert!(look_at(Point3::origin(), Point3::new(0.0, 0.0, -1.0)).is_err());
    }

    #[test]
    fn interpolation_is_linear_and_slerped() {
        let a = Isometry3::identity();
        let b = Isometry3::new(Vector3::new(2.0, 0.0, 0.0), Vector3::z() * 1.0);
        let mid = interpolate(&[10.0, 11.0], &[a, b], 10.25).unwrap();
        assert_relative_eq!(mid.translation.vector, Vector3::new(0.5, 0.0, 0.0), epsilon = 1e-12);
        assert_relative_eq!(mid.rotation.angle(), 0.25, epsilon = 1e-12);
        assert_eq!(interpolate(&[10.0, 11.0], &[a, b], 12.0), Some(b));
    }

    #[test]
    fn resampling_keeps_the_clock() {
        let poses = vec![Isometry3::identity(), Isometry3::translation(1.0, 0.0, 0.0)];
        let trajectory = Trajectory::with_stamps("t", vec![5.0, 6.0], poses).unwrap();
        let resampled = resample(&trajectory, 4.0, None).unwrap();
        assert_eq!(resampled.stamps.unwrap(), vec![5.0, 5.25, 5.5, 5.75, 6.0]);
        assert_relative_eq!(resampled.world_from_body[1].translation.x, 0.25);
        assert_eq!(resample(&trajectory, 4.0, Some(2)).unwrap().len(), 2);
        let repeated = Trajectory::with_stamps("r", vec![5.0, 5.0, 6.0], vec![Isometry3::identity(); 3]).unwrap();
        assert_eq!(resample(&repeated, 2.0, None).unwrap().len(), 3);
    }

    #[test]
    fn generated_loop_stays_free_and_closes() {
        let scene = Scene::generate(crate::SceneKind::Office, 3);
        let path = generate(&scene, PathShape::Loop, 2.0, 120, 30.0).unwrap();
        assert_eq!(path.len(), 120);
        assert!(path.world_from_body.iter().all(|p| scene.is_free(&Point3::from(p.translation.vector), 0.3)));
        // Two laps: frame 60 is back at frame 0.
        assert_relative_eq!(
            path.world_from_body[0].translation.vector,
            path.world_from_body[60].translation.vector,
            epsilon = 1e-9
        );
        let eight = generate(&scene, PathShape::Figure8, 1.0, 90, 30.0).unwrap();
        assert!(eight.world_from_body.iter().all(|p| scene.is_free(&Point3::from(p.translation.vector), 0.3)));
    }
}
