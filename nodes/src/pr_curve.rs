//! The precision–recall curve of loop decisions as the L3D overlap
//! threshold (`loops.min_overlap`) varies, as `cairn loop eval` draws it.
//!
//! Each keyframe whose best candidate failed no check but the overlap one
//! (accepted, or rejected for low overlap) is a ranked decision: its score
//! is the candidate's L3D overlap, and it is correct when the pair truly
//! overlaps (ground truth > 0.3). Lowering the threshold to a score accepts
//! every decision scored at least that much; recall counts against every
//! keyframe with a true loop. (A candidate rejected for low overlap never
//! reached the ICP check, so the low-threshold end is an upper bound.)

use std::path::Path;

use anyhow::{Context, Result};

/// One threshold's precision and recall.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PrPoint {
    /// The overlap threshold.
    pub threshold: f64,
    /// TP / accepted at this threshold.
    pub precision: f64,
    /// TP / keyframes with a true loop.
    pub recall: f64,
}

/// The curve from `(score, correct)` decisions, one point per distinct
/// score, highest threshold first.
pub fn curve(ranked: &[(f64, bool)], positives: usize) -> Vec<PrPoint> {
    let mut sorted: Vec<(f64, bool)> = ranked.iter().copied().filter(|(score, _)| score.is_finite()).collect();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = Vec::new();
    let (mut accepted, mut correct) = (0usize, 0usize);
    for (index, &(score, is_correct)) in sorted.iter().enumerate() {
        accepted += 1;
        correct += usize::from(is_correct);
        if sorted.get(index + 1).is_some_and(|next| next.0 == score) {
            continue;
        }
        points.push(PrPoint {
            threshold: score,
            precision: correct as f64 / accepted as f64,
            recall: correct as f64 / positives.max(1) as f64,
        });
    }
    points
}

/// Draws precision (y) against recall (x) as a PNG.
pub fn write_png(points: &[PrPoint], path: &Path) -> Result<()> {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.recall, p.precision)).collect();
    cairn_train::losslog::plot(&xy)
        .save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_the_threshold_trades_precision_for_recall() {
        let ranked = [(0.9, true), (0.2, false), (0.7, true), (0.5, false), (0.5, true), (f64::NAN, true)];
        let points = curve(&ranked, 4);
        let thresholds: Vec<f64> = points.iter().map(|p| p.threshold).collect();
        assert_eq!(thresholds, vec![0.9, 0.7, 0.5, 0.2], "one point per distinct score, NaN dropped");
        assert_eq!((points[0].precision, points[0].recall), (1.0, 0.25));
        assert_eq!((points[1].precision, points[1].recall), (1.0, 0.5));
        assert_eq!((points[2].precision, points[2].recall), (0.75, 0.75), "ties enter together");
        assert_eq!((points[3].precision, points[3].recall), (0.6, 0.75));
    }

    #[test]
    fn no_decisions_no_points_and_the_png_is_still_written() {
        assert!(curve(&[], 3).is_empty());
        let path = std::env::temp_dir().join(format!("cairn-pr-{}.png", std::process::id()));
        write_png(&curve(&[(0.8, true), (0.4, false)], 2), &path).unwrap();
        let image = image::open(&path).unwrap();
        assert!(image.width() > 100 && image.height() > 100);
        let _ = std::fs::remove_file(&path);
    }
}
