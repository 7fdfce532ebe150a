//! The hardest-contrastive loss of FCGF (Choy, Park, Koltun, ICCV 2019),
//! the [`Objective`] `cairn train l3d` trains the DIP network with.
//!
//! A microbatch holds `2N` descriptors: rows `0..N` describe keypoints of
//! view A, rows `N..2N` the corresponding keypoints of view B (row `i` ↔
//! row `N + i`, found by ground truth). With `d(i, j) = ‖aᵢ − bⱼ‖`:
//!
//! `L = mean_i [d(i,i) − m₊]₊² + ½ mean_i [m₋ − min_j d(i,j)]₊² + ½ mean_j [m₋ − min_i d(i,j)]₊²`
//!
//! where the minima run over the pairs the target `"negatives"` (`[N, N]`,
//! 1 = may serve as a negative) allows — pairs whose keypoints lie close in
//! space are not negatives. Positives are pulled within `m₊`, the hardest
//! negative in the microbatch pushed beyond `m₋`.

use cairn_train::Result as TrainResult;
use cairn_train::model::{Objective, TensorMap, input};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Margins of the hardest-contrastive loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HardestContrastive {
    /// Positive margin m₊. Default 0.1 (FCGF's).
    pub positive_margin: f64,
    /// Negative margin m₋. Default 1.4 (FCGF's).
    pub negative_margin: f64,
}

impl Default for HardestContrastive {
    fn default() -> Self {
        HardestContrastive { positive_margin: 0.1, negative_margin: 1.4 }
    }
}

/// Added to the distance of pairs that may not serve as negatives, so the
/// minimum never picks them (descriptors are unit vectors: d ≤ 2).
const EXCLUDED: f64 = 1e3;

impl Objective for HardestContrastive {
    fn loss(&self, outputs: &TensorMap, targets: &TensorMap) -> TrainResult<Tensor> {
        let x = input(outputs, "x")?; // [2N, dim]
        let n = x.dim(0)? / 2;
        let (a, b) = (x.narrow(0, 0, n)?, x.narrow(0, n, n)?); // [N, dim] each
        let positive = (&a - &b)?.sqr()?.sum(1)?.sqrt()?; // [N]
        let positive = (positive - self.positive_margin)?.relu()?.sqr()?.mean_all()?;
        let aa = a.sqr()?.sum_keepdim(1)?; // [N, 1]
        let bb = b.sqr()?.sum_keepdim(1)?.t()?; // [1, N]
        let squared = aa.broadcast_add(&bb)?.broadcast_sub(&(a.matmul(&b.t()?)? * 2.0)?)?; // [N, N]
        let distance = (squared.relu()? + 1e-7)?.sqrt()?;
        let negatives = input(targets, "negatives")?; // [N, N]
        let excluded = negatives.affine(-EXCLUDED, EXCLUDED)?; // 0 where allowed
        let masked = (distance + excluded)?;
        let hinge = |nearest: Tensor| -> TrainResult<Tensor> {
            Ok(nearest.affine(-1.0, self.negative_margin)?.relu()?.sqr()?.mean_all()?)
        };
        let negative = ((hinge(masked.min(1)?)? + hinge(masked.min(0)?)?)? * 0.5)?;
        Ok((positive + negative)?)
    }
}

/// Distance below which two keypoints of a view are not each other's
/// negatives, as a mask `[N, N]` (1 = allowed) from their positions.
pub fn negative_mask(positions: &[[f32; 3]], min_distance_m: f32) -> Vec<f32> {
    let limit = min_distance_m * min_distance_m;
    let mut mask = Vec::with_capacity(positions.len() * positions.len());
    for p in positions {
        for q in positions {
            let d2: f32 = (0..3).map(|k| (p[k] - q[k]).powi(2)).sum();
            mask.push(if d2 < limit { 0.0 } else { 1.0 });
        }
    }
    mask
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn loss(rows: &[[f32; 2]], mask: &[f32]) -> f32 {
        let n = rows.len() / 2;
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (rows.len(), 2), &Device::Cpu).unwrap();
        let mask = Tensor::from_slice(mask, (n, n), &Device::Cpu).unwrap();
        let outputs = TensorMap::from([("x".to_string(), x)]);
        let targets = TensorMap::from([("negatives".to_string(), mask)]);
        HardestContrastive::default().loss(&outputs, &targets).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn hand_computed_losses() {
        // a₀ = b₀ = (1, 0), a₁ = b₁ = (0, 1): positives at 0 (no loss);
        // the negatives are √2 ≈ 1.41421 apart, beyond m₋ = 1.4.
        let separated = loss(&[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], &[0.0, 1.0, 1.0, 0.0]);
        assert!(separated.abs() < 1e-6, "{separated}");
        // Every descriptor equal: positives fine, negatives at 0 → 1.4².
        let collapsed = loss(&[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], &[0.0, 1.0, 1.0, 0.0]);
        assert!((collapsed - 1.96).abs() < 1e-3, "{collapsed}");
        // Swapped positives: d(i,i) = √2 → (√2 − 0.1)² = 1.7272; negatives 0 → 1.96.
        let swapped = loss(&[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]], &[0.0, 1.0, 1.0, 0.0]);
        assert!((swapped - (1.7272 + 1.96)).abs() < 1e-3, "{swapped}");
        // Masked-out negatives do not count.
        let masked = loss(&[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]], &[0.0; 4]);
        assert!(masked.abs() < 1e-6, "{masked}");
    }

    #[test]
    fn close_keypoints_are_not_negatives() {
        let mask = negative_mask(&[[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [1.0, 0.0, 0.0]], 0.1);
        assert_eq!(mask, vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
    }
}
