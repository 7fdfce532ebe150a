//! Procedural surface textures: pure functions of the surface coordinates
//! `(s, t)` in metres on a rectangle, giving an albedo in `[0, 1]³`.
//!
//! Every texture has real edges (tile grout, book spines, poster shapes,
//! checker squares) and gradients (value noise, wood grain), so that Canny
//! edges and local 3D descriptors find structure. Random choices are made
//! once when the scene is built (seeded); evaluation only hashes integers.

/// A linear RGB albedo, each channel in `[0, 1]`.
pub type Rgb = [f32; 3];

/// One filled rectangle of a poster, in the poster's `(s, t)` metres.
#[derive(Debug, Clone, PartialEq)]
pub struct PosterShape {
    /// `[s0, t0, s1, t1]`, lower corner then upper corner.
    pub bounds: [f32; 4],
    /// Fill colour.
    pub colour: Rgb,
    /// Stripe period in metres along `s` (0 = solid fill).
    pub stripes: f32,
}

/// A procedural texture.
#[derive(Debug, Clone, PartialEq)]
pub enum Texture {
    /// Painted wall: a base colour with a smooth low-frequency variation.
    Paint {
        /// Mean colour.
        base: Rgb,
        /// Relative brightness variation (0.1 = ±10 %).
        variation: f32,
        /// Noise seed.
        seed: u32,
    },
    /// A painted wall with a dark baseboard band at the bottom (`t` up).
    Wall {
        /// Mean paint colour.
        base: Rgb,
        /// Relative brightness variation of the paint.
        variation: f32,
        /// Noise seed.
        seed: u32,
        /// Baseboard height in metres.
        board_height: f32,
        /// Baseboard colour.
        board_colour: Rgb,
    },
    /// Floor or ceiling tiles with dark grout and a tint per tile.
    Tiles {
        /// Tile edge in metres.
        size: f32,
        /// Grout width in metres.
        grout: f32,
        /// The two alternating tile colours.
        colours: [Rgb; 2],
        /// Grout colour.
        grout_colour: Rgb,
        /// Per-tile tint seed.
        seed: u32,
    },
    /// Wood: grain rings along `s`, warped by noise, plus plank seams.
    Wood {
        /// Light wood colour.
        light: Rgb,
        /// Dark grain colour.
        dark: Rgb,
        /// Plank width in metres (seams run along `s`).
        plank: f32,
        /// Grain seed.
        seed: u32,
    },
    /// A row of book spines along `s`: varying widths, colours and bands.
    Books {
        /// Mean spine width in metres.
        spine: f32,
        /// Book colour seed.
        seed: u32,
    },
    /// A checkerboard.
    Checker {
        /// Square edge in metres.
        size: f32,
        /// The two colours.
        colours: [Rgb; 2],
    },
    /// A building facade (`s` along it, `t` up): storeys of windows, a
    /// shop front on the ground floor, a tint per window.
    Facade {
        /// Wall colour.
        base: Rgb,
        /// Window glass colour.
        glass: Rgb,
        /// Storey height in metres.
        storey: f32,
        /// Window pitch along the facade in metres.
        bay: f32,
        /// Per-window tint seed.
        seed: u32,
    },
    /// Asphalt with painted lines along `s` (`t` across the road).
    Road {
        /// Asphalt colour.
        asphalt: Rgb,
        /// Grain seed.
        seed: u32,
        /// Painted lines.
        lines: Vec<RoadLine>,
    },
    /// A poster: background plus filled or striped rectangles.
    Poster {
        /// Background colour.
        background: Rgb,
        /// Shapes, later ones drawn on top.
        shapes: Vec<PosterShape>,
    },
}

/// A painted line along a road (see [`Texture::Road`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RoadLine {
    /// Centre of the line across the road (`t`, metres).
    pub t: f32,
    /// Line width in metres.
    pub width: f32,
    /// Dash period along the road in metres (half paint, half gap); 0 = solid.
    pub dash: f32,
    /// Paint colour.
    pub colour: Rgb,
}

impl Texture {
    /// The albedo at surface coordinates `(s, t)` in metres.
    pub fn albedo(&self, s: f32, t: f32) -> Rgb {
        match self {
            Texture::Paint { base, variation, seed } => {
                let n = value_noise(s * 1.5, t * 1.5, *seed) + 0.5 * value_noise(s * 6.0, t * 6.0, *seed ^ 0x9e37);
                scale(*base, 1.0 + variation * (n - 0.75))
            }
            Texture::Wall { base, variation, seed, board_height, board_colour } => {
                if t < *board_height {
                    return *board_colour;
                }
                Texture::Paint { base: *base, variation: *variation, seed: *seed }.albedo(s, t)
            }
            Texture::Tiles { size, grout, colours, grout_colour, seed } => {
                tiles(s, t, *size, *grout, colours, *grout_colour, *seed)
            }
            Texture::Wood { light, dark, plank, seed } => wood(s, t, *light, *dark, *plank, *seed),
            Texture::Books { spine, seed } => books(s, t, *spine, *seed),
            Texture::Checker { size, colours } => {
                let parity = (floor(s / size) as i64 + floor(t / size) as i64).rem_euclid(2);
                colours[parity as usize]
            }
            Texture::Facade { base, glass, storey, bay, seed } => facade(s, t, *base, *glass, *storey, *bay, *seed),
            Texture::Road { asphalt, seed, lines } => {
                for line in lines {
                    let painted = line.dash <= 0.0 || fract(s / line.dash) < 0.5;
                    if painted && (t - line.t).abs() < 0.5 * line.width {
                        return line.colour;
                    }
                }
                scale(*asphalt, 0.85 + 0.3 * value_noise(s * 0.7, t * 0.7, *seed))
            }
            Texture::Poster { background, shapes } => {
                let mut colour = *background;
                for shape in shapes {
                    let [s0, t0, s1, t1] = shape.bounds;
                    let inside = s >= s0 && s < s1 && t >= t0 && t < t1;
                    let on_stripe = shape.stripes <= 0.0 || fract((s - s0) / shape.stripes) < 0.5;
                    if inside && on_stripe {
                        colour = shape.colour;
                    }
                }
                colour
            }
        }
    }
}

fn tiles(s: f32, t: f32, size: f32, grout: f32, colours: &[Rgb; 2], grout_colour: Rgb, seed: u32) -> Rgb {
    let (i, j) = (floor(s / size), floor(t / size));
    let (fs, ft) = (s - i * size, t - j * size);
    if fs < grout || ft < grout {
        return grout_colour;
    }
    let parity = (i as i64 + j as i64).rem_euclid(2) as usize;
    let tint = 0.85 + 0.3 * hash01(i as i32, j as i32, seed);
    // A soft gradient inside each tile (polished-floor look).
    let shade = 1.0 - 0.15 * (fs / size);
    scale(colours[parity], tint * shade)
}

fn facade(s: f32, t: f32, base: Rgb, glass: Rgb, storey: f32, bay: f32, seed: u32) -> Rgb {
    let (floor_index, column) = (floor(t / storey), floor(s / bay));
    let (fs, ft) = (s / bay - column, t / storey - floor_index);
    let wall = scale(base, 0.9 + 0.2 * value_noise(s * 0.5, t * 0.5, seed));
    if floor_index < 1.0 {
        // Ground floor: wide shop windows over a plinth.
        return if ft > 0.15 && ft < 0.85 && fs > 0.08 && fs < 0.92 { scale(glass, 0.8) } else { scale(wall, 0.8) };
    }
    if ft > 0.3 && ft < 0.8 && fs > 0.25 && fs < 0.75 {
        let tint = hash01(column as i32, floor_index as i32, seed);
        // One window in six has its lights on.
        if tint > 0.83 { [0.9, 0.85, 0.6] } else { scale(glass, 0.7 + 0.6 * tint) }
    } else if ft <= 0.3 && ft > 0.25 && fs > 0.2 && fs < 0.8 {
        // Sill.
        scale(wall, 1.3)
    } else {
        wall
    }
}

fn wood(s: f32, t: f32, light: Rgb, dark: Rgb, plank: f32, seed: u32) -> Rgb {
    let row = floor(t / plank);
    let ft = t - row * plank;
    if ft < 0.004 {
        return scale(dark, 0.5);
    }
    let offset = 10.0 * hash01(row as i32, 7, seed);
    let warp = 0.02 * value_noise(s * 2.0 + offset, ft * 8.0, seed);
    let rings = wave((ft + warp) * 90.0 / std::f32::consts::TAU + offset);
    let grain = rings * rings;
    mix(light, dark, 0.7 * grain)
}

fn books(s: f32, t: f32, spine: f32, seed: u32) -> Rgb {
    // Spines of width spine·(0.6…1.4): walk cells of width `spine`, each split
    // at a hashed position, so boundaries are irregular but cheap to find.
    let cell = floor(s / spine);
    let f = s / spine - cell;
    let split = 0.3 + 0.4 * hash01(cell as i32, 1, seed);
    let book = if f < split { 2 * cell as i32 } else { 2 * cell as i32 + 1 };
    let hue = hash01(book, 2, seed);
    let base = palette(hue);
    let height = 0.7 + 0.3 * hash01(book, 3, seed);
    if t > height * 0.3 {
        // Above the book: the shelf's dark back.
        return [0.12, 0.1, 0.08];
    }
    let band = t / 0.3;
    let label = (band > 0.55 && band < 0.7) || (band > 0.15 && band < 0.2);
    let edge = (f - split).abs() * spine < 0.002 || f * spine < 0.002;
    if edge {
        scale(base, 0.3)
    } else if label {
        mix(base, [0.95, 0.9, 0.75], 0.8)
    } else {
        base
    }
}

/// A saturated colour from a hue in `[0, 1)`.
pub fn palette(hue: f32) -> Rgb {
    let h = fract(hue) * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let (r, g, b) = match h as u32 {
        0 => (1.0, x, 0.0),
        1 => (x, 1.0, 0.0),
        2 => (0.0, 1.0, x),
        3 => (0.0, x, 1.0),
        4 => (x, 0.0, 1.0),
        _ => (1.0, 0.0, x),
    };
    [0.15 + 0.7 * r, 0.15 + 0.7 * g, 0.15 + 0.7 * b]
}

/// `⌊x⌋` without a libm call (the default x86-64 target has no SSE4.1
/// `roundss`); exact for |x| < 2²³.
#[inline(always)]
pub fn floor(x: f32) -> f32 {
    let i = x as i32 as f32;
    if i > x { i - 1.0 } else { i }
}

/// A smooth periodic wave in `[0, 1]` with period 1 (a smoothstepped
/// triangle, close to `½ + ½·sin`), from plain arithmetic so that images do
/// not depend on which libm `sinf` variant the CPU selects.
#[inline(always)]
pub fn wave(x: f32) -> f32 {
    let tri = (2.0 * fract(x) - 1.0).abs();
    tri * tri * (3.0 - 2.0 * tri)
}

/// `x − ⌊x⌋`, in `[0, 1)`.
#[inline(always)]
pub fn fract(x: f32) -> f32 {
    x - floor(x)
}

/// Multiplies each channel, clamped to `[0, 1]`.
pub fn scale(c: Rgb, k: f32) -> Rgb {
    [(c[0] * k).clamp(0.0, 1.0), (c[1] * k).clamp(0.0, 1.0), (c[2] * k).clamp(0.0, 1.0)]
}

/// Linear blend `a·(1−w) + b·w`.
pub fn mix(a: Rgb, b: Rgb, w: f32) -> Rgb {
    [a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w]
}

/// A hash of two integers and a seed to `[0, 1)`.
pub fn hash01(i: i32, j: i32, seed: u32) -> f32 {
    let mut h =
        (i as u32).wrapping_mul(0x8da6_b343) ^ (j as u32).wrapping_mul(0xd816_3841) ^ seed.wrapping_mul(0xcb1a_b31f);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2c1b_3c6d);
    h ^= h >> 12;
    h = h.wrapping_mul(0x297a_2d39);
    h ^= h >> 15;
    (h >> 8) as f32 / (1u32 << 24) as f32
}

/// Smooth value noise in `[0, 1]` on a unit lattice.
pub fn value_noise(x: f32, y: f32, seed: u32) -> f32 {
    let (i, j) = (floor(x), floor(y));
    let (fx, fy) = (x - i, y - j);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let (i, j) = (i as i32, j as i32);
    let a = hash01(i, j, seed) + (hash01(i + 1, j, seed) - hash01(i, j, seed)) * sx;
    let b = hash01(i, j + 1, seed) + (hash01(i + 1, j + 1, seed) - hash01(i, j + 1, seed)) * sx;
    a + (b - a) * sy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checker_alternates_every_square() {
        let tex = Texture::Checker { size: 0.5, colours: [[0.0; 3], [1.0; 3]] };
        assert_eq!(tex.albedo(0.25, 0.25), [0.0; 3]);
        assert_eq!(tex.albedo(0.75, 0.25), [1.0; 3]);
        assert_eq!(tex.albedo(0.75, 0.75), [0.0; 3]);
        assert_eq!(tex.albedo(-0.25, 0.25), [1.0; 3]);
    }

    #[test]
    fn tile_grout_is_drawn_at_tile_borders() {
        let grout_colour = [0.1, 0.1, 0.1];
        let tex = Texture::Tiles { size: 0.5, grout: 0.01, colours: [[0.8; 3], [0.6; 3]], grout_colour, seed: 3 };
        assert_eq!(tex.albedo(0.505, 0.2), grout_colour);
        assert_ne!(tex.albedo(0.25, 0.25), grout_colour);
    }

    #[test]
    fn walls_have_a_baseboard() {
        let board_colour = [0.1, 0.2, 0.3];
        let tex = Texture::Wall { base: [0.8; 3], variation: 0.0, seed: 0, board_height: 0.1, board_colour };
        assert_eq!(tex.albedo(1.0, 0.05), board_colour);
        assert_eq!(tex.albedo(1.0, 0.5), [0.8; 3]);
    }

    #[test]
    fn poster_shapes_paint_over_the_background() {
        let shape = PosterShape { bounds: [0.1, 0.1, 0.3, 0.2], colour: [1.0, 0.0, 0.0], stripes: 0.0 };
        let tex = Texture::Poster { background: [1.0; 3], shapes: vec![shape] };
        assert_eq!(tex.albedo(0.2, 0.15), [1.0, 0.0, 0.0]);
        assert_eq!(tex.albedo(0.05, 0.15), [1.0; 3]);
    }

    #[test]
    fn noise_is_deterministic_and_bounded() {
        for k in 0..100 {
            let (x, y) = (k as f32 * 0.37, k as f32 * 0.11);
            let n = value_noise(x, y, 5);
            assert!((0.0..=1.0).contains(&n));
            assert_eq!(n, value_noise(x, y, 5));
        }
        assert_ne!(hash01(1, 2, 3), hash01(1, 2, 4));
    }

    #[test]
    fn fast_floor_matches_std() {
        for x in [-2.5f32, -2.0, -0.1, 0.0, 0.3, 1.0, 7.9] {
            assert_eq!(floor(x), x.floor());
        }
        assert_eq!(fract(-0.25), 0.75);
        assert_eq!((wave(0.0), wave(0.25), wave(0.5), wave(1.0)), (1.0, 0.5, 0.0, 1.0));
    }

    #[test]
    fn road_lines_and_facade_windows() {
        let line = RoadLine { t: 3.5, width: 0.2, dash: 6.0, colour: [0.9; 3] };
        let road = Texture::Road { asphalt: [0.2; 3], seed: 1, lines: vec![line] };
        assert_eq!(road.albedo(1.0, 3.5), [0.9; 3]);
        assert_ne!(road.albedo(4.0, 3.5), [0.9; 3], "gap of the dash");
        assert_ne!(road.albedo(1.0, 3.0), [0.9; 3]);
        let facade = Texture::Facade { base: [0.7; 3], glass: [0.1, 0.15, 0.2], storey: 3.0, bay: 2.0, seed: 2 };
        let window = facade.albedo(1.0, 4.6);
        let wall = facade.albedo(0.1, 4.6);
        assert!(window[0] < wall[0] || window == [0.9, 0.85, 0.6], "{window:?} vs {wall:?}");
    }

    #[test]
    fn palette_is_bright_and_saturated() {
        assert_eq!(palette(0.0), [0.85, 0.15, 0.15]);
        assert_eq!(palette(0.5), [0.15, 0.85, 0.85]);
    }
}
