//! The loop-closure seam: a [`LoopDetector`] is told about every keyframe
//! ([`LoopDetector::add_keyframe`]) and, after each one, asked for loop
//! edges against the current pose graph ([`LoopDetector::detect`]), which it
//! sees through a [`PoseGraphView`]: keyframe poses and, computed on demand,
//! their marginal covariances (to bound where a revisited place can be).
//!
//! The L3D detector (local 3-D deep descriptors, mutual-nearest-neighbour
//! overlap) implements it; [`crate::Slam`] runs without one (odometry,
//! sliding window and pose graph only) when none is given.

use std::cell::OnceCell;

use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PinholeCamera, RgbImage};
use nalgebra::Matrix6;

use crate::Result;
use crate::graph::PoseGraph;

/// What a loop detector sees of a new keyframe: its images, camera and
/// current pose estimate. (Not to be confused with the tracker's
/// [`crate::keyframe::Keyframe`], which holds the lifted edge points.)
#[derive(Debug, Clone, Copy)]
pub struct Keyframe<'a> {
    /// The keyframe's id (the same as the tracker's and the pose graph's).
    pub id: usize,
    /// Stamp of the frame it was taken from (s).
    pub stamp: f64,
    /// The camera (colour and depth registered).
    pub camera: PinholeCamera,
    /// The colour image.
    pub rgb: &'a RgbImage,
    /// The registered depth image (metres; 0 = no depth).
    pub depth_m: &'a DepthImage,
    /// The keyframe's pose when it was taken (before any later
    /// optimisation; ask the [`PoseGraphView`] for the current one).
    pub world_from_camera: Rigid3,
}

/// A loop edge: a measured relative pose between two keyframes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopEdge {
    /// Keyframe id whose points were moved onto `to`.
    pub from: usize,
    /// The other keyframe's id.
    pub to: usize,
    /// The measured `to_from_from` (`p_in_to = to_from_from · p_in_from`).
    pub to_from_from: Rigid3,
    /// Information (inverse covariance) of the measurement's error twist
    /// `ε = (v, ω)` (metres, radians; translation first, as in
    /// [`crate::align`]), where the true `to_from_from = Exp(ε) ·
    /// to_from_from`. Symmetric positive definite.
    pub information: Matrix6<f64>,
    /// The detector's confidence (higher is better; L3D: the overlap).
    pub score: f64,
}

/// Finds loop closures between keyframes.
pub trait LoopDetector {
    /// Adds a keyframe to the detector's database (called once per new
    /// keyframe, before [`LoopDetector::detect`]).
    fn add_keyframe(&mut self, keyframe: &Keyframe<'_>) -> Result<()>;

    /// Loop edges for the newest keyframe (or any others) against the pose
    /// graph as it is now. The back end adds them to the graph, optimises
    /// with a robust kernel and drops edges that do not fit.
    fn detect(&mut self, graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>>;

    /// Loop edges of checks still in progress, waiting for them (the end of
    /// a run). Synchronous detectors have none.
    fn finish(&mut self, _graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>> {
        Ok(Vec::new())
    }

    /// What the detector decided for each keyframe so far, in order (for
    /// logs and evaluation; empty for detectors that keep no record).
    fn decisions(&self) -> &[LoopDecision] {
        &[]
    }
}

/// Why a loop check ended the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoopOutcome {
    /// A loop edge was proposed to the graph.
    Accepted,
    /// No past keyframe passed the candidate gates.
    NoCandidates,
    /// Candidates were registered, none passed the checks; the reason is
    /// that of the best-scoring one.
    Rejected(RejectReason),
}

/// The check a candidate failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Too few descriptor matches or RANSAC inliers.
    TooFewInliers,
    /// L3D overlap below the threshold.
    LowOverlap,
    /// ICP moved the estimate too far, or too little of the newest
    /// keyframe fits the candidate afterwards.
    IcpDisagrees,
    /// The relative pose contradicts the pose graph.
    InconsistentWithGraph,
}

/// One keyframe's loop check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopDecision {
    /// The newest keyframe (the query).
    pub keyframe: usize,
    /// Candidates that passed the gates and were registered.
    pub candidates: usize,
    /// The best candidate (the accepted one, or the one whose failure is
    /// reported).
    pub best: Option<usize>,
    /// Its L3D overlap (0 without one).
    pub overlap: f64,
    /// Its RANSAC inliers.
    pub inliers: usize,
    /// Its ICP fitness.
    pub fitness: f64,
    /// What happened.
    pub outcome: LoopOutcome,
    /// Back-projection, downsampling and descriptors (ms).
    pub describe_ms: f64,
    /// Candidate selection, including the graph's marginals (ms).
    pub candidates_ms: f64,
    /// Matching, RANSAC, ICP and verification of all candidates (ms).
    pub registration_ms: f64,
}

/// A read-only view of the pose graph for loop detection: keyframe poses,
/// and their marginal covariances computed on the first request (dense:
/// one Cholesky factorisation of the 6n × 6n information matrix, O(n³):
/// see [`PoseGraph::marginal_covariances`]), then cached for the life of
/// the view.
pub struct PoseGraphView<'a> {
    graph: &'a PoseGraph,
    covariances: OnceCell<Vec<Matrix6<f64>>>,
}

impl<'a> PoseGraphView<'a> {
    /// A view of `graph`.
    pub fn new(graph: &'a PoseGraph) -> Self {
        PoseGraphView { graph, covariances: OnceCell::new() }
    }

    /// The graph itself (a detector working elsewhere takes a copy).
    pub fn graph(&self) -> &'a PoseGraph {
        self.graph
    }

    /// Keyframe ids and poses, in the order the keyframes were added.
    pub fn keyframes(&self) -> impl Iterator<Item = (usize, Rigid3)> + '_ {
        self.graph.nodes().iter().map(|node| (node.id, node.world_from_keyframe))
    }

    /// The current pose of keyframe `id`.
    pub fn world_from_keyframe(&self, id: usize) -> Option<Rigid3> {
        self.graph.world_from_keyframe(id)
    }

    /// The marginal covariance of keyframe `id`'s pose, as a right
    /// perturbation `ξ = (v, ω)` in the keyframe's own frame
    /// (`world_from_keyframe_true = world_from_keyframe · Exp(ξ)`),
    /// relative to the first keyframe (the fixed gauge, covariance zero).
    pub fn marginal_covariance(&self, id: usize) -> Result<Matrix6<f64>> {
        let index = self.graph.index_of(id)?;
        if self.covariances.get().is_none() {
            let computed = self.graph.marginal_covariances()?;
            let _ = self.covariances.set(computed);
        }
        let covariances = self.covariances.get().map(Vec::as_slice).unwrap_or_default();
        covariances.get(index).copied().ok_or(crate::Error::UnknownKeyframe(id))
    }
}
