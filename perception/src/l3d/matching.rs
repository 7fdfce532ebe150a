//! Mutual nearest neighbours in descriptor space: a pair (i, j) is kept when
//! target descriptor i's nearest source descriptor is j *and* j's nearest
//! target descriptor is i (L3D's matching step).
//!
//! Exact either way: 32-D (DIP) and 33-D (FPFH) descriptors go through k-d
//! trees (kiddo), whose pruning works because these descriptors lie near
//! low-dimensional manifolds; other dimensions, and small sets, are
//! compared brute force.

use kiddo::{ImmutableKdTree, SquaredEuclidean};

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

    /// No descriptors of dimension `dim`.
    pub fn empty(dim: usize) -> Self {
        Descriptors { dim: dim.max(1), data: Vec::new() }
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

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Below this many descriptor pairs, brute force beats building trees.
const BRUTE_FORCE_PAIRS: usize = 250_000;

/// Mutual-nearest-neighbour pairs `(target index, source index)`, in target
/// order.
pub fn mutual_nearest(target: &Descriptors, source: &Descriptors) -> Result<Vec<(usize, usize)>> {
    if target.dim != source.dim {
        return Err(Error::Input(format!("descriptor dimensions differ: {} vs {}", target.dim, source.dim)));
    }
    if target.is_empty() || source.is_empty() {
        return Ok(Vec::new());
    }
    let (nearest_source, nearest_target) = if target.len() * source.len() < BRUTE_FORCE_PAIRS {
        brute_force(target, source)
    } else {
        match target.dim {
            32 => (nearest_by_tree::<32>(source, target)?, nearest_by_tree::<32>(target, source)?),
            33 => (nearest_by_tree::<33>(source, target)?, nearest_by_tree::<33>(target, source)?),
            _ => brute_force(target, source),
        }
    };
    Ok(nearest_source.iter().enumerate().filter(|&(i, &j)| nearest_target[j] == i).map(|(i, &j)| (i, j)).collect())
}

/// For each query descriptor, the index of its nearest among `data`.
fn nearest_by_tree<const K: usize>(data: &Descriptors, queries: &Descriptors) -> Result<Vec<usize>> {
    let rows =
        |d: &Descriptors| -> Vec<[f32; K]> { (0..d.len()).map(|i| std::array::from_fn(|k| d.get(i)[k])).collect() };
    let tree = ImmutableKdTree::<f32, K>::new_from_slice(&rows(data))
        .map_err(|e| Error::Input(format!("building the descriptor k-d tree: {e:?}")))?;
    Ok(rows(queries)
        .iter()
        .map(|q| tree.query(q).nearest_one::<SquaredEuclidean<f32>>().execute().item as usize)
        .collect())
}

/// Nearest source per target and nearest target per source, by comparing
/// every pair (ties go to the lower index).
fn brute_force(target: &Descriptors, source: &Descriptors) -> (Vec<usize>, Vec<usize>) {
    let mut best_for_target = vec![(usize::MAX, f32::INFINITY); target.len()];
    let mut best_for_source = vec![(usize::MAX, f32::INFINITY); source.len()];
    for (i, best_i) in best_for_target.iter_mut().enumerate() {
        let a = target.get(i);
        for (j, best_j) in best_for_source.iter_mut().enumerate() {
            let d = squared_distance(a, source.get(j));
            if d < best_i.1 {
                *best_i = (j, d);
            }
            if d < best_j.1 {
                *best_j = (i, d);
            }
        }
    }
    (best_for_target.into_iter().map(|(j, _)| j).collect(), best_for_source.into_iter().map(|(i, _)| i).collect())
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

    #[test]
    fn trees_and_brute_force_agree() {
        // 600 × 600 pairs: above the brute-force limit, so 33-D goes through trees.
        let mut state = 12345u64;
        let mut value = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let target = Descriptors::new(33, (0..600 * 33).map(|_| value()).collect()).unwrap();
        let source = Descriptors::new(33, (0..600 * 33).map(|_| value()).collect()).unwrap();
        let by_tree = mutual_nearest(&target, &source).unwrap();
        let (nearest_source, nearest_target) = brute_force(&target, &source);
        let expected: Vec<_> =
            nearest_source.iter().enumerate().filter(|&(i, &j)| nearest_target[j] == i).map(|(i, &j)| (i, j)).collect();
        assert!(!expected.is_empty());
        assert_eq!(by_tree, expected);
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
