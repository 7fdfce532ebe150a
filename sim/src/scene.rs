//! Scenes: textured rectangles plus point lights, with a BVH for ray casting
//! and the free space a camera may move in.
//!
//! [`SceneKind`] names the generators (`office`, `street`);
//! [`Scene::generate`] builds one from a seed, fully deterministically
//! (`rand_chacha`). Shading is Lambertian from the point lights and the sun
//! plus an ambient term, without shadows. Rectangles may carry an object id
//! (`rect_object`), which ray hits report: the ground truth of LiDAR points
//! and per-pixel object buffers.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use nalgebra::Point3;

use crate::bvh::Bvh;
use crate::geometry::{Hit, Rect, V3};
use crate::texture::{Rgb, Texture};
use crate::{Error, Result};

/// The scene generators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SceneKind {
    /// An office room (~6 × 5 × 2.8 m): desks, shelves, cabinets, clutter.
    #[default]
    Office,
    /// A straight street with buildings, trees and traffic (see
    /// [`crate::street`]), at time 0 of a 20 s drive.
    Street,
}

impl SceneKind {
    /// All scene names, for CLI help.
    pub const NAMES: [&'static str; 2] = ["office", "street"];
}

impl FromStr for SceneKind {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "office" => Ok(SceneKind::Office),
            "street" => Ok(SceneKind::Street),
            other => {
                Err(Error::InvalidArgument(format!("unknown scene '{other}' (known: {})", SceneKind::NAMES.join(", "))))
            }
        }
    }
}

impl fmt::Display for SceneKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SceneKind::Office => "office",
            SceneKind::Street => "street",
        })
    }
}

/// A point light.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Light {
    /// Position in the world frame.
    pub p_in_world: V3,
    /// Intensity (irradiance at 1 m on a surface facing the light).
    pub intensity: f32,
}

/// Sunlight: a directional light (outdoor scenes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sun {
    /// Unit vector from the scene towards the sun, world frame.
    pub towards_sun: V3,
    /// Irradiance on a surface facing the sun.
    pub intensity: f32,
}

/// The object id of rectangles that belong to no object (walls, road).
pub const NO_OBJECT: u32 = u32::MAX;

/// An axis-aligned box `(min, max)` in the world frame.
pub type Aabb = (V3, V3);

/// A renderable world: geometry, textures, lights and free space. The world
/// frame has z up and the floor at z = 0.
#[derive(Debug, Clone)]
pub struct Scene {
    /// Which generator built it ("custom" scenes use [`Scene::from_parts`]).
    pub name: String,
    /// The generator seed.
    pub seed: u64,
    /// All geometry.
    pub rects: Vec<Rect>,
    /// Textures, indexed by [`Rect::texture`].
    pub textures: Vec<Texture>,
    /// Point lights.
    pub lights: Vec<Light>,
    /// Ambient light level.
    pub ambient: f32,
    /// Sunlight, if any (outdoor scenes).
    pub sun: Option<Sun>,
    /// Colour of rays that hit nothing (black indoors).
    pub sky: Rgb,
    /// Camera rays stop at this distance (metres).
    pub far: f32,
    /// Per rectangle, the id of the object it belongs to ([`NO_OBJECT`]
    /// for none); empty when the scene has no objects.
    pub rect_object: Vec<u32>,
    /// Where a camera may be: inside this box …
    pub room: Aabb,
    /// … and outside these (furniture, inflated by a margin).
    pub obstacles: Vec<Aabb>,
    /// The rectangles of each obstacle (same order as `obstacles`).
    pub obstacle_rects: Vec<Range<usize>>,
    bvh: Bvh,
}

impl Scene {
    /// Generates the scene `kind` from `seed`: same seed, same scene.
    pub fn generate(kind: SceneKind, seed: u64) -> Self {
        match kind {
            SceneKind::Office => crate::office::generate(seed),
            SceneKind::Street => crate::street::Street::generate(seed, 20.0).scene_at(0.0),
        }
    }

    /// A scene from explicit parts (tests, custom worlds); builds the BVH.
    pub fn from_parts(
        name: impl Into<String>,
        seed: u64,
        rects: Vec<Rect>,
        textures: Vec<Texture>,
        lights: Vec<Light>,
    ) -> Self {
        let bvh = Bvh::build(&rects);
        let (mut lo, mut hi) = (V3::repeat(f32::MAX), V3::repeat(f32::MIN));
        for r in &rects {
            let (a, b) = r.bounds();
            lo = lo.inf(&a);
            hi = hi.sup(&b);
        }
        Scene {
            name: name.into(),
            seed,
            rects,
            textures,
            lights,
            ambient: 0.25,
            sun: None,
            sky: [0.0; 3],
            far: 50.0,
            rect_object: Vec::new(),
            room: (lo, hi),
            obstacles: Vec::new(),
            obstacle_rects: Vec::new(),
            bvh,
        }
    }

    /// The nearest surface along `origin + t·dir`, `t ∈ (t_min, t_max)`.
    /// `hint`: a rectangle likely hit (e.g. the previous pixel's), tested
    /// first to speed up the search; it does not change the result.
    #[inline]
    pub fn intersect(&self, origin: &V3, dir: &V3, t_min: f32, t_max: f32, hint: Option<u32>) -> Option<Hit> {
        self.bvh.intersect(&self.rects, origin, dir, t_min, t_max, hint)
    }

    /// The albedo of the surface at `hit`.
    #[inline]
    pub fn albedo(&self, hit: &Hit) -> Rgb {
        let rect = &self.rects[hit.rect as usize];
        self.textures.get(rect.texture as usize).map_or([0.5; 3], |t| t.albedo(hit.s_m, hit.t_m))
    }

    /// The unit surface normal at `hit`, turned to face the ray `dir`.
    #[inline]
    pub fn normal_towards(&self, hit: &Hit, dir: &V3) -> V3 {
        let normal = self.rects[hit.rect as usize].normal;
        if normal.dot(dir) > 0.0 { -normal } else { normal }
    }

    /// The object the surface at `hit` belongs to, if any.
    #[inline]
    pub fn object_of(&self, hit: &Hit) -> Option<u32> {
        self.rect_object.get(hit.rect as usize).copied().filter(|&o| o != NO_OBJECT)
    }

    /// The shaded colour of `hit` seen along `dir` from `origin`.
    pub fn shade(&self, hit: &Hit, origin: &V3, dir: &V3) -> Rgb {
        let albedo = self.albedo(hit);
        // Two-sided surfaces: the normal faces the viewer.
        let normal = self.normal_towards(hit, dir);
        let p = origin + dir * hit.t;
        let mut light = self.ambient;
        if let Some(sun) = &self.sun {
            light += sun.intensity * normal.dot(&sun.towards_sun).max(0.0);
        }
        for l in &self.lights {
            let to_light = l.p_in_world - p;
            let d2 = to_light.norm_squared();
            let cos = normal.dot(&to_light) / d2.sqrt();
            if cos > 0.0 {
                light += l.intensity * cos / d2;
            }
        }
        [albedo[0] * light, albedo[1] * light, albedo[2] * light]
    }

    /// True when `p_in_world` is inside the room (with `margin` metres to
    /// spare) and outside every obstacle.
    pub fn is_free(&self, p_in_world: &Point3<f64>, margin: f64) -> bool {
        self.in_room(p_in_world, margin) && !(0..self.obstacles.len()).any(|o| self.in_obstacle(o, p_in_world, margin))
    }

    /// True when `p_in_world` is inside the room with `margin` to spare.
    pub fn in_room(&self, p_in_world: &Point3<f64>, margin: f64) -> bool {
        inside(&self.room, p_in_world, margin as f32)
    }

    /// True when `p_in_world` is within `margin` of obstacle `index`.
    pub fn in_obstacle(&self, index: usize, p_in_world: &Point3<f64>, margin: f64) -> bool {
        self.obstacles.get(index).is_some_and(|b| inside(b, p_in_world, -margin as f32))
    }

    /// The scene without the obstacles (furniture) numbered in `remove`:
    /// their rectangles and free-space boxes go, the BVH is rebuilt.
    pub fn without_obstacles(&self, remove: &[usize]) -> Scene {
        let dropped =
            |r: usize| remove.iter().any(|&k| self.obstacle_rects.get(k).is_some_and(|range| range.contains(&r)));
        let mut rects = Vec::with_capacity(self.rects.len());
        let mut new_index = vec![0usize; self.rects.len() + 1];
        for (r, rect) in self.rects.iter().enumerate() {
            new_index[r] = rects.len();
            if !dropped(r) {
                rects.push(*rect);
            }
        }
        new_index[self.rects.len()] = rects.len();
        let keep: Vec<usize> = (0..self.obstacles.len()).filter(|k| !remove.contains(k)).collect();
        let mut scene =
            Scene::from_parts(self.name.clone(), self.seed, rects, self.textures.clone(), self.lights.clone());
        scene.ambient = self.ambient;
        scene.sun = self.sun;
        scene.sky = self.sky;
        scene.far = self.far;
        scene.rect_object =
            (0..self.rects.len()).filter(|&r| !dropped(r)).filter_map(|r| self.rect_object.get(r).copied()).collect();
        scene.room = self.room;
        scene.obstacles = keep.iter().map(|&k| self.obstacles[k]).collect();
        scene.obstacle_rects = keep
            .iter()
            .map(|&k| new_index[self.obstacle_rects[k].start]..new_index[self.obstacle_rects[k].end])
            .collect();
        scene
    }

    /// The centre of the room's floor-to-ceiling box.
    pub fn centre(&self) -> Point3<f64> {
        Point3::from(0.5 * (self.room.0 + self.room.1)).cast::<f64>()
    }
}

/// True when `p` is inside `(lo, hi)` shrunk by `margin` on every side.
fn inside((lo, hi): &Aabb, p: &Point3<f64>, margin: f32) -> bool {
    let p = p.coords.cast::<f32>();
    (0..3).all(|k| p[k] >= lo[k] + margin && p[k] <= hi[k] - margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scene_names_round_trip() {
        for name in SceneKind::NAMES {
            assert_eq!(name.parse::<SceneKind>().unwrap().to_string(), name);
        }
        assert!("forest".parse::<SceneKind>().is_err());
    }

    #[test]
    fn lambert_shading_of_a_lit_square() {
        // A white square at z = 0 facing +z, a light 2 m above: irradiance
        // 4 / 2² = 1 plus ambient 0.25.
        let rect = Rect::new(V3::new(-1.0, -1.0, 0.0), 2.0 * V3::x(), 2.0 * V3::y(), 0);
        let textures = vec![Texture::Checker { size: 10.0, colours: [[1.0; 3], [1.0; 3]] }];
        let lights = vec![Light { p_in_world: V3::new(0.0, 0.0, 2.0), intensity: 4.0 }];
        let scene = Scene::from_parts("test", 0, vec![rect], textures, lights);
        let origin = V3::new(0.0, 0.0, 1.0);
        let dir = -V3::z();
        let hit = scene.intersect(&origin, &dir, 0.0, 10.0, None).unwrap();
        let colour = scene.shade(&hit, &origin, &dir);
        assert!((colour[0] - 1.25).abs() < 1e-6);
        assert!(scene.is_free(&Point3::new(0.0, 0.0, 0.0), 0.0));
        assert!(!scene.is_free(&Point3::new(0.0, 0.0, 0.5), 0.0));
    }

    #[test]
    fn removing_an_obstacle_drops_its_rectangles() {
        let square = |x: f32| Rect::new(V3::new(x, 0.0, 0.0), V3::x(), V3::y(), 0);
        let mut scene = Scene::from_parts("t", 0, vec![square(0.0), square(2.0), square(4.0)], Vec::new(), Vec::new());
        scene.obstacles =
            vec![(V3::new(2.0, 0.0, -1.0), V3::new(3.0, 1.0, 1.0)), (V3::new(4.0, 0.0, -1.0), V3::new(5.0, 1.0, 1.0))];
        scene.obstacle_rects = vec![1..2, 2..3];
        let cleared = scene.without_obstacles(&[0]);
        assert_eq!(cleared.rects, vec![square(0.0), square(4.0)]);
        assert_eq!(cleared.obstacles, vec![scene.obstacles[1]]);
        assert_eq!(cleared.obstacle_rects, vec![1..2]);
    }
}
