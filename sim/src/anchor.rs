//! Re-anchoring a recorded trajectory into a scene.
//!
//! The rule: the recorded motion is kept rigid (relative poses unchanged);
//! only one `scene_from_recording` transform is chosen:
//!
//! 1. level: the recording's `up` axis (TUM: +z, KITTI: −y) is turned onto
//!    the scene's +z;
//! 2. the first camera position goes to a start spot, at the first camera's
//!    own height clamped to [0.8, 1.8] m;
//! 3. a yaw about z turns the first camera's horizontal view direction to
//!    one of 8 headings (0°, 45°, …).
//!
//! Start spots are a 0.25 m grid over the room, nearest to the room centre
//! first (so the camera looks into the room); headings in order. The first
//! candidate for which every position stays free (inside the room, outside
//! furniture, 0.3 m margin) wins. When none fits (fr2_desk circles a desk
//! over 3.9 × 4.1 m), the candidate that keeps the path inside the room and
//! runs into the fewest pieces of furniture wins, and those pieces are
//! reported in [`Anchored::removed_obstacles`] to be taken out of the scene
//! ([`Scene::without_obstacles`]). A path that leaves the room from every
//! candidate is an error.

use cairn_core::Trajectory;
use cairn_core::transform::Rigid3;
use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};

use crate::scene::Scene;
use crate::{Error, Result};

/// Clearance kept between the camera and any surface (metres).
pub const ANCHOR_MARGIN: f64 = 0.3;

/// Spacing of candidate start spots (metres).
const GRID: f64 = 0.25;

/// The `up` direction of a recording: TUM ground truth (motion-capture world,
/// z up) or KITTI (first camera frame, y down).
pub fn up_of(format: cairn_core::trajectory::TrajectoryFormat) -> Vector3<f64> {
    match format {
        cairn_core::trajectory::TrajectoryFormat::Tum => Vector3::z(),
        cairn_core::trajectory::TrajectoryFormat::Kitti => -Vector3::y(),
    }
}

/// A recording placed in a scene.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchored {
    /// The camera trajectory in the scene (`world_from_camera`).
    pub trajectory: Trajectory,
    /// Obstacles (indices into `scene.obstacles`) the path runs into, to be
    /// removed from the scene; empty when the path fits as it is.
    pub removed_obstacles: Vec<usize>,
}

/// `trajectory` moved into `scene` by the rule in the module doc.
pub fn anchor(trajectory: &Trajectory, scene: &Scene, up: Vector3<f64>) -> Result<Anchored> {
    let first = trajectory.world_from_body.first().ok_or_else(|| Error::Trajectory("empty trajectory".into()))?;
    let level = UnitQuaternion::rotation_between(&up, &Vector3::z())
        .unwrap_or_else(|| UnitQuaternion::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI));
    let level = Isometry3::from_parts(Translation3::identity(), level);
    let first = level * first;
    let forward = first.rotation * Vector3::z();
    let heading = if forward.xy().norm() > 1e-3 { forward.y.atan2(forward.x) } else { 0.0 };
    let height = first.translation.z.clamp(0.8, 1.8);
    let candidate = |spot: &Point3<f64>, k: u32| {
        let yaw = f64::from(k) * std::f64::consts::FRAC_PI_4 - heading;
        let rotation = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw);
        // scene_from_level: p ↦ spot + R_yaw (p − p_first).
        let shift = spot.coords - rotation * first.translation.vector;
        Isometry3::from_parts(Translation3::from(shift), rotation) * level
    };
    let positions = |scene_from_recording: Isometry3<f64>| {
        trajectory.world_from_body.iter().map(move |pose| scene_from_recording * Point3::from(pose.translation.vector))
    };
    let place = |scene_from_recording: Isometry3<f64>, removed_obstacles: Vec<usize>| {
        let poses: Vec<Rigid3> = trajectory.world_from_body.iter().map(|p| scene_from_recording * p).collect();
        let trajectory =
            Trajectory { name: trajectory.name.clone(), stamps: trajectory.stamps.clone(), world_from_body: poses };
        Anchored { trajectory, removed_obstacles }
    };
    for spot in start_spots(scene, height, true) {
        for k in 0..8 {
            let scene_from_recording = candidate(&spot, k);
            if positions(scene_from_recording).all(|p| scene.is_free(&p, ANCHOR_MARGIN)) {
                return Ok(place(scene_from_recording, Vec::new()));
            }
        }
    }
    // Second pass: inside the room, through the fewest pieces of furniture.
    let mut best: Option<(Isometry3<f64>, Vec<usize>)> = None;
    for spot in start_spots(scene, height, false) {
        for k in 0..8 {
            let scene_from_recording = candidate(&spot, k);
            if !positions(scene_from_recording).all(|p| scene.in_room(&p, ANCHOR_MARGIN)) {
                continue;
            }
            let hit: Vec<usize> = (0..scene.obstacles.len())
                .filter(|&o| positions(scene_from_recording).any(|p| scene.in_obstacle(o, &p, ANCHOR_MARGIN)))
                .collect();
            if best.as_ref().is_none_or(|(_, b)| hit.len() < b.len()) {
                best = Some((scene_from_recording, hit));
            }
        }
    }
    best.map(|(scene_from_recording, hit)| place(scene_from_recording, hit)).ok_or_else(|| {
        Error::Trajectory(format!("{}: its extent does not fit in the room of scene '{}'", trajectory.name, scene.name))
    })
}

/// Grid points at `height` inside the room (and, with `free`, outside the
/// furniture), nearest to the room centre first.
fn start_spots(scene: &Scene, height: f64, free: bool) -> Vec<Point3<f64>> {
    let (lo, hi) = (scene.room.0.cast::<f64>(), scene.room.1.cast::<f64>());
    let centre = scene.centre();
    let (nx, ny) = (((hi.x - lo.x) / GRID) as i64, ((hi.y - lo.y) / GRID) as i64);
    let mut spots: Vec<Point3<f64>> = (-nx..=nx)
        .flat_map(|i| (-ny..=ny).map(move |j| (i, j)))
        .map(|(i, j)| Point3::new(centre.x + i as f64 * GRID, centre.y + j as f64 * GRID, height))
        .filter(|p| if free { scene.is_free(p, ANCHOR_MARGIN) } else { scene.in_room(p, ANCHOR_MARGIN) })
        .collect();
    spots.sort_by(|a, b| (a - centre).xy().norm().total_cmp(&(b - centre).xy().norm()));
    spots
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn anchoring_keeps_relative_motion_and_starts_centred() {
        let scene = Scene::generate(crate::SceneKind::Office, 1);
        // A 1 m walk along x at 3 m height, camera looking along +x: z up.
        let look = crate::path::look_at(Point3::new(10.0, 5.0, 3.0), Point3::new(11.0, 5.0, 3.0)).unwrap();
        let poses: Vec<Rigid3> = (0..5).map(|k| Isometry3::translation(0.25 * f64::from(k), 0.0, 0.0) * look).collect();
        let recording = Trajectory::with_stamps("walk", (0..5).map(f64::from).collect(), poses.clone()).unwrap();
        let anchored = anchor(&recording, &scene, Vector3::z()).unwrap();
        assert!(anchored.removed_obstacles.is_empty());
        let anchored = anchored.trajectory;
        let first = anchored.world_from_body[0];
        assert_relative_eq!(first.translation.z, 1.8, epsilon = 1e-9);
        assert!((first.translation.vector.xy() - scene.centre().coords.xy()).norm() < 0.2);
        for k in 1..5 {
            let before = poses[0].inverse() * poses[k];
            let after = first.inverse() * anchored.world_from_body[k];
            assert_relative_eq!(before.to_homogeneous(), after.to_homogeneous(), epsilon = 1e-9);
        }
        let huge: Vec<Rigid3> = (0..2).map(|k| Isometry3::translation(20.0 * f64::from(k), 0.0, 0.0) * look).collect();
        let huge = Trajectory::with_stamps("huge", vec![0.0, 1.0], huge).unwrap();
        assert!(anchor(&huge, &scene, Vector3::z()).is_err());
        // Almost as long as the room: fits only through some furniture.
        let length = f64::from(scene.room.1.x - scene.room.0.x) - 0.8;
        let low = crate::path::look_at(Point3::new(0.0, 0.0, 1.0), Point3::new(1.0, 0.0, 1.0)).unwrap();
        let wide: Vec<Rigid3> =
            (0..=10).map(|k| Isometry3::translation(length * f64::from(k) / 10.0, 0.0, 0.0) * low).collect();
        let wide = Trajectory::with_stamps("wide", (0..=10).map(f64::from).collect(), wide).unwrap();
        let anchored = anchor(&wide, &scene, Vector3::z()).unwrap();
        assert!(!anchored.removed_obstacles.is_empty());
        let cleared = scene.without_obstacles(&anchored.removed_obstacles);
        let free = |p: &Rigid3| cleared.is_free(&Point3::from(p.translation.vector), ANCHOR_MARGIN);
        assert!(anchored.trajectory.world_from_body.iter().all(free));
    }
}
