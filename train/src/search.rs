//! The scheduler: searches `harmony` plans — pack boundaries and microbatch
//! sizes — under the device's capacity with the simulator, and picks the one
//! with the least predicted step time.
//!
//! The samples per step stay fixed (so the optimizer sees the same batch):
//! every microbatch count that divides them is a candidate, its microbatch
//! size the quotient. For each, the packs considered are every balanced
//! split of the layers into 1…L contiguous packs (sizes differing by at most
//! one layer) and the greedy packing of [`plan::harmony_packs`]. A candidate
//! is feasible when its simulated peak device bytes — equal to what the
//! device will count — fit the capacity.

use serde::Serialize;

use crate::costs::Profile;
use crate::model::Pack;
use crate::plan::{self, Plan};
use crate::profile::Footprint;
use crate::sim::Engines;
use crate::simulate::{Prediction, SimInput, simulate};
use crate::{Error, Result};

/// What the search may vary and what it must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchSpace {
    /// Samples (rows) per optimizer step, split into microbatches.
    pub samples: usize,
    /// Device capacity in bytes.
    pub capacity: u64,
    /// Engines to simulate (the CPU device: [`Engines::SerialDevice`]).
    pub engines: Engines,
}

/// The chosen plan and what the search saw.
#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    /// The plan (its `microbatches` is the chosen count).
    pub plan: Plan,
    /// Rows per microbatch.
    pub rows: usize,
    /// The simulator's prediction for it.
    pub prediction: Prediction,
    /// Candidates simulated.
    pub considered: usize,
    /// Candidates that fit the capacity.
    pub feasible: usize,
}

/// `layers` split into `count` contiguous packs whose sizes differ by at
/// most one (the larger ones first).
pub fn balanced_packs(layers: usize, count: usize) -> Vec<Pack> {
    let count = count.clamp(1, layers.max(1));
    let (base, extra) = (layers / count, layers % count);
    let mut start = 0;
    (0..count)
        .map(|i| {
            let end = start + base + usize::from(i < extra);
            let pack = start..end;
            start = end;
            pack
        })
        .collect()
}

/// Searches plans for a model whose footprint at `rows` rows per
/// microbatch is `footprint`, with times from `profile`.
pub fn search(profile: &Profile, footprint: &Footprint, rows: usize, space: SearchSpace) -> Result<Choice> {
    if space.samples == 0 || rows == 0 {
        return Err(Error::Config("the search needs at least one sample and one row per microbatch".into()));
    }
    let layers = footprint.layer_weights.len();
    let mut best: Option<Choice> = None;
    let (mut considered, mut feasible) = (0, 0);
    for microbatches in (1..=space.samples).filter(|m| space.samples.is_multiple_of(*m)) {
        let size = space.samples / microbatches;
        let scaled = footprint.with_rows(rows, size);
        let (times, loss_s) = profile.layer_times(&scaled)?;
        let mut splits: Vec<Vec<Pack>> = (1..=layers).map(|n| balanced_packs(layers, n)).collect();
        if let Ok(greedy) = plan::harmony_packs(&scaled, space.capacity) {
            splits.push(greedy);
        }
        for packs in splits {
            let plan = Plan::harmony(packs, microbatches);
            let input = SimInput { footprint: &scaled, layers: &times, loss_s, costs: &profile.costs };
            let prediction = simulate(&plan, input, space.engines)?;
            considered += 1;
            if prediction.peak_bytes > space.capacity {
                continue;
            }
            feasible += 1;
            if best.as_ref().is_none_or(|b| better(&prediction, &b.prediction)) {
                best = Some(Choice { plan, rows: size, prediction, considered: 0, feasible: 0 });
            }
        }
    }
    let best = best.ok_or_else(|| {
        Error::DoesNotFit(format!(
            "none of {considered} harmony plans (packs × microbatch sizes) fits {} B",
            space.capacity
        ))
    })?;
    Ok(Choice { considered, feasible, ..best })
}

/// Less predicted time; on a tie, fewer bytes moved.
fn better(a: &Prediction, b: &Prediction) -> bool {
    let moved = |p: &Prediction| p.h2d.total() + p.d2h.total();
    a.step_s < b.step_s || (a.step_s == b.step_s && moved(a) < moved(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::{LayerTimes, Linear, SwapCosts};

    #[test]
    fn balanced_packs_cover_the_layers() {
        assert_eq!(balanced_packs(7, 3), vec![0..3, 3..5, 5..7]);
        assert_eq!(balanced_packs(3, 5), vec![0..1, 1..2, 2..3]);
        assert_eq!(balanced_packs(4, 1), vec![0..4]);
    }

    fn profile(layers: usize) -> Profile {
        let footprint = Footprint {
            layer_weights: vec![1000; layers],
            boundary: vec![40; layers + 1],
            scratch: vec![80; layers],
            targets: 40,
            layer_tensors: vec![2; layers],
            kinds: vec!["test".into(); layers],
        };
        let times = LayerTimes { forward_s: 1e-3, backward_s: 2e-3 };
        let swap = Linear { per_tensor_s: 1e-5, per_byte_s: 1e-6 };
        let costs = SwapCosts { h2d: swap, d2h: swap, update: swap, ..Default::default() };
        let half = LayerTimes { forward_s: 0.6e-3, backward_s: 1.2e-3 };
        Profile { rows: 4, footprint, full: vec![times; layers], half: vec![half; layers], loss_s: [0.0; 2], costs }
    }

    #[test]
    fn the_choice_fits_and_beats_the_greedy_plan() {
        let profile = profile(8);
        let space = SearchSpace { samples: 8, capacity: 9000, engines: Engines::SerialDevice };
        let choice = search(&profile, &profile.footprint, 4, space).unwrap();
        assert!(choice.prediction.peak_bytes <= 9000);
        assert!(choice.feasible >= 1 && choice.considered > choice.feasible);
        assert_eq!(choice.rows * choice.plan.microbatches, 8);
        let greedy = plan::harmony_packs(&profile.footprint, 9000).unwrap();
        let (times, loss_s) = profile.layer_times(&profile.footprint).unwrap();
        let input = SimInput { footprint: &profile.footprint, layers: &times, loss_s, costs: &profile.costs };
        let greedy = simulate(&Plan::harmony(greedy, 2), input, Engines::SerialDevice).unwrap();
        assert!(choice.prediction.step_s <= greedy.step_s);
    }

    #[test]
    fn nothing_fits_a_tiny_device() {
        let profile = profile(4);
        let space = SearchSpace { samples: 4, capacity: 100, engines: Engines::SerialDevice };
        let err = search(&profile, &profile.footprint, 4, space).unwrap_err();
        assert!(matches!(err, Error::DoesNotFit(_)), "{err}");
    }
}
