//! FPFH (Fast Point Feature Histograms, Rusu et al., ICRA 2009): the
//! hand-crafted 33-D descriptor that the L3D authors' baseline registration
//! (Open3D's FPFH + RANSAC) uses. cairn computes it the way Open3D does, so
//! the two registrations can be compared on the same descriptor, and so
//! that registration works before a descriptor network is trained.
//!
//! Per point: a normal from its neighbours' covariance (oriented towards a
//! viewpoint); a simplified histogram (SPFH) of the Darboux-frame angles
//! (α, φ, θ) to each neighbour, 11 bins each; then FPFH = SPFH + the
//! neighbours' SPFHs weighted by 1 / squared distance, each third rescaled
//! to sum to 100.

use std::f64::consts::PI;

use nalgebra::{Matrix3, Point3, Vector3};

use crate::Result;
use crate::l3d::{Descriptors, Neighbours};

/// FPFH dimension: 3 angles × 11 bins.
pub const FPFH_DIM: usize = 33;
const BINS: usize = 11;

/// Which way a normal's sign is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Orientation {
    /// Facing a known sensor position (keyframes: the camera centre).
    Viewpoint(Point3<f32>),
    /// Away from the neighbours' centroid (the convex side): needs no
    /// sensor position and turns with the cloud, so clouds without a pose
    /// (PLY files) get consistent normals; arbitrary on flat patches.
    Convex,
}

/// Unit normals per point (`None` where fewer than 3 neighbours lie within
/// `radius`), from the smallest-eigenvalue eigenvector of the covariance of
/// up to `max_n` nearest neighbours, signed by `orientation`.
pub fn estimate_normals(
    neighbours: &Neighbours,
    radius: f32,
    max_n: usize,
    orientation: Orientation,
) -> Vec<Option<Vector3<f64>>> {
    let points = neighbours.points();
    points
        .iter()
        .map(|p| {
            let near = neighbours.nearest_within(p, radius, max_n);
            if near.len() < 3 {
                return None;
            }
            let n = near.len() as f64;
            let mean = near.iter().map(|&(i, _)| points[i].coords.cast::<f64>()).sum::<Vector3<f64>>() / n;
            let mut covariance = Matrix3::zeros();
            for &(i, _) in &near {
                let d = points[i].coords.cast::<f64>() - mean;
                covariance += d * d.transpose();
            }
            let eigen = covariance.symmetric_eigen();
            let normal: Vector3<f64> = eigen.eigenvectors.column(eigen.eigenvalues.imin()).into();
            let outwards = match orientation {
                Orientation::Viewpoint(viewpoint) => (viewpoint - p).cast::<f64>(),
                Orientation::Convex => p.coords.cast::<f64>() - mean,
            };
            Some(if normal.dot(&outwards) < 0.0 { -normal } else { normal })
        })
        .collect()
}

/// The (α, φ, θ) pair features of Rusu's Darboux frame, with Open3D's
/// choice of source point (the one whose normal is closer to the line).
fn pair_features(p1: &Vector3<f64>, n1: &Vector3<f64>, p2: &Vector3<f64>, n2: &Vector3<f64>) -> Option<[f64; 3]> {
    let mut line = p2 - p1;
    let length = line.norm();
    if length == 0.0 {
        return None;
    }
    let (angle1, angle2) = (n1.dot(&line) / length, n2.dot(&line) / length);
    let (source_normal, target_normal, theta) = if angle1.abs().acos() > angle2.abs().acos() {
        line = -line;
        (n2, n1, -angle2)
    } else {
        (n1, n2, angle1)
    };
    let v = line.cross(source_normal);
    let v_norm = v.norm();
    if v_norm == 0.0 {
        return None;
    }
    let v = v / v_norm;
    let w = source_normal.cross(&v);
    let phi = v.dot(target_normal);
    let alpha = w.dot(target_normal).atan2(source_normal.dot(target_normal));
    Some([alpha, phi, theta])
}

fn bin(value: f64, low: f64, high: f64) -> usize {
    ((BINS as f64 * (value - low) / (high - low)).floor().max(0.0) as usize).min(BINS - 1)
}

/// FPFH of the points listed in `which` (indices into `neighbours`), using
/// up to `max_n` neighbours within `radius`. Points without a normal, or
/// with no neighbour, get an all-zero histogram; a non-finite histogram
/// value is an error.
pub fn fpfh(
    neighbours: &Neighbours,
    normals: &[Option<Vector3<f64>>],
    radius: f32,
    max_n: usize,
    which: &[usize],
) -> Result<Descriptors> {
    let points = neighbours.points();
    let position = |i: usize| points[i].coords.cast::<f64>();
    // SPFH of every point that is one of `which` or their neighbour.
    let mut spfh: Vec<Option<[f64; FPFH_DIM]>> = vec![None; points.len()];
    let spfh_of = |i: usize, spfh: &mut Vec<Option<[f64; FPFH_DIM]>>| {
        if spfh[i].is_some() {
            return;
        }
        let mut histogram = [0.0; FPFH_DIM];
        if let Some(n1) = normals[i] {
            let near = neighbours.nearest_within(&points[i], radius, max_n);
            let others: Vec<_> = near.iter().filter(|&&(k, _)| k != i).collect();
            let step = 100.0 / others.len().max(1) as f64;
            for &&(k, _) in &others {
                let Some(n2) = normals[k] else { continue };
                if let Some([alpha, phi, theta]) = pair_features(&position(i), &n1, &position(k), &n2) {
                    histogram[bin(alpha, -PI, PI)] += step;
                    histogram[BINS + bin(phi, -1.0, 1.0)] += step;
                    histogram[2 * BINS + bin(theta, -1.0, 1.0)] += step;
                }
            }
        }
        spfh[i] = Some(histogram);
    };
    let mut data = Vec::with_capacity(which.len() * FPFH_DIM);
    for &i in which {
        let near = neighbours.nearest_within(&points[i], radius, max_n);
        spfh_of(i, &mut spfh);
        let mut weighted = [0.0; FPFH_DIM];
        let mut sums = [0.0; 3];
        for &(k, distance2) in near.iter().filter(|&&(k, d)| k != i && d > 0.0) {
            spfh_of(k, &mut spfh);
            let neighbour = spfh[k].unwrap_or([0.0; FPFH_DIM]);
            for j in 0..FPFH_DIM {
                let value = neighbour[j] / f64::from(distance2);
                weighted[j] += value;
                sums[j / BINS] += value;
            }
        }
        let own = spfh[i].unwrap_or([0.0; FPFH_DIM]);
        for j in 0..FPFH_DIM {
            let scale = if sums[j / BINS] > 0.0 { 100.0 / sums[j / BINS] } else { 0.0 };
            data.push((weighted[j] * scale + own[j]) as f32);
        }
    }
    // A non-finite value (coincident points closer than f32 can weigh)
    // is an error, not an empty or silently wrong descriptor set.
    Descriptors::new(FPFH_DIM, data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use cairn_core::transform::Rigid3;
    use nalgebra::{Translation3, UnitQuaternion};

    /// A smooth bumpy surface on a jittered grid: curvature varies from
    /// point to point and no neighbourhood is symmetric (a symmetric one,
    /// such as a box edge, has no unique normal, in any implementation).
    fn scene() -> Vec<Point3<f32>> {
        let mut points = Vec::new();
        for i in 0..60 {
            for j in 0..60 {
                let jitter = ((i * 7 + j * 13) % 10) as f32 * 0.0007;
                let (x, y) = (i as f32 * 0.01 + jitter, j as f32 * 0.01 - jitter);
                let z = 0.3 * x * x - 0.2 * x * y + 0.04 * (9.0 * x).sin() * (7.0 * y).cos();
                points.push(Point3::new(x, y, z));
            }
        }
        points
    }

    #[test]
    fn histogram_thirds_are_normalised_and_invariant_to_motion() {
        let points = scene();
        let motion =
            Rigid3::from_parts(Translation3::new(1.0, -0.5, 2.0), UnitQuaternion::from_euler_angles(0.3, 1.0, -0.6));
        let moved: Vec<Point3<f32>> = points.iter().map(|p| (motion * p.cast::<f64>()).cast()).collect();
        let viewpoint = Point3::new(1.0f32, 1.0, 1.0);
        let moved_viewpoint: Point3<f32> = (motion * viewpoint.cast::<f64>()).cast();
        let which: Vec<usize> = (0..points.len()).step_by(97).collect();
        let describe = |points: Vec<Point3<f32>>, viewpoint: &Point3<f32>| {
            let orientation = Orientation::Viewpoint(*viewpoint);
            let neighbours = Neighbours::new(points).unwrap();
            // No cap on the count: ties in a capped search could pick
            // different neighbours after rounding.
            let normals = estimate_normals(&neighbours, 0.0315, 10_000, orientation);
            fpfh(&neighbours, &normals, 0.0615, 10_000, &which).unwrap()
        };
        let a = describe(points, &viewpoint);
        let b = describe(moved, &moved_viewpoint);
        assert_eq!(a.len(), which.len());
        for k in 0..a.len() {
            for third in 0..3 {
                let sum: f32 = a.get(k)[third * BINS..(third + 1) * BINS].iter().sum();
                // 100 from the neighbours' SPFHs, up to 100 from its own
                // (less where a pair has no Darboux frame).
                assert!((100.0 - 0.01..=200.01).contains(&sum), "descriptor {k} third {third}: {sum}");
            }
            for (x, y) in a.get(k).iter().zip(b.get(k)) {
                assert!((x - y).abs() < 0.5, "descriptor {k}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn pair_features_of_a_known_configuration() {
        // Two points along x, normals up and tilted 45° about x.
        let n2 = Vector3::new(0.0, -1.0, 1.0).normalize();
        let f = pair_features(&Vector3::zeros(), &Vector3::z(), &Vector3::x(), &n2).unwrap();
        // θ = n1·line = 0; v = line × n1 = -y; φ = v·n2 = 1/√2;
        // α = atan2(w·n2, n1·n2) with w = n1 × v = x: atan2(0, 1/√2) = 0.
        assert!(f[2].abs() < 1e-12 && (f[1] - 0.5f64.sqrt()).abs() < 1e-12 && f[0].abs() < 1e-12, "{f:?}");
        assert!(pair_features(&Vector3::zeros(), &Vector3::z(), &Vector3::zeros(), &Vector3::z()).is_none());
    }
}
