//! Local reference frames and canonical patches, as DIP (Poiesi &
//! Boscaini, ICPR 2020) feeds its PointNet: each keypoint's neighbourhood is
//! rotated into a repeatable frame of its own, so the descriptor network
//! sees the same patch however the cloud was turned.
//!
//! The frame (DIP's, after FLARE/SHOT):
//! - **z**: the normal — the eigenvector of the smallest eigenvalue of the
//!   neighbours' covariance about the keypoint — signed to point away from
//!   most neighbours (`Σ ⟨p − xᵢ, z⟩ ≥ 0`);
//! - **x**: the neighbours' offsets projected on the tangent plane,
//!   weighted by `αᵢ = (r − ‖xᵢ − p‖)²` (near points count more) and
//!   `βᵢ = ⟨xᵢ − p, z⟩²` (points off the plane fix the direction);
//! - **y** = z × x.
//!
//! A neighbourhood that is too small, or so flat that no direction stands
//! out in the tangent plane, has no repeatable frame: [`local_frame`] says
//! so (`None`) rather than inventing one.

use nalgebra::{Matrix3, Point3, Rotation3, Vector3};
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::points::Neighbours;

/// Fewest neighbours for a frame.
pub const MIN_NEIGHBOURS: usize = 8;

/// The keypoint's local reference frame as `world_from_local` rotation
/// (columns x, y, z), or `None` when it is not repeatable.
pub fn local_frame(neighbours: &[Point3<f32>], keypoint: &Point3<f32>, radius: f32) -> Option<Rotation3<f64>> {
    if neighbours.len() < MIN_NEIGHBOURS {
        return None;
    }
    let p = keypoint.cast::<f64>();
    let offsets: Vec<Vector3<f64>> = neighbours.iter().map(|x| x.cast::<f64>() - p).collect();
    let mut covariance = Matrix3::zeros();
    for d in &offsets {
        covariance += d * d.transpose();
    }
    let eigen = covariance.symmetric_eigen();
    let smallest = eigen.eigenvalues.imin();
    let mut z: Vector3<f64> = eigen.eigenvectors.column(smallest).into();
    // Away from most neighbours: Σ ⟨p − xᵢ, z⟩ = −Σ ⟨dᵢ, z⟩ ≥ 0.
    if offsets.iter().map(|d| d.dot(&z)).sum::<f64>() > 0.0 {
        z = -z;
    }
    let radius = f64::from(radius);
    let mut x = Vector3::zeros();
    let mut weight_sum = 0.0;
    for d in &offsets {
        let height = d.dot(&z);
        let alpha = (radius - d.norm()).max(0.0).powi(2);
        let beta = height * height;
        x += alpha * beta * (d - height * z);
        weight_sum += alpha * beta * d.norm();
    }
    // The weighted tangent vectors must not cancel out: flat or
    // rotationally symmetric patches have no repeatable x.
    if weight_sum <= 0.0 || x.norm() < 1e-3 * weight_sum {
        return None;
    }
    let x = x.normalize();
    let y = z.cross(&x);
    Some(Rotation3::from_matrix_unchecked(Matrix3::from_columns(&[x, y, z])))
}

/// A keypoint's patch: `points` neighbours within the radius, moved into
/// its local frame and divided by the radius (so inside the unit ball).
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    /// Index of the keypoint among the searched points.
    pub keypoint: usize,
    /// The frame the patch is expressed in (`world_from_local`).
    pub world_from_local: Rotation3<f64>,
    /// `points` canonical coordinates, each in [-1, 1].
    pub points: Vec<[f32; 3]>,
}

/// Canonical patches of `points` points around each keypoint (seeded
/// sampling of the neighbours, with repetition when there are fewer).
/// Keypoints without a repeatable frame are left out.
pub fn canonical_patches(
    neighbours: &Neighbours,
    keypoints: &[usize],
    radius: f32,
    points: usize,
    seed: u64,
) -> Vec<Patch> {
    let all = neighbours.points();
    keypoints
        .iter()
        .filter_map(|&k| {
            let centre = all[k];
            let mut inside = neighbours.within(&centre, radius);
            // Query order is arbitrary: sort so the sampling is reproducible.
            inside.sort_unstable();
            let near: Vec<Point3<f32>> = inside.iter().map(|&i| all[i]).collect();
            let world_from_local = local_frame(&near, &centre, radius)?;
            let local_from_world = world_from_local.inverse();
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let chosen: Vec<usize> = if near.len() >= points {
                rand::seq::index::sample(&mut rng, near.len(), points).into_vec()
            } else {
                (0..points).map(|i| if i < near.len() { i } else { rng.random_range(0..near.len()) }).collect()
            };
            let scale = 1.0 / f64::from(radius);
            let canonical = chosen
                .into_iter()
                .map(|i| {
                    let q = local_from_world * (near[i].cast::<f64>() - centre.cast::<f64>()) * scale;
                    [q.x as f32, q.y as f32, q.z as f32]
                })
                .collect();
            Some(Patch { keypoint: k, world_from_local, points: canonical })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nalgebra::UnitQuaternion;
    use rand_distr::{Distribution, Normal};

    /// A bumpy surface: a paraboloid cap with a ridge, so frames are well
    /// defined, plus noise.
    fn surface(seed: u64) -> Vec<Point3<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let noise = Normal::new(0.0f32, 0.001).unwrap();
        let mut points = Vec::new();
        for i in 0..40 {
            for j in 0..40 {
                let (x, y) = (i as f32 * 0.01 - 0.2, j as f32 * 0.01 - 0.2);
                let z = 0.8 * x * x + 0.3 * y * y + 0.05 * (6.0 * x + 2.0 * y).sin();
                points.push(Point3::new(x, y, z + noise.sample(&mut rng)));
            }
        }
        points
    }

    #[test]
    fn frames_turn_with_the_cloud_and_patches_do_not() {
        let points = surface(1);
        let turn = Rotation3::from(UnitQuaternion::from_euler_angles(0.7, -1.1, 2.3));
        let shift = Vector3::new(0.4, -2.0, 1.5);
        let moved: Vec<_> = points.iter().map(|p| (turn * p.cast::<f64>() + shift).cast::<f32>()).collect();
        let keypoints = [410, 820, 835, 1230];
        let a = canonical_patches(&Neighbours::new(points).unwrap(), &keypoints, 0.08, 256, 5);
        let b = canonical_patches(&Neighbours::new(moved).unwrap(), &keypoints, 0.08, 256, 5);
        assert_eq!(a.len(), keypoints.len());
        assert_eq!(b.len(), a.len());
        for (pa, pb) in a.iter().zip(&b) {
            let expected = turn * pa.world_from_local;
            assert!(expected.angle_to(&pb.world_from_local) < 1e-3, "frame of {}", pa.keypoint);
            assert_eq!(pa.points.len(), 256);
            for (qa, qb) in pa.points.iter().zip(&pb.points) {
                for k in 0..3 {
                    assert!((qa[k] - qb[k]).abs() < 1e-4, "{qa:?} vs {qb:?}");
                    assert!(qa[k].abs() <= 1.0 + 1e-6);
                }
            }
        }
    }

    #[test]
    fn z_points_away_from_the_neighbours() {
        // A bowl opening upwards: seen from its bottom, the neighbours lie
        // above, so z points down.
        let points = surface(2);
        let centre = points[20 * 40 + 20];
        let near: Vec<_> = points.iter().copied().filter(|p| (p - centre).norm() < 0.1).collect();
        let frame = local_frame(&near, &centre, 0.1).unwrap();
        assert!(frame.matrix().column(2).z < -0.9, "{}", frame.matrix());
    }

    #[test]
    fn flat_and_tiny_neighbourhoods_have_no_frame() {
        let plane: Vec<_> =
            (0..100).map(|i| Point3::new((i % 10) as f32 * 0.01, (i / 10) as f32 * 0.01, 0.0)).collect();
        assert!(local_frame(&plane, &Point3::new(0.045, 0.045, 0.0), 0.1).is_none());
        assert!(local_frame(&plane[..3], &plane[0], 0.1).is_none());
    }
}
