//! Camera paths: resampling a recorded trajectory at the camera rate (linear
//! translation + slerp, on the trajectory's own clock) and generated paths
//! that revisit places (`loop`, `figure8`, `corridor`). All poses are `world_from_camera`
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
    /// Laps of a rounded rectangle near the walls, looking along the motion
    /// (a robot patrolling a corridor ring): places are revisited from the
    /// same direction, after the whole circuit.
    Corridor,
}

impl std::str::FromStr for PathShape {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "loop" => Ok(PathShape::Loop),
            "figure8" => Ok(PathShape::Figure8),
            "corridor" => Ok(PathShape::Corridor),
            other => Err(Error::InvalidArgument(format!("unknown path '{other}' (known: loop, figure8, corridor)"))),
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
            PathShape::Corridor => {
                let (offset, tangent) = rounded_rectangle(rx, ry, phi / std::f64::consts::TAU);
                let p = Point3::new(centre.x + offset.x, centre.y + offset.y, height);
                look_at(p, p + Vector3::new(tangent.x, tangent.y, -0.2))?
            }
        };
        stamps.push(GENERATED_EPOCH + k as f64 / rate_hz);
        poses.push(pose);
    }
    let name = match shape {
        PathShape::Loop => "loop",
        PathShape::Figure8 => "figure8",
        PathShape::Corridor => "corridor",
    };
    Ok(Trajectory::with_stamps(name, stamps, poses)?)
}

/// The point and unit tangent at fraction `u` (laps; any real) of the way
/// round a rectangle of half-sizes `rx`, `ry` with rounded corners (radius
/// half the smaller half-size), counter-clockwise from the middle of its
/// +x side, at constant speed.
fn rounded_rectangle(rx: f64, ry: f64, u: f64) -> (nalgebra::Vector2<f64>, nalgebra::Vector2<f64>) {
    use nalgebra::Vector2;
    let r = 0.5 * rx.min(ry);
    let (sx, sy) = (2.0 * (rx - r), 2.0 * (ry - r));
    let arc = std::f64::consts::FRAC_PI_2 * r;
    let perimeter = 2.0 * (sx + sy) + 4.0 * arc;
    let mut s = u.rem_euclid(1.0) * perimeter;
    // Sides in order from the middle of +x: half of +x, corner, +y, corner,
    // −x, corner, −y, corner, the other half of +x.
    let sides = [(sy / 2.0, 0.0), (sx, 1.0), (sy, 2.0), (sx, 3.0), (sy / 2.0, 4.0)];
    for (k, &(length, quarter)) in sides.iter().enumerate() {
        let angle = std::f64::consts::FRAC_PI_2 * quarter;
        let (out, along) = (Vector2::new(angle.cos(), angle.sin()), Vector2::new(-angle.sin(), angle.cos()));
        // The side's start: the outward normal times the half-size, minus
        // what is left of the side behind it.
        let half = if (quarter as usize).is_multiple_of(2) { rx } else { ry };
        let start_along = match k {
            0 => 0.0,           // from the middle of +x
            4 => -length,       // the half of +x below the middle
            _ => -length / 2.0, // whole sides
        };
        if s <= length || k == sides.len() - 1 {
            return (out * half + along * (start_along + s), along);
        }
        s -= length;
        if s <= arc {
            let corner_centre = out * (half - r) + along * (start_along + length);
            let theta = angle + s / r;
            return (
                corner_centre + Vector2::new(theta.cos(), theta.sin()) * r,
                Vector2::new(-theta.sin(), theta.cos()),
            );
        }
        s -= arc;
    }
    (Vector2::new(rx, 0.0), Vector2::new(0.0, 1.0))
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

    #[test]
    fn corridor_loop_is_a_smooth_closed_forward_looking_circuit() {
        // The rounded rectangle is continuous, unit speed and closes.
        let (rx, ry) = (3.0, 2.0);
        let n = 4000;
        let perimeter = 2.0 * (4.0 + 2.0) + 2.0 * std::f64::consts::PI * 1.0; // sides 4 and 2, radius 1
        let mut previous = rounded_rectangle(rx, ry, 0.0).0;
        for k in 1..=n {
            let (p, tangent) = rounded_rectangle(rx, ry, k as f64 / n as f64);
            assert_relative_eq!((p - previous).norm(), perimeter / n as f64, epsilon = 1e-6);
            assert_relative_eq!(tangent.norm(), 1.0, epsilon = 1e-12);
            assert_relative_eq!(tangent.dot(&(p - previous).normalize()), 1.0, epsilon = 1e-3);
            assert!(p.x.abs() <= rx + 1e-9 && p.y.abs() <= ry + 1e-9);
            previous = p;
        }
        assert_relative_eq!(previous, rounded_rectangle(rx, ry, 0.0).0, epsilon = 1e-9);
        // In the office: free space, two laps close, the camera looks ahead.
        let scene = Scene::generate(crate::SceneKind::Office, 3);
        let path = generate(&scene, PathShape::Corridor, 2.0, 120, 30.0).unwrap();
        assert!(path.world_from_body.iter().all(|p| scene.is_free(&Point3::from(p.translation.vector), 0.3)));
        let at = |k: usize| path.world_from_body[k].translation.vector;
        assert_relative_eq!(at(0), at(60), epsilon = 1e-9);
        for k in 0..119 {
            let motion = (at(k + 1) - at(k)).normalize();
            let forward = path.world_from_body[k].rotation * Vector3::z();
            assert!(forward.dot(&motion) > 0.9, "frame {k} looks {forward:?} while moving {motion:?}");
        }
        assert_eq!("corridor".parse::<PathShape>().unwrap(), PathShape::Corridor);
    }
}
