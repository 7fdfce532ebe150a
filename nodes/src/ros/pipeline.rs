//! The SLAM node's core, free of any transport: messages in
//! ([`Input`]), [`Outputs`] out. `cairn node slam` feeds it from DDS
//! subscriptions; `cairn replay` feeds it a bag's messages in-process, so
//! both run exactly this code.
//!
//! Per message: CameraInfo → the camera (the first valid one starts
//! [`Slam`]); colour and depth images → [`StampSync`]. Per synchronised
//! pair ([`SlamPipeline::process`]): decode (the `cairn slam` decoders of
//! cairn-bags) → track → odometry in the continuous odom frame → the
//! transforms, and on a new keyframe the path and the loop markers. A bad
//! message is dropped and its cause logged once ([`Problems`]); nothing
//! here panics or stops the node.

use std::collections::BTreeMap;

use cairn_bags::msg::sensor_msgs::{CameraInfo, Image};
use cairn_core::transform::Rigid3;
use cairn_slam::graph::EdgeKind;
use cairn_slam::{BackgroundLoopDetector, Slam, SlamConfig, SlamFrame, TrackingState};

use super::outputs::{self, OdomFrame, Outputs};
use super::params::NodeParams;
use super::sync::{StampSync, Synced};
use crate::slam::{LoopArg, loop_detector};
use crate::viz::Recorder;

/// A message for the node, already decoded from CDR.
#[derive(Debug, Clone)]
pub enum Input {
    /// On `topics.rgb`.
    Rgb(Image),
    /// On `topics.depth`.
    Depth(Image),
    /// On `topics.camera_info` (boxed: it is the largest by far).
    CameraInfo(Box<CameraInfo>),
}

/// Causes of dropped messages: each is logged the first time, then counted.
#[derive(Debug, Clone)]
pub struct Problems {
    node: &'static str,
    counts: BTreeMap<&'static str, usize>,
}

impl Default for Problems {
    fn default() -> Self {
        Problems::of_node("cairn_slam")
    }
}

impl Problems {
    /// Problems logged with the prefix `[node]`.
    pub fn of_node(node: &'static str) -> Self {
        Problems { node, counts: BTreeMap::new() }
    }

    /// Counts one occurrence of `cause`; logs `detail` on stderr the first time.
    pub fn report(&mut self, cause: &'static str, detail: &str) {
        let count = self.counts.entry(cause).or_default();
        if *count == 0 {
            eprintln!("[{}] warning: {cause}: {detail} (logged once; later ones are counted)", self.node);
        }
        *count += 1;
    }

    /// `(cause, count)` of every problem seen.
    pub fn counts(&self) -> impl Iterator<Item = (&'static str, usize)> + '_ {
        self.counts.iter().map(|(cause, count)| (*cause, *count))
    }
}

/// The node's state: the SLAM system once the camera is known, the input
/// synchronisation, the odom frame and what happened so far.
pub struct SlamPipeline {
    params: NodeParams,
    config: SlamConfig,
    loop_closure: LoopArg,
    background_loops: bool,
    slam: Option<Slam>,
    camera_info: Option<CameraInfo>,
    sync: StampSync<Image, Image>,
    odom: OdomFrame,
    recorder: Recorder,
    /// Every processed frame's SLAM result, in order.
    pub frames: Vec<SlamFrame>,
    /// Dropped messages by cause.
    pub problems: Problems,
}

impl SlamPipeline {
    /// A node with these parameters; it waits for a CameraInfo.
    pub fn new(params: NodeParams, config: SlamConfig) -> Self {
        let sync = StampSync::new(params.node.sync_tolerance_s, params.node.queue_size);
        SlamPipeline {
            params,
            config,
            loop_closure: LoopArg::Fpfh,
            background_loops: false,
            slam: None,
            camera_info: None,
            sync,
            odom: OdomFrame::default(),
            recorder: Recorder::disabled(),
            frames: Vec::new(),
            problems: Problems::default(),
        }
    }

    /// Chooses the loop closure (`cairn slam --loop`; default FPFH), so the
    /// node and `cairn replay` run what `cairn slam` runs.
    pub fn with_loop_closure(mut self, choice: LoopArg) -> Self {
        self.loop_closure = choice;
        self
    }

    /// Runs loop closure on a worker thread of its own
    /// ([`cairn_slam::BackgroundLoopDetector`]) instead of between frames:
    /// the live node keeps up with the camera, at the price of loop edges
    /// arriving a few keyframes late and results that depend on timing.
    /// Off by default (deterministic, as `cairn slam`).
    pub fn with_background_loops(mut self, background: bool) -> Self {
        self.background_loops = background;
        self
    }

    /// Logs every processed frame to `recorder` (`--rrd` / `--connect`).
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = recorder;
        self
    }

    /// Logs the final map and trajectory to the recorder and flushes it.
    pub fn finish_recording(&self) {
        if let Some(slam) = &self.slam {
            self.recorder.slam_finish(slam, None);
        }
    }

    /// The node's parameters.
    pub fn params(&self) -> &NodeParams {
        &self.params
    }

    /// Takes one message in. Images wait in the synchroniser; the first
    /// valid CameraInfo starts SLAM (later different ones are reported and
    /// ignored: the camera cannot change mid-run).
    pub fn push(&mut self, input: Input) {
        match input {
            Input::Rgb(image) => self.sync.push_rgb(image.header.stamp.as_secs_f64(), image),
            Input::Depth(image) => self.sync.push_depth(image.header.stamp.as_secs_f64(), image),
            Input::CameraInfo(info) => self.set_camera(*info),
        }
    }

    fn set_camera(&mut self, info: CameraInfo) {
        if let Some(known) = &self.camera_info {
            if (known.k, known.width, known.height) != (info.k, info.width, info.height) {
                self.problems.report("camera_info changed", "the first calibration stays in use");
            }
            return;
        }
        let started = info.to_camera().map_err(anyhow::Error::from).and_then(|camera| {
            eprintln!(
                "[cairn_slam] camera: {}×{}, fx {:.2} fy {:.2} cx {:.2} cy {:.2}",
                camera.width, camera.height, camera.fx, camera.fy, camera.cx, camera.cy
            );
            let slam = Slam::new(camera, self.config.clone())?;
            Ok(match loop_detector(self.loop_closure, &self.config)? {
                Some(detector) if self.background_loops => {
                    slam.with_loop_detector(Box::new(BackgroundLoopDetector::spawn(Box::new(detector))?))
                }
                Some(detector) => slam.with_loop_detector(Box::new(detector)),
                None => slam,
            })
        });
        match started {
            Ok(slam) => {
                self.slam = Some(slam);
                self.camera_info = Some(info);
            }
            Err(error) => self.problems.report("bad camera_info", &format!("{error:#}")),
        }
    }

    /// The next synchronised colour/depth pair, once the camera is known
    /// (`flush`: the input has ended, decide every waiting image). Colour
    /// images without a depth partner are counted and skipped.
    pub fn next_pair(&mut self, flush: bool) -> Option<(Image, Image)> {
        self.slam.as_ref()?;
        loop {
            match self.sync.pop(flush)? {
                Synced::Pair { rgb, depth, .. } => return Some((rgb, depth)),
                Synced::Unpaired { stamp } => self
                    .problems
                    .report("no depth image within node.sync_tolerance_s", &format!("colour image {stamp:.6} dropped")),
            }
        }
    }

    /// Counts a pair the caller chose not to process (it fell behind).
    pub fn skip(&mut self) {
        self.problems.report("frame skipped: processing fell behind the camera", "the newest pair is processed");
    }

    /// Colour images pushed out of the full synchroniser queue.
    pub fn overflowed(&self) -> usize {
        self.sync.overflowed
    }

    /// Tracks one pair; `None` when it had to be dropped (reported).
    pub fn process(&mut self, rgb: &Image, depth: &Image) -> Option<Outputs> {
        let slam = self.slam.as_mut()?;
        let stamp = rgb.header.stamp;
        let decoded = rgb
            .to_rgb()
            .map_err(|e| ("bad colour image", e.to_string()))
            .and_then(|colour| Ok((colour, depth.to_depth().map_err(|e| ("bad depth image", e.to_string()))?)));
        let (colour, depth_m) = match decoded {
            Ok(images) => images,
            Err((cause, detail)) => {
                self.problems.report(cause, &detail);
                return None;
            }
        };
        let frame = match slam.process(stamp.as_secs_f64(), &colour, &depth_m) {
            Ok(frame) => frame,
            Err(error) => {
                self.problems.report("frame rejected by SLAM", &error.to_string());
                return None;
            }
        };
        let (odom_from_camera, twist) = self.odom.track(stamp.as_secs_f64(), &frame.tracking.world_from_camera);
        if frame.graph.is_some() {
            // A loop closure moved the graph: the correction goes to map ← odom.
            if let Some((_, corrected, _)) = slam.trajectory().last() {
                self.odom.correct(corrected);
            }
        }
        self.recorder.slam_frame(self.frames.len(), &colour, &depth_m, &frame, slam);
        let frames = &self.params.frames;
        let keyframe = frame.tracking.new_keyframe;
        let outputs = Outputs {
            odometry: outputs::odometry(stamp, frames, &odom_from_camera, twist),
            tf: outputs::transforms(stamp, frames, &self.odom.map_from_odom, &odom_from_camera),
            path: keyframe.then(|| outputs::keyframe_path(stamp, frames, slam.graph())),
            loop_markers: keyframe.then(|| outputs::loop_markers(stamp, frames, slam.graph())),
        };
        self.frames.push(frame);
        Some(outputs)
    }

    /// Ends the run's loop closure: waits for checks still in flight on the
    /// worker thread and optimises the graph with their edges (a failure is
    /// reported and the trajectory stays as it was).
    pub fn finish(&mut self) {
        let Some(slam) = self.slam.as_mut() else { return };
        if let Err(error) = slam.finish_loops() {
            self.problems.report("loop closure failed at the end of the run", &error.to_string());
        }
    }

    /// Loop edges kept in the pose graph and dropped as outliers so far.
    pub fn loop_edges(&self) -> (usize, usize) {
        let Some(slam) = &self.slam else { return (0, 0) };
        let graph = slam.graph();
        let kept = graph.edges().iter().filter(|e| matches!(e.kind, EdgeKind::Loop { .. })).count();
        (kept, graph.rejected().len())
    }

    /// The final trajectory (one pose per processed frame, as `cairn slam`
    /// writes it); empty before the camera is known.
    pub fn trajectory(&self) -> Vec<(f64, Rigid3, TrackingState)> {
        self.slam.as_ref().map(Slam::trajectory).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use cairn_bags::msg::builtin_interfaces::Time;
    use cairn_bags::msg::std_msgs::Header;
    use cairn_core::{DepthImage, PinholeCamera, RgbImage};

    const W: u32 = 64;
    const H: u32 = 48;

    fn header(stamp: f64) -> Header {
        Header { stamp: Time::from_secs_f64(stamp).unwrap(), frame_id: "camera".into() }
    }

    fn camera_info() -> Box<CameraInfo> {
        Box::new(CameraInfo::from_camera(&PinholeCamera::new(W, H, 50.0, 50.0, 32.0, 24.0), header(0.0)))
    }

    /// A checkerboard at 1.5 m, `width × height`.
    fn frame(stamp: f64, width: u32, height: u32) -> (Image, Image) {
        let mut data = Vec::new();
        for y in 0..height {
            for x in 0..width {
                data.extend([if (x / 8 + y / 8) % 2 == 0 { 30 } else { 220 }; 3]);
            }
        }
        let rgb = RgbImage::new(width, height, data).unwrap();
        let depth = DepthImage { width, height, data: vec![1.5; (width * height) as usize] };
        (Image::from_rgb(&rgb, header(stamp)), Image::from_depth_32fc1(&depth, header(stamp)))
    }

    fn count(pipeline: &SlamPipeline, cause: &str) -> usize {
        pipeline.problems.counts().find(|(c, _)| *c == cause).map_or(0, |(_, n)| n)
    }

    #[test]
    fn bad_messages_are_dropped_and_counted_and_the_node_carries_on() {
        let mut pipeline = SlamPipeline::new(NodeParams::default(), SlamConfig::default());
        let mut uncalibrated = camera_info();
        uncalibrated.k[0] = 0.0;
        pipeline.push(Input::CameraInfo(uncalibrated));
        let (rgb, depth) = frame(1.0, W, H);
        pipeline.push(Input::Rgb(rgb));
        pipeline.push(Input::Depth(depth));
        assert!(pipeline.next_pair(false).is_none(), "no camera yet: the pair waits");
        assert_eq!(count(&pipeline, "bad camera_info"), 1);
        pipeline.push(Input::CameraInfo(camera_info()));
        let (rgb, depth) = pipeline.next_pair(false).unwrap();

        let mut truncated = rgb.clone();
        truncated.data.truncate(10);
        assert!(pipeline.process(&truncated, &depth).is_none());
        assert_eq!(count(&pipeline, "bad colour image"), 1);
        let (small_rgb, small_depth) = frame(1.0, W / 2, H / 2);
        assert!(pipeline.process(&small_rgb, &small_depth).is_none(), "images smaller than the camera");
        assert_eq!(count(&pipeline, "frame rejected by SLAM"), 1);

        let outputs = pipeline.process(&rgb, &depth).unwrap();
        assert_eq!(outputs.odometry.header.stamp, rgb.header.stamp, "outputs carry the image stamp");
        assert_eq!(
            (outputs.odometry.header.frame_id.as_str(), outputs.odometry.child_frame_id.as_str()),
            ("odom", "camera")
        );
        assert_eq!(outputs.tf.transforms.len(), 2);
        assert_eq!(outputs.path.is_some(), pipeline.frames[0].tracking.new_keyframe);
        assert_eq!(pipeline.trajectory().len(), 1);
        // A second, different camera_info is reported and ignored.
        let mut other = camera_info();
        other.k[0] = 60.0;
        pipeline.push(Input::CameraInfo(other));
        assert_eq!(count(&pipeline, "camera_info changed"), 1);
    }
}
