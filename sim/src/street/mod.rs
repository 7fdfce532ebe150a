//! The `street` scene: a straight urban street along world +x with moving
//! traffic, seeded and deterministic.
//!
//! Cross-section (y, metres; right-hand traffic, +x lanes at y < 0): two
//! lanes each way (centres ±1.75, ±5.25, 3.5 m wide), a bike lane (±7.75),
//! a parking strip (±9.75), a 15 cm kerb at ±11, a sidewalk with trees to
//! ±15.8, then a row of buildings with windowed facades. Objects are the ten
//! nuScenes classes (see [`objects`]): cars, trucks (some towing a trailer),
//! buses and motorcycles drive in the lanes at one speed per lane, cyclists
//! ride the bike lanes, pedestrians walk the sidewalk on three tracks, and
//! parked cars, standing pedestrians, parked bicycles and a work zone
//! (construction vehicle, cones, barriers) stand still. Vehicles in a lane
//! share its speed, so they never collide; whatever leaves one end of the
//! street comes back at the other (far outside sensor range of the ego).
//!
//! [`Street::generate`] draws the layout from a seed (a `ChaCha8Rng`, fixed
//! order); [`Street::scene_at`] places every object at time `t` and builds
//! the [`Scene`] (object id = index in [`Street::agents`]);
//! [`Street::objects_at`] gives their ground-truth boxes; the ego drives its
//! own lane ([`Street::world_from_ego`]).

mod layout;
pub mod objects;

use cairn_core::transform::Rigid3;
use nalgebra::{Translation3, UnitQuaternion, Vector3};

pub use objects::{Class, Paint};

use crate::geometry::{Cuboid, Rect, V3};
use crate::scene::{Light, NO_OBJECT, Scene, Sun};
use crate::texture::Texture;

/// Kerb line: the road is `|y| < ROAD_HALF_WIDTH` (metres).
pub const ROAD_HALF_WIDTH: f32 = 11.0;
/// Kerb (and sidewalk) height (metres).
pub const KERB_HEIGHT: f32 = 0.15;
/// Lane centres (metres); lanes with y < 0 go towards +x.
pub const LANES: [f32; 4] = [-5.25, -1.75, 1.75, 5.25];
/// Sensor range margin kept behind the ego's start and ahead of its end
/// (metres): nothing wraps around closer than this.
pub const MARGIN: f32 = 120.0;

/// One object of the street and its motion.
#[derive(Debug, Clone, PartialEq)]
pub struct Agent {
    /// nuScenes class.
    pub class: Class,
    /// Box `[l, w, h]` (metres).
    pub size: [f32; 3],
    /// Bottom centre at t = 0 (world frame).
    pub start: V3,
    /// Heading about +z (radians); moving agents head along ±x.
    pub yaw: f32,
    /// Speed along the heading (m/s); 0 = standing still.
    pub speed: f32,
    /// Part colours.
    pub paint: Paint,
}

/// An object's ground-truth state at one time (world frame).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    /// Index in [`Street::agents`] (= object id in the scene).
    pub id: u32,
    /// nuScenes class.
    pub class: Class,
    /// `[l, w, h]` (metres).
    pub size: [f32; 3],
    /// Bottom centre (world frame).
    pub bottom: V3,
    /// Heading about +z (radians).
    pub yaw: f32,
    /// Velocity (m/s, world frame).
    pub velocity: V3,
}

/// The ego vehicle's lane and speed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ego {
    /// Lane centre (y, metres).
    pub y: f32,
    /// Speed along +x (m/s).
    pub speed: f32,
    /// x at t = 0.
    pub start_x: f32,
}

/// A generated street: static geometry, agents and the ego's drive.
#[derive(Debug, Clone)]
pub struct Street {
    /// The generator seed.
    pub seed: u64,
    /// Length along x (metres); the street spans `x ∈ [0, length)`.
    pub length: f32,
    /// Every object; its index is its object id.
    pub agents: Vec<Agent>,
    /// The ego's lane and speed.
    pub ego: Ego,
    rects: Vec<Rect>,
    cuboids: Vec<Cuboid>,
    textures: Vec<Texture>,
}

impl Street {
    /// Generates a street from `seed`, long enough for the ego to drive
    /// `duration_s` seconds with [`MARGIN`] to spare at both ends.
    pub fn generate(seed: u64, duration_s: f64) -> Street {
        layout::generate(seed, duration_s.max(0.0) as f32)
    }

    /// Ground-truth states of all objects at time `t` (seconds).
    pub fn objects_at(&self, t: f64) -> Vec<ObjectState> {
        self.agents
            .iter()
            .enumerate()
            .map(|(id, agent)| {
                let direction = V3::new(agent.yaw.cos(), agent.yaw.sin(), 0.0);
                let mut bottom = agent.start;
                if agent.speed != 0.0 {
                    let x = f64::from(agent.start.x) + f64::from(agent.speed * direction.x) * t;
                    bottom.x = x.rem_euclid(f64::from(self.length)) as f32;
                }
                ObjectState {
                    id: id as u32,
                    class: agent.class,
                    size: agent.size,
                    bottom,
                    yaw: agent.yaw,
                    velocity: direction * agent.speed,
                }
            })
            .collect()
    }

    /// The scene at time `t`: static geometry plus every object where it is
    /// then, with per-rectangle object ids.
    pub fn scene_at(&self, t: f64) -> Scene {
        let mut cuboids = self.cuboids.clone();
        let mut cuboid_object = vec![NO_OBJECT; cuboids.len()];
        for state in self.objects_at(t) {
            let paint = &self.agents[state.id as usize].paint;
            let parts = objects::object_cuboids(state.class, state.size, paint, state.bottom, state.yaw);
            cuboid_object.extend(std::iter::repeat_n(state.id, parts.len()));
            cuboids.extend(parts);
        }
        let (rects, textures) = (self.rects.clone(), self.textures.clone());
        let mut scene = Scene::from_primitives("street", self.seed, rects, cuboids, textures, Vec::<Light>::new());
        scene.cuboid_object = cuboid_object;
        scene.ambient = 0.35;
        scene.sun = Some(Sun { towards_sun: V3::new(0.35, -0.3, 0.887).normalize(), intensity: 0.85 });
        scene.sky = [0.55, 0.7, 0.9];
        scene.far = 400.0;
        // Free space for camera paths: the roadway.
        scene.room = (V3::new(0.0, -ROAD_HALF_WIDTH, 0.0), V3::new(self.length, ROAD_HALF_WIDTH, 5.0));
        scene
    }

    /// `world_from_ego` at time `t` for an ego frame on the road surface,
    /// x forward (along +x), z up, in the middle of the ego lane.
    pub fn world_from_ego(&self, t: f64) -> Rigid3 {
        let x = f64::from(self.ego.start_x) + f64::from(self.ego.speed) * t;
        Rigid3::from_parts(Translation3::new(x, f64::from(self.ego.y), 0.0), UnitQuaternion::identity())
    }

    /// The ego's velocity (m/s, world frame).
    pub fn ego_velocity(&self) -> Vector3<f64> {
        Vector3::new(f64::from(self.ego.speed), 0.0, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn same_seed_same_street_other_seed_other_street() {
        let (a, b, c) = (Street::generate(3, 10.0), Street::generate(3, 10.0), Street::generate(4, 10.0));
        assert_eq!(a.agents, b.agents);
        assert_eq!((&a.rects, &a.cuboids), (&b.rects, &b.cuboids));
        assert_ne!(a.agents, c.agents);
        assert!(a.length >= 2.0 * MARGIN + a.ego.speed * 10.0);
    }

    #[test]
    fn every_class_appears_and_some_move() {
        let street = Street::generate(0, 20.0);
        let classes: HashSet<&str> = street.agents.iter().map(|a| a.class.name()).collect();
        assert_eq!(classes.len(), 10, "{classes:?}");
        let moving = street.agents.iter().filter(|a| a.speed > 0.0).count();
        assert!(moving >= 10, "{moving} moving of {}", street.agents.len());
    }

    #[test]
    fn vehicles_follow_their_lanes() {
        let street = Street::generate(1, 20.0);
        let (before, after) = (street.objects_at(0.0), street.objects_at(0.5));
        for (a, b) in before.iter().zip(&after) {
            let agent = &street.agents[a.id as usize];
            if agent.speed == 0.0 {
                assert_eq!(a.bottom, b.bottom);
                continue;
            }
            // Straight along x at constant speed (up to the wrap at the ends).
            assert_eq!(a.bottom.y, b.bottom.y);
            let moved = (b.bottom.x - a.bottom.x).rem_euclid(street.length);
            let expected = (0.5 * a.velocity.x).rem_euclid(street.length);
            assert!((moved - expected).abs() < 1e-3, "{:?} moved {moved}", agent.class);
            if matches!(agent.class, Class::Car | Class::Truck | Class::Trailer | Class::Bus) {
                assert!(LANES.iter().any(|&y| (y - a.bottom.y).abs() < 1e-6), "{:?} off lane", agent.class);
                assert_eq!(a.velocity.x > 0.0, a.bottom.y < 0.0, "right-hand traffic");
            }
        }
    }

    #[test]
    fn objects_do_not_overlap() {
        for (seed, t) in [(2, 0.0), (2, 5.0), (2, 10.0), (5, 0.0), (6, 3.0), (7, 19.5)] {
            let street = Street::generate(seed, 20.0);
            let states = street.objects_at(t);
            for (i, a) in states.iter().enumerate() {
                for b in &states[i + 1..] {
                    assert!(!footprints_overlap(a, b), "seed {seed}: {a:?} and {b:?} overlap at t = {t}");
                }
            }
        }
    }

    #[test]
    fn the_ego_lane_is_kept_free_around_the_ego() {
        for seed in 0..4 {
            let street = Street::generate(seed, 20.0);
            for t in [0.0, 7.5, 20.0] {
                let x = street.world_from_ego(t).translation.x as f32 + 1.4;
                let ego = ObjectState {
                    id: u32::MAX,
                    class: Class::Car,
                    size: [4.7, 2.0, 1.6],
                    bottom: V3::new(x, street.ego.y, 0.0),
                    yaw: 0.0,
                    velocity: V3::x() * street.ego.speed,
                };
                for o in street.objects_at(t) {
                    assert!(!footprints_overlap(&ego, &o), "seed {seed}, t = {t}: ego hits {o:?}");
                }
            }
        }
    }

    /// Separating-axis test of two yawed rectangles (ground footprints).
    fn footprints_overlap(a: &ObjectState, b: &ObjectState) -> bool {
        let corners = |s: &ObjectState| {
            let (sin, cos) = s.yaw.sin_cos();
            let (l, w) = (s.size[0] / 2.0, s.size[1] / 2.0);
            [(l, w), (-l, w), (-l, -w), (l, -w)]
                .map(|(u, v)| (s.bottom.x + cos * u - sin * v, s.bottom.y + sin * u + cos * v))
        };
        let (ca, cb) = (corners(a), corners(b));
        for yaw in [a.yaw, a.yaw + std::f32::consts::FRAC_PI_2, b.yaw, b.yaw + std::f32::consts::FRAC_PI_2] {
            let axis = (yaw.cos(), yaw.sin());
            let project = |c: &[(f32, f32); 4]| {
                c.iter()
                    .map(|p| p.0 * axis.0 + p.1 * axis.1)
                    .fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
            };
            let ((a0, a1), (b0, b1)) = (project(&ca), project(&cb));
            if a1 <= b0 || b1 <= a0 {
                return false;
            }
        }
        true
    }
}
