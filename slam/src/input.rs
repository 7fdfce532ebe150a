//! [`InputWarnings`]: problems with a frame's inputs that tracking survives
//! but a user should hear about — depth missing, a gap in the stamps, a
//! stamp that does not advance (a repeated or reordered frame).

use cairn_core::DepthImage;

use crate::config::SlamConfig;

/// What was wrong with one frame's inputs (all `false`: nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct InputWarnings {
    /// Fewer valid depth pixels than a keyframe needs
    /// (`keyframes.min_points`): the frame is tracked from its colour image
    /// alone and cannot become a keyframe.
    pub missing_depth: bool,
    /// The stamp is more than `tracking.max_frame_gap_s` after the previous
    /// frame's (dropped frames or a clock jump; the constant-velocity
    /// prediction is scaled to the interval, at most 3×).
    pub stamp_gap: bool,
    /// The stamp is not after the previous frame's (a repeated or reordered
    /// frame; no motion is predicted for it).
    pub stamp_not_increasing: bool,
}

impl InputWarnings {
    /// Checks a frame taken at `stamp` with `depth` against the previous
    /// frame's stamp.
    pub fn check(stamp: f64, previous_stamp: Option<f64>, depth: &DepthImage, config: &SlamConfig) -> Self {
        let interval = previous_stamp.map(|previous| stamp - previous);
        InputWarnings {
            missing_depth: depth.valid_count() < config.keyframes.min_points,
            stamp_gap: interval.is_some_and(|dt| dt > config.tracking.max_frame_gap_s),
            stamp_not_increasing: interval.is_some_and(|dt| dt.is_nan() || dt <= 0.0),
        }
    }

    /// True when any warning is set.
    pub fn any(&self) -> bool {
        self.missing_depth || self.stamp_gap || self.stamp_not_increasing
    }

    /// The set warnings as a comma-separated list (`-` when none), for logs.
    pub fn names(&self) -> String {
        let flags = [
            (self.missing_depth, "missing_depth"),
            (self.stamp_gap, "stamp_gap"),
            (self.stamp_not_increasing, "stamp_not_increasing"),
        ];
        let set: Vec<&str> = flags.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
        if set.is_empty() { "-".into() } else { set.join(",") }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn each_problem_sets_its_flag() {
        let config = SlamConfig::default();
        let depth = DepthImage::new(40, 30, vec![1.0; 1200]).unwrap();
        let empty = DepthImage::new(40, 30, vec![0.0; 1200]).unwrap();
        let clean = InputWarnings::check(1.0, Some(1.0 - 1.0 / 30.0), &depth, &config);
        assert!(!clean.any() && clean.names() == "-", "{clean:?}");
        assert!(InputWarnings::check(1.0, None, &depth, &config) == InputWarnings::default());
        assert!(InputWarnings::check(1.0, Some(0.9), &empty, &config).missing_depth);
        assert!(InputWarnings::check(2.0, Some(1.0), &depth, &config).stamp_gap);
        let repeated = InputWarnings::check(1.0, Some(1.0), &depth, &config);
        assert!(repeated.stamp_not_increasing && !repeated.stamp_gap);
        assert_eq!(InputWarnings::check(2.0, Some(3.0), &empty, &config).names(), "missing_depth,stamp_not_increasing");
    }
}
