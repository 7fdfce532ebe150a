//! [`Odometry`]: the per-frame tracking pipeline, its lost/recovery state
//! machine and the keyframe policy.
//!
//! Per frame: preprocess (pyramid → edges → distance fields) → predict
//! (constant velocity) → align against the active keyframe → check (lost?)
//! → update the motion model → maybe take a new keyframe. While lost, each
//! frame tries to relocalise against the most recent keyframes from the
//! constant-velocity and identity guesses; after
//! `tracking.reinitialise_after` lost frames it starts again from a new
//! keyframe at the held pose ([`TrackingState::Reinitialised`]). Every frame
//! gets a pose.
//!
//! **Keyframe policy (a simplification until the sliding-window optimiser
//! lands):** one active keyframe; it is replaced when the camera is farther
//! than `keyframes.max_translation_m`, has turned more than
//! `keyframes.max_rotation_deg`, or sees less than
//! `keyframes.min_visible_ratio` of the keyframe's points. The replacement
//! is a recent keyframe within half those thresholds that the frame tracks
//! against (the camera came back), else the current frame — provided it has
//! `keyframes.min_points` edge pixels with depth. Keyframe poses are never
//! refined, so drift accumulates at each new keyframe.

use std::collections::VecDeque;
use std::time::Instant;

use cairn_core::transform::{Rigid3, rotation_angle};
use cairn_core::{DepthImage, PinholeCamera, RgbImage};

use crate::align::{Alignment, LevelTarget, align};
use crate::config::SlamConfig;
use crate::frame::{Frame, ms_since};
use crate::input::InputWarnings;
use crate::keyframe::Keyframe;
pub use crate::lost::LostReason;
use crate::lost::{TrackOutcome, attempt, check, relocalise, retry};
use crate::projection::LevelCamera;
use crate::{Error, Result};

/// The tracker's verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackingState {
    /// Tracked against the active keyframe.
    Tracking,
    /// Was lost, and this frame relocalised against a recent keyframe.
    Relocalised,
    /// Lost for `tracking.reinitialise_after` frames with no recent keyframe
    /// to relocalise against: this frame became a new keyframe at the held
    /// pose. Later frames track against it, so their motion is consistent
    /// with each other but offset from the poses before the loss.
    Reinitialised,
    /// Not tracked; the pose is the best estimate (constant-velocity
    /// prediction, then held) and must not be trusted.
    Lost(LostReason),
}

impl TrackingState {
    /// True when the pose came from a successful alignment.
    pub fn is_tracked(&self) -> bool {
        matches!(self, TrackingState::Tracking | TrackingState::Relocalised)
    }
}

/// Wall-clock time of each stage of one frame (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameTiming {
    /// Grey conversion and image pyramid.
    pub pyramid_ms: f64,
    /// Canny edges, summed over the levels (which run in parallel on the
    /// rayon pool, so with several threads this can exceed its wall time).
    pub edges_ms: f64,
    /// Distance transforms, summed over the levels (like `edges_ms`).
    pub distance_ms: f64,
    /// Pose alignment (all attempts, relocalisation included).
    pub tracking_ms: f64,
    /// Lifting a new keyframe.
    pub keyframe_ms: f64,
    /// The whole `process` call.
    pub total_ms: f64,
}

/// What [`Odometry::process`] returns for each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameResult {
    /// The frame's stamp (s).
    pub stamp: f64,
    /// The camera pose; the first frame's camera is the world frame.
    pub world_from_camera: Rigid3,
    /// Tracked, relocalised or lost (and why).
    pub tracking_state: TrackingState,
    /// The keyframe the frame was tracked against (after this frame: a
    /// new keyframe's id when one was taken).
    pub keyframe_id: Option<usize>,
    /// True when this frame became a keyframe.
    pub new_keyframe: bool,
    /// Finest-level inliers of the accepted (or best failed) alignment.
    pub inliers: usize,
    /// Finest-level mean truncated residual (pixels) of that alignment.
    pub mean_residual_px: f64,
    /// LM iterations spent on the frame (all levels and attempts counted
    /// only for the reported alignment).
    pub iterations: usize,
    /// Stage timings.
    pub timing: FrameTiming,
    /// Problems with the frame's inputs (tracked or not).
    pub warnings: InputWarnings,
}

/// The edge-based RGB-D visual odometry: feed frames in order to
/// [`Odometry::process`].
#[derive(Debug)]
pub struct Odometry {
    config: SlamConfig,
    camera: PinholeCamera,
    /// Recent keyframes, oldest first; the last is the active one.
    keyframes: VecDeque<Keyframe>,
    next_keyframe_id: usize,
    /// Stamp and pose of the previous frame.
    previous: Option<(f64, Rigid3)>,
    /// `previous_from_current` of the last tracked step (identity after a
    /// lost frame) and the interval it took (s): the constant-velocity model.
    velocity: (Rigid3, f64),
    lost: bool,
    /// Consecutive lost frames.
    lost_frames: usize,
}

impl Odometry {
    /// An odometry for images from `camera` (colour and depth registered).
    pub fn new(camera: PinholeCamera, config: SlamConfig) -> Result<Self> {
        camera.validate()?;
        config.validate()?;
        Ok(Odometry {
            config,
            camera,
            keyframes: VecDeque::new(),
            next_keyframe_id: 0,
            previous: None,
            velocity: (Rigid3::identity(), 0.0),
            lost: false,
            lost_frames: 0,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &SlamConfig {
        &self.config
    }

    /// The recent keyframes, oldest first (the last is the active one).
    pub fn keyframes(&self) -> impl Iterator<Item = &Keyframe> {
        self.keyframes.iter()
    }

    /// Moves the recent keyframes to corrected poses (after a window or
    /// pose-graph optimisation): `corrected(id)` is the new
    /// `world_from_keyframe`, or `None` to keep it. The previous frame's pose
    /// moves with the active keyframe, so the motion model stays valid.
    pub fn correct_keyframes(&mut self, corrected: impl Fn(usize) -> Option<Rigid3>) {
        let active = self.keyframes.back().map(|k| (k.id, k.world_from_keyframe));
        for keyframe in &mut self.keyframes {
            if let Some(world_from_keyframe) = corrected(keyframe.id) {
                keyframe.world_from_keyframe = world_from_keyframe;
            }
        }
        if let (Some((id, old)), Some((stamp, world_from_previous))) = (active, self.previous)
            && let Some(new) = corrected(id)
        {
            let mut moved = new * old.inverse() * world_from_previous;
            moved.rotation.renormalize();
            self.previous = Some((stamp, moved));
        }
    }

    /// Tracks one frame (colour and registered depth in metres, taken at
    /// `stamp` seconds) and returns its pose. Errors only for images whose
    /// size does not match the camera; untrackable frames are
    /// [`TrackingState::Lost`].
    pub fn process(&mut self, stamp: f64, rgb: &RgbImage, depth: &DepthImage) -> Result<FrameResult> {
        let start = Instant::now();
        self.check_size("colour", rgb.width, rgb.height)?;
        // 1. Preprocess.
        let frame = Frame::new(rgb, &self.config.edges);
        let mut result = self.process_frame(stamp, &frame, depth)?;
        result.timing.total_ms = ms_since(start);
        Ok(result)
    }

    /// [`Odometry::process`] for a frame already preprocessed with
    /// [`Frame::new`] (and this odometry's `config().edges`): a caller that
    /// keeps the frame (the sliding window keeps keyframes' distance
    /// fields) does not compute it twice. `timing.total_ms` covers this
    /// call only.
    pub fn process_frame(&mut self, stamp: f64, frame: &Frame, depth: &DepthImage) -> Result<FrameResult> {
        let start = Instant::now();
        let (width, height) = frame.levels.first().map_or((0, 0), |l| (l.gray.width as u32, l.gray.height as u32));
        self.check_size("colour", width, height)?;
        self.check_size("depth", depth.width, depth.height)?;
        let mut timing = FrameTiming {
            pyramid_ms: frame.pyramid_ms,
            edges_ms: frame.edges_ms,
            distance_ms: frame.distance_ms,
            ..Default::default()
        };
        // 2. Predict with constant velocity.
        let world_from_predicted = self.predict(stamp);
        // 3. Align (or relocalise) and check.
        let tracking_start = Instant::now();
        let outcome = self.track(stamp, frame, &world_from_predicted);
        timing.tracking_ms = ms_since(tracking_start);
        // 4. Update the motion model and the keyframes.
        let mut result = FrameResult {
            stamp,
            world_from_camera: world_from_predicted,
            tracking_state: outcome.state,
            keyframe_id: self.keyframes.back().map(|k| k.id),
            new_keyframe: false,
            inliers: outcome.alignment.map_or(0, |a| a.stats.inliers),
            mean_residual_px: outcome.alignment.map_or(f64::INFINITY, |a| a.stats.mean_residual),
            iterations: outcome.alignment.map_or(0, |a| a.iterations),
            timing,
            warnings: InputWarnings::check(stamp, self.previous.map(|p| p.0), depth, &self.config),
        };
        match outcome.world_from_camera {
            Some(world_from_camera) if outcome.state.is_tracked() => {
                self.accept(stamp, frame, depth, world_from_camera, &outcome, &mut result);
            }
            _ => self.on_lost(stamp, frame, depth, world_from_predicted, &mut result),
        }
        result.keyframe_id = self.keyframes.back().map(|k| k.id);
        self.previous = Some((stamp, result.world_from_camera));
        result.timing.total_ms = ms_since(start);
        Ok(result)
    }

    /// A frame that was not tracked: hold the pose (no velocity), and start
    /// from this frame when there is no keyframe yet or when lost for too
    /// long (`tracking.reinitialise_after`).
    fn on_lost(
        &mut self,
        stamp: f64,
        frame: &Frame,
        depth: &DepthImage,
        world_from_predicted: Rigid3,
        result: &mut FrameResult,
    ) {
        self.lost = true;
        self.lost_frames += 1;
        self.velocity = (Rigid3::identity(), 0.0);
        let restart = !self.keyframes.is_empty()
            && self.lost_frames > self.config.tracking.reinitialise_after
            && frame.edge_count() >= self.config.tracking.min_frame_edges;
        if (self.keyframes.is_empty() || restart) && self.take_keyframe(stamp, frame, depth, world_from_predicted) {
            result.tracking_state = if restart { TrackingState::Reinitialised } else { TrackingState::Tracking };
            result.new_keyframe = true;
            self.lost = false;
            self.lost_frames = 0;
        }
    }

    /// Takes a tracked pose: keyframe policy (reuse a recent keyframe, or
    /// take a new one), then the motion model.
    fn accept(
        &mut self,
        stamp: f64,
        frame: &Frame,
        depth: &DepthImage,
        mut world_from_camera: Rigid3,
        outcome: &TrackOutcome,
        result: &mut FrameResult,
    ) {
        world_from_camera.rotation.renormalize();
        // A relocalised frame continues against the keyframe it matched.
        if let Some(keyframe) = outcome.relocalised_against.and_then(|i| self.keyframes.remove(i)) {
            self.keyframes.push_back(keyframe);
        }
        let keyframe_start = Instant::now();
        let visible = outcome.alignment.map_or(0.0, |a| a.stats.valid as f64 / a.stats.total.max(1) as f64);
        if self.needs_keyframe(&world_from_camera, visible) {
            match self.reuse_keyframe(frame, &world_from_camera) {
                Some((reused_pose, alignment)) => {
                    world_from_camera = reused_pose;
                    result.inliers = alignment.stats.inliers;
                    result.mean_residual_px = alignment.stats.mean_residual;
                }
                None => result.new_keyframe = self.take_keyframe(stamp, frame, depth, world_from_camera),
            }
        }
        result.timing.keyframe_ms = ms_since(keyframe_start);
        self.velocity = match self.previous {
            Some((previous_stamp, world_from_previous)) if !self.lost => {
                let mut motion = world_from_previous.inverse() * world_from_camera;
                motion.rotation.renormalize();
                (motion, stamp - previous_stamp)
            }
            _ => (Rigid3::identity(), 0.0),
        };
        self.lost = false;
        self.lost_frames = 0;
        result.world_from_camera = world_from_camera;
    }

    /// Before taking a new keyframe: a recent keyframe (not the active one)
    /// within half the keyframe thresholds of the current pose, against
    /// which the frame tracks and which it sees well enough, becomes the
    /// active one again (the camera came back; reusing it adds no drift).
    /// Returns the frame's pose against it.
    fn reuse_keyframe(&mut self, frame: &Frame, world_from_camera: &Rigid3) -> Option<(Rigid3, Alignment)> {
        let k = &self.config.keyframes;
        let targets = self.targets(frame);
        let active = self.keyframes.len().checked_sub(1)?;
        let mut candidates: Vec<(usize, f64)> = (0..active)
            .filter_map(|i| {
                let keyframe_from_camera = self.keyframes[i].world_from_keyframe.inverse() * world_from_camera;
                let distance = keyframe_from_camera.translation.vector.norm();
                let angle = rotation_angle(&keyframe_from_camera.rotation).to_degrees();
                (distance < 0.5 * k.max_translation_m && angle < 0.5 * k.max_rotation_deg).then_some((i, distance))
            })
            .collect();
        candidates.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (index, world_from_reused, alignment) = candidates.iter().take(2).find_map(|&(i, _)| {
            let keyframe = &self.keyframes[i];
            let guess = world_from_camera.inverse() * keyframe.world_from_keyframe;
            let alignment = align(&keyframe.points, &targets, guess, &self.config.tracking);
            let visible = alignment.stats.valid as f64 / alignment.stats.total.max(1) as f64;
            let usable = check(&alignment.stats, &self.config.tracking).is_none() && visible >= k.min_visible_ratio;
            usable.then(|| (i, keyframe.world_from_keyframe * alignment.camera_from_keyframe.inverse(), alignment))
        })?;
        drop(targets);
        let keyframe = self.keyframes.remove(index)?;
        self.keyframes.push_back(keyframe);
        let mut pose = world_from_reused;
        pose.rotation.renormalize();
        Some((pose, alignment))
    }

    /// The frame's levels as alignment targets.
    fn targets<'a>(&self, frame: &'a Frame) -> Vec<LevelTarget<'a>> {
        frame
            .levels
            .iter()
            .enumerate()
            .map(|(l, level)| LevelTarget {
                camera: LevelCamera::new(&self.camera, l, level.field.width, level.field.height),
                field: &level.field,
            })
            .collect()
    }

    /// The constant-velocity prediction for a frame at `stamp`: the last
    /// motion, scaled to the new interval (so a repeated stamp predicts no
    /// motion and a dropped frame twice the motion; at most 3×).
    fn predict(&self, stamp: f64) -> Rigid3 {
        let Some((previous_stamp, world_from_previous)) = self.previous else { return Rigid3::identity() };
        let (motion, interval) = self.velocity;
        let ratio = if interval > 0.0 { ((stamp - previous_stamp) / interval).clamp(0.0, 3.0) } else { 1.0 };
        let ratio = if ratio.is_finite() { ratio } else { 1.0 };
        let scaled = Rigid3::from_parts((motion.translation.vector * ratio).into(), motion.rotation.powf(ratio));
        world_from_previous * scaled
    }

    fn check_size(&self, what: &'static str, width: u32, height: u32) -> Result<()> {
        if (width, height) == (self.camera.width, self.camera.height) {
            return Ok(());
        }
        let (expected_width, expected_height) = (self.camera.width, self.camera.height);
        Err(Error::ImageSize {
            what,
            width: expected_width,
            height: expected_height,
            got_width: width,
            got_height: height,
        })
    }
}

impl Odometry {
    /// Aligns the frame against the active keyframe (or, while lost, the
    /// recent ones) and applies the lost checks.
    fn track(&self, stamp: f64, frame: &Frame, world_from_predicted: &Rigid3) -> TrackOutcome {
        let Some(active) = self.keyframes.back() else {
            return TrackOutcome::lost(LostReason::NoKeyframe, None);
        };
        if frame.edge_count() < self.config.tracking.min_frame_edges {
            return TrackOutcome::lost(LostReason::Textureless, None);
        }
        let targets = self.targets(frame);
        if !self.lost {
            let (t, previous) = (&self.config.tracking, self.previous);
            let guess = world_from_predicted.inverse() * active.world_from_keyframe;
            let still =
                previous.map(|(_, world_from_previous)| world_from_previous.inverse() * active.world_from_keyframe);
            let still = still.filter(|_| !is_identity(&self.velocity.0));
            let first = attempt(active, &targets, guess, previous, stamp, t);
            return retry(first, active, &targets, (guess, still), (previous, stamp), t);
        }
        relocalise(&self.keyframes, &targets, world_from_predicted, &self.config.tracking)
    }

    /// The keyframe policy (see the module documentation).
    fn needs_keyframe(&self, world_from_camera: &Rigid3, visible_ratio: f64) -> bool {
        let Some(active) = self.keyframes.back() else { return true };
        let k = &self.config.keyframes;
        let keyframe_from_camera = active.world_from_keyframe.inverse() * world_from_camera;
        keyframe_from_camera.translation.vector.norm() > k.max_translation_m
            || rotation_angle(&keyframe_from_camera.rotation).to_degrees() > k.max_rotation_deg
            || visible_ratio < k.min_visible_ratio
    }

    /// Makes `frame` the active keyframe if it has enough edges with depth;
    /// returns whether it did.
    fn take_keyframe(&mut self, stamp: f64, frame: &Frame, depth: &DepthImage, world_from_camera: Rigid3) -> bool {
        let edges = frame.edge_maps();
        let keyframe = Keyframe::lift(
            self.next_keyframe_id,
            stamp,
            world_from_camera,
            &edges,
            depth,
            &self.camera,
            &self.config.tracking,
        );
        if keyframe.edges_with_depth < self.config.keyframes.min_points {
            return false;
        }
        self.next_keyframe_id += 1;
        self.keyframes.push_back(keyframe);
        while self.keyframes.len() > self.config.tracking.recovery_keyframes.max(1) {
            self.keyframes.pop_front();
        }
        true
    }
}

/// Whether a motion is exactly the identity (the velocity after a loss).
fn is_identity(motion: &Rigid3) -> bool {
    motion.translation.vector == nalgebra::Vector3::zeros() && motion.rotation.angle() == 0.0
}
