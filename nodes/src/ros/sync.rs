//! Approximate time synchronisation of colour and depth images: each colour
//! image is paired with the depth image nearest in stamp, within a
//! tolerance — the pairing `cairn slam` makes for bags and TUM folders
//! (`cairn_core::tum::nearest`), decided online.
//!
//! A colour image at `t` is decided as soon as a depth image stamped `≥ t`
//! has arrived (later ones can only be farther, since each topic arrives in
//! stamp order), or when the input ends ([`StampSync::pop`] with `flush`).
//! A depth image may serve several colour images; it is forgotten once it
//! is older than every waiting colour image by more than the tolerance.
//! Both queues are bounded: the oldest entry makes way (and is counted).

use std::collections::VecDeque;

/// What [`StampSync::pop`] decided for the oldest waiting colour image.
#[derive(Debug, Clone, PartialEq)]
pub enum Synced<R, D> {
    /// A colour image and its depth partner, with the colour stamp.
    Pair {
        /// The colour image's stamp (seconds).
        stamp: f64,
        /// The colour image.
        rgb: R,
        /// The depth image nearest in stamp.
        depth: D,
    },
    /// No depth image within the tolerance: the colour image is dropped.
    Unpaired {
        /// The colour image's stamp (seconds).
        stamp: f64,
    },
}

/// Colour and depth images waiting to be paired.
#[derive(Debug, Clone)]
pub struct StampSync<R, D> {
    tolerance: f64,
    capacity: usize,
    rgb: VecDeque<(f64, R)>,
    /// Sorted by stamp.
    depth: VecDeque<(f64, D)>,
    /// Colour images pushed out of a full queue.
    pub overflowed: usize,
}

impl<R, D: Clone> StampSync<R, D> {
    /// Pairs within `tolerance` seconds, holding at most `capacity` images
    /// per queue.
    pub fn new(tolerance: f64, capacity: usize) -> Self {
        StampSync { tolerance, capacity: capacity.max(1), rgb: VecDeque::new(), depth: VecDeque::new(), overflowed: 0 }
    }

    /// Queues a colour image.
    pub fn push_rgb(&mut self, stamp: f64, rgb: R) {
        if self.rgb.len() == self.capacity {
            self.rgb.pop_front();
            self.overflowed += 1;
        }
        self.rgb.push_back((stamp, rgb));
    }

    /// Queues a depth image (kept in stamp order).
    pub fn push_depth(&mut self, stamp: f64, depth: D) {
        if self.depth.len() == self.capacity {
            self.depth.pop_front();
        }
        let at = self.depth.partition_point(|(s, _)| *s <= stamp);
        self.depth.insert(at, (stamp, depth));
    }

    /// Colour images waiting.
    pub fn waiting(&self) -> usize {
        self.rgb.len()
    }

    /// Decides the oldest colour image when its partner is known (or, with
    /// `flush`, whatever is queued); `None` while it must wait.
    pub fn pop(&mut self, flush: bool) -> Option<Synced<R, D>> {
        let &(stamp, _) = self.rgb.front()?;
        let newest_depth = self.depth.back().map(|(s, _)| *s);
        if !flush && newest_depth.is_none_or(|newest| newest < stamp) {
            return None;
        }
        let (_, rgb) = self.rgb.pop_front()?;
        let partner = self.nearest(stamp).and_then(|k| self.depth.get(k)).map(|(_, d)| d.clone());
        // Depth images too old for any later colour image go.
        let oldest_needed = self.rgb.front().map_or(stamp, |(s, _)| s.min(stamp)) - self.tolerance;
        while self.depth.front().is_some_and(|(s, _)| *s < oldest_needed) {
            self.depth.pop_front();
        }
        Some(match partner {
            Some(depth) => Synced::Pair { stamp, rgb, depth },
            None => Synced::Unpaired { stamp },
        })
    }

    /// The queued depth image nearest to `t` within the tolerance (ties go
    /// to the earlier one, as `cairn_core::tum::nearest`).
    fn nearest(&self, t: f64) -> Option<usize> {
        let i = self.depth.partition_point(|(s, _)| *s < t);
        let distance = |k: usize| (self.depth[k].0 - t).abs();
        [i.checked_sub(1), (i < self.depth.len()).then_some(i)]
            .into_iter()
            .flatten()
            .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
            .filter(|&k| distance(k) <= self.tolerance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(sync: &mut StampSync<u32, u32>, flush: bool) -> Vec<Synced<u32, u32>> {
        std::iter::from_fn(|| sync.pop(flush)).collect()
    }

    #[test]
    fn pairs_like_the_offline_association() {
        // The stamps of slam_bag's pair_by_stamp test, arriving interleaved.
        let mut sync = StampSync::new(0.02, 10);
        sync.push_rgb(0.0, 0);
        sync.push_depth(0.001, 1);
        sync.push_rgb(0.033, 1);
        assert_eq!(pairs(&mut sync, false), [Synced::Pair { stamp: 0.0, rgb: 0, depth: 1 }]);
        sync.push_depth(0.034, 0);
        sync.push_rgb(0.066, 2);
        sync.push_depth(0.07, 2);
        sync.push_rgb(0.2, 3);
        assert_eq!(
            pairs(&mut sync, false),
            [Synced::Pair { stamp: 0.033, rgb: 1, depth: 0 }, Synced::Pair { stamp: 0.066, rgb: 2, depth: 2 }]
        );
        assert_eq!(sync.waiting(), 1, "0.2 waits for a later depth image");
        assert_eq!(pairs(&mut sync, true), [Synced::Unpaired { stamp: 0.2 }]);
    }

    #[test]
    fn a_depth_image_serves_two_colour_images_and_queues_are_bounded() {
        let mut sync = StampSync::new(0.02, 2);
        sync.push_rgb(1.0, 10);
        sync.push_rgb(1.01, 11);
        sync.push_depth(1.005, 7);
        let got = pairs(&mut sync, false);
        assert_eq!(got, [Synced::Pair { stamp: 1.0, rgb: 10, depth: 7 }]);
        assert_eq!(pairs(&mut sync, true), [Synced::Pair { stamp: 1.01, rgb: 11, depth: 7 }]);
        for k in 0..5 {
            sync.push_rgb(2.0 + f64::from(k), k);
        }
        assert_eq!((sync.waiting(), sync.overflowed), (2, 3));
    }
}
