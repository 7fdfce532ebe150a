//! Timestamp association, reproducing evo's `sync.matching_time_indices` and
//! `sync.associate_trajectories` (evo 1.38, nearest-time method).
//!
//! Each stamp of the *shorter* trajectory is matched to the nearest stamp of
//! the longer one within `max_diff` seconds (evo's default: 0.01 s), after
//! adding `offset` seconds to the estimate's stamps. Several stamps may match
//! the same partner (evo does not enforce uniqueness, unlike TUM's
//! `associate.py`).

use crate::trajectory::Trajectory;
use crate::{Error, Result};

/// evo's default `--t_max_diff` in seconds.
pub const DEFAULT_MAX_DIFF: f64 = 0.01;

/// Index pairs `(i in stamps_1, j in stamps_2)` of matched stamps.
///
/// `offset_2` is added to `stamps_2` before matching. Like evo, sorted
/// `stamps_2` use a binary search (and its tie rules); unsorted ones fall back
/// to a linear scan for the first minimum.
pub fn matching_time_indices(
    stamps_1: &[f64],
    stamps_2: &[f64],
    max_diff: f64,
    offset_2: f64,
) -> (Vec<usize>, Vec<usize>) {
    let shifted: Vec<f64> = stamps_2.iter().map(|s| s + offset_2).collect();
    let (mut ids_1, mut ids_2) = (Vec::new(), Vec::new());
    if shifted.is_empty() {
        return (ids_1, ids_2);
    }
    let sorted = shifted.windows(2).all(|w| w[1] - w[0] >= 0.0);
    for (i, &stamp) in stamps_1.iter().enumerate() {
        let found =
            if sorted { nearest_sorted(&shifted, stamp, max_diff) } else { nearest_linear(&shifted, stamp, max_diff) };
        if let Some(j) = found {
            ids_1.push(i);
            ids_2.push(j);
        }
    }
    (ids_1, ids_2)
}

/// evo's binary-search branch, step by step (same comparisons, same ties).
fn nearest_sorted(stamps: &[f64], stamp: f64, max_diff: f64) -> Option<usize> {
    let last = stamps.len() - 1;
    if stamp < stamps[0] - max_diff || stamp > stamps[last] + max_diff {
        return None;
    }
    // numpy.searchsorted(side="right"): first index whose stamp is > `stamp`.
    let upper = stamps.partition_point(|&s| s <= stamp).min(last);
    let diff_ub = stamps[upper] - stamp;
    let diff_lb = if upper > 0 { stamp - stamps[upper - 1] } else { f64::INFINITY };
    if diff_ub <= max_diff && diff_ub < diff_lb {
        Some(upper)
    } else if diff_lb <= max_diff && diff_lb <= diff_ub {
        Some(upper - 1)
    } else {
        None
    }
}

/// evo's fallback for unsorted stamps: the first index of the smallest |Δt|.
fn nearest_linear(stamps: &[f64], stamp: f64, max_diff: f64) -> Option<usize> {
    let mut best = (0, f64::INFINITY);
    for (j, s) in stamps.iter().enumerate() {
        let diff = (s - stamp).abs();
        if diff < best.1 {
            best = (j, diff);
        }
    }
    (best.1 <= max_diff).then_some(best.0)
}

/// Synchronises `reference` and `estimate` by timestamp as evo does: the
/// shorter trajectory is matched into the longer one; `offset` shifts the
/// estimate's stamps. Returns `(reference, estimate)` reduced to the matched
/// poses, in the order of the shorter trajectory.
pub fn associate(
    reference: &Trajectory,
    estimate: &Trajectory,
    max_diff: f64,
    offset: f64,
) -> Result<(Trajectory, Trajectory)> {
    let (Some(stamps_ref), Some(stamps_est)) = (&reference.stamps, &estimate.stamps) else {
        return Err(Error::Association("both trajectories need timestamps to be associated".into()));
    };
    if !(max_diff >= 0.0 && max_diff.is_finite() && offset.is_finite()) {
        return Err(Error::InvalidArgument(format!(
            "max_diff {max_diff} and offset {offset} must be finite, max_diff ≥ 0"
        )));
    }
    let estimate_longer = estimate.len() > reference.len();
    let (ids_ref, ids_est) = if estimate_longer {
        matching_time_indices(stamps_ref, stamps_est, max_diff, offset)
    } else {
        let (ids_est, ids_ref) = matching_time_indices(stamps_est, stamps_ref, max_diff, -offset);
        (ids_ref, ids_est)
    };
    if ids_ref.is_empty() {
        return Err(Error::Association(format!(
            "found no matching timestamps between {} and {} with max. time diff {max_diff} (s) and time offset {offset} (s)",
            reference.name, estimate.name
        )));
    }
    Ok((reference.select(&ids_ref), estimate.select(&ids_est)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Rigid3;

    fn traj(stamps: &[f64]) -> Trajectory {
        Trajectory::with_stamps("t", stamps.to_vec(), vec![Rigid3::identity(); stamps.len()]).unwrap()
    }

    #[test]
    fn nearest_within_max_diff() {
        let (a, b) = matching_time_indices(&[0.0, 1.0, 2.0, 5.0], &[0.004, 0.995, 1.02, 2.011, 3.0], 0.01, 0.0);
        assert_eq!(a, vec![0, 1]);
        assert_eq!(b, vec![0, 1]);
    }

    #[test]
    fn ties_follow_searchsorted_right() {
        // Equidistant neighbours: evo takes the lower one (diff_lb <= diff_ub).
        let (_, b) = matching_time_indices(&[1.0], &[0.5, 1.5], 1.0, 0.0);
        assert_eq!(b, vec![0]);
        // Duplicate stamps equal to the query: the last duplicate.
        let (_, b) = matching_time_indices(&[1.0], &[0.0, 1.0, 1.0, 2.0], 0.1, 0.0);
        assert_eq!(b, vec![2]);
        // A query after the last stamp but within max_diff matches the last.
        let (_, b) = matching_time_indices(&[2.005], &[1.0, 2.0], 0.01, 0.0);
        assert_eq!(b, vec![1]);
    }

    #[test]
    fn unsorted_uses_first_minimum() {
        let (a, b) = matching_time_indices(&[1.0, 3.0], &[3.0, 1.0, 1.0], 0.01, 0.0);
        assert_eq!((a, b), (vec![0, 1], vec![1, 0]));
    }

    #[test]
    fn offset_shifts_second_stamps() {
        let (a, b) = matching_time_indices(&[10.0, 11.0], &[0.0, 1.0], 0.01, 10.0);
        assert_eq!((a, b), (vec![0, 1], vec![0, 1]));
    }

    #[test]
    fn associate_starts_from_the_shorter_trajectory() {
        let reference = traj(&[0.0, 0.1, 0.2, 0.3, 0.4]);
        let estimate = traj(&[0.101, 0.302]);
        let (r, e) = associate(&reference, &estimate, 0.01, 0.0).unwrap();
        assert_eq!(r.stamps.unwrap(), vec![0.1, 0.3]);
        assert_eq!(e.stamps.unwrap(), vec![0.101, 0.302]);
        // Estimate longer: the offset applies to the estimate either way.
        let (r, e) = associate(&estimate, &reference.select(&[0, 1, 2, 3, 4]), 0.01, 0.0).unwrap();
        assert_eq!(r.len(), e.len());
        let (r, _) = associate(&traj(&[5.1]), &traj(&[0.1, 0.2]), 0.01, 5.0).unwrap();
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn no_match_is_an_error() {
        let err = associate(&traj(&[0.0]), &traj(&[1.0]), 0.01, 0.0).unwrap_err();
        assert!(err.to_string().contains("no matching timestamps"), "{err}");
        let no_stamps = Trajectory { name: "k".into(), stamps: None, world_from_body: vec![Rigid3::identity()] };
        assert!(associate(&no_stamps, &traj(&[0.0]), 0.01, 0.0).is_err());
    }
}
