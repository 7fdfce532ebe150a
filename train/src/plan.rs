//! Schedules as task graphs: a [`Plan`] is the packs (contiguous layer
//! ranges) and the ordered forward / backward / update tasks over them that
//! the executor runs. Three schedules:
//!
//! - `resident`: one pack holding the whole model; per microbatch a forward
//!   with gradients and a backward; gradients accumulate on the device and go
//!   out once per iteration (weights come in once per iteration, fresh from the
//!   host optimizer).
//! - `naive` (vDNN/L2L-style virtual memory): one layer per pack; per
//!   microbatch and per layer the weights come in for forward and again for
//!   backward, and the gradients go out after every backward.
//! - `harmony`: packs sized to the device; input-batch grouping (a pack's
//!   weights come in once and serve every microbatch; its gradients accumulate
//!   on the device and go out once), recomputation from stashed pack inputs
//!   only, prefetch of the next pack's weights, the last pack's forward fused
//!   with its backward (its weights stay for the first backward), and the
//!   optimizer step in a background CPU thread right after each pack's
//!   gradients are out.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::Serialize;

use crate::model::Pack;
use crate::profile::Footprint;
use crate::{Error, Result};

/// Which schedule a plan follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// No swapping within an iteration (the reference, when it fits).
    Resident,
    /// Per-microbatch, per-layer swapping.
    Naive,
    /// Harmony's input-batch grouping with prefetch and recomputation.
    Harmony,
}

impl FromStr for Schedule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "resident" => Ok(Self::Resident),
            "naive" => Ok(Self::Naive),
            "harmony" => Ok(Self::Harmony),
            other => Err(Error::Config(format!("unknown schedule {other:?} (resident, naive or harmony)"))),
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Resident => "resident",
            Self::Naive => "naive",
            Self::Harmony => "harmony",
        })
    }
}

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Forward without gradients; stashes the pack's output (the next pack's
    /// input) in host memory.
    Forward,
    /// Recompute the pack's forward from its stashed input with gradients,
    /// then backward; the last pack's backward computes the loss.
    Backward,
    /// Optimizer step of the pack's layers on the host.
    Update,
}

/// One node of the task graph; tasks run in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// What it does.
    pub kind: TaskKind,
    /// Index into [`Plan::packs`].
    pub pack: usize,
    /// Microbatches it runs, in order (input-batch grouping when more than one).
    pub microbatches: Range<usize>,
}

/// Packs and tasks of one training iteration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// The schedule it follows.
    pub schedule: Schedule,
    /// Layer ranges, first to last.
    pub packs: Vec<Pack>,
    /// Microbatches per iteration.
    pub microbatches: usize,
    /// Tasks in execution order.
    pub tasks: Vec<Task>,
    /// Upload the next compute task's weights before running the current one.
    pub prefetch: bool,
    /// Run update tasks in a background CPU thread.
    pub background_update: bool,
}

fn task(kind: TaskKind, pack: usize, microbatches: Range<usize>) -> Task {
    Task { kind, pack, microbatches }
}

impl Plan {
    /// The `resident` plan for `layers` layers.
    pub fn resident(layers: usize, microbatches: usize) -> Self {
        let tasks = vec![task(TaskKind::Backward, 0, 0..microbatches), task(TaskKind::Update, 0, 0..microbatches)];
        let packs = std::iter::once(0..layers).collect();
        Self { schedule: Schedule::Resident, packs, microbatches, tasks, prefetch: false, background_update: false }
    }

    /// The `naive` plan: per microbatch, forward layer by layer, then backward
    /// layer by layer; updates once all microbatches are done.
    pub fn naive(layers: usize, microbatches: usize) -> Self {
        let mut tasks = Vec::new();
        for m in 0..microbatches {
            tasks.extend((0..layers).map(|l| task(TaskKind::Forward, l, m..m + 1)));
            tasks.extend((0..layers).rev().map(|l| task(TaskKind::Backward, l, m..m + 1)));
        }
        tasks.extend((0..layers).map(|l| task(TaskKind::Update, l, 0..microbatches)));
        let packs = (0..layers).map(|l| l..l + 1).collect();
        Self { schedule: Schedule::Naive, packs, microbatches, tasks, prefetch: false, background_update: false }
    }

    /// The `harmony` plan over the given packs.
    pub fn harmony(packs: Vec<Pack>, microbatches: usize) -> Self {
        let all = 0..microbatches;
        let last = packs.len().saturating_sub(1);
        let mut tasks: Vec<Task> = (0..last).map(|p| task(TaskKind::Forward, p, all.clone())).collect();
        for p in (0..packs.len()).rev() {
            tasks.push(task(TaskKind::Backward, p, all.clone()));
            tasks.push(task(TaskKind::Update, p, all.clone()));
        }
        Self { schedule: Schedule::Harmony, packs, microbatches, tasks, prefetch: true, background_update: true }
    }

    /// The plan of `schedule` for a model with this footprint on a device of
    /// `capacity` bytes (harmony's packs from [`harmony_packs`]).
    pub fn build(schedule: Schedule, footprint: &Footprint, microbatches: usize, capacity: u64) -> Result<Self> {
        if microbatches == 0 {
            return Err(Error::Config("at least one microbatch".into()));
        }
        let layers = footprint.layer_weights.len();
        Ok(match schedule {
            Schedule::Resident => Self::resident(layers, microbatches),
            Schedule::Naive => Self::naive(layers, microbatches),
            Schedule::Harmony => Self::harmony(harmony_packs(footprint, capacity)?, microbatches),
        })
    }

    /// One line per pack: layers and weight bytes, then the task count.
    pub fn describe(&self, footprint: &Footprint) -> String {
        let mut text = format!(
            "plan: {} schedule, {} pack(s), {} microbatch(es), {} tasks\n",
            self.schedule,
            self.packs.len(),
            self.microbatches,
            self.tasks.len()
        );
        if self.packs.len() <= 16 {
            for (p, pack) in self.packs.iter().enumerate() {
                let bytes = footprint.weights(pack);
                text += &format!("  pack {p}: layers {}..{} ({:.2} MiB weights)\n", pack.start, pack.end, mib(bytes));
            }
        } else {
            let largest = self.packs.iter().map(|p| footprint.weights(p)).max().unwrap_or(0);
            text += &format!("  largest pack: {:.2} MiB weights\n", mib(largest));
        }
        text
    }
}

/// Bytes as MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Harmony packs for a device of `capacity` bytes: greedily, from the first
/// layer, the longest runs whose backward working set fits with room for the
/// neighbouring pack's prefetched weights — weights, accumulated gradients
/// and fresh gradients of the pack (3·W) plus the neighbour (≤ W) plus the
/// pack's activations. Every pack boundary is then checked exactly.
pub fn harmony_packs(footprint: &Footprint, capacity: u64) -> Result<Vec<Pack>> {
    let layers = footprint.layer_weights.len();
    let mut packs: Vec<Pack> = Vec::new();
    let mut start = 0;
    while start < layers {
        let mut end = start + 1;
        while end < layers
            && 4 * footprint.weights(&(start..end + 1)) + footprint.backward_activations(&(start..end + 1)) <= capacity
        {
            end += 1;
        }
        packs.push(start..end);
        start = end;
    }
    for (p, pack) in packs.iter().enumerate() {
        let neighbour = if p > 0 { footprint.weights(&packs[p - 1]) } else { 0 };
        let need = 3 * footprint.weights(pack) + neighbour + footprint.backward_activations(pack);
        if need > capacity {
            return Err(Error::DoesNotFit(format!(
                "pack {p} (layers {}..{}) needs {need} B in backward, the device has {capacity} B",
                pack.start, pack.end
            )));
        }
    }
    Ok(packs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footprint(layers: usize, weights: u64) -> Footprint {
        Footprint {
            layer_weights: vec![weights; layers],
            boundary: vec![10; layers + 1],
            scratch: vec![5; layers],
            targets: 10,
            layer_tensors: vec![2; layers],
            kinds: vec!["test".into(); layers],
        }
    }

    #[test]
    fn naive_runs_every_layer_twice_per_microbatch() {
        let plan = Plan::naive(3, 2);
        let count = |kind| plan.tasks.iter().filter(|t| t.kind == kind).count();
        assert_eq!((count(TaskKind::Forward), count(TaskKind::Backward), count(TaskKind::Update)), (6, 6, 3));
        assert_eq!(plan.tasks[3], task(TaskKind::Backward, 2, 0..1));
    }

    #[test]
    fn harmony_fuses_the_last_forward_with_the_first_backward() {
        let plan = Plan::harmony(vec![0..2, 2..4, 4..5], 4);
        let kinds: Vec<_> = plan.tasks.iter().map(|t| (t.kind, t.pack)).collect();
        assert_eq!(kinds[..3], [(TaskKind::Forward, 0), (TaskKind::Forward, 1), (TaskKind::Backward, 2)]);
        assert!(plan.tasks.iter().all(|t| t.microbatches == (0..4)));
    }

    #[test]
    fn harmony_packs_fit_the_capacity() {
        let packs = harmony_packs(&footprint(10, 100), 1000).unwrap();
        assert_eq!(packs.first(), Some(&(0..2)));
        assert_eq!(packs.last().map(|p| p.end), Some(10));
        assert!(harmony_packs(&footprint(3, 1000), 1000).is_err());
    }

    #[test]
    fn schedules_parse() {
        assert_eq!("harmony".parse::<Schedule>().unwrap(), Schedule::Harmony);
        assert!("swap".parse::<Schedule>().is_err());
    }
}
