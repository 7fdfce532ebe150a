//! Mutual nearest neighbours in descriptor space: a pair (i, j) is kept when
//! target descriptor i's nearest source descriptor is j *and* j's nearest
//! target descriptor is i (L3D's matching step).
//!
//! Exact, by brute force as blocked matrix products: k-d trees prune
//! nothing in 32–33 dimensions (kiddo took 18–20 s on two 30k-descriptor
//! FPFH sets where this takes a fraction of that; measured by
//! perception/tests/real_cloud_registration.rs). [`mutual_nearest_on`] is
//! the same search as candle tensor operations on any device (the GPU path
//! with the `cuda` feature).

use candle_core::{Device, Tensor};
use nalgebra::DMatrix;

use crate::{Error, Result};

/// Row-major descriptors of one dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptors {
    dim: usize,
    data: Vec<f32>,
}

impl Descriptors {
    /// Wraps `data` (length a multiple of `dim`).
    pub fn new(dim: usize, data: Vec<f32>) -> Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(Error::Input(format!("{} values are not whole {dim}-D descriptors", data.len())));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Input(format!("descriptor {} has a non-finite value", i / dim)));
        }
        Ok(Descriptors { dim, data })
    }

    /// Descriptor dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Descriptor `i`.
    pub fn get(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Target rows per block of the distance matrix (bounds its memory to
/// `BLOCK_ROWS × source.len()` floats).
const BLOCK_ROWS: usize = 512;

/// Mutual-nearest-neighbour pairs `(target index, source index)`, in target
/// order. Ties go to the lower index.
pub fn mutual_nearest(target: &Descriptors, source: &Descriptors) -> Result<Vec<(usize, usize)>> {
    if target.dim != source.dim {
        return Err(Error::Input(format!("descriptor dimensions differ: {} vs {}", target.dim, source.dim)));
    }
    if target.is_empty() || source.is_empty() {
        return Ok(Vec::new());
    }
    let (nearest_source, nearest_target) = nearest_both_ways(target, source);
    Ok(nearest_source.iter().enumerate().filter(|&(i, &j)| nearest_target[j] == i).map(|(i, &j)| (i, j)).collect())
}

/// Nearest source per target and nearest target per source, exactly, from
/// `‖a − b‖² = ‖a‖² + ‖b‖² − 2 a·b`: the dot products of a block of target
/// rows with every source row are one matrix product (nalgebra's
/// matrixmultiply kernels), so the whole search runs at matrix-multiply
/// speed instead of one scalar distance at a time.
fn nearest_both_ways(target: &Descriptors, source: &Descriptors) -> (Vec<usize>, Vec<usize>) {
    let dim = target.dim;
    // D × N, column j = source descriptor j.
    let source_t = DMatrix::from_column_slice(dim, source.len(), &source.data);
    let source_norms: Vec<f32> = (0..source.len()).map(|j| norm2(source.get(j))).collect();
    let mut best_for_target = vec![(usize::MAX, f32::INFINITY); target.len()];
    let mut best_for_source = vec![(usize::MAX, f32::INFINITY); source.len()];
    for start in (0..target.len()).step_by(BLOCK_ROWS) {
        let rows = BLOCK_ROWS.min(target.len() - start);
        // B × D, row i = target descriptor start + i.
        let block = DMatrix::from_row_slice(rows, dim, &target.data[start * dim..(start + rows) * dim]);
        // B × N dot products.
        let dots = &block * &source_t;
        for i in 0..rows {
            let target_norm = norm2(target.get(start + i));
            let best_i = &mut best_for_target[start + i];
            for (j, best_j) in best_for_source.iter_mut().enumerate() {
                let d = target_norm + source_norms[j] - 2.0 * dots[(i, j)];
                if d < best_i.1 {
                    *best_i = (j, d);
                }
                if d < best_j.1 {
                    *best_j = (start + i, d);
                }
            }
        }
    }
    (best_for_target.into_iter().map(|(j, _)| j).collect(), best_for_source.into_iter().map(|(i, _)| i).collect())
}

/// [`mutual_nearest`] as tensor operations on `device` (the GPU path with
/// the `cuda` feature; on the CPU device it is the parity reference): per
/// block of target rows, squared distances from one matrix product, nearest
/// source per row and nearest target per column by `argmin`, blocks merged
/// on the host (ties to the lower index, as [`mutual_nearest`]). The same
/// pairs as [`mutual_nearest`] up to f32 near-ties.
pub fn mutual_nearest_on(target: &Descriptors, source: &Descriptors, device: &Device) -> Result<Vec<(usize, usize)>> {
    if target.dim != source.dim {
        return Err(Error::Input(format!("descriptor dimensions differ: {} vs {}", target.dim, source.dim)));
    }
    if target.is_empty() || source.is_empty() {
        return Ok(Vec::new());
    }
    let (dim, m) = (target.dim, source.len());
    let source_rows = Tensor::from_slice(&source.data, (m, dim), device)?; // [M, D]
    let source_t = source_rows.t()?.contiguous()?; // [D, M]
    let source_norms = source_rows.sqr()?.sum(1)?.reshape((1, m))?; // [1, M]
    let mut nearest_source = Vec::with_capacity(target.len());
    let mut best_for_source = vec![(usize::MAX, f32::INFINITY); m];
    for start in (0..target.len()).step_by(BLOCK_ROWS) {
        let rows = BLOCK_ROWS.min(target.len() - start);
        let block = Tensor::from_slice(&target.data[start * dim..(start + rows) * dim], (rows, dim), device)?; // [B, D]
        let block_norms = block.sqr()?.sum_keepdim(1)?; // [B, 1]
        let distances = block_norms.broadcast_add(&source_norms)?.sub(&(block.matmul(&source_t)? * 2.0)?)?; // [B, M]
        nearest_source.extend(distances.argmin(1)?.to_vec1::<u32>()?.into_iter().map(|j| j as usize));
        let column_best = distances.argmin(0)?.to_vec1::<u32>()?; // [M]
        let column_min = distances.min(0)?.to_vec1::<f32>()?; // [M]
        for (best, (i, d)) in best_for_source.iter_mut().zip(column_best.into_iter().zip(column_min)) {
            if d < best.1 {
                *best = (start + i as usize, d);
            }
        }
    }
    Ok(nearest_source.iter().enumerate().filter(|&(i, &j)| best_for_source[j].0 == i).map(|(i, &j)| (i, j)).collect())
}

fn norm2(a: &[f32]) -> f32 {
    a.iter().map(|x| x * x).sum()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_mutual_pairs_survive() {
        // Target 0 and 1 both like source 0 best; source 0 prefers target 0.
        let target = Descriptors::new(2, vec![0.0, 0.0, 0.2, 0.0, 5.0, 5.0]).unwrap();
        let source = Descriptors::new(2, vec![0.05, 0.0, 5.1, 5.0, 9.0, 9.0]).unwrap();
        assert_eq!(mutual_nearest(&target, &source).unwrap(), vec![(0, 0), (2, 1)]);
    }

    #[test]
    fn permuted_copies_match_one_to_one() {
        let values: Vec<f32> = (0..40).map(|i| ((i * 37) % 11) as f32 + i as f32 * 0.01).collect();
        let target = Descriptors::new(4, values.clone()).unwrap();
        let order = [3, 7, 1, 0, 9, 2, 8, 5, 4, 6];
        let source =
            Descriptors::new(4, order.iter().flat_map(|&k| values[k * 4..k * 4 + 4].to_vec()).collect()).unwrap();
        let pairs = mutual_nearest(&target, &source).unwrap();
        assert_eq!(pairs.len(), 10);
        for (i, j) in pairs {
            assert_eq!(order[j], i);
        }
    }

    /// Scalar reference: nearest both ways by direct distances.
    fn brute_force(target: &Descriptors, source: &Descriptors) -> (Vec<usize>, Vec<usize>) {
        let d = |i: usize, j: usize| -> f32 {
            target.get(i).iter().zip(source.get(j)).map(|(a, b)| (a - b) * (a - b)).sum()
        };
        let argmin = |n: usize, f: &dyn Fn(usize) -> f32| (0..n).min_by(|&a, &b| f(a).total_cmp(&f(b))).unwrap();
        let nearest_source = (0..target.len()).map(|i| argmin(source.len(), &|j| d(i, j))).collect();
        let nearest_target = (0..source.len()).map(|j| argmin(target.len(), &|i| d(i, j))).collect();
        (nearest_source, nearest_target)
    }

    #[test]
    fn blocked_products_agree_with_direct_distances() {
        // 1300 target rows: three blocks, the last one partial.
        let mut state = 12345u64;
        let mut value = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let target = Descriptors::new(33, (0..1300 * 33).map(|_| value()).collect()).unwrap();
        let source = Descriptors::new(33, (0..600 * 33).map(|_| value()).collect()).unwrap();
        let fast = mutual_nearest(&target, &source).unwrap();
        let (nearest_source, nearest_target) = brute_force(&target, &source);
        let expected: Vec<_> =
            nearest_source.iter().enumerate().filter(|&(i, &j)| nearest_target[j] == i).map(|(i, &j)| (i, j)).collect();
        assert!(!expected.is_empty());
        assert_eq!(fast, expected);
    }

    #[test]
    fn the_tensor_path_finds_the_same_pairs_as_the_exact_one() {
        let mut state = 777u64;
        let mut value = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let target = Descriptors::new(32, (0..1100 * 32).map(|_| value()).collect()).unwrap();
        let source = Descriptors::new(32, (0..900 * 32).map(|_| value()).collect()).unwrap();
        let exact = mutual_nearest(&target, &source).unwrap();
        let tensor = mutual_nearest_on(&target, &source, &Device::Cpu).unwrap();
        assert!(exact.len() > 50, "{} pairs", exact.len());
        assert_eq!(tensor, exact);
        let other = Descriptors::new(31, vec![0.0; 31]).unwrap();
        assert!(mutual_nearest_on(&target, &other, &Device::Cpu).is_err());
    }

    #[test]
    fn bad_input_is_an_error_or_empty() {
        assert!(Descriptors::new(3, vec![0.0; 4]).is_err());
        assert!(Descriptors::new(1, vec![f32::NAN]).is_err());
        let a = Descriptors::new(2, vec![0.0; 4]).unwrap();
        let b = Descriptors::new(3, vec![0.0; 3]).unwrap();
        assert!(mutual_nearest(&a, &b).is_err());
        assert!(mutual_nearest(&a, &Descriptors::new(2, Vec::new()).unwrap()).unwrap().is_empty());
    }
}
