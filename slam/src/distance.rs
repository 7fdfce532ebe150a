//! Exact Euclidean distance transform of an edge mask (Felzenszwalb &
//! Huttenlocher, "Distance Transforms of Sampled Functions", ToC 2012) and
//! its gradient.
//!
//! The 2-D transform is separable: first, per column, the distance to the
//! nearest edge pixel in that column (two linear sweeps, exact for a binary
//! mask); then, per row, the lower envelope of parabolas
//! `f(q) + (p − q)²` (FH Algorithm 1), which gives the exact squared
//! Euclidean distance to the nearest edge pixel in linear time.

use crate::edges::EdgeMap;

/// The distance transform of one edge map with its gradient, interleaved
/// per pixel as `[distance, ∂/∂u, ∂/∂v]` for cache-friendly bilinear lookups.
#[derive(Debug, Clone, PartialEq)]
pub struct DistanceField {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major `[distance (px), ∂distance/∂u, ∂distance/∂v]`; distances
    /// are `+∞` (gradient 0) when the map has no edge at all.
    pub cells: Vec<[f32; 3]>,
}

impl DistanceField {
    /// The distance transform of `edges` and its central-difference
    /// gradient (one-sided on the border).
    pub fn new(edges: &EdgeMap) -> Self {
        let (width, height) = (edges.width, edges.height);
        let mut distance = squared_distance_transform(&edges.mask, width, height);
        for d in &mut distance {
            *d = d.sqrt();
        }
        let mut cells = vec![[0.0f32; 3]; width * height];
        if width == 0 || height == 0 {
            return DistanceField { width, height, cells };
        }
        for v in 0..height {
            let row = &distance[v * width..(v + 1) * width];
            // Rows above and below (the row itself at the border), and the
            // factor of the difference (½ for central, 1 for one-sided).
            let (above, below, v_scale) = match (v.checked_sub(1), v + 1 < height) {
                (Some(a), true) => (a, v + 1, 0.5),
                (None, true) => (v, v + 1, 1.0),
                (Some(a), false) => (a, v, 1.0),
                (None, false) => (v, v, 0.0),
            };
            let above = &distance[above * width..(above + 1) * width];
            let below = &distance[below * width..(below + 1) * width];
            let out = &mut cells[v * width..(v + 1) * width];
            let cell =
                |d: f32, du: f32, dv: f32| if du.is_finite() && dv.is_finite() { [d, du, dv] } else { [d, 0.0, 0.0] };
            for u in 0..width {
                let du = if u > 0 && u + 1 < width {
                    0.5 * (row[u + 1] - row[u - 1])
                } else if width < 2 {
                    0.0
                } else if u == 0 {
                    row[1] - row[0]
                } else {
                    row[u] - row[u - 1]
                };
                out[u] = cell(row[u], du, v_scale * (below[u] - above[u]));
            }
        }
        DistanceField { width, height, cells }
    }

    /// Bilinear interpolation of `[distance, ∂/∂u, ∂/∂v]` at `(u, v)`;
    /// `None` unless the four neighbouring pixels are on the image.
    #[inline]
    pub fn sample(&self, u: f64, v: f64) -> Option<[f64; 3]> {
        // (NaN fails every comparison.)
        let inside = u >= 0.0 && v >= 0.0 && u < (self.width as f64 - 1.0) && v < (self.height as f64 - 1.0);
        if !inside {
            return None;
        }
        let (u0, v0) = (u as usize, v as usize);
        let (a, b) = (u - u0 as f64, v - v0 as f64);
        let i = v0 * self.width + u0;
        let (c00, c10) = (self.cells[i], self.cells[i + 1]);
        let (c01, c11) = (self.cells[i + self.width], self.cells[i + self.width + 1]);
        let mut out = [0.0f64; 3];
        for k in 0..3 {
            let (c00, c10, c01, c11) = (f64::from(c00[k]), f64::from(c10[k]), f64::from(c01[k]), f64::from(c11[k]));
            let top = c00 + a * (c10 - c00);
            let bottom = c01 + a * (c11 - c01);
            out[k] = top + b * (bottom - top);
        }
        Some(out)
    }
}

/// Exact squared Euclidean distance (pixels²) from every pixel to the
/// nearest `true` pixel of the row-major `mask`; `+∞` everywhere when the
/// mask is empty.
pub fn squared_distance_transform(mask: &[bool], width: usize, height: usize) -> Vec<f32> {
    // Pass 1: distance to the nearest edge in the same column (downward
    // sweep, then upward), row by row so the loops run over contiguous rows.
    let mut column = vec![f32::INFINITY; width * height];
    for v in 0..height {
        let (done, rest) = column.split_at_mut(v * width);
        let current = &mut rest[..width];
        let mask_row = &mask[v * width..(v + 1) * width];
        match v.checked_sub(1) {
            Some(p) => {
                let previous = &done[p * width..(p + 1) * width];
                for ((c, &m), &above) in current.iter_mut().zip(mask_row).zip(previous) {
                    *c = if m { 0.0 } else { above + 1.0 };
                }
            }
            None => {
                for (c, &m) in current.iter_mut().zip(mask_row) {
                    *c = if m { 0.0 } else { f32::INFINITY };
                }
            }
        }
    }
    for v in (0..height.saturating_sub(1)).rev() {
        let (head, tail) = column.split_at_mut((v + 1) * width);
        let current = &mut head[v * width..];
        for (c, &below) in current.iter_mut().zip(&tail[..width]) {
            *c = c.min(below + 1.0);
        }
    }
    // Pass 2: per row, the lower envelope of parabolas.
    let mut out = vec![0.0f32; width * height];
    let mut f = vec![0.0f32; width];
    let mut scratch = Envelope::new(width);
    for v in 0..height {
        for (fu, c) in f.iter_mut().zip(&column[v * width..(v + 1) * width]) {
            *fu = c * c;
        }
        scratch.transform(&f, &mut out[v * width..(v + 1) * width]);
    }
    out
}

/// Buffers of the 1-D lower-envelope transform (FH Algorithm 1).
///
/// Every `f(q)` is an integer (a squared column distance), so the
/// transform runs in exact integer arithmetic: the boundary between the
/// parabolas rooted at `p < q` is the rational `s = num/den` with
/// `num = (f(q) + q²) − (f(p) + p²)` and `den = 2(q − p) > 0`, and boundaries
/// are compared by cross-multiplication — no division, no rounding.
struct Envelope {
    /// Roots of the parabolas in the envelope.
    vertices: Vec<usize>,
    /// `f(v) + v²` of each root.
    heights: Vec<i64>,
    /// Boundary `k` (where parabola `k` starts being lowest) as
    /// `numerators[k] / denominators[k]`; boundary 0 is −∞ and not stored.
    numerators: Vec<i64>,
    /// See `numerators`.
    denominators: Vec<i64>,
}

impl Envelope {
    fn new(n: usize) -> Self {
        Envelope { vertices: vec![0; n], heights: vec![0; n], numerators: vec![0; n], denominators: vec![1; n] }
    }

    /// `d(p) = min_q f(q) + (p − q)²`; samples with `f(q) = +∞` are skipped
    /// (no parabola), and an all-infinite `f` gives `+∞` everywhere.
    fn transform(&mut self, f: &[f32], d: &mut [f32]) {
        let (v, h) = (&mut self.vertices, &mut self.heights);
        let (num, den) = (&mut self.numerators, &mut self.denominators);
        let mut k: usize = 0; // number of parabolas in the envelope
        for (q, &fq) in f.iter().enumerate() {
            if !fq.is_finite() {
                continue;
            }
            let hq = fq as i64 + (q * q) as i64;
            loop {
                if k == 0 {
                    (v[0], h[0]) = (q, hq);
                    k = 1;
                    break;
                }
                let p = v[k - 1];
                let (n, m) = (hq - h[k - 1], 2 * (q - p) as i64);
                // Pop parabola k − 1 while the new boundary lies at or before
                // its own (n/m ≤ num/den); boundary 0 is −∞.
                if k > 1 && n * den[k - 1] <= num[k - 1] * m {
                    k -= 1;
                    continue;
                }
                (v[k], h[k], num[k], den[k]) = (q, hq, n, m);
                k += 1;
                break;
            }
        }
        if k == 0 {
            d.fill(f32::INFINITY);
            return;
        }
        let mut j = 0;
        for (p, out) in d.iter_mut().enumerate() {
            while j + 1 < k && num[j + 1] < p as i64 * den[j + 1] {
                j += 1;
            }
            let offset = p as f32 - v[j] as f32;
            *out = offset * offset + f[v[j]];
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn brute_force(mask: &[bool], width: usize, height: usize) -> Vec<f32> {
        let edges: Vec<(usize, usize)> = (0..mask.len()).filter(|&i| mask[i]).map(|i| (i % width, i / width)).collect();
        (0..width * height)
            .map(|i| {
                let (u, v) = ((i % width) as f32, (i / width) as f32);
                edges
                    .iter()
                    .map(|&(eu, ev)| (u - eu as f32).powi(2) + (v - ev as f32).powi(2))
                    .fold(f32::INFINITY, f32::min)
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_on_random_masks() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for trial in 0..60 {
            let width = rng.random_range(1..48);
            let height = rng.random_range(1..40);
            let density = [0.0, 0.002, 0.02, 0.1, 0.5, 1.0][trial % 6];
            let mask: Vec<bool> = (0..width * height).map(|_| rng.random_bool(density)).collect();
            let fast = squared_distance_transform(&mask, width, height);
            let slow = brute_force(&mask, width, height);
            assert_eq!(fast, slow, "trial {trial}: {width}×{height}, density {density}");
        }
    }

    #[test]
    fn empty_mask_is_infinite_with_zero_gradient() {
        let edges = EdgeMap { width: 5, height: 4, mask: vec![false; 20], pixels: vec![] };
        let field = DistanceField::new(&edges);
        assert!(field.cells.iter().all(|c| c[0] == f32::INFINITY && c[1] == 0.0 && c[2] == 0.0));
    }

    #[test]
    fn gradient_points_away_from_the_edge_and_sampling_interpolates() {
        // One vertical edge at column 10: distance |u − 10|, gradient ±1 along u.
        let (width, height) = (30, 12);
        let mask: Vec<bool> = (0..width * height).map(|i| i % width == 10).collect();
        let field = DistanceField::new(&EdgeMap { width, height, mask, pixels: vec![] });
        let [d, du, dv] = field.sample(14.25, 5.5).unwrap();
        assert!((d - 4.25).abs() < 1e-6 && (du - 1.0).abs() < 1e-6 && dv.abs() < 1e-6);
        let [d, du, _] = field.sample(3.0, 2.0).unwrap();
        assert!((d - 7.0).abs() < 1e-6 && (du + 1.0).abs() < 1e-6);
        assert!(field.sample(29.5, 2.0).is_none() && field.sample(-0.1, 2.0).is_none());
        assert!(field.sample(f64::NAN, 2.0).is_none() && field.sample(1e30, 2.0).is_none());
        assert!(field.sample(2.0, f64::INFINITY).is_none());
    }
}
