//! A compact bounding-volume hierarchy over the scene's primitives
//! (rectangles, then cuboids, in one index space): binned
//! surface-area-heuristic splits into a binary tree, collapsed into a
//! four-wide tree (each node holds its four children's boxes side by side,
//! so one slab test covers all four and the tree is half as deep), traversed
//! with a small stack, nearest child first. Rectangles larger than [`LARGE`] and than
//! half the scene's diagonal (room walls, floor, ceiling) stay out of the
//! tree: they are tested first, one by one, so the tree is then searched only
//! in front of the nearest wall. (In a street, a 300 m long scene, no
//! building facade counts as large.)
//!
//! Written here rather than taken from the `bvh` crate, which pins its own
//! nalgebra version; scenes have a few hundred rectangles, so a simple build
//! is enough.

use crate::geometry::{Cuboid, Hit, Rect, V3};

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
}

/// A node of the four-wide tree: its children's boxes as structure of
/// arrays (`lo[axis][child]`).
#[derive(Debug, Clone, Copy)]
struct Node4 {
    lo: [[f32; 4]; 3],
    hi: [[f32; 4]; 3],
    /// Inner child: its index in `wide`; leaf child: [`leaf`]`(first, count)`
    /// into `order`; [`EMPTY`] for an unused slot.
    child: [u32; 4],
}

/// An unused child slot.
const EMPTY: u32 = u32::MAX;

/// Marks a leaf child: `LEAF | first << 3 | count` (count ≤ [`LEAF_SIZE`]).
const LEAF: u32 = 1 << 31;

/// The child code of a leaf of `count` primitives from `order[first]`.
fn leaf(first: u32, count: u32) -> u32 {
    LEAF | (first << 3) | count
}

/// Traversal stack size: a four-wide node pushes at most four entries, so
/// this covers trees 10 levels deep (deeper ones finish by brute force). It
/// is small on purpose: the array is zeroed for every ray.
const STACK: usize = 32;

/// A BVH over fixed slices of rectangles and cuboids.
#[derive(Debug, Clone)]
pub struct Bvh {
    wide: Vec<Node4>,
    order: Vec<u32>,
    large: Vec<u32>,
    /// Bounds of every primitive.
    bounds: Vec<(V3, V3)>,
}

impl Bvh {
    /// Builds the hierarchy over `rects` and `cuboids` (primitive `i` is
    /// `rects[i]`, or `cuboids[i − rects.len()]`).
    pub fn build(rects: &[Rect], cuboids: &[Cuboid]) -> Self {
        let bounds: Vec<(V3, V3)> = rects.iter().map(Rect::bounds).chain(cuboids.iter().map(Cuboid::bounds)).collect();
        let (lo, hi) = bounds
            .iter()
            .fold((V3::repeat(f32::MAX), V3::repeat(f32::MIN)), |(lo, hi), b| (lo.inf(&b.0), hi.sup(&b.1)));
        let large = LARGE.max(0.5 * (hi - lo).norm());
        let is_large = |i: &u32| {
            let (lo, hi) = bounds[*i as usize];
            (hi - lo).norm() > large
        };
        let (large, mut order): (Vec<u32>, Vec<u32>) = (0..bounds.len() as u32).partition(is_large);
        let mut nodes = Vec::with_capacity(2 * order.len().max(1));
        let mut wide = Vec::new();
        if !order.is_empty() {
            let count = order.len();
            build_node(&bounds, &mut order, 0, count, &mut nodes);
            collapse(&nodes, 0, &mut wide);
        }
        Bvh { wide, order, large, bounds }
    }

    /// The nearest hit of `origin + t·dir` with `t ∈ (t_min, t_max)`.
    ///
    /// `hint` is a primitive likely to be hit (the neighbouring pixel's): it
    /// is tested first, so the tree is searched only in front of it. The
    /// result is the nearest hit either way.
    #[allow(clippy::too_many_arguments)]
    pub fn intersect(
        &self,
        rects: &[Rect],
        cuboids: &[Cuboid],
        origin: &V3,
        dir: &V3,
        t_min: f32,
        t_max: f32,
        hint: Option<u32>,
    ) -> Option<Hit> {
        let prims = Primitives { rects, cuboids };
        let mut best: Option<Hit> = None;
        let mut t_best = t_max;
        let test = |i: u32, t_best: &mut f32, best: &mut Option<Hit>| {
            if let Some(hit) = prims.intersect(i, origin, dir, t_min, *t_best) {
                *t_best = hit.t;
                *best = Some(hit);
            }
        };
        if let Some(i) = hint.filter(|&i| (i as usize) < rects.len() + cuboids.len()) {
            test(i, &mut t_best, &mut best);
        }
        for &i in &self.large {
            if Some(i) != hint {
                test(i, &mut t_best, &mut best);
            }
        }
        if self.wide.is_empty() {
            return best;
        }
        let inv = [inverse(dir.x), inverse(dir.y), inverse(dir.z)];
        let o = [origin.x, origin.y, origin.z];
        // Per axis, whether the ray meets a box's `lo` plane first.
        let forward = [inv[0] >= 0.0, inv[1] >= 0.0, inv[2] >= 0.0];
        // Pending subtrees (child codes) and where the ray enters them.
        let (mut stack, mut entry) = ([0u32; STACK], [0f32; STACK]);
        let mut top = 1usize;
        while top > 0 {
            top -= 1;
            let child = stack[top];
            if entry[top] > t_best {
                continue;
            }
            if child & LEAF != 0 {
                let first = ((child & !LEAF) >> 3) as usize;
                for &i in &self.order[first..first + (child & 7) as usize] {
                    test(i, &mut t_best, &mut best);
                }
                continue;
            }
            let node = &self.wide[child as usize];
            let (mut t0, mut t1) = ([t_min; 4], [t_best; 4]);
            for axis in 0..3 {
                let (near, far) =
                    if forward[axis] { (&node.lo[axis], &node.hi[axis]) } else { (&node.hi[axis], &node.lo[axis]) };
                for c in 0..4 {
                    t0[c] = max(t0[c], (near[c] - o[axis]) * inv[axis]);
                    t1[c] = min(t1[c], (far[c] - o[axis]) * inv[axis]);
                }
            }
            // Push the children hit, farthest first, so the nearest pops first.
            let mut hits = [(0f32, 0usize); 4];
            let mut n = 0;
            for c in 0..4 {
                if t0[c] <= t1[c] && node.child[c] != EMPTY {
                    let mut k = n;
                    while k > 0 && hits[k - 1].0 < t0[c] {
                        hits[k] = hits[k - 1];
                        k -= 1;
                    }
                    hits[k] = (t0[c], c);
                    n += 1;
                }
            }
            if top + n > STACK {
                // Deeper than any scene here: finish by brute force.
                for &i in &self.order {
                    test(i, &mut t_best, &mut best);
                }
                return best;
            }
            for &(t, c) in &hits[..n] {
                stack[top] = node.child[c];
                entry[top] = t;
                top += 1;
            }
        }
        best
    }
}

impl Bvh {
    /// Collects into `out` (cleared first) every primitive whose bounds may
    /// meet the cone of rays from `origin` that lie on the inner side of all
    /// `planes` (inward normals of planes through `origin`): the candidates
    /// of a tile of pixels, with the squared distance from `origin` to their
    /// bounds, nearest first. Returns false, with `out` incomplete, as soon
    /// as there are more than `limit`.
    pub fn primitives_in_cone(&self, origin: &V3, planes: &[V3], limit: usize, out: &mut Vec<(u32, f32)>) -> bool {
        out.clear();
        let outside = |lo: &V3, hi: &V3| {
            planes.iter().any(|n| {
                // The box corner farthest along the normal.
                let far = V3::new(
                    if n.x > 0.0 { hi.x } else { lo.x },
                    if n.y > 0.0 { hi.y } else { lo.y },
                    if n.z > 0.0 { hi.z } else { lo.z },
                );
                n.dot(&(far - origin)) < 0.0
            })
        };
        let add = |i: u32, out: &mut Vec<(u32, f32)>| {
            let (lo, hi) = &self.bounds[i as usize];
            let gap = (lo - origin).sup(&(origin - hi)).sup(&V3::zeros());
            out.push((i, gap.norm_squared()));
        };
        for &i in &self.large {
            let (lo, hi) = &self.bounds[i as usize];
            if !outside(lo, hi) {
                add(i, out);
            }
        }
        let mut stack = if self.wide.is_empty() { Vec::new() } else { vec![0u32] };
        while let Some(child) = stack.pop() {
            if child & LEAF != 0 {
                let first = ((child & !LEAF) >> 3) as usize;
                for &i in &self.order[first..first + (child & 7) as usize] {
                    add(i, out);
                }
                if out.len() > limit {
                    return false;
                }
                continue;
            }
            let node = &self.wide[child as usize];
            for c in 0..4 {
                let lo = V3::new(node.lo[0][c], node.lo[1][c], node.lo[2][c]);
                let hi = V3::new(node.hi[0][c], node.hi[1][c], node.hi[2][c]);
                if node.child[c] != EMPTY && !outside(&lo, &hi) {
                    stack.push(node.child[c]);
                }
            }
        }
        out.sort_unstable_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        out.len() <= limit
    }

    /// The nearest hit among `candidates` (from [`Self::primitives_in_cone`],
    /// nearest first) and `hint`: after a hit at `t`, candidates whose
    /// bounds are farther than `t·|dir|` are not tested.
    #[allow(clippy::too_many_arguments)]
    pub fn intersect_among(
        rects: &[Rect],
        cuboids: &[Cuboid],
        candidates: &[(u32, f32)],
        origin: &V3,
        dir: &V3,
        t_min: f32,
        t_max: f32,
        hint: Option<u32>,
    ) -> Option<Hit> {
        let prims = Primitives { rects, cuboids };
        let mut best = hint.and_then(|i| prims.intersect(i, origin, dir, t_min, t_max));
        let mut t_best = best.map_or(t_max, |h| h.t);
        let norm2 = dir.norm_squared();
        for &(i, gap2) in candidates {
            if gap2 > t_best * t_best * norm2 {
                break;
            }
            if Some(i) != hint
                && let Some(hit) = prims.intersect(i, origin, dir, t_min, t_best)
            {
                t_best = hit.t;
                best = Some(hit);
            }
        }
        best
    }
}

/// Collapses the binary subtree at `root` (an inner node, or a leaf for a
/// one-leaf tree) into four-wide nodes; returns its index in `wide`. Each
/// four-wide node takes the (up to) four largest descendants reachable by
/// opening inner nodes.
fn collapse(nodes: &[Node], root: usize, wide: &mut Vec<Node4>) -> u32 {
    let mut kids = if nodes[root].count > 0 { vec![root] } else { vec![root + 1, nodes[root].index as usize] };
    while kids.len() < 4 {
        let area_of = |k: usize| area(&nodes[k].lo, &nodes[k].hi);
        let open = (0..kids.len())
            .filter(|&i| nodes[kids[i]].count == 0)
            .max_by(|&a, &b| area_of(kids[a]).total_cmp(&area_of(kids[b])));
        let Some(i) = open else { break };
        let k = kids.remove(i);
        kids.push(k + 1);
        kids.push(nodes[k].index as usize);
    }
    let me = wide.len();
    wide.push(Node4 { lo: [[0.0; 4]; 3], hi: [[0.0; 4]; 3], child: [EMPTY; 4] });
    let mut node = wide[me];
    for (slot, &k) in kids.iter().enumerate() {
        for axis in 0..3 {
            node.lo[axis][slot] = nodes[k].lo[axis];
            node.hi[axis][slot] = nodes[k].hi[axis];
        }
        if nodes[k].count > 0 {
            node.child[slot] = leaf(nodes[k].index, nodes[k].count);
        } else {
            node.child[slot] = collapse(nodes, k, wide);
        }
    }
    wide[me] = node;
    me as u32
}

/// Both primitive lists, indexed as one.
struct Primitives<'a> {
    rects: &'a [Rect],
    cuboids: &'a [Cuboid],
}

impl Primitives<'_> {
    #[inline(always)]
    fn intersect(&self, i: u32, origin: &V3, dir: &V3, t_min: f32, t_max: f32) -> Option<Hit> {
        let k = i as usize;
        if let Some(rect) = self.rects.get(k) {
            let (t, s_m, t_m) = rect.intersect(origin, dir, t_min, t_max)?;
            Some(Hit { t, s_m, t_m, primitive: i, face: 0 })
        } else {
            let (t, face, s_m, t_m) = self.cuboids[k - self.rects.len()].intersect(origin, dir, t_min, t_max)?;
            Some(Hit { t, s_m, t_m, primitive: i, face })
        }
    }
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
    nodes.push(Node { lo: lo - pad, hi: hi + pad, index: first as u32, count: count as u32 });
    let extent = c_hi - c_lo;
    if count <= LEAF_SIZE {
        return;
    }
    // Coincident centroids cannot be binned: split the list in two.
    let half = if extent.max() <= 0.0 { count / 2 } else { sah_split(bounds, slice, &c_lo, &extent) };
    build_node(bounds, order, first, half, nodes);
    let second = nodes.len() as u32;
    build_node(bounds, order, first + half, count - half, nodes);
    nodes[me] = Node { lo: lo - pad, hi: hi + pad, index: second, count: 0 };
}

/// Surface area of a box (up to the factor 2).
fn area(lo: &V3, hi: &V3) -> f32 {
    let d = (hi - lo).sup(&V3::zeros());
    d.x * d.y + d.y * d.z + d.z * d.x
}

/// Chooses the split with the smallest SAH cost over [`BINS`] centroid bins
/// per axis, partitions `slice` by it and returns the count on the left;
/// falls back to the median of the longest axis.
fn sah_split(bounds: &[(V3, V3)], slice: &mut [u32], c_lo: &V3, extent: &V3) -> usize {
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
            left
        }
        None => {
            let axis = extent.imax();
            let half = slice.len() / 2;
            slice.select_nth_unstable_by(half, |&a, &b| centre(a, axis).total_cmp(&centre(b, axis)));
            half
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
        let bvh = Bvh::build(&rects, &[]);
        for k in 0..37 {
            let origin = V3::new(k as f32 + 0.5, 0.5, 0.0);
            let hit = bvh.intersect(&rects, &[], &origin, &V3::z(), 0.0, 100.0, None).unwrap();
            assert_eq!(hit.primitive, k as u32);
            assert!((hit.t - (1.0 + k as f32)).abs() < 1e-5);
        }
        assert!(bvh.intersect(&rects, &[], &V3::new(-0.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).is_none());
    }

    #[test]
    fn large_rectangles_are_tested_directly() {
        let mut rects = staircase(9);
        rects.push(Rect::new(V3::new(-10.0, -10.0, 5.5), V3::x() * 20.0, V3::y() * 20.0, 99));
        let bvh = Bvh::build(&rects, &[]);
        assert_eq!(bvh.large, vec![9]);
        let near = bvh.intersect(&rects, &[], &V3::new(2.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(near.primitive, 2);
        let wall = bvh.intersect(&rects, &[], &V3::new(7.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(wall.primitive, 9);
        // A hint behind the nearest rectangle does not change the answer.
        let hinted = bvh.intersect(&rects, &[], &V3::new(2.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, Some(9)).unwrap();
        assert_eq!(hinted.primitive, 2);
    }

    #[test]
    fn cuboids_and_rectangles_share_one_tree() {
        let rects = staircase(9);
        let cuboids: Vec<Cuboid> =
            (0..9).map(|k| Cuboid::new(V3::new(k as f32 + 0.5, 3.5, 2.0), V3::repeat(0.4), 0.3, [7; 6])).collect();
        let bvh = Bvh::build(&rects, &cuboids);
        let hit = bvh.intersect(&rects, &cuboids, &V3::new(4.5, 3.5, -1.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!((hit.primitive, hit.face), (9 + 4, 5));
        assert!((hit.t - 2.6).abs() < 1e-5);
        let hit = bvh.intersect(&rects, &cuboids, &V3::new(4.5, 0.5, -1.0), &V3::z(), 0.0, 100.0, Some(13)).unwrap();
        assert_eq!(hit.primitive, 4);
    }

    #[test]
    fn wide_tree_matches_brute_force_on_a_random_scene() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut v =
            |lo: f32, hi: f32| V3::new(rng.random_range(lo..hi), rng.random_range(lo..hi), rng.random_range(lo..hi));
        let rects: Vec<Rect> =
            (0..300).map(|k| Rect::new(v(-20.0, 20.0), v(-1.0, 1.0).cross(&V3::z()), V3::z() * 0.7, k)).collect();
        let cuboids: Vec<Cuboid> =
            (0..700).map(|k| Cuboid::new(v(-20.0, 20.0), v(0.05, 1.5), k as f32 * 0.37, [k; 6])).collect();
        let bvh = Bvh::build(&rects, &cuboids);
        let prims = Primitives { rects: &rects, cuboids: &cuboids };
        let mut hits = 0;
        for k in 0..3000 {
            let (origin, dir) = (v(-25.0, 25.0), v(-1.0, 1.0));
            let brute = (0..1000u32)
                .filter_map(|i| prims.intersect(i, &origin, &dir, 1e-4, 1e3))
                .min_by(|a, b| a.t.total_cmp(&b.t));
            let hint = (k % 3 == 0).then_some(k as u32 % 1000);
            let fast = bvh.intersect(&rects, &cuboids, &origin, &dir, 1e-4, 1e3, hint);
            assert_eq!(brute.map(|h| (h.primitive, h.face)), fast.map(|h| (h.primitive, h.face)), "ray {k}");
            hits += usize::from(fast.is_some());
        }
        assert!(hits > 500, "{hits} hits");
    }

    #[test]
    fn nearest_of_stacked_rectangles_wins() {
        let rects: Vec<Rect> =
            (0..10).map(|k| Rect::new(V3::new(0.0, 0.0, 10.0 - k as f32), V3::x(), V3::y(), k)).collect();
        let bvh = Bvh::build(&rects, &[]);
        let hit = bvh.intersect(&rects, &[], &V3::new(0.5, 0.5, 0.0), &V3::z(), 0.0, 100.0, None).unwrap();
        assert_eq!(hit.primitive, 9);
        assert!((hit.t - 1.0).abs() < 1e-6);
    }
}
