//! Scene primitives, in `f32` for speed: textured rectangles (walls,
//! floors, posters, roads) and closed boxes yawed about z ([`Cuboid`]:
//! furniture, buildings, vehicle parts), with their ray intersections.
//!
//! A cuboid is one primitive, not six rectangles: one slab test in its own
//! frame finds the face a ray enters by (faces are seen from outside only),
//! which is cheaper than six rectangle tests and keeps the BVH small.

use nalgebra::{Point3, Vector3};

/// A 3-vector in `f32`.
pub type V3 = Vector3<f32>;

/// A textured rectangle `origin + a·edge_s + b·edge_t`, `a, b ∈ [0, 1]`,
/// with perpendicular edges. Texture coordinates are `(a·|edge_s|,
/// b·|edge_t|)` in metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// One corner, in the world frame.
    pub origin: V3,
    /// First edge (texture `s` direction), full length.
    pub edge_s: V3,
    /// Second edge (texture `t` direction), full length, ⟂ `edge_s`.
    pub edge_t: V3,
    /// Unit normal `edge_s × edge_t`, normalised.
    pub normal: V3,
    /// Index of the rectangle's texture in the scene's texture list.
    pub texture: u32,
    /// Seen only from the side its normal points to (faces of closed
    /// boxes); rays from behind pass through, which saves work.
    pub one_sided: bool,
    /// `edge_s` normalised and its length (precomputed for intersection).
    axis_s: V3,
    len_s: f32,
    /// `edge_t` normalised and its length.
    axis_t: V3,
    len_t: f32,
}

/// Where a ray hits a rectangle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Ray parameter (distance for a unit direction).
    pub t: f32,
    /// Texture coordinate along `edge_s`, metres.
    pub s_m: f32,
    /// Texture coordinate along `edge_t`, metres.
    pub t_m: f32,
    /// Index of the primitive hit: a rectangle below the scene's rectangle
    /// count, else a cuboid (index minus that count).
    pub primitive: u32,
    /// The cuboid face hit (`[+x, −x, +y, −y, top, bottom]`); 0 for a
    /// rectangle.
    pub face: u8,
}

impl Rect {
    /// A rectangle from a corner and two perpendicular edges.
    pub fn new(origin: V3, edge_s: V3, edge_t: V3, texture: u32) -> Self {
        let normal = edge_s.cross(&edge_t).normalize();
        let (len_s, len_t) = (edge_s.norm(), edge_t.norm());
        let (axis_s, axis_t) = (edge_s / len_s, edge_t / len_t);
        Rect { origin, edge_s, edge_t, normal, texture, one_sided: false, axis_s, len_s, axis_t, len_t }
    }

    /// The axis-aligned bounds `(min, max)` of the rectangle.
    pub fn bounds(&self) -> (V3, V3) {
        let corners = [
            self.origin,
            self.origin + self.edge_s,
            self.origin + self.edge_t,
            self.origin + self.edge_s + self.edge_t,
        ];
        let mut lo = corners[0];
        let mut hi = corners[0];
        for c in &corners[1..] {
            lo = lo.inf(c);
            hi = hi.sup(c);
        }
        (lo, hi)
    }

    /// The ray parameter and texture coordinates of the hit of
    /// `origin + t·dir` with `t ∈ (t_min, t_max)`, if any.
    #[inline]
    pub fn intersect(&self, origin: &V3, dir: &V3, t_min: f32, t_max: f32) -> Option<(f32, f32, f32)> {
        let denom = dir.dot(&self.normal);
        if denom.abs() < 1e-12 || (self.one_sided && denom > 0.0) {
            return None;
        }
        // t = num / denom must lie in (t_min, t_max): checked without the
        // division first, since most candidates fail here.
        let num = (self.origin - origin).dot(&self.normal);
        let (lo, hi) = if denom > 0.0 { (t_min * denom, t_max * denom) } else { (t_max * denom, t_min * denom) };
        if !(num > lo && num < hi) {
            return None;
        }
        let t = num / denom;
        if !(t > t_min && t < t_max) {
            return None;
        }
        let rel = origin + dir * t - self.origin;
        let s_m = rel.dot(&self.axis_s);
        let t_m = rel.dot(&self.axis_t);
        (s_m >= 0.0 && s_m <= self.len_s && t_m >= 0.0 && t_m <= self.len_t).then_some((t, s_m, t_m))
    }
}

/// A closed box: centre, half extents along its own axes, rotated by `yaw`
/// about world z, one texture per face `[+x, −x, +y, −y, top, bottom]`.
/// Texture coordinates on each face are those of the matching
/// [`box_faces`] rectangle; rays from inside see nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cuboid {
    /// Centre in the world frame.
    pub centre: V3,
    /// Half extents along the box's x, y, z.
    pub half: V3,
    /// Rotation about world z (radians).
    pub yaw: f32,
    /// Face textures `[+x, −x, +y, −y, top, bottom]`.
    pub textures: [u32; 6],
    cos: f32,
    sin: f32,
}

impl Cuboid {
    /// A box with centre, half extents, yaw and face textures.
    pub fn new(centre: V3, half: V3, yaw: f32, textures: [u32; 6]) -> Self {
        let (sin, cos) = yaw.sin_cos();
        Cuboid { centre, half, yaw, textures, cos, sin }
    }

    /// An axis-aligned box from its corners.
    pub fn from_corners(lo: V3, hi: V3, textures: [u32; 6]) -> Self {
        Cuboid::new(0.5 * (lo + hi), 0.5 * (hi - lo), 0.0, textures)
    }

    /// The axis-aligned bounds `(min, max)`.
    pub fn bounds(&self) -> (V3, V3) {
        let ex = self.cos.abs() * self.half.x + self.sin.abs() * self.half.y;
        let ey = self.sin.abs() * self.half.x + self.cos.abs() * self.half.y;
        let extent = V3::new(ex, ey, self.half.z);
        (self.centre - extent, self.centre + extent)
    }

    /// `v` (world) in the box's axes.
    #[inline(always)]
    fn in_box_axes(&self, v: &V3) -> V3 {
        V3::new(self.cos * v.x + self.sin * v.y, -self.sin * v.x + self.cos * v.y, v.z)
    }

    /// The entry of `origin + t·dir`, `t ∈ (t_min, t_max)`: ray parameter,
    /// face, and texture coordinates on the face.
    #[inline]
    pub fn intersect(&self, origin: &V3, dir: &V3, t_min: f32, t_max: f32) -> Option<(f32, u8, f32, f32)> {
        let o = self.in_box_axes(&(origin - self.centre));
        let d = self.in_box_axes(dir);
        let h = &self.half;
        let (mut near, mut far, mut face) = (f32::MIN, f32::MAX, 0u8);
        for axis in 0..3 {
            let inv = if d[axis].abs() < 1e-20 { 1e20f32.copysign(d[axis]) } else { 1.0 / d[axis] };
            let (t0, t1) = ((-h[axis] - o[axis]) * inv, (h[axis] - o[axis]) * inv);
            // Moving up the axis, the ray enters by the − face.
            let (lo, hi, entry) = if t0 < t1 { (t0, t1, 2 * axis + 1) } else { (t1, t0, 2 * axis) };
            if lo > near {
                near = lo;
                face = entry as u8;
            }
            far = far.min(hi);
        }
        if near > far || !(near > t_min && near < t_max) {
            return None;
        }
        let p = o + d * near;
        let (s, t) = match face {
            0 => (p.y + h.y, p.z + h.z),
            1 => (h.y - p.y, p.z + h.z),
            2 => (h.x - p.x, p.z + h.z),
            3 => (p.x + h.x, p.z + h.z),
            4 => (p.x + h.x, p.y + h.y),
            _ => (p.y + h.y, p.x + h.x),
        };
        Some((near, face, s, t))
    }

    /// The outward unit normal of `face` (world frame).
    #[inline]
    pub fn normal(&self, face: u8) -> V3 {
        let (c, s) = (self.cos, self.sin);
        match face {
            0 => V3::new(c, s, 0.0),
            1 => V3::new(-c, -s, 0.0),
            2 => V3::new(-s, c, 0.0),
            3 => V3::new(s, -c, 0.0),
            4 => V3::z(),
            _ => -V3::z(),
        }
    }

    /// Distance from `p` to the box's surface.
    pub fn distance(&self, p: &V3) -> f32 {
        let q = self.in_box_axes(&(p - self.centre)).abs() - self.half;
        let outside = q.sup(&V3::zeros()).norm();
        // Inside: the nearest face.
        outside + q.max().min(0.0).abs()
    }

    /// The box as six one-sided rectangles (same textures and coordinates).
    pub fn faces(&self) -> [Rect; 6] {
        box_faces(Point3::from(self.centre), self.half, self.yaw, self.textures)
    }
}

/// The six faces of a box with centre `centre`, half extents `half` along its
/// own axes, rotated by `yaw` radians about world z. Faces get textures
/// `[+x, −x, +y, −y, +z (top), −z (bottom)]`; normals point outwards and
/// the faces are one-sided (a closed box is only seen from outside).
pub fn box_faces(centre: Point3<f32>, half: V3, yaw: f32, textures: [u32; 6]) -> [Rect; 6] {
    box_faces_two_sided(centre, half, yaw, textures).map(|mut face| {
        face.one_sided = true;
        face
    })
}

/// [`box_faces`], seen from both sides.
fn box_faces_two_sided(centre: Point3<f32>, half: V3, yaw: f32, textures: [u32; 6]) -> [Rect; 6] {
    let (sin, cos) = yaw.sin_cos();
    let ax = V3::new(cos, sin, 0.0) * half.x;
    let ay = V3::new(-sin, cos, 0.0) * half.y;
    let az = V3::z() * half.z;
    let c = centre.coords;
    [
        // +x face: s along +y, t along +z.
        Rect::new(c + ax - ay - az, 2.0 * ay, 2.0 * az, textures[0]),
        // −x face: s along −y so the normal points to −x.
        Rect::new(c - ax + ay - az, -2.0 * ay, 2.0 * az, textures[1]),
        // +y face: s along −x.
        Rect::new(c + ay + ax - az, -2.0 * ax, 2.0 * az, textures[2]),
        // −y face: s along +x.
        Rect::new(c - ay - ax - az, 2.0 * ax, 2.0 * az, textures[3]),
        // top: s along +x, t along +y.
        Rect::new(c + az - ax - ay, 2.0 * ax, 2.0 * ay, textures[4]),
        // bottom: s along +y, t along +x.
        Rect::new(c - az - ax - ay, 2.0 * ay, 2.0 * ax, textures[5]),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn ray_hits_a_unit_square_in_front() {
        let rect = Rect::new(V3::new(0.0, 0.0, 2.0), V3::x(), V3::y(), 0);
        let (t, s, u) = rect.intersect(&V3::new(0.25, 0.5, 0.0), &V3::z(), 0.0, 10.0).unwrap();
        assert_relative_eq!(t, 2.0);
        assert_relative_eq!(s, 0.25);
        assert_relative_eq!(u, 0.5);
        assert!(rect.intersect(&V3::new(1.5, 0.5, 0.0), &V3::z(), 0.0, 10.0).is_none());
        assert!(rect.intersect(&V3::new(0.5, 0.5, 0.0), &V3::z(), 0.0, 1.5).is_none());
        assert!(rect.intersect(&V3::new(0.5, 0.5, 3.0), &V3::z(), 0.0, 10.0).is_none());
        // Normal +z: seen from behind (ray along +z) unless one-sided.
        let one_sided = Rect { one_sided: true, ..rect };
        assert!(one_sided.intersect(&V3::new(0.25, 0.5, 0.0), &V3::z(), 0.0, 10.0).is_none());
        assert!(one_sided.intersect(&V3::new(0.25, 0.5, 3.0), &-V3::z(), 0.0, 10.0).is_some());
    }

    #[test]
    fn cuboid_hits_agree_with_its_face_rectangles() {
        let cuboid = Cuboid::new(V3::new(1.0, 2.0, 0.5), V3::new(2.0, 0.8, 0.5), 0.4, [10, 11, 12, 13, 14, 15]);
        let faces = cuboid.faces();
        let origin = V3::new(-3.0, -1.0, 2.5);
        let mut hits = 0;
        for k in 0..400 {
            let target = V3::new(-1.5 + 0.01 * k as f32, 1.2 + 0.004 * k as f32, 0.2 + 0.002 * k as f32);
            let dir = target - origin;
            let expected = faces
                .iter()
                .enumerate()
                .filter_map(|(f, r)| r.intersect(&origin, &dir, 0.0, 100.0).map(|h| (h, f)))
                .min_by(|a, b| a.0.0.total_cmp(&b.0.0));
            let got = cuboid.intersect(&origin, &dir, 0.0, 100.0);
            match (expected, got) {
                (None, None) => {}
                (Some(((t, s, u), f)), Some((t2, f2, s2, u2))) => {
                    hits += 1;
                    assert_eq!(f as u8, f2);
                    assert_relative_eq!(t, t2, epsilon = 1e-4);
                    assert_relative_eq!(s, s2, epsilon = 1e-3);
                    assert_relative_eq!(u, u2, epsilon = 1e-3);
                    assert_relative_eq!(faces[f].normal, cuboid.normal(f2), epsilon = 1e-5);
                }
                other => panic!("ray {k}: {other:?}"),
            }
        }
        assert!(hits > 100, "{hits} hits");
        // From inside, nothing; the surface is 0 m away, the centre 0.5 m.
        assert!(cuboid.intersect(&cuboid.centre, &V3::x(), 0.0, 100.0).is_none());
        assert_relative_eq!(cuboid.distance(&cuboid.centre), 0.5, epsilon = 1e-6);
        assert_relative_eq!(cuboid.distance(&(faces[4].origin + 0.3 * faces[4].edge_s)), 0.0, epsilon = 1e-6);
        let (lo, hi) = cuboid.bounds();
        for face in faces {
            let (a, b) = face.bounds();
            assert!((a - lo).min() > -1e-5 && (hi - b).min() > -1e-5);
        }
    }

    #[test]
    fn box_normals_point_outwards() {
        let faces = box_faces(Point3::new(1.0, 2.0, 3.0), V3::new(0.5, 1.0, 1.5), 0.0, [0; 6]);
        let expected = [V3::x(), -V3::x(), V3::y(), -V3::y(), V3::z(), -V3::z()];
        for (face, n) in faces.iter().zip(expected) {
            assert_relative_eq!(face.normal, n, epsilon = 1e-6);
            let centre = face.origin + 0.5 * (face.edge_s + face.edge_t);
            let offset = centre - V3::new(1.0, 2.0, 3.0);
            assert!(offset.dot(&n) > 0.0);
        }
        let (lo, hi) = faces[0].bounds();
        assert_relative_eq!(lo, V3::new(1.5, 1.0, 1.5));
        assert_relative_eq!(hi, V3::new(1.5, 3.0, 4.5));
    }
}
