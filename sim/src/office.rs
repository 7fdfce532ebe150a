//! The `office` scene: a room of about 6 × 5 × 2.8 m with tiled floor, panel
//! ceiling, painted walls with posters and a checkerboard, and furniture
//! along the walls (desks with monitors and clutter, bookshelves, cabinets
//! with drawers). Every choice comes from one `ChaCha8Rng` seeded by the
//! scene seed, in a fixed order, so a seed always gives the same room.
//!
//! Furniture stands along the walls only, so the middle of the room (about
//! 3.5 × 2.5 m) is free for camera paths.

use std::ops::Range;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::geometry::{Cuboid, Rect, V3};
use crate::scene::{Aabb, Light, Scene};
use crate::texture::{PosterShape, Rgb, Texture, palette};

/// Furniture keeps this far from walls' corners (metres).
const CORNER_GAP: f32 = 0.1;

struct Builder {
    rng: ChaCha8Rng,
    rects: Vec<Rect>,
    cuboids: Vec<Cuboid>,
    textures: Vec<Texture>,
    obstacles: Vec<Aabb>,
    /// The rectangles and cuboids of each obstacle, and where the current
    /// item's started.
    obstacle_rects: Vec<Range<usize>>,
    obstacle_cuboids: Vec<Range<usize>>,
    item_start: (usize, usize),
}

/// A wall seen from inside: corner, unit direction along it (counter-clockwise
/// seen from above), length; the inward normal is the direction turned +90°.
struct Wall {
    corner: V3,
    along: V3,
    length: f32,
}

impl Wall {
    fn inward(&self) -> V3 {
        V3::new(-self.along.y, self.along.x, 0.0)
    }
    fn yaw(&self) -> f32 {
        self.along.y.atan2(self.along.x)
    }
}

/// Builds the office from `seed`.
pub fn generate(seed: u64) -> Scene {
    let mut b = Builder {
        rng: ChaCha8Rng::seed_from_u64(seed),
        rects: Vec::new(),
        cuboids: Vec::new(),
        textures: Vec::new(),
        obstacles: Vec::new(),
        obstacle_rects: Vec::new(),
        obstacle_cuboids: Vec::new(),
        item_start: (0, 0),
    };
    let size_x = 6.0 + b.rng.random_range(-0.3..0.3);
    let size_y = 5.0 + b.rng.random_range(-0.3..0.3);
    let height = 2.8f32;
    let (hx, hy) = (size_x / 2.0, size_y / 2.0);
    b.shell(hx, hy, height);
    let walls = [
        Wall { corner: V3::new(-hx, -hy, 0.0), along: V3::x(), length: size_x },
        Wall { corner: V3::new(hx, -hy, 0.0), along: V3::y(), length: size_y },
        Wall { corner: V3::new(hx, hy, 0.0), along: -V3::x(), length: size_x },
        Wall { corner: V3::new(-hx, hy, 0.0), along: -V3::y(), length: size_y },
    ];
    for wall in &walls {
        b.posters(wall);
    }
    // The checkerboard hangs on a random wall.
    let board_wall = b.rng.random_range(0..4);
    b.checkerboard(&walls[board_wall]);
    for wall in &walls {
        b.furnish(wall);
    }
    let lights = vec![
        Light { p_in_world: V3::new(-hx / 2.0, 0.0, height - 0.2), intensity: 2.5 },
        Light { p_in_world: V3::new(hx / 2.0, hy / 3.0, height - 0.2), intensity: 2.0 },
    ];
    let mut scene = Scene::from_primitives("office", seed, b.rects, b.cuboids, b.textures, lights);
    scene.ambient = 0.35;
    scene.room = (V3::new(-hx, -hy, 0.0), V3::new(hx, hy, height));
    scene.obstacles = b.obstacles;
    scene.obstacle_rects = b.obstacle_rects;
    scene.obstacle_cuboids = b.obstacle_cuboids;
    scene
}

impl Builder {
    fn texture(&mut self, texture: Texture) -> u32 {
        self.textures.push(texture);
        (self.textures.len() - 1) as u32
    }

    fn colour(&mut self, lo: f32, hi: f32) -> Rgb {
        [self.rng.random_range(lo..hi), self.rng.random_range(lo..hi), self.rng.random_range(lo..hi)]
    }

    fn seed32(&mut self) -> u32 {
        self.rng.random()
    }

    /// A box of textures, one per face (see [`Cuboid`]): one primitive.
    fn add_box(&mut self, centre: V3, half: V3, yaw: f32, textures: [u32; 6]) {
        self.cuboids.push(Cuboid::new(centre, half, yaw, textures));
    }

    /// Floor, ceiling and the four walls (normals facing in).
    fn shell(&mut self, hx: f32, hy: f32, height: f32) {
        let tile = self.rng.random_range(0.4..0.6);
        let (light, dark) = (self.colour(0.55, 0.8), self.colour(0.3, 0.5));
        let seed = self.seed32();
        let floor = self.texture(Texture::Tiles {
            size: tile,
            grout: 0.008,
            colours: [light, dark],
            grout_colour: [0.15; 3],
            seed,
        });
        self.rects.push(Rect::new(V3::new(-hx, -hy, 0.0), V3::x() * 2.0 * hx, V3::y() * 2.0 * hy, floor));
        let seed = self.seed32();
        let ceiling = self.texture(Texture::Tiles {
            size: 0.6,
            grout: 0.02,
            colours: [[0.85, 0.85, 0.82], [0.8, 0.8, 0.78]],
            grout_colour: [0.45; 3],
            seed,
        });
        self.rects.push(Rect::new(V3::new(-hx, -hy, height), V3::y() * 2.0 * hy, V3::x() * 2.0 * hx, ceiling));
        let corners = [V3::new(-hx, -hy, 0.0), V3::new(hx, -hy, 0.0), V3::new(hx, hy, 0.0), V3::new(-hx, hy, 0.0)];
        for k in 0..4 {
            let (a, b) = (corners[k], corners[(k + 1) % 4]);
            let base = self.colour(0.55, 0.85);
            let seed = self.seed32();
            let board_colour = self.colour(0.1, 0.3);
            let paint = self.texture(Texture::Wall { base, variation: 0.25, seed, board_height: 0.1, board_colour });
            // s along the wall, t up: the normal (s × t) points into the room.
            self.rects.push(Rect::new(a, b - a, V3::z() * height, paint));
        }
    }

    /// Posters hung 5 mm off the wall.
    fn posters(&mut self, wall: &Wall) {
        let count = self.rng.random_range(2..=4);
        for _ in 0..count {
            let (w, h) = (self.rng.random_range(0.4..1.0f32), self.rng.random_range(0.5..0.9f32));
            let u = self.rng.random_range(0.3..(wall.length - w - 0.3).max(0.31));
            let z = self.rng.random_range(0.9..(2.5 - h));
            let background = self.colour(0.6, 0.95);
            let mut shapes = Vec::new();
            for _ in 0..self.rng.random_range(3..9) {
                let (s0, t0) = (self.rng.random_range(0.0..w * 0.8), self.rng.random_range(0.0..h * 0.8));
                let (sw, th) = (self.rng.random_range(0.05..w * 0.6), self.rng.random_range(0.03..h * 0.5));
                let hue = self.rng.random();
                let stripes = if self.rng.random_bool(0.3) { self.rng.random_range(0.02..0.06) } else { 0.0 };
                shapes.push(PosterShape { bounds: [s0, t0, s0 + sw, t0 + th], colour: palette(hue), stripes });
            }
            let tex = self.texture(Texture::Poster { background, shapes });
            let origin = wall.corner + wall.along * u + wall.inward() * 0.005 + V3::z() * z;
            self.rects.push(Rect::new(origin, wall.along * w, V3::z() * h, tex));
        }
    }

    fn checkerboard(&mut self, wall: &Wall) {
        let size = 0.06;
        let tex = self.texture(Texture::Checker { size, colours: [[0.05; 3], [0.95; 3]] });
        let u = self.rng.random_range(0.5..(wall.length - 1.0));
        let origin = wall.corner + wall.along * u + wall.inward() * 0.006 + V3::z() * 1.2;
        self.rects.push(Rect::new(origin, wall.along * (9.0 * size), V3::z() * (7.0 * size), tex));
    }

    /// Desks, shelves and cabinets side by side along the wall.
    fn furnish(&mut self, wall: &Wall) {
        let mut u = CORNER_GAP + 0.6 + self.rng.random_range(0.0..0.5f32);
        loop {
            let kind = self.rng.random_range(0..3);
            let (width, depth) = match kind {
                0 => (self.rng.random_range(1.2..1.6), self.rng.random_range(0.6..0.75)),
                1 => (self.rng.random_range(0.8..1.2), 0.35),
                _ => (self.rng.random_range(0.6..1.0), 0.5),
            };
            if u + width > wall.length - CORNER_GAP - 0.6 {
                break;
            }
            let centre = wall.corner + wall.along * (u + width / 2.0) + wall.inward() * (depth / 2.0 + 0.01);
            self.item_start = (self.rects.len(), self.cuboids.len());
            match kind {
                0 => self.desk(centre, width, depth, wall.yaw()),
                1 => self.shelf(centre, width, depth, wall.yaw()),
                _ => self.cabinet(centre, width, depth, wall.yaw()),
            }
            u += width + self.rng.random_range(0.1..0.6);
        }
    }

    fn footprint(&mut self, centre: V3, along: V3, inward: V3, width: f32, depth: f32, height: f32) {
        let a = along * (width / 2.0) + inward * (depth / 2.0);
        let b = along * (width / 2.0) - inward * (depth / 2.0);
        let lo = V3::new(centre.x - a.x.abs().max(b.x.abs()), centre.y - a.y.abs().max(b.y.abs()), 0.0);
        let hi = V3::new(centre.x + a.x.abs().max(b.x.abs()), centre.y + a.y.abs().max(b.y.abs()), height);
        self.obstacles.push((lo, hi));
        self.obstacle_rects.push(self.item_start.0..self.rects.len());
        self.obstacle_cuboids.push(self.item_start.1..self.cuboids.len());
    }

    fn wood(&mut self) -> u32 {
        let (light, dark) = (self.colour(0.55, 0.75), self.colour(0.25, 0.4));
        let light = [light[0], light[1] * 0.8, light[2] * 0.55];
        let dark = [dark[0], dark[1] * 0.75, dark[2] * 0.5];
        let seed = self.seed32();
        let plank = self.rng.random_range(0.12..0.25);
        self.texture(Texture::Wood { light, dark, plank, seed })
    }

    fn paint(&mut self, lo: f32, hi: f32) -> u32 {
        let base = self.colour(lo, hi);
        let seed = self.seed32();
        self.texture(Texture::Paint { base, variation: 0.3, seed })
    }

    fn desk(&mut self, centre: V3, width: f32, depth: f32, yaw: f32) {
        let (along, inward) = (V3::new(yaw.cos(), yaw.sin(), 0.0), V3::new(-yaw.sin(), yaw.cos(), 0.0));
        let top = self.wood();
        let side = self.paint(0.2, 0.5);
        let z_top = 0.74;
        self.add_box(centre + V3::z() * z_top, V3::new(width / 2.0, depth / 2.0, 0.02), yaw, [top; 6]);
        for k in [-1.0, 1.0] {
            let c = centre + along * (k * (width / 2.0 - 0.03)) + V3::z() * (z_top / 2.0);
            self.add_box(c, V3::new(0.02, depth / 2.0 - 0.02, z_top / 2.0 - 0.02), yaw, [side; 6]);
        }
        // Monitor: dark case, a screen with windows on the room side.
        let case = self.texture(Texture::Paint { base: [0.08; 3], variation: 0.1, seed: 1 });
        let background = self.colour(0.1, 0.3);
        let mut shapes = Vec::new();
        for k in 0..5 {
            let (s0, t0) = (0.03 + 0.09 * k as f32, self.rng.random_range(0.02..0.15));
            let hue = self.rng.random();
            shapes.push(PosterShape { bounds: [s0, t0, s0 + 0.08, t0 + 0.12], colour: palette(hue), stripes: 0.012 });
        }
        let screen = self.texture(Texture::Poster { background, shapes });
        let u = self.rng.random_range(-width / 4.0..width / 4.0);
        let c = centre + along * u - inward * (depth / 2.0 - 0.15) + V3::z() * (z_top + 0.27);
        self.add_box(c, V3::new(0.26, 0.025, 0.16), yaw, [case, case, screen, case, case, case]);
        self.add_box(c - V3::z() * 0.18, V3::new(0.03, 0.03, 0.06), yaw, [case; 6]);
        self.clutter(centre + V3::z() * (z_top + 0.02), along, inward, width, depth);
        self.footprint(centre, along, inward, width, depth, z_top + 0.5);
    }

    /// Small boxes and lying books on a surface at height `centre.z`.
    fn clutter(&mut self, centre: V3, along: V3, inward: V3, width: f32, depth: f32) {
        for _ in 0..self.rng.random_range(2..6) {
            let half = V3::new(
                self.rng.random_range(0.03..0.12),
                self.rng.random_range(0.03..0.1),
                self.rng.random_range(0.02..0.1),
            );
            let u = self.rng.random_range(-(width / 2.0 - 0.15)..(width / 2.0 - 0.15));
            let v = self.rng.random_range(-0.05..(depth / 2.0 - 0.12).max(0.0));
            let yaw = self.rng.random_range(0.0..std::f32::consts::PI);
            let tex = match self.rng.random_range(0..3) {
                0 => {
                    let colours = [self.colour(0.1, 0.4), self.colour(0.6, 0.95)];
                    let size = self.rng.random_range(0.015..0.04);
                    self.texture(Texture::Checker { size, colours })
                }
                1 => {
                    let seed = self.seed32();
                    self.texture(Texture::Books { spine: 0.03, seed })
                }
                _ => {
                    let hue = self.rng.random();
                    self.texture(Texture::Paint { base: palette(hue), variation: 0.4, seed: 7 })
                }
            };
            self.add_box(centre + along * u + inward * v + V3::z() * half.z, half, yaw, [tex; 6]);
        }
    }

    fn shelf(&mut self, centre: V3, width: f32, depth: f32, yaw: f32) {
        let (along, inward) = (V3::new(yaw.cos(), yaw.sin(), 0.0), V3::new(-yaw.sin(), yaw.cos(), 0.0));
        let height = self.rng.random_range(1.5..2.0f32);
        let board = self.wood();
        let back = self.paint(0.15, 0.3);
        for k in [-1.0, 1.0] {
            let c = centre + along * (k * (width / 2.0 - 0.01)) + V3::z() * (height / 2.0);
            self.add_box(c, V3::new(0.01, depth / 2.0, height / 2.0), yaw, [board; 6]);
        }
        self.add_box(
            centre - inward * (depth / 2.0 - 0.005) + V3::z() * (height / 2.0),
            V3::new(width / 2.0, 0.005, height / 2.0),
            yaw,
            [back; 6],
        );
        let levels = ((height - 0.1) / 0.38).floor() as usize;
        for k in 0..=levels {
            let z = 0.02 + k as f32 * (height - 0.04) / levels as f32;
            self.add_box(centre + V3::z() * z, V3::new(width / 2.0 - 0.02, depth / 2.0, 0.012), yaw, [board; 6]);
            if k == levels {
                break;
            }
            // A row of books on the board: spines face the room (+y face).
            let row = self.rng.random_range(0.4..0.95) * (width - 0.06);
            let offset = self.rng.random_range(0.0..(width - 0.06 - row).max(0.001));
            let seed = self.seed32();
            let spine = self.rng.random_range(0.025..0.05);
            let spines = self.texture(Texture::Books { spine, seed });
            let top = self.paint(0.5, 0.9);
            let c = centre
                + along * (-width / 2.0 + 0.03 + offset + row / 2.0)
                + inward * 0.02
                + V3::z() * (z + 0.012 + 0.15);
            self.add_box(c, V3::new(row / 2.0, depth / 2.0 - 0.04, 0.15), yaw, [top, top, spines, top, top, top]);
        }
        self.footprint(centre, along, inward, width, depth, height);
    }

    fn cabinet(&mut self, centre: V3, width: f32, depth: f32, yaw: f32) {
        let (along, inward) = (V3::new(yaw.cos(), yaw.sin(), 0.0), V3::new(-yaw.sin(), yaw.cos(), 0.0));
        let height = self.rng.random_range(0.7..1.1f32);
        let body = if self.rng.random_bool(0.5) { self.wood() } else { self.paint(0.4, 0.8) };
        self.add_box(
            centre + V3::z() * (height / 2.0),
            V3::new(width / 2.0, depth / 2.0, height / 2.0),
            yaw,
            [body; 6],
        );
        let front = self.paint(0.3, 0.9);
        let handle = self.texture(Texture::Paint { base: [0.1; 3], variation: 0.0, seed: 0 });
        let drawers = self.rng.random_range(2..5);
        let pitch = (height - 0.06) / drawers as f32;
        for k in 0..drawers {
            let z = 0.03 + pitch * (k as f32 + 0.5);
            let c = centre + inward * (depth / 2.0 + 0.008) + V3::z() * z;
            self.add_box(c, V3::new(width / 2.0 - 0.03, 0.008, pitch / 2.0 - 0.015), yaw, [front; 6]);
            self.add_box(c + inward * 0.02, V3::new(0.08, 0.012, 0.01), yaw, [handle; 6]);
        }
        self.clutter(centre + V3::z() * height, along, inward, width, depth);
        self.footprint(centre, along, inward, width, depth + 0.1, height + 0.3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_office_other_seed_other_office() {
        let (a, b, c) = (generate(1), generate(1), generate(2));
        assert_eq!((&a.rects, &a.cuboids), (&b.rects, &b.cuboids));
        assert_eq!(a.textures, b.textures);
        assert_ne!(a.cuboids, c.cuboids);
    }

    #[test]
    fn office_has_furniture_and_a_free_middle() {
        let scene = generate(7);
        assert!(scene.cuboids.len() > 40, "{} boxes", scene.cuboids.len());
        assert!(scene.obstacles.len() >= 6);
        assert!(scene.is_free(&nalgebra::Point3::new(0.0, 0.0, 1.4), 0.3));
        assert!(!scene.is_free(&nalgebra::Point3::new(0.0, 0.0, 3.0), 0.0));
    }
}
