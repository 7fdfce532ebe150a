//! Edge-based RGB-D SLAM (RESLAM-style): Canny edges on an image pyramid,
//! distance transforms, SE(3) tracking against keyframes, sliding-window
//! pose refinement, a keyframe pose graph and L3D loop closure.
//!
//! # Brief overview
//! Each frame flows `RgbImage → pyramid → edges → distance fields → align
//! against the keyframe → lost checks → keyframe policy → pose`:
//! - [`pyramid`]: grey and depth pyramids (2×2 means, pixel-centre aware).
//! - [`edges`]: Canny (Gaussian, Sobel, non-maximum suppression, hysteresis).
//! - [`distance`]: exact Euclidean distance transform (Felzenszwalb &
//!   Huttenlocher) with its gradient, as a [`DistanceField`].
//! - [`keyframe`]: a [`Keyframe`] holds its edge pixels with valid depth,
//!   lifted to 3-D in its camera frame, per level.
//! - [`projection`] and [`align`]: projection with plumb_bob distortion and
//!   the Levenberg–Marquardt alignment (Huber, coarse-to-fine, analytic
//!   Jacobians) of keyframe points to a frame's distance fields.
//! - [`input`]: [`InputWarnings`] (missing depth, stamp gaps, stamps that
//!   do not advance), reported with every frame.
//! - [`lost`]: the lost checks (too few reprojections, high residual,
//!   implausible jump) and relocalisation against recent keyframes.
//! - [`odometry`]: [`Odometry::process`] — constant-velocity prediction,
//!   alignment, lost handling, the keyframe policy (one active keyframe)
//!   and per-stage timing.
//! - [`window`]: sliding-window refinement of the recent keyframe poses
//!   (edge reprojection into each other's distance fields).
//! - [`graph`]: the keyframe [`PoseGraph`] (factrs Levenberg–Marquardt,
//!   robust loop edges, marginal covariances); [`solver`] holds its factrs
//!   side.
//! - [`loops`]: the [`LoopDetector`] seam and what it sees
//!   ([`loops::Keyframe`], [`PoseGraphView`]) and returns ([`LoopEdge`],
//!   with a [`LoopDecision`] per keyframe).
//! - [`background`]: [`BackgroundLoopDetector`] — any detector on a worker
//!   thread of its own, so a live node tracks while keyframes are checked.
//! - [`loop_detector`]: [`L3dLoopDetector`] — L3D loop closure on
//!   cairn-perception's registration (descriptor swappable: FPFH today).
//! - [`map`] and [`relocalise`]: saved maps (keyframes, described clouds,
//!   graph edges) and [`KeyframeMapper`], which records them and
//!   relocalises a new run into a loaded one.
//! - [`system`]: [`Slam`] — odometry + window + graph + optional loop
//!   detector; every frame's final pose through its keyframe.
//! - [`config`]: [`SlamConfig`], grouped by stage, serde, documented defaults;
//!   [`params`] reads and writes it as a ROS 2 parameter file
//!   (`config/slam.yaml`).
//!
//! ```
//! use cairn_core::{DepthImage, PinholeCamera, RgbImage};
//! use cairn_slam::{Odometry, SlamConfig, TrackingState};
//! let camera = PinholeCamera::new(64, 48, 60.0, 60.0, 31.5, 23.5);
//! let mut odometry = Odometry::new(camera, SlamConfig::default())?;
//! // A black frame without depth: lost, but it still gets a pose.
//! let rgb = RgbImage::new(64, 48, vec![0; 64 * 48 * 3])?;
//! let depth = DepthImage::new(64, 48, vec![0.0; 64 * 48])?;
//! let result = odometry.process(0.0, &rgb, &depth)?;
//! assert!(matches!(result.tracking_state, TrackingState::Lost(_)));
//! assert!(result.world_from_camera.translation.vector.norm() == 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod align;
pub mod background;
pub mod config;
pub mod distance;
pub mod edges;
pub mod error;
pub mod frame;
pub mod graph;
pub mod input;
pub mod keyframe;
pub mod loop_detector;
pub mod loops;
pub mod lost;
pub mod map;
pub mod odometry;
pub mod params;
pub mod projection;
pub mod pyramid;
pub mod relocalise;
pub mod solver;
pub mod system;
pub mod window;

pub use background::BackgroundLoopDetector;
pub use config::{EdgeConfig, GraphConfig, KeyframeConfig, LoopConfig, SlamConfig, TrackingConfig, WindowConfig};
pub use distance::DistanceField;
pub use edges::EdgeMap;
pub use error::{Error, Result};
pub use graph::PoseGraph;
pub use keyframe::Keyframe;
pub use loop_detector::L3dLoopDetector;
pub use loops::{LoopDecision, LoopDetector, LoopEdge, LoopOutcome, PoseGraphView, RejectReason};
pub use odometry::{FrameResult, FrameTiming, LostReason, Odometry, TrackingState};
pub use relocalise::KeyframeMapper;
pub use system::{BackendTiming, Slam, SlamFrame};
