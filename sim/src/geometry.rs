//! Scene primitives: textured rectangles (walls, box faces, posters) and the
//! ray–rectangle intersection, in `f32` for speed.
//!
//! A box is six rectangles; everything in a scene is a rectangle, so one
//! intersection routine and one BVH serve all geometry.

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
    /// Index of the rectangle hit.
    pub rect: u32,
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
        let t = (self.origin - origin).dot(&self.normal) / denom;
        if !(t > t_min && t < t_max) {
            return None;
        }
        let rel = origin + dir * t - self.origin;
        let s_m = rel.dot(&self.axis_s);
        let t_m = rel.dot(&self.axis_t);
        (s_m >= 0.0 && s_m <= self.len_s && t_m >= 0.0 && t_m <= self.len_t).then_some((t, s_m, t_m))
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
