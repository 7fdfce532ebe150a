//! [`Slam`]: the whole system — tracking ([`Odometry`]), the sliding window
//! over recent keyframes ([`crate::window`]), the keyframe pose graph
//! ([`PoseGraph`]) and, when given one, a [`LoopDetector`].
//!
//! Per frame: preprocess → track ([`Odometry::process_frame`]) → record the
//! frame as `keyframe_from_frame` against its keyframe. On a new keyframe
//! (between frames; timed apart from tracking): add it to the graph with an
//! odometry edge from the keyframe it was tracked against → with a
//! [`KeyframeMapper`], record it for a saved map and, while a loaded map is
//! not yet found, relocalise (on success every pose so far moves into the
//! map's frame) → refine the
//! window → ask the loop detector → add its loop edges and optimise the
//! graph → move the tracker's keyframes to the corrected poses. Every
//! frame's output pose is its keyframe's current pose times its
//! `keyframe_from_frame`, so a window or loop correction moves every frame
//! of that keyframe ([`Slam::trajectory`]): exactly one pose per input
//! frame.

use std::collections::VecDeque;
use std::time::Instant;

use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PinholeCamera, RgbImage};

use crate::Result;
use crate::config::SlamConfig;
use crate::frame::{Frame, ms_since};
use crate::graph::{OptimizeReport, PoseGraph};
use crate::loops::{self, LoopDetector};
use crate::map::SavedMap;
use crate::odometry::{FrameResult, Odometry, TrackingState};
use crate::projection::LevelCamera;
use crate::relocalise::KeyframeMapper;
use crate::window::{self, WindowKeyframe, WindowReport};

/// Time spent on the back end for one frame (zero unless it took a keyframe).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BackendTiming {
    /// Sliding-window optimisation (ms).
    pub window_ms: f64,
    /// Loop detection: `add_keyframe` and `detect` (ms).
    pub loops_ms: f64,
    /// Pose-graph optimisation (ms).
    pub graph_ms: f64,
}

/// What [`Slam::process`] returns for each frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlamFrame {
    /// The tracker's result (its `world_from_camera` is the online
    /// estimate; [`Slam::trajectory`] has the final one).
    pub tracking: FrameResult,
    /// Back-end work done after this frame.
    pub backend: BackendTiming,
    /// The window optimisation, when this frame became a keyframe.
    pub window: Option<WindowReport>,
    /// The graph optimisation, when loop edges were added.
    pub graph: Option<OptimizeReport>,
    /// Loop edges the detector proposed for this frame.
    pub loops_proposed: usize,
}

/// One input frame's pose, kept relative to its keyframe.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FramePose {
    stamp: f64,
    /// The keyframe the pose is relative to (`None` before the first one).
    keyframe: Option<usize>,
    /// `keyframe_from_frame`, or `world_from_frame` without a keyframe.
    relative: Rigid3,
    state: TrackingState,
}

/// The SLAM system (see the module documentation).
pub struct Slam {
    odometry: Odometry,
    camera: PinholeCamera,
    config: SlamConfig,
    graph: PoseGraph,
    window: VecDeque<WindowKeyframe>,
    detector: Option<Box<dyn LoopDetector>>,
    mapper: Option<KeyframeMapper>,
    frames: Vec<FramePose>,
}

impl Slam {
    /// A system for images from `camera`, without loop detection.
    pub fn new(camera: PinholeCamera, config: SlamConfig) -> Result<Self> {
        let odometry = Odometry::new(camera, config.clone())?;
        Ok(Slam {
            odometry,
            camera,
            graph: PoseGraph::new(config.graph.clone()),
            config,
            window: VecDeque::new(),
            detector: None,
            mapper: None,
            frames: Vec::new(),
        })
    }

    /// Adds a loop detector, asked after every new keyframe.
    pub fn with_loop_detector(mut self, detector: Box<dyn LoopDetector>) -> Self {
        self.detector = Some(detector);
        self
    }

    /// Adds a keyframe mapper: it records keyframes for a saved map and,
    /// with a loaded map, relocalises the run into the map's frame.
    pub fn with_mapper(mut self, mapper: KeyframeMapper) -> Self {
        self.mapper = Some(mapper);
        self
    }

    /// The keyframe mapper, when there is one (for its relocalisation).
    pub fn mapper(&self) -> Option<&KeyframeMapper> {
        self.mapper.as_ref()
    }

    /// The keyframes recorded by the mapper as a map posed by the graph
    /// (call [`Slam::finish_loops`] first); `None` without a recording mapper.
    pub fn take_map(&mut self) -> Option<SavedMap> {
        let graph = &self.graph;
        self.mapper.as_mut().map(|mapper| mapper.take_map(graph))
    }

    /// The configuration in use.
    pub fn config(&self) -> &SlamConfig {
        &self.config
    }

    /// The loop detector, when there is one (for its decisions).
    pub fn loop_detector(&self) -> Option<&dyn LoopDetector> {
        self.detector.as_deref()
    }

    /// The camera the images come from.
    pub fn camera(&self) -> &PinholeCamera {
        &self.camera
    }

    /// The keyframe pose graph.
    pub fn graph(&self) -> &PoseGraph {
        &self.graph
    }

    /// Tracks one frame, then runs the back end if it became a keyframe.
    /// Errors for images that do not match the camera and for failures of
    /// the loop detector or the graph solver.
    pub fn process(&mut self, stamp: f64, rgb: &RgbImage, depth: &DepthImage) -> Result<SlamFrame> {
        let start = Instant::now();
        let frame = Frame::new(rgb, &self.config.edges);
        let mut tracking = self.odometry.process_frame(stamp, &frame, depth)?;
        tracking.timing.total_ms = ms_since(start);
        self.record(&tracking);
        let mut result =
            SlamFrame { tracking, backend: BackendTiming::default(), window: None, graph: None, loops_proposed: 0 };
        if tracking.new_keyframe {
            self.on_keyframe(stamp, frame, rgb, depth, &mut result)?;
        }
        Ok(result)
    }

    /// Keeps the frame's pose relative to its keyframe.
    fn record(&mut self, tracking: &FrameResult) {
        let keyframe_pose = tracking
            .keyframe_id
            .and_then(|id| self.odometry.keyframes().find(|k| k.id == id).map(|k| (id, k.world_from_keyframe)));
        let (keyframe, relative) = match keyframe_pose {
            Some((id, world_from_keyframe)) => (Some(id), world_from_keyframe.inverse() * tracking.world_from_camera),
            None => (None, tracking.world_from_camera),
        };
        self.frames.push(FramePose { stamp: tracking.stamp, keyframe, relative, state: tracking.tracking_state });
    }

    /// The back end on a new keyframe: graph node and odometry edge, window,
    /// loops, graph optimisation, corrections pushed to the tracker.
    fn on_keyframe(
        &mut self,
        stamp: f64,
        frame: Frame,
        rgb: &RgbImage,
        depth: &DepthImage,
        result: &mut SlamFrame,
    ) -> Result<()> {
        let recent: Vec<_> = self.odometry.keyframes().collect();
        let Some(&newest) = recent.last() else { return Ok(()) };
        let (id, world_from_new) = (newest.id, newest.world_from_keyframe);
        let reference = match recent.len().checked_sub(2).map(|i| recent[i]) {
            Some(k) => Some((k.id, k.world_from_keyframe)),
            None => self.graph.nodes().last().map(|n| (n.id, n.world_from_keyframe)),
        };
        let points = newest.points.first().cloned().unwrap_or_default();
        self.graph.add_keyframe(id, stamp, world_from_new)?;
        if let Some((from, world_from_reference)) = reference {
            let restart = result.tracking.tracking_state == TrackingState::Reinitialised;
            self.graph.add_odometry(from, id, world_from_new.inverse() * world_from_reference, restart)?;
        }
        // Relocalisation into a loaded map (and recording for a saved one).
        if let Some(mapper) = self.mapper.as_mut() {
            let keyframe = loops::Keyframe {
                id,
                stamp,
                camera: self.camera,
                rgb,
                depth_m: depth,
                world_from_camera: world_from_new,
            };
            if let Some(found) = mapper.add_keyframe(&keyframe)? {
                self.reanchor(found.map_from_keyframe * world_from_new.inverse())?;
            }
        }
        // Sliding window.
        if self.config.window.enabled {
            let window_start = Instant::now();
            let field = frame.levels.into_iter().next().map(|level| level.field);
            if let Some(field) = field {
                self.window.push_back(WindowKeyframe::new(id, world_from_new, &points, field, &self.config.window));
            }
            while self.window.len() > self.config.window.size {
                self.window.pop_front();
            }
            result.window = Some(self.optimize_window()?);
            result.backend.window_ms = ms_since(window_start);
        }
        // Loop closure.
        let Some(detector) = self.detector.as_mut() else { return Ok(()) };
        let loops_start = Instant::now();
        let current = self.graph.world_from_keyframe(id).unwrap_or(world_from_new);
        let keyframe =
            loops::Keyframe { id, stamp, camera: self.camera, rgb, depth_m: depth, world_from_camera: current };
        detector.add_keyframe(&keyframe)?;
        let edges = detector.detect(&self.graph.view())?;
        result.backend.loops_ms = ms_since(loops_start);
        result.loops_proposed = edges.len();
        if edges.is_empty() {
            return Ok(());
        }
        let graph_start = Instant::now();
        for edge in &edges {
            self.graph.add_loop(edge)?;
        }
        result.graph = Some(self.graph.optimize()?);
        self.push_corrections();
        result.backend.graph_ms = ms_since(graph_start);
        Ok(())
    }

    /// Ends loop closure for the run: waits for the detector's checks in
    /// flight (a [`crate::BackgroundLoopDetector`] has some), adds their
    /// edges and optimises the graph. `None` when there was nothing to add.
    /// Call it before reading the final [`Slam::trajectory`] of a live run;
    /// synchronous detectors finish every check inside [`Slam::process`].
    pub fn finish_loops(&mut self) -> Result<Option<OptimizeReport>> {
        let Some(detector) = self.detector.as_mut() else { return Ok(None) };
        let edges = detector.finish(&self.graph.view())?;
        if edges.is_empty() {
            return Ok(None);
        }
        for edge in &edges {
            self.graph.add_loop(edge)?;
        }
        let report = self.graph.optimize()?;
        self.push_corrections();
        Ok(Some(report))
    }

    /// Refines the window and writes the refined poses to the graph (nodes,
    /// and the odometry edges between window keyframes) and the tracker.
    fn optimize_window(&mut self) -> Result<WindowReport> {
        let level = LevelCamera::new(&self.camera, 0, self.camera.width as usize, self.camera.height as usize);
        // The window holds graph poses (a loop closure may have moved them).
        for keyframe in &mut self.window {
            if let Some(pose) = self.graph.world_from_keyframe(keyframe.id) {
                keyframe.world_from_keyframe = pose;
            }
        }
        let keyframes = self.window.make_contiguous();
        let report = window::optimize(keyframes, &level, &self.config.window, &self.config.tracking);
        for keyframe in keyframes.iter() {
            self.graph.set_world_from_keyframe(keyframe.id, keyframe.world_from_keyframe)?;
        }
        for pair in keyframes.windows(2) {
            let to_from_from = pair[1].world_from_keyframe.inverse() * pair[0].world_from_keyframe;
            self.graph.update_odometry(pair[0].id, pair[1].id, to_from_from);
        }
        self.push_corrections();
        Ok(report)
    }

    /// Moves everything tracked so far by `map_from_session` (after a
    /// relocalisation): graph nodes, frames without a keyframe, and through
    /// the graph the window and the tracker.
    fn reanchor(&mut self, map_from_session: Rigid3) -> Result<()> {
        let poses: Vec<_> = self.graph.nodes().iter().map(|n| (n.id, n.world_from_keyframe)).collect();
        for (id, session_from_keyframe) in poses {
            let mut moved = map_from_session * session_from_keyframe;
            moved.rotation.renormalize();
            self.graph.set_world_from_keyframe(id, moved)?;
        }
        for frame in self.frames.iter_mut().filter(|f| f.keyframe.is_none()) {
            frame.relative = map_from_session * frame.relative;
        }
        for keyframe in &mut self.window {
            keyframe.world_from_keyframe = map_from_session * keyframe.world_from_keyframe;
        }
        self.push_corrections();
        Ok(())
    }

    /// Moves the tracker's keyframes to the graph's poses.
    fn push_corrections(&mut self) {
        let graph = &self.graph;
        self.odometry.correct_keyframes(|id| graph.world_from_keyframe(id));
    }

    /// Every frame so far, in input order: `(stamp, world_from_camera,
    /// tracking state)`, with each pose through its keyframe's current
    /// estimate.
    pub fn trajectory(&self) -> Vec<(f64, Rigid3, TrackingState)> {
        self.frames
            .iter()
            .map(|f| {
                let world_from_keyframe = f.keyframe.and_then(|id| self.graph.world_from_keyframe(id));
                let pose = match (f.keyframe, world_from_keyframe) {
                    (Some(_), Some(world_from_keyframe)) => world_from_keyframe * f.relative,
                    (Some(id), None) => self.tracker_pose(id).map_or(f.relative, |k| k * f.relative),
                    (None, _) => f.relative,
                };
                (f.stamp, pose, f.state)
            })
            .collect()
    }

    /// A keyframe pose the tracker has but the graph lacks (none in normal
    /// operation: every keyframe enters the graph when taken).
    fn tracker_pose(&self, id: usize) -> Option<Rigid3> {
        self.odometry.keyframes().find(|k| k.id == id).map(|k| k.world_from_keyframe)
    }
}
