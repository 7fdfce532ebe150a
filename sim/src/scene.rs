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
use crate::geometry::{Cuboid, Hit, Rect, V3};
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
    /// Rectangles (walls, floors, posters, roads).
    pub rects: Vec<Rect>,
    /// Closed boxes (furniture, buildings, object parts).
    pub cuboids: Vec<Cuboid>,
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
    /// Per cuboid, the id of its object (as `rect_object`).
    pub cuboid_object: Vec<u32>,
    /// Where a camera may be: inside this box …
    pub room: Aabb,
    /// … and outside these (furniture, inflated by a margin).
    pub obstacles: Vec<Aabb>,
    /// The rectangles of each obstacle (same order as `obstacles`).
    pub obstacle_rects: Vec<Range<usize>>,
    /// The cuboids of each obstacle (same order as `obstacles`).
    pub obstacle_cuboids: Vec<Range<usize>>,
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

    /// A scene of rectangles only (tests, custom worlds); builds the BVH.
    pub fn from_parts(
        name: impl Into<String>,
        seed: u64,
        rects: Vec<Rect>,
        textures: Vec<Texture>,
        lights: Vec<Light>,
    ) -> Self {
        Scene::from_primitives(name, seed, rects, Vec::new(), textures, lights)
    }

    /// A scene of rectangles and cuboids; builds the BVH.
    pub fn from_primitives(
        name: impl Into<String>,
        seed: u64,
        rects: Vec<Rect>,
        cuboids: Vec<Cuboid>,
        textures: Vec<Texture>,
        lights: Vec<Light>,
    ) -> Self {
        let bvh = Bvh::build(&rects, &cuboids);
        let (mut lo, mut hi) = (V3::repeat(f32::MAX), V3::repeat(f32::MIN));
        for (a, b) in rects.iter().map(Rect::bounds).chain(cuboids.iter().map(Cuboid::bounds)) {
            lo = lo.inf(&a);
            hi = hi.sup(&b);
        }
        Scene {
            name: name.into(),
            seed,
            rects,
            cuboids,
            textures,
            lights,
            ambient: 0.25,
            sun: None,
            sky: [0.0; 3],
            far: 50.0,
            rect_object: Vec::new(),
            cuboid_object: Vec::new(),
            room: (lo, hi),
            obstacles: Vec::new(),
            obstacle_rects: Vec::new(),
            obstacle_cuboids: Vec::new(),
            bvh,
        }
    }

    /// The nearest surface along `origin + t·dir`, `t ∈ (t_min, t_max)`.
    /// `hint`: a primitive likely hit (e.g. the previous pixel's), tested
    /// first to speed up the search; it does not change the result.
    #[inline]
    pub fn intersect(&self, origin: &V3, dir: &V3, t_min: f32, t_max: f32, hint: Option<u32>) -> Option<Hit> {
        self.bvh.intersect(&self.rects, &self.cuboids, origin, dir, t_min, t_max, hint)
    }

    /// Collects into `out` the primitives that rays from `origin` on the
    /// inner side of all `planes` (inward normals, planes through `origin`)
    /// can hit; false when there are more than `limit` (see
    /// [`crate::tile`]).
    pub fn candidates_in_cone(&self, origin: &V3, planes: &[V3], limit: usize, out: &mut Vec<(u32, f32)>) -> bool {
        self.bvh.primitives_in_cone(origin, planes, limit, out)
    }

    /// [`Self::intersect`] among `candidates` only (and `hint`): exact when
    /// they include every primitive the ray can hit.
    pub fn intersect_among(
        &self,
        candidates: &[(u32, f32)],
        origin: &V3,
        dir: &V3,
        t_min: f32,
        t_max: f32,
        hint: Option<u32>,
    ) -> Option<Hit> {
        let hint = hint.filter(|&i| (i as usize) < self.rects.len() + self.cuboids.len());
        Bvh::intersect_among(&self.rects, &self.cuboids, candidates, origin, dir, t_min, t_max, hint)
    }

    /// The cuboid of `hit`, if it hit one.
    #[inline]
    fn cuboid_of(&self, hit: &Hit) -> Option<&Cuboid> {
        (hit.primitive as usize).checked_sub(self.rects.len()).and_then(|k| self.cuboids.get(k))
    }

    /// The albedo of the surface at `hit`.
    #[inline]
    pub fn albedo(&self, hit: &Hit) -> Rgb {
        let texture = match self.cuboid_of(hit) {
            Some(cuboid) => cuboid.textures[hit.face as usize % 6],
            None => self.rects[hit.primitive as usize].texture,
        };
        self.textures.get(texture as usize).map_or([0.5; 3], |t| t.albedo(hit.s_m, hit.t_m))
    }

    /// The unit surface normal at `hit`, turned to face the ray `dir`.
    #[inline]
    pub fn normal_towards(&self, hit: &Hit, dir: &V3) -> V3 {
        let normal = match self.cuboid_of(hit) {
            Some(cuboid) => cuboid.normal(hit.face),
            None => self.rects[hit.primitive as usize].normal,
        };
        if normal.dot(dir) > 0.0 { -normal } else { normal }
    }

    /// The object the surface at `hit` belongs to, if any.
    #[inline]
    pub fn object_of(&self, hit: &Hit) -> Option<u32> {
        let k = hit.primitive as usize;
        let object = match k.checked_sub(self.rects.len()) {
            Some(c) => self.cuboid_object.get(c),
            None => self.rect_object.get(k),
        };
        object.copied().filter(|&o| o != NO_OBJECT)
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
    /// their primitives and free-space boxes go, the BVH is rebuilt.
    pub fn without_obstacles(&self, remove: &[usize]) -> Scene {
        let keep: Vec<usize> = (0..self.obstacles.len()).filter(|k| !remove.contains(k)).collect();
        let (rects, rect_object, obstacle_rects) =
            drop_ranges(&self.rects, &self.rect_object, &self.obstacle_rects, remove, &keep);
        let (cuboids, cuboid_object, obstacle_cuboids) =
            drop_ranges(&self.cuboids, &self.cuboid_object, &self.obstacle_cuboids, remove, &keep);
        let mut scene = Scene::from_primitives(
            self.name.clone(),
            self.seed,
            rects,
            cuboids,
            self.textures.clone(),
            self.lights.clone(),
        );
        scene.ambient = self.ambient;
        scene.sun = self.sun;
        scene.sky = self.sky;
        scene.far = self.far;
        scene.rect_object = rect_object;
        scene.cuboid_object = cuboid_object;
        scene.room = self.room;
        scene.obstacles = keep.iter().map(|&k| self.obstacles[k]).collect();
        scene.obstacle_rects = obstacle_rects;
        scene.obstacle_cuboids = obstacle_cuboids;
        scene
    }

    /// The centre of the room's floor-to-ceiling box.
    pub fn centre(&self) -> Point3<f64> {
        Point3::from(0.5 * (self.room.0 + self.room.1)).cast::<f64>()
    }
}

/// `items` (and their object ids, if any) without those in the `ranges`
/// numbered in `remove`, and the `keep` ranges renumbered.
fn drop_ranges<T: Copy>(
    items: &[T],
    objects: &[u32],
    ranges: &[Range<usize>],
    remove: &[usize],
    keep: &[usize],
) -> (Vec<T>, Vec<u32>, Vec<Range<usize>>) {
    let dropped = |i: usize| remove.iter().any(|&k| ranges.get(k).is_some_and(|range| range.contains(&i)));
    let (mut kept, mut kept_objects) = (Vec::with_capacity(items.len()), Vec::new());
    let mut new_index = vec![0usize; items.len() + 1];
    for (i, item) in items.iter().enumerate() {
        new_index[i] = kept.len();
        if !dropped(i) {
            kept.push(*item);
            kept_objects.extend(objects.get(i).copied());
        }
    }
    new_index[items.len()] = kept.len();
    let ranges =
        keep.iter().filter_map(|&k| ranges.get(k)).map(|range| new_index[range.start]..new_index[range.end]).collect();
    (kept, kept_objects, ranges)
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
