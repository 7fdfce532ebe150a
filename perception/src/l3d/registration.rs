//! Registration from putative pairs and L3D's overlap metric.
//!
//! RANSAC on 3-pair samples: a sample whose pairwise distances disagree
//! between the clouds (ratio below `edge_ratio`, Open3D's edge-length
//! checker) is dropped before any fit; the rigid fit (Umeyama) that has
//! the most pairs within `inlier_m` wins; it is refitted by least squares
//! on its inliers until they stop changing. Iterations stop early once
//! `confidence` says an all-inlier sample has been drawn.
//!
//! The **overlap metric** (Zhou et al., RA-L 2022): move the source points
//! of the MNN pairs by the estimate; overlap = the fraction of pairs closer
//! than τ. It is what decides a loop.

use cairn_core::align::umeyama;
use cairn_core::transform::{Rigid3, rigid_from_matrix};
use nalgebra::{Point3, Vector3};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// RANSAC settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RansacConfig {
    /// Most samples drawn.
    pub max_iterations: usize,
    /// Stop once an all-inlier sample has been drawn with this probability.
    pub confidence: f64,
    /// A pair is an inlier when the moved source point is within this of
    /// its target point (m).
    pub inlier_m: f64,
    /// Pre-check: every pair of sample points must have distances in the
    /// two clouds within this ratio (Open3D's edge-length checker, 0.9).
    pub edge_ratio: f64,
    /// Sampling seed (same seed, same result).
    pub seed: u64,
}

impl Default for RansacConfig {
    fn default() -> Self {
        RansacConfig { max_iterations: 20_000, confidence: 0.999, inlier_m: 0.05, edge_ratio: 0.9, seed: 0 }
    }
}

/// A registration's result.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Maps source points into the target's frame.
    pub target_from_source: Rigid3,
    /// Pairs within `inlier_m` after the refit.
    pub inliers: usize,
    /// Samples drawn (including those the pre-check dropped).
    pub iterations: usize,
}

/// Estimates `target_from_source` from putative pairs of points
/// (`target[k]` ↔ `source[k]`). Errors with fewer than 3 pairs or when no
/// sample gave a fit.
pub fn ransac(target: &[Point3<f32>], source: &[Point3<f32>], config: &RansacConfig) -> Result<Registration> {
    if target.len() != source.len() {
        return Err(Error::Input(format!("{} target points but {} source points", target.len(), source.len())));
    }
    if target.len() < 3 {
        return Err(Error::Input(format!("registration needs at least 3 pairs, got {}", target.len())));
    }
    let t: Vec<Vector3<f64>> = target.iter().map(|p| p.coords.cast()).collect();
    let s: Vec<Vector3<f64>> = source.iter().map(|p| p.coords.cast()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut best: Option<(Rigid3, usize)> = None;
    let mut needed = config.max_iterations;
    let mut iterations = 0;
    while iterations < needed.min(config.max_iterations) {
        iterations += 1;
        let pick = sample(&mut rng, t.len(), 3).into_vec();
        if !lengths_agree(&t, &s, &pick, config.edge_ratio) {
            continue;
        }
        let Ok(fit) = fit(&t, &s, &pick) else { continue };
        let count = inliers(&t, &s, &fit, config.inlier_m).len();
        if best.as_ref().is_none_or(|(_, b)| count > *b) {
            best = Some((fit, count));
            // Samples for `confidence` at this inlier ratio (Fischler & Bolles).
            let w = count as f64 / t.len() as f64;
            let all_inliers = w.powi(3).clamp(1e-12, 1.0 - 1e-12);
            needed = ((1.0 - config.confidence).ln() / (1.0 - all_inliers).ln()).ceil() as usize;
        }
    }
    let (mut estimate, _) =
        best.ok_or_else(|| Error::Input(format!("no RANSAC sample passed the checks in {iterations} iterations")))?;
    // Least-squares refit on the inliers until the set stops changing.
    let mut members = inliers(&t, &s, &estimate, config.inlier_m);
    for _ in 0..10 {
        let Ok(refit) = fit(&t, &s, &members) else { break };
        let next = inliers(&t, &s, &refit, config.inlier_m);
        if next.len() < members.len() {
            break;
        }
        estimate = refit;
        let unchanged = next == members;
        members = next;
        if unchanged {
            break;
        }
    }
    Ok(Registration { target_from_source: estimate, inliers: members.len(), iterations })
}

/// L3D's overlap: the fraction of pairs whose moved source point lies
/// within `tau_m` of its target point (0 for no pairs).
pub fn overlap(target: &[Point3<f32>], source: &[Point3<f32>], target_from_source: &Rigid3, tau_m: f64) -> f64 {
    if target.is_empty() {
        return 0.0;
    }
    let close = target
        .iter()
        .zip(source)
        .filter(|(t, s)| (target_from_source * s.cast::<f64>() - t.cast::<f64>()).norm() < tau_m)
        .count();
    close as f64 / target.len() as f64
}

fn lengths_agree(t: &[Vector3<f64>], s: &[Vector3<f64>], pick: &[usize], ratio: f64) -> bool {
    for a in 0..pick.len() {
        for b in a + 1..pick.len() {
            let lt = (t[pick[a]] - t[pick[b]]).norm();
            let ls = (s[pick[a]] - s[pick[b]]).norm();
            if lt.min(ls) < ratio * lt.max(ls) {
                return false;
            }
        }
    }
    true
}

fn fit(t: &[Vector3<f64>], s: &[Vector3<f64>], members: &[usize]) -> Result<Rigid3> {
    let source: Vec<_> = members.iter().map(|&k| s[k]).collect();
    let target: Vec<_> = members.iter().map(|&k| t[k]).collect();
    let sim = umeyama(&source, &target, false)?;
    Ok(rigid_from_matrix(sim.rotation.matrix(), sim.translation)?)
}

fn inliers(t: &[Vector3<f64>], s: &[Vector3<f64>], target_from_source: &Rigid3, inlier_m: f64) -> Vec<usize> {
    (0..t.len()).filter(|&k| (target_from_source * Point3::from(s[k]) - Point3::from(t[k])).norm() < inlier_m).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use nalgebra::{Translation3, UnitQuaternion};
    use rand::Rng;

    /// `n` pairs related by `target_from_source`, the first `outliers` of
    /// them replaced by random points.
    fn pairs(n: usize, outliers: usize, target_from_source: &Rigid3) -> (Vec<Point3<f32>>, Vec<Point3<f32>>) {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut random =
            || Point3::new(rng.random_range(-2.0..2.0), rng.random_range(-2.0..2.0), rng.random_range(0.5..4.0));
        let source: Vec<Point3<f64>> = (0..n).map(|_| random()).collect();
        let mut target: Vec<Point3<f64>> = source.iter().map(|p| target_from_source * p).collect();
        for p in target.iter_mut().take(outliers) {
            *p = random();
        }
        (target.iter().map(|p| p.cast()).collect(), source.iter().map(|p| p.cast()).collect())
    }

    fn motion() -> Rigid3 {
        Rigid3::from_parts(Translation3::new(0.3, -0.8, 1.1), UnitQuaternion::from_euler_angles(0.4, -0.2, 1.3))
    }

    #[test]
    fn recovers_the_motion_through_80_percent_outliers() {
        let truth = motion();
        let (target, source) = pairs(200, 160, &truth);
        let registration = ransac(&target, &source, &RansacConfig::default()).unwrap();
        let error = registration.target_from_source * truth.inverse();
        assert!(error.translation.vector.norm() < 1e-4 && error.rotation.angle() < 1e-5, "{error:?}");
        assert_eq!(registration.inliers, 40);
        let o = overlap(&target, &source, &registration.target_from_source, 0.05);
        assert!((o - 0.2).abs() < 1e-9, "{o}");
        // Same seed, same answer.
        assert_eq!(ransac(&target, &source, &RansacConfig::default()).unwrap(), registration);
    }

    #[test]
    fn clean_pairs_stop_early() {
        let (target, source) = pairs(100, 0, &motion());
        let registration = ransac(&target, &source, &RansacConfig::default()).unwrap();
        assert_eq!(registration.inliers, 100);
        assert!(registration.iterations < 20, "{}", registration.iterations);
    }

    #[test]
    fn too_few_or_mismatched_pairs_are_errors() {
        let (target, source) = pairs(10, 0, &motion());
        assert!(ransac(&target[..2], &source[..2], &RansacConfig::default()).is_err());
        assert!(ransac(&target, &source[..5], &RansacConfig::default()).is_err());
        assert_eq!(overlap(&[], &[], &motion(), 0.1), 0.0);
    }
}
