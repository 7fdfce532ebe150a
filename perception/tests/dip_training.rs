//! Training smoke test of the DIP network through cairn-train: on two
//! noisy views of a synthetic bumpy surface related by a known rigid
//! motion, a few hardest-contrastive steps lower the loss, and the
//! swapping schedule (harmony, on a device too small for the whole step)
//! trains bit-identical weights to the resident one.

#![allow(clippy::unwrap_used)]

use cairn_core::transform::Rigid3;
use cairn_perception::l3d::pairs::{PairConfig, PatchPairData, view_pair};
use cairn_perception::l3d::{DipConfig, HardestContrastive, Neighbours};
use cairn_train::{CpuDevice, Footprint, HostTensor, Model, OptimizerConfig, Plan, Schedule, Trainer};
use nalgebra::{Point3, Vector3};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// A 2 m × 2 m bumpy surface sampled every 5 cm, with noise.
fn surface(seed: u64) -> Vec<Point3<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let noise = Normal::new(0.0f32, 0.004).unwrap();
    let mut points = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            let (x, y) = (i as f32 * 0.05 - 1.0, j as f32 * 0.05 - 1.0);
            let z = 0.15 * (3.0 * x).sin() * (2.0 * y + 0.3).cos() + 0.1 * (5.0 * x * y).sin();
            points.push(Point3::new(x, y, z + noise.sample(&mut rng)));
        }
    }
    points
}

fn model(steps_seed: u64) -> Model {
    let config = DipConfig::default();
    let a = surface(1);
    let b_from_a = Rigid3::new(Vector3::new(0.3, -0.2, 0.5), Vector3::new(0.2, 0.4, -0.3));
    let b: Vec<_> = surface(2).iter().map(|p| (b_from_a * p.cast::<f64>()).cast::<f32>()).collect();
    let pair = view_pair(
        &Neighbours::new(a).unwrap(),
        &Neighbours::new(b).unwrap(),
        &b_from_a,
        &config,
        &PairConfig { keypoints: 200, match_radius_m: 0.03 },
        3,
    );
    assert!(pair.len() >= 100, "{} correspondences", pair.len());
    let data = PatchPairData { pairs: vec![pair], per_microbatch: 24, points: 256, exclusion_m: 0.1, seed: steps_seed };
    Model {
        name: "dip".into(),
        layers: config.layers(),
        objective: Box::new(HardestContrastive::default()),
        data: Box::new(data),
    }
}

/// Trains `steps` steps; harmony gets the smallest whole-MiB device its
/// plan fits (activations dominate: the packs must split).
fn train(schedule: Schedule, steps: usize) -> (Vec<f64>, Vec<Vec<HostTensor>>) {
    let model = model(5);
    let weights = model.init_weights(0);
    let (footprint, _) = Footprint::measure(&model, &weights).unwrap();
    let capacity = match schedule {
        Schedule::Harmony => {
            (1..256u64).map(|mib| mib << 20).find(|&c| Plan::build(schedule, &footprint, 2, c).is_ok()).unwrap()
        }
        _ => 256 << 20,
    };
    let plan = Plan::build(schedule, &footprint, 2, capacity).unwrap();
    if schedule == Schedule::Harmony {
        assert!(plan.packs.len() > 1, "the device should be too small for one pack: {:?}", plan.packs);
    }
    let mut trainer = Trainer::new(model, plan, CpuDevice::new(capacity), OptimizerConfig::default(), weights).unwrap();
    let losses = (0..steps).map(|_| trainer.step().unwrap().loss).collect();
    (losses, trainer.weights().unwrap())
}

#[test]
fn a_few_steps_lower_the_loss_and_harmony_matches_resident_bit_for_bit() {
    let (resident, weights) = train(Schedule::Resident, 12);
    let (harmony, swapped) = train(Schedule::Harmony, 12);
    eprintln!("losses: {resident:.4?}");
    let first = resident[0];
    let last = resident[resident.len() - 3..].iter().sum::<f64>() / 3.0;
    assert!(last < 0.9 * first, "loss {first} → {last}");
    assert_eq!(resident, harmony);
    let bits =
        |w: &[Vec<HostTensor>]| w.iter().flatten().flat_map(|t| t.data.iter().map(|v| v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&weights), bits(&swapped));
}
