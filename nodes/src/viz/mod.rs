//! rerun visualisation: `--rrd FILE` (save a recording) and `--connect
//! [URL]` (stream to a live viewer), on every command that processes data.
//!
//! [`VizArgs`] are the two flags (flattened into each command's
//! arguments); [`Recorder::open`] turns them into a recorder, or into a
//! disabled one that costs nothing when neither flag is given. The commands
//! hand it what they already have: [`Recorder::slam_frame`] after each
//! tracked frame (`cairn slam`, `cairn demo`, and the node pipeline shared by
//! `cairn node slam` and `cairn replay`), [`Recorder::slam_finish`] at the
//! end, [`Recorder::registration`] for `cairn loop register`.
//!
//! Entity paths (see README, "rerun"): `world/camera` (world_from_camera)
//! with `world/camera/image` (Pinhole: the frustum) and its `rgb`, `depth`
//! and `edges` children; `world/keyframes/{id}` (world_from_keyframe, moved
//! by every correction) with its depth `cloud`; `world/keyframes/positions`,
//! `world/loops`, `world/trajectory/{estimate,groundtruth}`; `timings/*` and
//! `tracking/*` time series. Timelines: `frame` (processed frame index) and
//! `stamp` (the image stamp).
//!
//! Logging never stops a run: the first failure is reported on stderr, later
//! ones are dropped silently. Without the `rerun` cargo feature the flags
//! still parse but give an error saying to rebuild with it.

#[cfg(feature = "rerun")]
mod detect_log;
pub mod detect_view;
#[cfg(feature = "rerun")]
mod register_log;
#[cfg(feature = "rerun")]
mod slam_log;
#[cfg(feature = "rerun")]
mod stream;

use std::path::PathBuf;

use anyhow::Result;
use cairn_core::cloud::PointCloud;
use cairn_core::{DepthImage, RgbImage, Trajectory};
use cairn_perception::register::CloudRegistration;
use cairn_slam::{Slam, SlamFrame};
use clap::Args;

#[cfg(feature = "rerun")]
use stream::Stream;

/// Without the `rerun` feature there is never a stream: every logging call
/// is a no-op the compiler removes.
#[cfg(not(feature = "rerun"))]
#[derive(Clone)]
enum Stream {}

/// rerun's default gRPC proxy URL (what `rerun` listens on by default).
pub const DEFAULT_CONNECT_URL: &str = "rerun+http://127.0.0.1:9876/proxy";

/// The `--rrd` / `--connect` flags.
#[derive(Debug, Clone, Default, Args)]
pub struct VizArgs {
    /// Save a rerun recording (.rrd) of the run: images, depth, the camera
    /// frustum, edges, keyframe clouds, trajectories, loops and per-frame
    /// timings. View it with the matching viewer: `pip install
    /// rerun-sdk==0.35.0`, then `rerun FILE`.
    #[arg(long, value_name = "FILE", help_heading = "Visualisation (rerun)")]
    pub rrd: Option<PathBuf>,
    /// Stream the same data live to a rerun viewer (start `rerun` first);
    /// default URL rerun+http://127.0.0.1:9876/proxy. Before a positional
    /// argument write `--connect=URL`. May be combined with --rrd.
    #[arg(
        long,
        value_name = "URL",
        num_args = 0..=1,
        default_missing_value = DEFAULT_CONNECT_URL,
        help_heading = "Visualisation (rerun)"
    )]
    pub connect: Option<String>,
}

impl VizArgs {
    /// True when either flag was given.
    pub fn any(&self) -> bool {
        self.rrd.is_some() || self.connect.is_some()
    }
}

/// Where a run's visualisation goes: nowhere (the default, free), or a
/// rerun recording stream. Cloning shares the stream.
#[derive(Clone, Default)]
pub struct Recorder {
    stream: Option<Stream>,
}

impl Recorder {
    /// A recorder that logs nothing.
    pub fn disabled() -> Self {
        Recorder { stream: None }
    }

    /// The recorder `args` ask for, named `application` in the viewer. An
    /// unusable file or URL is an error here, before any work starts.
    pub fn open(args: &VizArgs, application: &str) -> Result<Self> {
        if !args.any() {
            return Ok(Recorder::disabled());
        }
        open_stream(args, application).map(|stream| Recorder { stream: Some(stream) })
    }

    /// True when something is being recorded.
    pub fn is_enabled(&self) -> bool {
        self.stream.is_some()
    }

    /// The same stream with every entity path under `prefix/` (one
    /// recording for several sequences, as `cairn demo` makes).
    pub fn scoped(&self, prefix: &str) -> Self {
        let stream = self.stream.as_ref().map(|stream| stream.scoped(prefix));
        Recorder { stream }
    }

    /// Logs one tracked frame: `index` on the `frame` timeline, `stamp` on
    /// the `stamp` timeline; `slam` has already processed it.
    pub fn slam_frame(&self, index: usize, rgb: &RgbImage, depth: &DepthImage, frame: &SlamFrame, slam: &Slam) {
        if let Some(stream) = &self.stream {
            stream.slam_frame(index, rgb, depth, frame, slam);
        }
    }

    /// Logs the final trajectory and keyframes and, when given, the ground
    /// truth (SE(3)-aligned onto the estimate), then flushes.
    pub fn slam_finish(&self, slam: &Slam, groundtruth: Option<&Trajectory>) {
        if let Some(stream) = &self.stream {
            stream.slam_finish(slam, groundtruth);
        }
    }

    /// Logs one sample of `cairn detect` (`index` on the `frame` timeline,
    /// `stamp` on `stamp`): the camera images with the sweep and boxes
    /// projected into them, the sweep and the boxes in 3D; then flushes.
    pub fn detections(&self, index: usize, stamp: f64, view: &detect_view::SampleView) {
        if let Some(stream) = &self.stream {
            stream.detections(index, stamp, view);
        }
    }

    /// Logs a registration (`cairn loop register`): both clouds, the
    /// registered source, the mutual-nearest-neighbour matches and RANSAC's
    /// inliers within `inlier_m`; then flushes.
    pub fn registration(&self, target: &PointCloud, source: &PointCloud, found: &CloudRegistration, inlier_m: f64) {
        if let Some(stream) = &self.stream {
            stream.registration(target, source, found, inlier_m);
        }
    }
}

/// The stream for `args` (at least one flag is set).
#[cfg(feature = "rerun")]
fn open_stream(args: &VizArgs, application: &str) -> Result<Stream> {
    Stream::open(args.rrd.as_deref(), args.connect.as_deref(), application)
}

/// Without the feature: the error that says how to get it.
#[cfg(not(feature = "rerun"))]
fn open_stream(args: &VizArgs, _application: &str) -> Result<Stream> {
    let flag = if args.rrd.is_some() { "--rrd" } else { "--connect" };
    anyhow::bail!(
        "{flag} needs rerun support, which this cairn was built without: rebuild with \
         `cargo build --release --features rerun` (it is on by default)"
    )
}

#[cfg(not(feature = "rerun"))]
impl Stream {
    fn scoped(&self, _prefix: &str) -> Stream {
        match *self {}
    }
    fn slam_frame(&self, _: usize, _: &RgbImage, _: &DepthImage, _: &SlamFrame, _: &Slam) {
        match *self {}
    }
    fn slam_finish(&self, _: &Slam, _: Option<&Trajectory>) {
        match *self {}
    }
    fn detections(&self, _: usize, _: f64, _: &detect_view::SampleView) {
        match *self {}
    }

    fn registration(&self, _: &PointCloud, _: &PointCloud, _: &CloudRegistration, _: f64) {
        match *self {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn no_flag_means_a_disabled_recorder() {
        let recorder = Recorder::open(&VizArgs::default(), "cairn_test").unwrap();
        assert!(!recorder.is_enabled());
        assert!(!recorder.scoped("a").is_enabled());
    }
}
