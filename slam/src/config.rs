//! [`SlamConfig`]: every tunable of the SLAM system, grouped by stage
//! (edges → tracking → keyframes → window → graph → loops), with documented
//! defaults.
//!
//! The defaults were fixed before evaluating on the acceptance sequences and
//! are not tuned to them. A YAML file with any subset of the fields (missing
//! ones take their defaults) deserialises into it:
//!
//! ```yaml
//! edges: {low_threshold: 20.0, high_threshold: 40.0}
//! tracking: {max_points: 3000}
//! keyframes: {max_translation_m: 0.1}
//! ```

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The whole configuration of the SLAM system.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlamConfig {
    /// Edge detection on the image pyramid.
    pub edges: EdgeConfig,
    /// Pose tracking against the keyframe.
    pub tracking: TrackingConfig,
    /// When to take a new keyframe.
    pub keyframes: KeyframeConfig,
    /// Sliding-window refinement of the recent keyframe poses.
    pub window: WindowConfig,
    /// The keyframe pose graph and its loop edges.
    pub graph: GraphConfig,
    /// The L3D loop detector (used when one is enabled, `cairn slam --loop`).
    pub loops: LoopConfig,
}

/// Canny edge detection on every pyramid level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EdgeConfig {
    /// Pyramid levels, each half the size of the one before. Default 3
    /// (640×480, 320×240, 160×120).
    pub pyramid_levels: usize,
    /// Standard deviation (pixels) of the Gaussian smoothing before the
    /// Sobel gradients. Default 1.0.
    pub gaussian_sigma: f32,
    /// Hysteresis low threshold on the Sobel gradient magnitude (grey
    /// levels 0–255; a blurred step of height h gives ≈ 3.2·h). Default 20.
    pub low_threshold: f32,
    /// Hysteresis high threshold: an edge chain needs one pixel above it.
    /// Default 40.
    pub high_threshold: f32,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig { pyramid_levels: 3, gaussian_sigma: 1.0, low_threshold: 20.0, high_threshold: 40.0 }
    }
}

/// Pose estimation and the checks that declare tracking lost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackingConfig {
    /// Most keyframe edge points used at pyramid level 0, evenly
    /// subsampled; level `l` uses at most `max_points / 2^l`. Default 3000.
    pub max_points: usize,
    /// Most Levenberg–Marquardt iterations per pyramid level. Default 20.
    pub max_iterations: usize,
    /// Huber threshold (pixels of the level). Default 1.5.
    pub huber_delta_px: f64,
    /// Residuals (distance-transform values, pixels of the level) above this
    /// are outliers: constant cost, no gradient. Default 5.
    pub max_residual_px: f64,
    /// An LM step smaller than this (twist norm: metres and radians) ends a
    /// level, and so does a rejected step smaller than ten times it (the
    /// cost's noise floor). Default 1e-4 (≈ 0.05 px at 1 m).
    pub convergence_step: f64,
    /// An accepted LM step that lowers the cost by less than this fraction
    /// ends a level. Default 1e-4.
    pub convergence_decrease: f64,
    /// Keyframe depths outside `[min_depth_m, max_depth_m]` are not used.
    /// Default 0.1 m.
    pub min_depth_m: f32,
    /// See `min_depth_m`. Default 8 m.
    pub max_depth_m: f32,
    /// A keyframe edge pixel whose 4-neighbours' depth differs by more than
    /// this fraction is on an occlusion boundary and is not lifted; also the
    /// 2×2 agreement needed to build coarse depth levels. Default 0.05.
    pub depth_discontinuity: f32,
    /// A frame with fewer edge pixels at level 0 is textureless: lost.
    /// Default 300.
    pub min_frame_edges: usize,
    /// Lost when fewer than this fraction of the keyframe points project
    /// into the frame. Default 0.25.
    pub min_valid_ratio: f64,
    /// Lost when fewer keyframe points than this are inliers. Default 100.
    pub min_inliers: usize,
    /// Lost when fewer than this fraction of the projected points are
    /// inliers (residual below `inlier_threshold_px`). Default 0.7 (good
    /// tracking on cairn-sim sequences: 0.85–0.95; a wrong pose in a
    /// textured room: ≈ 0.6, since dense edges keep every residual small).
    pub min_inlier_ratio: f64,
    /// Residual (pixels at level 0) below which a point is an inlier for the
    /// lost checks. Default 2.
    pub inlier_threshold_px: f64,
    /// Lost when the mean truncated residual (pixels at level 0) over the
    /// projected points exceeds this. Default 1.2 (good tracking on
    /// cairn-sim sequences: 0.5–0.6 px; a wrong pose: ≈ 2 px).
    pub max_mean_residual_px: f64,
    /// Lost when the motion since the previous frame is faster than this
    /// (m/s). Default 3.
    pub max_speed_m_s: f64,
    /// Lost when the rotation since the previous frame is faster than this
    /// (degrees/s). Default 360.
    pub max_angular_speed_deg_s: f64,
    /// Shortest frame interval (s) assumed by the speed checks, so equal or
    /// jittery stamps do not make any motion a jump. Default 1/30 s.
    pub min_frame_interval_s: f64,
    /// A frame more than this (s) after the previous one is flagged
    /// (`InputWarnings::stamp_gap`). Default 0.25 s (a few dropped frames at
    /// 30 Hz).
    pub max_frame_gap_s: f64,
    /// When the alignment from the constant-velocity prediction fails the
    /// lost checks, or passes with a mean residual above
    /// `retry_above_residual_px` (a turn started or stopped), it is retried
    /// from no motion and from the prediction panned by ±1 and ±2 of these
    /// steps and tilted by ±1 (degrees); the best passing attempt wins. 0
    /// disables the retries. Default 4 (≈ 9 px at the coarsest of 3 levels,
    /// inside the basin of `max_residual_px`; two steps cover turns up to
    /// ≈ 300°/s at 30 Hz).
    pub retry_rotation_deg: f64,
    /// See `retry_rotation_deg`. Default 0.8 px (good tracking on cairn-sim
    /// sequences: 0.5–0.6 px; see `max_mean_residual_px`).
    pub retry_above_residual_px: f64,
    /// While lost, relocalisation tries this many of the most recent
    /// keyframes. Default 5.
    pub recovery_keyframes: usize,
    /// After this many consecutive lost frames (that relocalisation could
    /// not recover), a frame with enough edges and depth becomes a new
    /// keyframe at the held pose and tracking restarts from it. Default 15
    /// (half a second at 30 Hz).
    pub reinitialise_after: usize,
}

impl Default for TrackingConfig {
    fn default() -> Self {
        TrackingConfig {
            max_points: 3000,
            max_iterations: 20,
            huber_delta_px: 1.5,
            max_residual_px: 5.0,
            convergence_step: 1e-4,
            convergence_decrease: 1e-4,
            min_depth_m: 0.1,
            max_depth_m: 8.0,
            depth_discontinuity: 0.05,
            min_frame_edges: 300,
            min_valid_ratio: 0.25,
            min_inliers: 100,
            min_inlier_ratio: 0.7,
            inlier_threshold_px: 2.0,
            max_mean_residual_px: 1.2,
            max_speed_m_s: 3.0,
            max_angular_speed_deg_s: 360.0,
            min_frame_interval_s: 1.0 / 30.0,
            max_frame_gap_s: 0.25,
            retry_rotation_deg: 4.0,
            retry_above_residual_px: 0.8,
            recovery_keyframes: 5,
            reinitialise_after: 15,
        }
    }
}

/// The keyframe policy (a simplification until the sliding window lands):
/// track against one keyframe, replace it (by a recent keyframe the camera
/// came back to, else the current frame) when the camera has moved or
/// turned far from it or sees too little of it. The defaults were chosen on
/// generated cairn-sim loops (fewer keyframe changes, less drift), not on
/// the acceptance sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyframeConfig {
    /// New keyframe when the camera is farther than this from the keyframe
    /// (m). Default 0.2.
    pub max_translation_m: f64,
    /// New keyframe when the camera has turned more than this from the
    /// keyframe (degrees). Default 15.
    pub max_rotation_deg: f64,
    /// New keyframe when fewer than this fraction of the keyframe's points
    /// project into the current frame. Default 0.6.
    pub min_visible_ratio: f64,
    /// A frame needs at least this many edge pixels with valid depth (level
    /// 0) to become a keyframe. Default 300.
    pub min_points: usize,
}

impl Default for KeyframeConfig {
    fn default() -> Self {
        KeyframeConfig { max_translation_m: 0.2, max_rotation_deg: 15.0, min_visible_ratio: 0.6, min_points: 300 }
    }
}

/// Sliding-window optimisation ([`crate::window`]): the poses of the last
/// `size` keyframes are refined jointly by reprojecting each keyframe's edge
/// points into the other window keyframes' distance fields (edge depths
/// held fixed). Runs once per new keyframe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowConfig {
    /// Run the window optimisation. Default true.
    pub enabled: bool,
    /// Keyframes in the window (the oldest is held fixed). Default 5, as
    /// RESLAM's window.
    pub size: usize,
    /// Most edge points per keyframe used in the window (level 0, evenly
    /// subsampled). Default 1000.
    pub max_points: usize,
    /// Gauss-Newton iterations. Default 5.
    pub max_iterations: usize,
    /// A keyframe pair enters the window problem only when at least this
    /// fraction of one keyframe's points project into the other. Default 0.3.
    pub min_overlap: f64,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig { enabled: true, size: 5, max_points: 1000, max_iterations: 5, min_overlap: 0.3 }
    }
}

/// The keyframe pose graph ([`crate::graph`]): odometry edges from tracking,
/// loop edges from a [`crate::loops::LoopDetector`], optimised with
/// factrs' Levenberg–Marquardt. The defaults were chosen before
/// evaluation, at the order of magnitude of the tracker's error between
/// consecutive keyframes (millimetres, tenths of a degree); they are not
/// tuned to the acceptance sequences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphConfig {
    /// Standard deviation of an odometry edge's translation (m), per axis:
    /// the documented constant information of odometry edges. Default 0.005.
    pub odometry_sigma_m: f64,
    /// Standard deviation of an odometry edge's rotation (degrees), per
    /// axis. Default 0.3.
    pub odometry_sigma_deg: f64,
    /// Odometry edges across a tracking restart (no measured motion: the
    /// held pose) get their sigmas multiplied by this. Default 100.
    pub restart_sigma_scale: f64,
    /// Scale `c` of the Geman–McClure kernel on loop edges, in standard
    /// deviations of the edge's own information (whitened error norm).
    /// Default 3.
    pub loop_kernel_scale: f64,
    /// After optimising, a loop edge whose whitened error norm exceeds this
    /// is rejected (dropped from the graph) and the graph re-optimised.
    /// Default 5 (χ² with 6 dof at 25: far beyond its 99.9 % quantile, 22.5).
    pub loop_reject_sigma: f64,
    /// Most Levenberg–Marquardt iterations per optimisation. Default 50.
    pub max_iterations: usize,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            odometry_sigma_m: 0.005,
            odometry_sigma_deg: 0.3,
            restart_sigma_scale: 100.0,
            loop_kernel_scale: 3.0,
            loop_reject_sigma: 5.0,
            max_iterations: 50,
        }
    }
}

/// The L3D loop detector ([`crate::loop_detector`]): keyframe clouds from
/// depth, descriptors on keypoints, candidates from the pose graph,
/// mutual-nearest-neighbour RANSAC, ICP, verification. Radii are in voxels
/// of `voxel_m`. The defaults were chosen before any evaluation run and
/// left unchanged after the first run on the tuning sequence (office seed
/// 0); FPFH radii are the Open3D baseline's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoopConfig {
    /// Every `depth_stride`-th pixel (both directions) of the keyframe's
    /// depth is back-projected. Default 2.
    pub depth_stride: usize,
    /// Depths beyond this are not used (noisy). Default 4 m.
    pub max_depth_m: f32,
    /// Voxel size of the keyframe cloud (m). Default 0.05.
    pub voxel_m: f32,
    /// Normal estimation radius, in voxels. Default 2 (Open3D baseline).
    pub normal_radius_voxels: f32,
    /// Descriptor radius, in voxels. Default 5 (Open3D baseline).
    pub feature_radius_voxels: f32,
    /// Descriptors per keyframe: a seeded random subset of the points with
    /// a normal (0 = all). Default 1000.
    pub keypoints: usize,
    /// Keyframes taken less than this long before the newest one are not
    /// loop candidates (s). Default 3.
    pub temporal_window_s: f64,
    /// Candidates: camera centres within this distance of the newest
    /// keyframe's, by the current graph estimate (m), widened by
    /// `gate_sigma` marginal standard deviations. Default 1.5.
    pub search_radius_m: f64,
    /// Candidates: optical axes within this angle (degrees), widened like
    /// `search_radius_m`. Default 45.
    pub max_view_angle_deg: f64,
    /// Width of the candidate gates and of the graph-consistency check, in
    /// standard deviations. Default 3.
    pub gate_sigma: f64,
    /// Candidates registered per keyframe (the nearest by the graph).
    /// Default 3.
    pub max_candidates: usize,
    /// Most RANSAC samples. Default 20000.
    pub ransac_iterations: usize,
    /// RANSAC inlier distance and the overlap metric's τ, in voxels.
    /// Default 1.5 (Open3D baseline).
    pub inlier_voxels: f64,
    /// Accept only candidates whose L3D overlap (fraction of mutual nearest
    /// neighbours within τ after RANSAC) reaches this. Default 0.1.
    pub min_overlap: f64,
    /// Accept only registrations with at least this many RANSAC inliers.
    /// Default 25.
    pub min_inliers: usize,
    /// Relocalisation into a loaded map (`--load-map`) accepts registrations
    /// from this overlap up: lower than `min_overlap` because it also needs
    /// two registrations against different map keyframes to agree. Default
    /// 0.05.
    pub relocalise_min_overlap: f64,
    /// ICP correspondence distance, in voxels. Default 2.
    pub icp_distance_voxels: f64,
    /// Verification: after ICP, at least this fraction of the newest
    /// keyframe's points must lie within the ICP distance of the
    /// candidate's (the same overlap that counts a loop as true in
    /// evaluation). Default 0.3.
    pub min_fitness: f64,
    /// Verification: ICP may move the RANSAC estimate by at most this (m).
    /// Default 0.1.
    pub max_icp_shift_m: f64,
    /// Verification: the loop's relative pose must agree with the graph's
    /// within `gate_sigma` standard deviations of the two keyframes'
    /// marginals plus this floor (m, per axis). Default 0.05.
    pub consistency_floor_m: f64,
    /// See `consistency_floor_m` (degrees, per axis). Default 3.
    pub consistency_floor_deg: f64,
    /// Loop edge information: each ICP-checked inlier pair counts as an
    /// independent point measurement with this standard deviation (m).
    /// Default 0.05.
    pub point_sigma_m: f64,
    /// Keypoint and RANSAC seed. Default 0.
    pub seed: u64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            depth_stride: 2,
            max_depth_m: 4.0,
            voxel_m: 0.05,
            normal_radius_voxels: 2.0,
            feature_radius_voxels: 5.0,
            keypoints: 1000,
            temporal_window_s: 3.0,
            search_radius_m: 1.5,
            max_view_angle_deg: 45.0,
            gate_sigma: 3.0,
            max_candidates: 3,
            ransac_iterations: 20000,
            inlier_voxels: 1.5,
            min_overlap: 0.1,
            min_inliers: 25,
            relocalise_min_overlap: 0.05,
            icp_distance_voxels: 2.0,
            min_fitness: 0.3,
            max_icp_shift_m: 0.1,
            consistency_floor_m: 0.05,
            consistency_floor_deg: 3.0,
            point_sigma_m: 0.05,
            seed: 0,
        }
    }
}

impl SlamConfig {
    /// Checks every value's range; the first problem is the error.
    pub fn validate(&self) -> Result<()> {
        let (e, t, k) = (&self.edges, &self.tracking, &self.keyframes);
        let (w, g, l) = (&self.window, &self.graph, &self.loops);
        let checks: [(bool, &str); 30] = [
            ((1..=8).contains(&e.pyramid_levels), "edges.pyramid_levels must be 1..=8"),
            (e.gaussian_sigma.is_finite() && e.gaussian_sigma >= 0.0, "edges.gaussian_sigma must be ≥ 0"),
            (e.low_threshold > 0.0, "edges.low_threshold must be > 0"),
            (e.high_threshold >= e.low_threshold, "edges.high_threshold must be ≥ edges.low_threshold"),
            (t.max_points >= 6, "tracking.max_points must be ≥ 6"),
            (t.max_iterations >= 1, "tracking.max_iterations must be ≥ 1"),
            (t.huber_delta_px > 0.0, "tracking.huber_delta_px must be > 0"),
            (t.max_residual_px > 0.0, "tracking.max_residual_px must be > 0"),
            (t.min_depth_m > 0.0 && t.max_depth_m > t.min_depth_m, "tracking: need 0 < min_depth_m < max_depth_m"),
            (t.depth_discontinuity > 0.0, "tracking.depth_discontinuity must be > 0"),
            ((0.0..=1.0).contains(&t.min_valid_ratio), "tracking.min_valid_ratio must be in [0, 1]"),
            ((0.0..=1.0).contains(&t.min_inlier_ratio), "tracking.min_inlier_ratio must be in [0, 1]"),
            (t.max_speed_m_s > 0.0 && t.max_angular_speed_deg_s > 0.0, "tracking: speed limits must be > 0"),
            (t.reinitialise_after >= 1, "tracking.reinitialise_after must be ≥ 1"),
            (t.max_frame_gap_s > 0.0, "tracking.max_frame_gap_s must be > 0"),
            (t.retry_rotation_deg >= 0.0, "tracking.retry_rotation_deg must be ≥ 0"),
            (t.retry_above_residual_px >= 0.0, "tracking.retry_above_residual_px must be ≥ 0"),
            ((0.0..=1.0).contains(&k.min_visible_ratio), "keyframes.min_visible_ratio must be in [0, 1]"),
            (w.size >= 2, "window.size must be ≥ 2"),
            (w.max_points >= 6 && w.max_iterations >= 1, "window: need max_points ≥ 6 and max_iterations ≥ 1"),
            ((0.0..=1.0).contains(&w.min_overlap), "window.min_overlap must be in [0, 1]"),
            (g.odometry_sigma_m > 0.0 && g.odometry_sigma_deg > 0.0, "graph: odometry sigmas must be > 0"),
            (g.restart_sigma_scale >= 1.0, "graph.restart_sigma_scale must be ≥ 1"),
            (g.loop_kernel_scale > 0.0 && g.loop_reject_sigma > 0.0, "graph: loop kernel and rejection must be > 0"),
            (l.depth_stride >= 1 && l.max_depth_m > 0.0, "loops: need depth_stride ≥ 1 and max_depth_m > 0"),
            (
                l.voxel_m > 0.0 && l.normal_radius_voxels > 0.0 && l.feature_radius_voxels > 0.0,
                "loops: voxel and radii must be > 0",
            ),
            (
                l.inlier_voxels > 0.0 && l.icp_distance_voxels > 0.0 && l.point_sigma_m > 0.0,
                "loops: distances must be > 0",
            ),
            (
                [l.min_overlap, l.min_fitness, l.relocalise_min_overlap].iter().all(|v| (0.0..=1.0).contains(v)),
                "loops: min_overlap, relocalise_min_overlap and min_fitness must be in [0, 1]",
            ),
            (l.min_inliers >= 3 && l.ransac_iterations >= 1, "loops: need min_inliers ≥ 3 and ransac_iterations ≥ 1"),
            (
                l.gate_sigma > 0.0
                    && l.consistency_floor_m > 0.0
                    && l.consistency_floor_deg > 0.0
                    && l.temporal_window_s >= 0.0,
                "loops: gates must be > 0",
            ),
        ];
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, message)) => Err(Error::Config((*message).to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        SlamConfig::default().validate().unwrap();
        let mut config = SlamConfig::default();
        config.edges.high_threshold = 1.0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("high_threshold"), "{err}");
        let mut config = SlamConfig::default();
        config.tracking.min_depth_m = 9.0;
        assert!(config.validate().is_err());
        let mut config = SlamConfig::default();
        config.window.size = 1;
        assert!(config.validate().unwrap_err().to_string().contains("window.size"));
        let mut config = SlamConfig::default();
        config.graph.odometry_sigma_m = 0.0;
        assert!(config.validate().unwrap_err().to_string().contains("graph"));
    }
}
