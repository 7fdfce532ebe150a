//! The loop-closure record of `cairn slam --loop …`: one line per keyframe
//! check in `OUT.loops` (tab-separated) and a summary for the printed
//! report — loops accepted, rejected (by reason), dropped by the pose
//! graph, and the per-keyframe cost.

use std::path::Path;

use anyhow::{Context, Result};
use cairn_slam::{LoopDecision, LoopOutcome, RejectReason, SlamFrame};

/// The decisions and the loop edges `(from, to)` the graph dropped.
pub type LoopRecord = (Vec<LoopDecision>, Vec<(usize, usize)>);

/// Writes `OUT.loops` next to the trajectory `out` and returns the summary.
pub fn write(out: &Path, record: &LoopRecord, results: &[SlamFrame]) -> Result<String> {
    let (decisions, dropped) = record;
    let path = format!("{}.loops", out.display());
    let mut text = String::from(
        "# keyframe\toutcome\tcandidates\tbest\toverlap\tinliers\tfitness\tdescribe_ms\tcandidates_ms\tregistration_ms\n",
    );
    for d in decisions {
        let mut outcome = outcome_name(&d.outcome).to_string();
        if let Some(best) = d.best.filter(|b| dropped.contains(&(d.keyframe, *b))) {
            outcome = format!("{outcome}:dropped_by_graph({best})");
        }
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{:.3}\t{}\t{:.3}\t{:.1}\t{:.1}\t{:.1}\n",
            d.keyframe,
            outcome,
            d.candidates,
            d.best.map_or("-".into(), |b| b.to_string()),
            d.overlap,
            d.inliers,
            d.fitness,
            d.describe_ms,
            d.candidates_ms,
            d.registration_ms
        ));
    }
    std::fs::write(&path, text).with_context(|| format!("writing {path}"))?;
    Ok(summary(decisions, dropped.len(), results, &path))
}

fn summary(decisions: &[LoopDecision], dropped: usize, results: &[SlamFrame], path: &str) -> String {
    let count = |f: &dyn Fn(&LoopOutcome) -> bool| decisions.iter().filter(|d| f(&d.outcome)).count();
    let accepted = count(&|o| *o == LoopOutcome::Accepted);
    let reasons = [
        RejectReason::TooFewInliers,
        RejectReason::LowOverlap,
        RejectReason::IcpDisagrees,
        RejectReason::InconsistentWithGraph,
    ];
    let rejected: Vec<String> =
        reasons.iter().map(|r| format!("{} {}", count(&|o| *o == LoopOutcome::Rejected(*r)), reason_name(r))).collect();
    let n = decisions.len().max(1) as f64;
    let mean = |f: fn(&LoopDecision) -> f64| decisions.iter().map(f).sum::<f64>() / n;
    let loops_ms: f64 = results.iter().map(|r| r.backend.loops_ms).sum::<f64>() / n;
    format!(
        "loops: {} keyframes checked, {accepted} loops accepted ({dropped} later dropped by the pose graph), \
         rejected: {} ({} without candidates); see {path}\n\
         loop closure per keyframe: describe {:.1} ms, candidates {:.1} ms, registration {:.1} ms \
         (all of loop detection: {:.1} ms)\n",
        decisions.len(),
        rejected.join(", "),
        count(&|o| *o == LoopOutcome::NoCandidates),
        mean(|d| d.describe_ms),
        mean(|d| d.candidates_ms),
        mean(|d| d.registration_ms),
        loops_ms,
    )
}

/// The outcome's name in `OUT.loops`.
pub fn outcome_name(outcome: &LoopOutcome) -> &'static str {
    match outcome {
        LoopOutcome::Accepted => "accepted",
        LoopOutcome::NoCandidates => "no_candidates",
        LoopOutcome::Rejected(reason) => reason_name(reason),
    }
}

fn reason_name(reason: &RejectReason) -> &'static str {
    match reason {
        RejectReason::TooFewInliers => "too_few_inliers",
        RejectReason::LowOverlap => "low_overlap",
        RejectReason::IcpDisagrees => "icp_disagrees",
        RejectReason::InconsistentWithGraph => "inconsistent_with_graph",
    }
}
