//! When tracking is lost, and how it recovers: the checks on an
//! alignment (too few valid reprojections or inliers, high residual,
//! implausible jump) and relocalisation against recent keyframes.

use std::collections::VecDeque;

use cairn_core::transform::{Rigid3, rotation_angle};
use nalgebra::{Translation3, UnitQuaternion, Vector3};

use crate::align::{Alignment, LevelTarget, ResidualStats, align};
use crate::config::TrackingConfig;
use crate::keyframe::Keyframe;
use crate::odometry::TrackingState;

/// Why a frame could not be tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// No keyframe yet: no frame so far had enough edges with valid depth.
    NoKeyframe,
    /// Too few edges in the frame (`tracking.min_frame_edges`): black,
    /// blurred or textureless.
    Textureless,
    /// Too few keyframe points project into the frame or match an edge
    /// (`min_valid_ratio`, `min_inliers`, `min_inlier_ratio`).
    TooFewReprojections,
    /// The mean residual is too high (`max_mean_residual_px`).
    HighResidual,
    /// The estimated motion since the last frame is implausibly fast
    /// (`max_speed_m_s`, `max_angular_speed_deg_s`).
    Jump,
}

/// The outcome of tracking one frame.
#[derive(Clone)]
pub(crate) struct TrackOutcome {
    pub(crate) state: TrackingState,
    /// The pose when tracked.
    pub(crate) world_from_camera: Option<Rigid3>,
    /// The accepted alignment, or the best failed one.
    pub(crate) alignment: Option<Alignment>,
    /// Relocalised: index (in `keyframes`) of the keyframe that matched.
    pub(crate) relocalised_against: Option<usize>,
}

impl TrackOutcome {
    pub(crate) fn lost(reason: LostReason, alignment: Option<Alignment>) -> Self {
        TrackOutcome {
            state: TrackingState::Lost(reason),
            world_from_camera: None,
            alignment,
            relocalised_against: None,
        }
    }
}

/// Tries the most recent keyframes (newest first) from the prediction
/// and from the keyframe's own pose; keeps the passing attempt with the
/// lowest mean residual and reports which keyframe matched (the caller makes it the active one).
pub(crate) fn relocalise(
    keyframes: &VecDeque<Keyframe>,
    targets: &[LevelTarget<'_>],
    world_from_predicted: &Rigid3,
    config: &TrackingConfig,
) -> TrackOutcome {
    let mut best: Option<(Alignment, Rigid3, usize)> = None;
    let mut best_failed: Option<(Alignment, LostReason)> = None;
    let recent = keyframes.iter().enumerate().rev().take(config.recovery_keyframes.max(1));
    for (index, keyframe) in recent {
        let guesses = [world_from_predicted.inverse() * keyframe.world_from_keyframe, Rigid3::identity()];
        for guess in guesses {
            let alignment = align(&keyframe.points, targets, guess, config);
            let world_from_camera = keyframe.world_from_keyframe * alignment.camera_from_keyframe.inverse();
            match check(&alignment.stats, config) {
                None if best.as_ref().is_none_or(|b| alignment.stats.mean_residual < b.0.stats.mean_residual) => {
                    best = Some((alignment, world_from_camera, index));
                }
                None => {}
                Some(reason) if best_failed.as_ref().is_none_or(|(b, _)| alignment.stats.inliers > b.stats.inliers) => {
                    best_failed = Some((alignment, reason));
                }
                Some(_) => {}
            }
        }
    }
    match (best, best_failed) {
        (Some((alignment, world_from_camera, index)), _) => TrackOutcome {
            state: TrackingState::Relocalised,
            world_from_camera: Some(world_from_camera),
            alignment: Some(alignment),
            relocalised_against: Some(index),
        },
        (None, Some((alignment, reason))) => TrackOutcome::lost(reason, Some(alignment)),
        (None, None) => TrackOutcome::lost(LostReason::TooFewReprojections, None),
    }
}

/// Aligns `keyframe` from `guess` (`camera_from_keyframe`) and applies the
/// lost checks and the jump check.
pub(crate) fn attempt(
    keyframe: &Keyframe,
    targets: &[LevelTarget<'_>],
    guess: Rigid3,
    previous: Option<(f64, Rigid3)>,
    stamp: f64,
    config: &TrackingConfig,
) -> TrackOutcome {
    let alignment = align(&keyframe.points, targets, guess, config);
    let world_from_camera = keyframe.world_from_keyframe * alignment.camera_from_keyframe.inverse();
    let verdict = check(&alignment.stats, config).or_else(|| check_jump(previous, stamp, &world_from_camera, config));
    match verdict {
        Some(reason) => TrackOutcome::lost(reason, Some(alignment)),
        None => TrackOutcome {
            state: TrackingState::Tracking,
            world_from_camera: Some(world_from_camera),
            alignment: Some(alignment),
            relocalised_against: None,
        },
    }
}

/// The constant-velocity prediction is wrong when a turn starts or ends,
/// and a turn of a few degrees moves the edges out of the coarsest level's
/// basin, where yaw and sideways motion look alike: Levenberg–Marquardt
/// then settles for a translation (the corridor failure). When the
/// alignment from the prediction `guess` fails the checks, or passes with
/// a mean residual above `tracking.retry_above_residual_px`, this retries
/// from `still` (no motion since the previous frame) and from the
/// prediction panned by ±1 and ±2 steps of `tracking.retry_rotation_deg`
/// and tilted by ±1 step (rotations about the camera's y and x axes), and
/// returns the passing attempt with the lowest mean residual, `first`
/// included; `first` itself when nothing passes.
pub(crate) fn retry(
    first: TrackOutcome,
    keyframe: &Keyframe,
    targets: &[LevelTarget<'_>],
    (guess, still): (Rigid3, Option<Rigid3>),
    (previous, stamp): (Option<(f64, Rigid3)>, f64),
    config: &TrackingConfig,
) -> TrackOutcome {
    let step = config.retry_rotation_deg.to_radians();
    let good = first.state.is_tracked() && mean_residual(&first) <= config.retry_above_residual_px;
    if good || step <= 0.0 {
        return first;
    }
    let turn = |axis: Vector3<f64>, steps: f64| {
        Rigid3::from_parts(Translation3::identity(), UnitQuaternion::from_scaled_axis(axis * (step * steps)))
    };
    let turns = [(Vector3::y(), 1.0), (Vector3::y(), -1.0), (Vector3::y(), 2.0), (Vector3::y(), -2.0)];
    let tilts = [(Vector3::x(), 1.0), (Vector3::x(), -1.0)];
    let guesses = still.into_iter().chain(turns.iter().chain(&tilts).map(|&(axis, steps)| turn(axis, steps) * guess));
    let best = guesses
        .map(|start| attempt(keyframe, targets, start, previous, stamp, config))
        .chain(std::iter::once(first.clone()))
        .filter(|outcome| outcome.state.is_tracked())
        .min_by(|a, b| mean_residual(a).total_cmp(&mean_residual(b)));
    best.unwrap_or(first)
}

fn mean_residual(outcome: &TrackOutcome) -> f64 {
    outcome.alignment.map_or(f64::INFINITY, |a| a.stats.mean_residual)
}

/// The lost checks on an alignment's finest-level statistics.
pub(crate) fn check(stats: &ResidualStats, t: &TrackingConfig) -> Option<LostReason> {
    let valid_ratio = stats.valid as f64 / stats.total.max(1) as f64;
    let inlier_ratio = stats.inliers as f64 / stats.valid.max(1) as f64;
    if valid_ratio < t.min_valid_ratio || stats.inliers < t.min_inliers || inlier_ratio < t.min_inlier_ratio {
        Some(LostReason::TooFewReprojections)
    } else if stats.mean_residual.is_nan() || stats.mean_residual > t.max_mean_residual_px {
        Some(LostReason::HighResidual)
    } else {
        None
    }
}

/// The jump check against the previous frame's stamp and pose.
pub(crate) fn check_jump(
    previous: Option<(f64, Rigid3)>,
    stamp: f64,
    world_from_camera: &Rigid3,
    t: &TrackingConfig,
) -> Option<LostReason> {
    let (previous_stamp, world_from_previous) = previous?;
    let interval = (stamp - previous_stamp).max(t.min_frame_interval_s);
    let motion = world_from_previous.inverse() * world_from_camera;
    let speed = motion.translation.vector.norm() / interval;
    let angular_speed = rotation_angle(&motion.rotation).to_degrees() / interval;
    let plausible = speed <= t.max_speed_m_s && angular_speed <= t.max_angular_speed_deg_s;
    (!plausible).then_some(LostReason::Jump)
}
