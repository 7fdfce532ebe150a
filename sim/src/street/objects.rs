//! The ten nuScenes object classes: plausible sizes (around nuScenes' mean
//! box per class) and a shape of a few boxes that fills the object's
//! ground-truth box, so LiDAR points and pixels of an object lie inside it.

use nalgebra::Rotation3;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::geometry::{Cuboid, V3};

/// An object class, in nuScenes' (and mmdet3d's) label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Passenger car.
    Car,
    /// Truck (box or pickup).
    Truck,
    /// Trailer (towed or parked).
    Trailer,
    /// Bus.
    Bus,
    /// Construction vehicle (excavator-like).
    ConstructionVehicle,
    /// Bicycle, parked or ridden (the rider is in the box).
    Bicycle,
    /// Motorcycle with rider.
    Motorcycle,
    /// Pedestrian.
    Pedestrian,
    /// Traffic cone.
    TrafficCone,
    /// Jersey barrier.
    Barrier,
}

impl Class {
    /// All classes, label order.
    pub const ALL: [Class; 10] = [
        Class::Car,
        Class::Truck,
        Class::Trailer,
        Class::Bus,
        Class::ConstructionVehicle,
        Class::Bicycle,
        Class::Motorcycle,
        Class::Pedestrian,
        Class::TrafficCone,
        Class::Barrier,
    ];

    /// The label id (index in [`cairn_core::samples::NUSCENES_CLASSES`]).
    pub fn label(self) -> i64 {
        Class::ALL.iter().position(|&c| c == self).map_or(-1, |i| i as i64)
    }

    /// The nuScenes detection class name.
    pub fn name(self) -> &'static str {
        cairn_core::samples::NUSCENES_CLASSES[self.label() as usize]
    }

    /// Mean box `[l, w, h]` (metres), close to nuScenes' per-class means.
    pub fn mean_size(self) -> [f32; 3] {
        match self {
            Class::Car => [4.6, 1.95, 1.7],
            Class::Truck => [6.9, 2.5, 2.85],
            Class::Trailer => [11.0, 2.9, 3.6],
            Class::Bus => [11.0, 2.95, 3.45],
            Class::ConstructionVehicle => [6.4, 2.8, 3.2],
            Class::Bicycle => [1.7, 0.6, 1.25],
            Class::Motorcycle => [2.1, 0.77, 1.47],
            Class::Pedestrian => [0.73, 0.67, 1.77],
            Class::TrafficCone => [0.41, 0.41, 1.0],
            Class::Barrier => [2.5, 0.5, 0.98],
        }
    }

    /// A size drawn around the mean (±10 % per dimension).
    pub fn draw_size(self, rng: &mut ChaCha8Rng) -> [f32; 3] {
        self.mean_size().map(|m| m * rng.random_range(0.9..1.1f32))
    }
}

/// The paint of an object's parts (texture ids in the street's list).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paint {
    /// Main body colour.
    pub body: u32,
    /// Glass, tyres, clothes: the dark parts.
    pub dark: u32,
    /// Second colour (roof, stripes, skin).
    pub accent: u32,
}

/// One box of an object's shape, in the object frame (x forward, z up,
/// origin at the bottom centre of the ground-truth box): `(centre, half
/// extents, textures [+x, −x, +y, −y, top, bottom])`.
type Part = (V3, V3, [u32; 6]);

/// The parts of an object of `class` and size `[l, w, h]`; every part lies
/// inside `[−l/2, l/2] × [−w/2, w/2] × [0, h]`.
fn parts(class: Class, [l, w, h]: [f32; 3], paint: &Paint) -> Vec<Part> {
    let (b, d, a) = (paint.body, paint.dark, paint.accent);
    // A box from corner (x0, y0, z0) to (x1, y1, z1).
    let part = |lo: [f32; 3], hi: [f32; 3], tex: [u32; 6]| -> Part {
        let (lo, hi) = (V3::from(lo), V3::from(hi));
        (0.5 * (lo + hi), 0.5 * (hi - lo), tex)
    };
    let wheels = |radius: f32, axles: &[f32], width: f32| -> Vec<Part> {
        let mut out = Vec::new();
        for &x in axles {
            for side in [-1.0, 1.0] {
                let y = side * (w / 2.0 - width / 2.0);
                out.push(part([x - radius, y - width / 2.0, 0.0], [x + radius, y + width / 2.0, 2.0 * radius], [d; 6]));
            }
        }
        out
    };
    let (hl, hw) = (l / 2.0, w / 2.0);
    match class {
        Class::Car => {
            let belt = 0.6 * h;
            let mut p = wheels(0.32, &[hl - 0.85, -hl + 0.85], 0.24);
            p.push(part([-hl, -hw, 0.3], [hl, hw, belt], [b; 6]));
            p.push(part([-0.32 * l, -0.45 * w, belt], [0.22 * l, 0.45 * w, h], [d, d, d, d, b, b]));
            p
        }
        Class::Truck => {
            let mut p = wheels(0.5, &[hl - 1.2, -hl + 1.3], 0.3);
            p.push(part([-hl, -0.45 * w, 0.55], [hl, 0.45 * w, 1.0], [d; 6]));
            p.push(part([hl - 2.1, -hw, 1.0], [hl, hw, h], [d, a, a, a, a, a]));
            p.push(part([-hl, -hw, 1.0], [hl - 2.3, hw, h], [b; 6]));
            p
        }
        Class::Trailer => {
            let mut p = wheels(0.5, &[-hl + 1.0, -hl + 2.2], 0.3);
            p.push(part([-hl, -hw, 1.1], [hl, hw, h], [b; 6]));
            p.push(part([hl - 1.6, -0.3, 0.0], [hl - 1.4, 0.3, 1.1], [d; 6]));
            p
        }
        Class::Bus => {
            let mut p = wheels(0.5, &[hl - 2.5, -hl + 3.0], 0.3);
            p.push(part([-hl, -hw, 0.35], [hl, hw, 0.45 * h], [b; 6]));
            p.push(part([-hl, -hw, 0.45 * h], [hl, hw, 0.8 * h], [d; 6]));
            p.push(part([-hl, -hw, 0.8 * h], [hl, hw, h], [a; 6]));
            p
        }
        Class::ConstructionVehicle => vec![
            part([-hl, -hw, 0.0], [0.3 * l, -0.25 * w, 0.9], [d; 6]),
            part([-hl, 0.25 * w, 0.0], [0.3 * l, hw, 0.9], [d; 6]),
            part([-0.45 * l, -0.45 * w, 0.9], [0.25 * l, 0.45 * w, 1.8], [b; 6]),
            part([-0.2 * l, -0.45 * w, 1.8], [0.2 * l, 0.1 * w, h], [d, d, d, d, b, b]),
            // The arm and bucket, out front.
            part([0.25 * l, -0.1 * w, 1.2], [hl - 0.5, 0.1 * w, 0.8 * h], [a; 6]),
            part([hl - 0.8, -0.35 * w, 0.0], [hl, 0.35 * w, 1.0], [a; 6]),
        ],
        Class::Bicycle | Class::Motorcycle => {
            let radius = if class == Class::Bicycle { 0.34 } else { 0.32 };
            let tyre = if class == Class::Bicycle { 0.05 } else { 0.12 };
            let mut p = Vec::new();
            for x in [hl - radius, -hl + radius] {
                p.push(part([x - radius, -tyre, 0.0], [x + radius, tyre, 2.0 * radius], [d; 6]));
            }
            // With a rider the frame stops at the saddle; without one the
            // handlebar is the top of the box.
            let saddle = 2.0 * radius + 0.3;
            let rider = h > saddle + 0.4;
            let frame_top = if rider { saddle } else { h };
            p.push(part([-hl + radius, -0.1 * w, radius], [hl - radius, 0.1 * w, frame_top], [b; 6]));
            // Handlebar across the full width.
            p.push(part([hl - radius - 0.08, -hw, frame_top - 0.06], [hl - radius, hw, frame_top], [d; 6]));
            if rider {
                // Torso and head above the saddle.
                let torso_top = frame_top + 0.75 * (h - frame_top);
                p.push(part([-0.25, -0.2, frame_top], [0.15, 0.2, torso_top], [a; 6]));
                p.push(part([-0.15, -0.1, torso_top], [0.05, 0.1, h], [d; 6]));
            }
            p
        }
        Class::Pedestrian => {
            // Legs in mid-stride (the box's length), arms at the sides.
            let (legs, shoulders) = (0.48 * h, 0.83 * h);
            vec![
                part([hl - 0.16, -0.15, 0.0], [hl, -0.01, legs], [d; 6]),
                part([-hl, 0.01, 0.0], [-hl + 0.16, 0.15, legs], [d; 6]),
                part([-0.14, -0.22, legs], [0.14, 0.22, shoulders], [b; 6]),
                part([-0.06, -hw, 0.55 * h], [0.06, -0.22, shoulders], [b; 6]),
                part([-0.06, 0.22, 0.55 * h], [0.06, hw, shoulders], [b; 6]),
                part([-0.1, -0.09, shoulders], [0.1, 0.09, h], [a; 6]),
            ]
        }
        Class::TrafficCone => vec![
            part([-hl, -hw, 0.0], [hl, hw, 0.04], [b; 6]),
            part([-0.35 * l, -0.35 * w, 0.04], [0.35 * l, 0.35 * w, 0.45 * h], [b; 6]),
            part([-0.24 * l, -0.24 * w, 0.45 * h], [0.24 * l, 0.24 * w, 0.75 * h], [a; 6]),
            part([-0.12 * l, -0.12 * w, 0.75 * h], [0.12 * l, 0.12 * w, h], [b; 6]),
        ],
        Class::Barrier => vec![
            part([-hl, -hw, 0.0], [hl, hw, 0.3 * h], [b; 6]),
            part([-hl, -0.35 * w, 0.3 * h], [hl, 0.35 * w, h], [a, a, b, b, a, a]),
        ],
    }
}

/// The shape stays this far (metres) inside the sides and top of its
/// ground-truth box, so surface points are inside the box despite rounding.
pub const BOX_CLEARANCE: f32 = 0.02;

/// The boxes of an object of `class`, size `[l, w, h]`, standing with its
/// bottom centre at `bottom` and heading `yaw` (about +z), shrunk by
/// [`BOX_CLEARANCE`].
pub fn object_cuboids(class: Class, size: [f32; 3], paint: &Paint, bottom: V3, yaw: f32) -> Vec<Cuboid> {
    let rotation = Rotation3::from_axis_angle(&V3::z_axis(), yaw);
    let [l, w, h] = size;
    let shape = [l - 2.0 * BOX_CLEARANCE, w - 2.0 * BOX_CLEARANCE, h - BOX_CLEARANCE];
    parts(class, shape, paint)
        .into_iter()
        .map(|(centre, half, textures)| Cuboid::new(bottom + rotation * centre, half, yaw, textures))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn labels_follow_nuscenes_order() {
        assert_eq!(Class::Car.label(), 0);
        assert_eq!(Class::Barrier.label(), 9);
        assert_eq!(Class::ConstructionVehicle.name(), "construction_vehicle");
    }

    #[test]
    fn every_shape_fills_and_stays_inside_its_box() {
        let paint = Paint { body: 0, dark: 1, accent: 2 };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for class in Class::ALL {
            for size in [class.mean_size(), class.draw_size(&mut rng)] {
                let [l, w, h] = size;
                let (mut lo, mut hi) = (V3::repeat(f32::MAX), V3::repeat(f32::MIN));
                for part in parts(class, size, &paint) {
                    lo = lo.inf(&(part.0 - part.1));
                    hi = hi.sup(&(part.0 + part.1));
                }
                let eps = 1e-5;
                assert!(lo.x >= -l / 2.0 - eps && lo.y >= -w / 2.0 - eps && lo.z >= -eps, "{class:?} {lo:?}");
                assert!(hi.x <= l / 2.0 + eps && hi.y <= w / 2.0 + eps && hi.z <= h + eps, "{class:?} {hi:?}");
                // The shape reaches every side of its box (tight boxes).
                let spans = [hi.x - lo.x, hi.y - lo.y, hi.z - lo.z];
                assert!(spans[0] > 0.99 * l && spans[1] > 0.99 * w && spans[2] > 0.99 * h, "{class:?} {spans:?}");
            }
        }
    }
}
