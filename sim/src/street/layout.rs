//! Drawing a street from its seed: static geometry (ground, road with
//! markings, sidewalks with kerbs, buildings, trees) and the agents (traffic
//! per lane, cyclists, pedestrians, parked vehicles, a work zone). Every
//! random choice comes from one `ChaCha8Rng` in a fixed order.

use std::f32::consts::{FRAC_PI_2, PI};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::objects::{Class, Paint};
use super::{Agent, Ego, KERB_HEIGHT, LANES, MARGIN, ROAD_HALF_WIDTH, Street};
use crate::geometry::{Cuboid, Rect, V3};
use crate::texture::{RoadLine, Texture, palette};

/// Road and sidewalk pieces are this long (a multiple of the 6 m dash).
const SEGMENT: f32 = 24.0;
/// Outer edge of the sidewalk, where the buildings start.
const BUILDING_LINE: f32 = 15.8;
/// Tree (and parked bicycle) line on the sidewalk.
const TREE_Y: f32 = 11.8;
/// Pedestrian walking tracks on the sidewalk.
const TRACKS: [f32; 3] = [12.7, 13.5, 14.3];
/// Where standing pedestrians stand.
const STAND_Y: f32 = 15.2;
/// Bike lane centre.
const BIKE_Y: f32 = 7.7;

struct Builder {
    rng: ChaCha8Rng,
    length: f32,
    rects: Vec<Rect>,
    cuboids: Vec<Cuboid>,
    textures: Vec<Texture>,
    agents: Vec<Agent>,
    /// Shared agent paints: bodies, dark parts, accents.
    bodies: Vec<u32>,
    dark: u32,
    accents: Vec<u32>,
}

pub fn generate(seed: u64, duration: f32) -> Street {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let speeds: Vec<f32> = LANES
        .iter()
        .map(|y| if y.abs() > 3.5 { rng.random_range(7.0..10.0) } else { rng.random_range(9.0..13.0) })
        .collect();
    let ego_lane = rng.random_range(0..2);
    let length = ((2.0 * MARGIN + speeds[ego_lane] * duration) / SEGMENT).ceil() * SEGMENT;
    let ego = Ego { y: LANES[ego_lane], speed: speeds[ego_lane], start_x: MARGIN };
    let mut b = Builder {
        rng,
        length,
        rects: Vec::new(),
        cuboids: Vec::new(),
        textures: Vec::new(),
        agents: Vec::new(),
        bodies: Vec::new(),
        dark: 0,
        accents: Vec::new(),
    };
    b.paints();
    b.ground_and_road();
    for side in [-1.0, 1.0] {
        b.sidewalk(side);
        b.buildings(side);
        b.trees_and_bicycles(side);
    }
    for (lane, (&y, &speed)) in LANES.iter().zip(&speeds).enumerate() {
        let reserve = (lane == ego_lane).then_some(ego.start_x);
        b.lane_traffic(y, speed, reserve);
    }
    for side in [-1.0, 1.0] {
        b.parking(side);
        b.cyclists(side);
        b.pedestrians(side);
    }
    Street { seed, length, agents: b.agents, ego, rects: b.rects, cuboids: b.cuboids, textures: b.textures }
}

impl Builder {
    fn texture(&mut self, texture: Texture) -> u32 {
        self.textures.push(texture);
        (self.textures.len() - 1) as u32
    }

    fn paint(&mut self, base: [f32; 3], variation: f32) -> u32 {
        let seed = self.rng.random();
        self.texture(Texture::Paint { base, variation, seed })
    }

    fn grey(&mut self, lo: f32, hi: f32) -> [f32; 3] {
        [self.rng.random_range(lo..hi); 3]
    }

    /// Twelve body colours (white, black, greys and hues), one dark and
    /// four accent paints shared by all agents.
    fn paints(&mut self) {
        for k in 0..12 {
            let base = match k {
                0 => [0.85; 3],
                1 => [0.08; 3],
                2..=4 => self.grey(0.3, 0.7),
                _ => {
                    let hue = self.rng.random();
                    palette(hue)
                }
            };
            let id = self.paint(base, 0.1);
            self.bodies.push(id);
        }
        self.dark = self.paint([0.06, 0.07, 0.09], 0.2);
        for base in [[0.85, 0.75, 0.6], [0.9, 0.45, 0.1], [0.9; 3], [0.2, 0.3, 0.6]] {
            let id = self.paint(base, 0.15);
            self.accents.push(id);
        }
    }

    fn agent_paint(&mut self, class: Class) -> Paint {
        let body = self.bodies[self.rng.random_range(0..self.bodies.len())];
        let accent = self.accents[self.rng.random_range(0..self.accents.len())];
        match class {
            // Orange and white cones, red and white barriers, yellow machines.
            Class::TrafficCone => Paint { body: self.accents[1], dark: self.dark, accent: self.accents[2] },
            Class::Barrier => Paint { body: self.accents[2], dark: self.dark, accent: self.accents[1] },
            Class::ConstructionVehicle => Paint { body: self.accents[1], dark: self.dark, accent: self.accents[1] },
            // Skin for heads.
            Class::Pedestrian => Paint { body, dark: self.dark, accent: self.accents[0] },
            _ => Paint { body, dark: self.dark, accent },
        }
    }

    fn add_agent(&mut self, class: Class, size: [f32; 3], start: V3, yaw: f32, speed: f32) {
        let paint = self.agent_paint(class);
        self.agents.push(Agent { class, size, start, yaw, speed, paint });
    }

    /// An axis-aligned box with the given face textures.
    fn add_box(&mut self, lo: V3, hi: V3, textures: [u32; 6]) {
        self.cuboids.push(Cuboid::from_corners(lo, hi, textures));
    }

    fn ground_and_road(&mut self) {
        let ground = self.paint([0.35, 0.4, 0.25], 0.4);
        let (lo, hi) = (-300.0, self.length + 300.0);
        self.rects.push(Rect::new(V3::new(lo, -300.0, -0.02), V3::x() * (hi - lo), V3::y() * 600.0, ground));
        let (white, yellow) = ([0.9, 0.9, 0.88], [0.9, 0.75, 0.2]);
        let h = ROAD_HALF_WIDTH;
        let line = |y: f32, width: f32, dash: f32, colour| RoadLine { t: y + h, width, dash, colour };
        let lines = vec![
            line(-8.5, 0.12, 0.0, white),
            line(-7.0, 0.12, 0.0, white),
            line(-3.5, 0.12, 6.0, white),
            line(-0.12, 0.1, 0.0, yellow),
            line(0.12, 0.1, 0.0, yellow),
            line(3.5, 0.12, 6.0, white),
            line(7.0, 0.12, 0.0, white),
            line(8.5, 0.12, 0.0, white),
        ];
        let seed = self.rng.random();
        let asphalt = self.grey(0.18, 0.26);
        let road = self.texture(Texture::Road { asphalt, seed, lines });
        // From before the street's start to after its end, in segments.
        let mut x = -3.0 * SEGMENT;
        while x < self.length + 3.0 * SEGMENT {
            self.rects.push(Rect::new(V3::new(x, -h, 0.0), V3::x() * SEGMENT, V3::y() * (2.0 * h), road));
            x += SEGMENT;
        }
    }

    /// Sidewalk slabs on `side` (±1), their street-facing face is the kerb.
    fn sidewalk(&mut self, side: f32) {
        let seed = self.rng.random();
        let colours = [self.grey(0.55, 0.65), self.grey(0.5, 0.6)];
        let top = self.texture(Texture::Tiles { size: 0.6, grout: 0.01, colours, grout_colour: [0.35; 3], seed });
        let kerb = self.paint([0.6; 3], 0.15);
        let (y0, y1) = (side * ROAD_HALF_WIDTH, side * BUILDING_LINE);
        let mut x = -3.0 * SEGMENT;
        while x < self.length + 3.0 * SEGMENT {
            let lo = V3::new(x, y0.min(y1), 0.0);
            let hi = V3::new(x + SEGMENT, y0.max(y1), KERB_HEIGHT);
            self.add_box(lo, hi, [kerb, kerb, kerb, kerb, top, top]);
            x += SEGMENT;
        }
    }

    /// A row of buildings along `side`, with occasional alleys, and a
    /// closing building across each end of the street.
    fn buildings(&mut self, side: f32) {
        let roof = self.paint([0.3; 3], 0.2);
        let mut x = -3.0 * SEGMENT;
        while x < self.length + 3.0 * SEGMENT {
            let width = self.rng.random_range(8.0..30.0);
            let depth = self.rng.random_range(10.0..20.0);
            let height = self.rng.random_range(6.0..30.0);
            let base =
                [self.rng.random_range(0.4..0.85), self.rng.random_range(0.35..0.8), self.rng.random_range(0.3..0.75)];
            let glass = [0.08, self.rng.random_range(0.1..0.18), self.rng.random_range(0.15..0.25)];
            let storey = self.rng.random_range(2.8..3.6);
            let bay = self.rng.random_range(1.8..3.2);
            let seed = self.rng.random();
            let facade = self.texture(Texture::Facade { base, glass, storey, bay, seed });
            let (y0, y1) = (side * BUILDING_LINE, side * (BUILDING_LINE + depth));
            self.add_box(
                V3::new(x, y0.min(y1), 0.0),
                V3::new(x + width, y0.max(y1), height),
                [facade, facade, facade, facade, roof, roof],
            );
            let alley = if self.rng.random_bool(0.25) { self.rng.random_range(2.0..6.0) } else { 0.0 };
            x += width + alley;
        }
        if side > 0.0 {
            let wall = self.paint([0.6, 0.55, 0.5], 0.3);
            for x in [-4.0 * SEGMENT, self.length + 4.0 * SEGMENT] {
                self.add_box(V3::new(x - 5.0, -60.0, 0.0), V3::new(x + 5.0, 60.0, 30.0), [wall; 6]);
            }
        }
    }

    /// Trees along the kerb every 10–20 m, and sometimes a parked bicycle
    /// between two trees.
    fn trees_and_bicycles(&mut self, side: f32) {
        let bark = self.paint([0.3, 0.22, 0.15], 0.3);
        let leaves = self.paint([0.2, 0.42, 0.15], 0.6);
        let y = side * TREE_Y;
        let mut x = self.rng.random_range(0.0..10.0);
        while x < self.length {
            let top = KERB_HEIGHT + self.rng.random_range(4.0..4.8);
            self.add_box(V3::new(x - 0.15, y - 0.15, KERB_HEIGHT), V3::new(x + 0.15, y + 0.15, top), [bark; 6]);
            let crown = self.rng.random_range(1.1..1.5);
            self.cuboids.push(Cuboid::new(V3::new(x, y, top + crown), V3::repeat(crown), 0.0, [leaves; 6]));
            let upper = V3::new(x, y, top + 1.6 * crown);
            self.cuboids.push(Cuboid::new(upper, V3::repeat(0.75 * crown), PI / 4.0, [leaves; 6]));
            let gap = self.rng.random_range(10.0..20.0);
            if self.rng.random_bool(0.3) {
                let size = Class::Bicycle.draw_size(&mut self.rng);
                let yaw = if self.rng.random_bool(0.5) { 0.0 } else { PI };
                self.add_agent(Class::Bicycle, size, V3::new(x + gap / 2.0, y, KERB_HEIGHT), yaw, 0.0);
            }
            x += gap;
        }
    }

    /// Vehicles in one lane, all at the lane's speed; `reserve` keeps the
    /// ego's place (x at t = 0) free.
    fn lane_traffic(&mut self, y: f32, speed: f32, reserve: Option<f32>) {
        let yaw = if y < 0.0 { 0.0 } else { PI };
        let mut x = self.rng.random_range(0.0..20.0);
        loop {
            let pick = self.rng.random_range(0.0..1.0);
            let mut train = vec![match pick {
                p if p < 0.7 => Class::Car,
                p if p < 0.78 => Class::Truck,
                p if p < 0.86 => Class::Bus,
                p if p < 0.93 => Class::Motorcycle,
                _ => Class::Truck,
            }];
            if pick >= 0.93 {
                train.push(Class::Trailer);
            }
            let sizes: Vec<[f32; 3]> = train.iter().map(|c| c.draw_size(&mut self.rng)).collect();
            let total: f32 = sizes.iter().map(|s| s[0]).sum::<f32>() + 0.6 * (sizes.len() - 1) as f32;
            let gap = self.rng.random_range(8.0..40.0);
            if x + total + 6.0 > self.length {
                break;
            }
            if let Some(ego) = reserve
                && x < ego + 12.0
                && x + total > ego - 12.0
            {
                x = ego + 12.0;
                continue;
            }
            // The first of a train leads: at the high-x end when heading +x.
            let mut front = if yaw == 0.0 { x + total } else { x };
            for (class, size) in train.into_iter().zip(sizes) {
                let centre = if yaw == 0.0 { front - size[0] / 2.0 } else { front + size[0] / 2.0 };
                self.add_agent(class, size, V3::new(centre, y, 0.0), yaw, speed);
                front = if yaw == 0.0 { front - size[0] - 0.6 } else { front + size[0] + 0.6 };
            }
            x += total + gap;
        }
    }

    /// Parked vehicles along the kerb and one work zone (construction
    /// vehicle, cones, barriers) per side.
    fn parking(&mut self, side: f32) {
        let yaw = if side < 0.0 { 0.0 } else { PI };
        let zone_start = self.rng.random_range(0.2..0.7) * self.length;
        let zone_end = zone_start + 26.0;
        let mut x = self.rng.random_range(0.0..10.0);
        while x < self.length {
            if x > zone_start - 8.0 && x < zone_end {
                self.work_zone(side, zone_start);
                x = zone_end + 2.0;
                continue;
            }
            let class = if self.rng.random_bool(0.88) { Class::Car } else { Class::Truck };
            let size = class.draw_size(&mut self.rng);
            if x + size[0] > self.length {
                break;
            }
            if self.rng.random_bool(0.75) {
                // Cars stand a little askew; 20 cm off the kerb either way.
                let jitter = if class == Class::Car { self.rng.random_range(-0.03..0.03f32) } else { 0.0 };
                let half_y = 0.5 * size[0] * jitter.abs().sin() + 0.5 * size[1] * jitter.cos();
                let y = side * (ROAD_HALF_WIDTH - 0.2 - half_y);
                self.add_agent(class, size, V3::new(x + size[0] / 2.0, y, 0.0), yaw + jitter, 0.0);
            }
            x += size[0] + self.rng.random_range(1.0..8.0);
        }
    }

    fn work_zone(&mut self, side: f32, x0: f32) {
        // Barriers across the parking strip at both ends.
        for x in [x0, x0 + 25.0] {
            let size = Class::Barrier.draw_size(&mut self.rng);
            self.add_agent(Class::Barrier, size, V3::new(x, side * 9.6, 0.0), FRAC_PI_2, 0.0);
        }
        // Cones along the bike lane's edge, before and after the machine.
        let mut x = x0 + 1.5;
        while x < x0 + 23.5 {
            let size = Class::TrafficCone.draw_size(&mut self.rng);
            self.add_agent(Class::TrafficCone, size, V3::new(x, side * 8.7, 0.0), 0.0, 0.0);
            x += self.rng.random_range(2.0..3.0);
            if x > x0 + 8.0 && x < x0 + 17.0 {
                x = x0 + 17.0;
            }
        }
        // The machine, narrowed to fit the parking strip.
        let mut size = Class::ConstructionVehicle.draw_size(&mut self.rng);
        size[1] = size[1].min(2.6);
        let yaw = if self.rng.random_bool(0.5) { 0.0 } else { PI };
        let y = side * (ROAD_HALF_WIDTH - 0.2 - size[1] / 2.0);
        self.add_agent(Class::ConstructionVehicle, size, V3::new(x0 + 12.5, y, 0.0), yaw, 0.0);
    }

    /// Cyclists in the bike lane of `side`, all at one speed.
    fn cyclists(&mut self, side: f32) {
        let yaw = if side < 0.0 { 0.0 } else { PI };
        let speed = self.rng.random_range(3.5..6.0);
        let mut x = self.rng.random_range(0.0..30.0);
        while x < self.length - 10.0 {
            let mut size = Class::Bicycle.draw_size(&mut self.rng);
            size[2] = self.rng.random_range(1.6..1.85);
            self.add_agent(Class::Bicycle, size, V3::new(x, side * BIKE_Y, 0.0), yaw, speed);
            x += self.rng.random_range(20.0..80.0);
        }
    }

    /// Walkers on three tracks (one direction and speed per track) and
    /// people standing by the buildings.
    fn pedestrians(&mut self, side: f32) {
        for track in TRACKS {
            let yaw = if self.rng.random_bool(0.5) { 0.0 } else { PI };
            let speed = self.rng.random_range(1.0..1.6);
            let mut x = self.rng.random_range(0.0..20.0);
            while x < self.length - 2.0 {
                let size = Class::Pedestrian.draw_size(&mut self.rng);
                self.add_agent(Class::Pedestrian, size, V3::new(x, side * track, KERB_HEIGHT), yaw, speed);
                x += self.rng.random_range(6.0..40.0);
            }
        }
        let mut x = self.rng.random_range(0.0..20.0);
        while x < self.length {
            let size = Class::Pedestrian.draw_size(&mut self.rng);
            let yaw =
                side * FRAC_PI_2 + self.rng.random_range(-0.2..0.2) + if self.rng.random_bool(0.5) { 0.0 } else { PI };
            self.add_agent(Class::Pedestrian, size, V3::new(x, side * STAND_Y, KERB_HEIGHT), yaw, 0.0);
            x += self.rng.random_range(8.0..50.0);
        }
    }
}
