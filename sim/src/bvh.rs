//! A compact bounding-volume hierarchy over the scene's rectangles: binned
//! surface-area-heuristic splits, flattened depth-first, traversed with a
//! small stack, nearer child first. Rectangles larger than [`LARGE`] and than
//! half the scene's diagonal (room walls, floor, ceiling) stay out of the
//! tree: they are tested first, one by one, so the tree is then searched only
//! in front of the nearest wall. (In a street, a 300 m long scene, no
//! building facade counts as large.)
//!
//! Written here rather than taken from the `bvh` crate, which pins its own
//! nalgebra version; scenes have a few hundred rectangles, so a simple build
//! is enough.

use crate::geometry::{Hit, Rect, V3};

/// Leaves hold at most this many rectangles.
const LEAF_SIZE: usize = 4;

/// Rectangles whose bounding-box diagonal exceeds this (metres) and half the
/// diagonal of the whole scene are tested directly instead of through the
/// tree.
pub const LARGE: f32 = 4.0;

/// Number of SAH bins per axis.
const BINS: usize = 12;

/// Padding of every box, so flat (axis-aligned) rectangles get a volume.
const PAD: f32 = 1e-4;

#[derive(Debug, Clone, Copy)]
struct Node {
    lo: V3,
    hi: V3,
    /// Leaf: first index into `order`; inner: index of the second child (the
    /// first child follows the node directly).
    index: u32,
    /// Number of rectangles in a leaf; 0 for an inner node.
    count: u32,
    /// Split axis of an inner node (traverse the side the ray comes from first).
    axis: u8,
}

/// A BVH over a fixed slice of rectangles.
#[derive(Debug, Clone)]
pub struct Bvh {
    nodes: Vec<Node>,
    order: Vec<u32>,
    large: Vec<u32>,
}

impl Bvh {
    /// Builds the hierarchy over `rects`.
    pub fn build(rects: &[Rect]) -> Self {
        let bounds: Vec<(V3, V3)> = rects.iter().map(Rect::bounds).collect();
        let (lo, hi) = bounds
            .iter()
            .fold((V3::repeat(f32::MAX), V3::repeat(f32::MIN)), |(lo, hi), b| (lo.inf(&b.0), hi.sup(&b.1)));
        let large = LARGE.max(0.5 * (hi - lo).norm());
        let is_large = |i: &u32| {
            let (lo, hi) = bounds[*i as usize];
            (hi - lo).norm() > large
        };
        let (large, mut order): (Vec<u32>, Vec<u32>) = (0..rects.len() as u32).partition(is_large);
        let mut nodes = Vec::with_capacity(2 * order.len().max(1));
        if !order.is_empty() {
            let count = order.len();
            build_node(&bounds, &mut order, 0, count, &mut nodes);
        }
        Bvh { nodes, order, large }
    }

    /// The nearest hit of `origin + t·dir` with `t ∈ (t_min, t_max)`.
    ///
    /// `hint` is a rectangle likely to be hit (the neighbouring pixel's): it
    /// is tested first, so the tree is searched only in front of it. The
    /// result is the nearest hit either way.
    pub fn intersect(
        &self,
        rects: &[Rect],
        origin: &V3,
        dir: &V3,
        t_min: f32,
        t_max: f32,
        hint: Option<u32>,
    ) -> Option<Hit> {
        let mut best: Option<Hit> = None;
        let mut t_best = t_max;
        if let Some(r) = hint.filter(|&r| (r as usize) < rects.len())
            && let Some((t, s_m, t_m)) = rects[r as usize].intersect(origin, dir, t_min, t_best)
        {
            t_best = t;
            best = Some(Hit { t, s_m, t_m, rect: r });
        }
        for &r in &self.large {
            if let Some((t, s_m, t_m)) = rects[r as usize].intersect(origin, dir, t_min, t_best) {
                t_best = t;
                best = Some(Hit { t, s_m, t_m, rect: r });
            }
        }
        if self.nodes.is_empty() {
            return best;
        }
        let inv = V3::new(inverse(dir.x), inverse(dir.y), inverse(dir.z));
        let mut stack = [0u32; 48];
        let mut top = 1usize;
        while top > 0 {
            top -= 1;
            let node = &self.nodes[stack[top] as usize];
            if !slab(&node.lo, &node.hi, origin, &inv, t_min, t_best) {
                continue;
            }
            if node.count > 0 {
                let first = node.index as usize;
                for &r in &self.order[first..first + node.count as usize] {
                    if let Some((t, s_m, t_m)) = rects[r as usize].intersect(origin, dir, t_min, t_best) {
                        t_best = t;
                        best = Some(Hit { t, s_m, t_m, rect: r });
                    }
                }
            } else {
                let (near, far) = (stack[top] + 1, node.index);
                let (first, second) = if dir[node.axis as usize] < 0.0 { (far, near) } else { (near, far) };
                // Push the far side first so the near side pops first.
                stack[top] = second;
                stack[top + 1] = first;
                top += 2;
            }
        }
        best
    }
}

/// Ray–box slab test over `(t_min, t_max)`. `inv` holds finite inverses
/// (see [`inverse`]), so no NaN arises and plain comparisons suffice.
#[inline(always)]
fn slab(lo: &V3, hi: &V3, origin: &V3, inv: &V3, t_min: f32, t_max: f32) -> bool {
    let (ax, bx) = ((lo.x - origin.x) * inv.x, (hi.x - origin.x) * inv.x);
    let (ay, by) = ((lo.y - origin.y) * inv.y, (hi.y - origin.y) * inv.y);
    let (az, bz) = ((lo.z - origin.z) * inv.z, (hi.z - origin.z) * inv.z);
    let t0 = max(max(min(ax, bx), min(ay, by)), max(min(az, bz), t_min));
    let t1 = min(min(max(ax, bx), max(ay, by)), min(max(az, bz), t_max));
    t0 <= t1
}

#[inline(always)]
fn min(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// `1/d`, with a huge finite value of the same sign for `d ≈ 0` (so
/// `0 × inverse` is 0, never NaN).
fn inverse(d: f32) -> f32 {
    if d.abs() < 1e-20 { 1e20f32.copysign(d) } else { 1.0 / d }
}

fn build_node(bounds: &[(V3, V3)], order: &mut [u32], first: usize, count: usize, nodes: &mut Vec<Node>) {
    let slice = &mut order[first..first + count];
    let (mut lo, mut hi) = (V3::repeat(f32::MAX), V3::repeat(f32::MIN));
    let (mut c_lo, mut c_hi) = (V3::repeat(f32::MAX), V3::repeat(f32::MIN));
    for &i in slice.iter() {
        let (b_lo, b_hi) = bounds[i as usize];
        lo = lo.inf(&b_lo);
        hi = hi.sup(&b_hi);
        let c = 0.5 * (b_lo + b_hi);
        c_lo = c_lo.inf(&c);
        c_hi = c_hi.sup(&c);
    }
    let me = nodes.len();
    let pad = V3::repeat(PAD);
    nodes.push(Node { lo: lo - pad, hi: hi + pad, index: first as u32, count: count as u32, axis: 0 });
    let extent = c_hi - c_lo;
    if count <= LEAF_SIZE || extent.max() <= 0.0 {
        return;
    }
    let (axis, half) = sah_split(bounds, slice, &c_lo, &extent);
    build_node(bounds, order, first, half, nodes);
    let second = nodes.len() as u32;
    build_node(bounds, order, first + half, count - half, nodes);
    nodes[me] = Node { lo: lo - pad, hi: hi + pad, index: second, count: 0, axis: axis as u8 };
}

/// Surface area of a box (up to the factor 2).
fn area(lo: &V3, hi: &V3) -> f32 {
    let d = (hi - lo).sup(&V3::zeros());
    d.x * d.y + d.y * d.z + d.z * d.x
}

/// Chooses the split (axis, count on the left) with the smallest SAH cost
/// over [`BINS`] centroid bins per axis, and partitions `slice` by it; falls
/// back to the median of the longest axis.
fn sah_split(bounds: &[(V3, V3)], slice: &mut [u32], c_lo: &V3, extent: &V3) -> (usize, usize) {
    let centre = |i: u32, axis: usize| {
        let (b_lo, b_hi) = bounds[i as usize];
        0.5 * (b_lo[axis] + b_hi[axis])
    };
    let bin_of = |i: u32, axis: usize| {
        let f = (centre(i, axis) - c_lo[axis]) / extent[axis];
        ((f * BINS as f32) as usize).min(BINS - 1)
    };
    let mut best: Option<(f32, usize, usize)> = None;
    for axis in 0..3 {
        if extent[axis] <= 0.0 {
            continue;
        }
        let mut bins = [(V3::repeat(f32::MAX), V3::repeat(f32::MIN), 0usize); BINS];
        for &i in slice.iter() {
            let b = &mut bins[bin_of(i, axis)];
            let (lo, hi) = bounds[i as usize];
            *b = (b.0.inf(&lo), b.1.sup(&hi), b.2 + 1);
        }
        for split in 1..BINS {
            let merge = |range: &[(V3, V3, usize)]| {
                range.iter().fold((V3::repeat(f32::MAX), V3::repeat(f32::MIN), 0), |acc, b| {
                    (acc.0.inf(&b.0), acc.1.sup(&b.1), acc.2 + b.2)
                })
            };
            let (l, r) = (merge(&bins[..split]), merge(&bins[split..]));
            if l.2 == 0 || r.2 == 0 {
                continue;
            }
            let cost = area(&l.0, &l.1) * l.2 as f32 + area(&r.0, &r.1) * r.2 as f32;
            if best.is_none_or(|b| cost < b.0) {
                best = Some((cost, axis, split));
            }
        }
    }
    match best {
        Some((_, axis, split)) => {
            let mut left = 0;
            for k in 0..slice.len() {
                if bin_of(slice[k], axis) < split {
                    slice.swap(k, left);
                    left += 1;
                }
            }
            (axis, left)
        }
        None => {
            let axis = extent.imax();
            let half = slice.len() / 2;
            slice.select_nth_unstable_by(half, |&a, &b| centre(a, axis).total_cmp(&centre(b, axis)));
            (axis, half)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of unit squares facing −z at z = 1 + k, x ∈ [k, k + 1].
    fn staircase(n: usize) -> Vec<Rect> {
        (0..n).map(|k| Rect::new(V3::new(k as f32, 0.0, 1.0 + k as f32), V3::x(), V3::y(), k as u32)).collect()
    }

    #[test]
    fn bvh_agrees_with_brute_force() {
        let rects = staircase(37);
        let bvh = Bvh::build(&rects);
        for k in 0..37 {
            let origin = V3::new(k as f32 + 0.5, 0.5, 0.0);
            let hit = bvh.intersect(&rects, &origin, &V3::z(), 0.0, 100.0, None).unwrap();
            assert_eq!(hit.rect, k as u32);
            assert!((hit.t - (1.0 + k as f32)).abs() < 1e-5);
        }
        assert!(bvh.intersect(&rects, &V3::new(-0.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).is_none());
    }

    #[test]
    fn large_rectangles_are_tested_directly() {
        let mut rects = staircase(9);
        rects.push(Rect::new(V3::new(-10.0, -10.0, 5.5), V3::x() * 20.0, V3::y() * 20.0, 99));
        let bvh = Bvh::build(&rects);
        assert_eq!(bvh.large, vec![9]);
        let near = bvh.intersect(&rects, &V3::new(2.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(near.rect, 2);
        let wall = bvh.intersect(&rects, &V3::new(7.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(wall.rect, 9);
        // A hint behind the nearest rectangle does not change the answer.
        let hinted = bvh.intersect(&rects, &V3::new(2.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, Some(9)).unwrap();
        assert_eq!(hinted.rect, 2);
    }

    #[test]
    fn nearest_of_stacked_rectangles_wins() {
        let rects: Vec<Rect> =
            (0..10).map(|k| Rect::new(V3::new(0.0, 0.0, 10.0 - k as f32), V3::x(), V3::y(), k)).collect();
        let bvh = Bvh::build(&rects);
        let hit = bvh.intersect(&rects, &V3::new(0.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(hit.rect, 9);
        assert!((hit.t - 1.0).abs() < 1e-6);
    }
}
