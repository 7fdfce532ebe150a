//! Seeded corruptions of a ground-truth trajectory, shaped like real SLAM
//! output: every estimate also lives in its own world frame (a rigid offset
//! from the ground truth's), as a tracker that starts at the identity does.

use cairn_core::Trajectory;
use cairn_core::transform::Rigid3;
use nalgebra::{Translation3, UnitQuaternion, Vector3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// The kinds of corruption the oracle comparisons cover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Perturbation {
    /// Independent Gaussian noise per pose: 1 cm translation, 0.5° rotation.
    Noise,
    /// Odometry drift: each relative motion gets a small error that
    /// accumulates (1 mm and 0.05° per step, with a bias), like visual odometry.
    Drift,
    /// Wrong scale (×0.8, monocular-like) plus noise.
    Scale,
    /// Stamps shifted by `seconds`, plus noise. Within evo's 0.01 s this
    /// tests nearest-stamp association; larger shifts need `--t-offset`.
    TimeOffset(f64),
    /// 30 % of poses dropped at random and one gap of 10 %, plus noise.
    Missing,
}

impl Perturbation {
    /// A short name for test and file names.
    pub fn name(&self) -> String {
        match self {
            Perturbation::Noise => "noise".into(),
            Perturbation::Drift => "drift".into(),
            Perturbation::Scale => "scale".into(),
            Perturbation::TimeOffset(s) => format!("offset{}ms", (s * 1000.0).round()),
            Perturbation::Missing => "missing".into(),
        }
    }
}

/// A corrupted copy of `gt`, deterministic in `seed`.
pub fn perturb(gt: &Trajectory, kind: Perturbation, seed: u64) -> Trajectory {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut est = match kind {
        Perturbation::Drift => drift(gt, &mut rng),
        _ => noise(gt, &mut rng, 0.01, 0.5),
    };
    match kind {
        Perturbation::Scale => {
            for world_from_body in &mut est.world_from_body {
                world_from_body.translation.vector *= 0.8;
            }
        }
        Perturbation::TimeOffset(seconds) => {
            if let Some(stamps) = &mut est.stamps {
                stamps.iter_mut().for_each(|s| *s += seconds);
            }
        }
        Perturbation::Missing => {
            let n = est.len();
            let gap = (n * 4 / 10)..(n / 2);
            let keep: Vec<usize> = (0..n).filter(|i| !gap.contains(i) && rng.random::<f64>() >= 0.3).collect();
            est = est.select(&keep);
        }
        Perturbation::Noise | Perturbation::Drift => {}
    }
    // The estimate's own world frame.
    let gt_world_from_est_world =
        Rigid3::from_parts(Translation3::new(0.7, -1.3, 0.4), UnitQuaternion::from_euler_angles(0.2, -0.4, 1.9));
    let est_world_from_gt_world = gt_world_from_est_world.inverse();
    for world_from_body in &mut est.world_from_body {
        *world_from_body = est_world_from_gt_world * *world_from_body;
    }
    est.name = format!("{}-{}", gt.name, kind.name());
    est
}

fn gaussian(rng: &mut ChaCha8Rng, sigma: f64) -> Vector3<f64> {
    Vector3::from_fn(|_, _| sigma * rng.sample::<f64, _>(StandardNormal))
}

fn noise(gt: &Trajectory, rng: &mut ChaCha8Rng, sigma_m: f64, sigma_deg: f64) -> Trajectory {
    let mut est = gt.clone();
    for world_from_body in &mut est.world_from_body {
        world_from_body.translation.vector += gaussian(rng, sigma_m);
        let rotation_error = UnitQuaternion::from_scaled_axis(gaussian(rng, sigma_deg.to_radians()));
        world_from_body.rotation *= rotation_error;
    }
    est
}

fn drift(gt: &Trajectory, rng: &mut ChaCha8Rng) -> Trajectory {
    let mut est = gt.clone();
    let bias = Vector3::new(0.0004, -0.0002, 0.0001);
    let rotation_bias = Vector3::new(0.0, 0.0, 0.02f64.to_radians());
    for i in 1..gt.len() {
        let prev_from_curr = gt.world_from_body[i - 1].inverse() * gt.world_from_body[i];
        let step_error = Rigid3::from_parts(
            Translation3::from(bias + gaussian(rng, 0.001)),
            UnitQuaternion::from_scaled_axis(rotation_bias + gaussian(rng, 0.05f64.to_radians())),
        );
        est.world_from_body[i] = est.world_from_body[i - 1] * prev_from_curr * step_error;
    }
    est
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gt() -> Trajectory {
        let poses = (0..100).map(|i| Rigid3::translation(f64::from(i) * 0.01, 0.0, 0.0)).collect();
        Trajectory::with_stamps("gt", (0..100).map(|i| f64::from(i) * 0.1).collect(), poses).expect("lengths match")
    }

    #[test]
    fn deterministic_in_seed() {
        let a = perturb(&gt(), Perturbation::Drift, 7);
        assert_eq!(a, perturb(&gt(), Perturbation::Drift, 7));
        assert_ne!(a, perturb(&gt(), Perturbation::Drift, 8));
    }

    #[test]
    fn missing_drops_poses_and_offset_shifts_stamps() {
        let missing = perturb(&gt(), Perturbation::Missing, 1);
        assert!(missing.len() < 70 && missing.len() > 30, "{}", missing.len());
        let shifted = perturb(&gt(), Perturbation::TimeOffset(0.5), 1);
        assert_eq!(shifted.stamps.as_ref().map(|s| s[0]), Some(0.5));
    }
}
