//! The keyframe pose graph: one node per keyframe (`world_from_keyframe`),
//! odometry edges from tracking, loop edges from a
//! [`crate::loops::LoopDetector`], optimised with factrs' Levenberg–Marquardt
//! (a maintained factor-graph solver: SE(3) variables, between factors,
//! robust kernels).
//!
//! - **Gauge**: the first keyframe is held by a tight prior (the world is
//!   its camera frame, as in tracking).
//! - **Odometry edges** carry a documented constant information
//!   (`graph.odometry_sigma_m`, `graph.odometry_sigma_deg`; the tracker's
//!   `JᵀJ` is not used: it counts thousands of neighbouring, correlated
//!   edge pixels as independent measurements, so its scale relative to
//!   the loop edges' information would be arbitrary). An edge across a
//!   tracking restart is `graph.restart_sigma_scale` times looser.
//! - **Loop edges** carry the detector's information under a Cauchy kernel
//!   (`graph.loop_kernel_scale`); after optimising, the loop edge with the
//!   largest whitened error above `graph.loop_reject_sigma` is dropped and
//!   the graph optimised again, until every remaining loop edge fits.
//! - **Marginal covariances** ([`PoseGraph::marginal_covariances`]) come from
//!   the linearised system at the current estimate, inverted densely.
//!
//! The factrs side (factor graph, solver runs, marginals) is in
//! [`crate::solver`].

use std::collections::HashMap;

use cairn_core::transform::Rigid3;
use nalgebra::{Matrix6, Vector6};

use crate::config::GraphConfig;
use crate::loops::{LoopEdge, PoseGraphView};
use crate::solver;
use crate::{Error, Result};

/// A keyframe in the graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Keyframe id.
    pub id: usize,
    /// Stamp of the keyframe (s).
    pub stamp: f64,
    /// Current pose estimate.
    pub world_from_keyframe: Rigid3,
}

/// Where an edge came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EdgeKind {
    /// Tracking between consecutive keyframes.
    Odometry,
    /// Across a tracking restart: the held pose, no measured motion.
    Restart,
    /// A loop closure, with its detector's score.
    Loop {
        /// The detector's score.
        score: f64,
    },
}

/// A relative-pose constraint between two keyframes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    /// Keyframe id of the source.
    pub from: usize,
    /// Keyframe id of the target.
    pub to: usize,
    /// The measured `to_from_from`.
    pub to_from_from: Rigid3,
    /// Information of the error twist `(v, ω)` (see [`LoopEdge`]).
    pub information: Matrix6<f64>,
    /// Odometry, restart or loop.
    pub kind: EdgeKind,
}

/// What one [`PoseGraph::optimize`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OptimizeReport {
    /// Levenberg–Marquardt iterations over all rounds.
    pub iterations: usize,
    /// Loop edges dropped as outliers.
    pub rejected_loops: usize,
    /// Robust cost before and after.
    pub initial_cost: f64,
    /// See `initial_cost`.
    pub final_cost: f64,
}

/// The keyframe pose graph (see the module documentation).
#[derive(Debug, Clone)]
pub struct PoseGraph {
    config: GraphConfig,
    nodes: Vec<Node>,
    index: HashMap<usize, usize>,
    edges: Vec<Edge>,
    rejected: Vec<Edge>,
}

impl PoseGraph {
    /// An empty graph.
    pub fn new(config: GraphConfig) -> Self {
        PoseGraph { config, nodes: Vec::new(), index: HashMap::new(), edges: Vec::new(), rejected: Vec::new() }
    }

    /// The keyframes, in the order they were added.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The edges in the graph (rejected loops are not).
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// Loop edges that were dropped as outliers.
    pub fn rejected(&self) -> &[Edge] {
        &self.rejected
    }

    /// The configuration in use.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// A read-only view for loop detectors.
    pub fn view(&self) -> PoseGraphView<'_> {
        PoseGraphView::new(self)
    }

    /// Position of keyframe `id` among the nodes.
    pub fn index_of(&self, id: usize) -> Result<usize> {
        self.index.get(&id).copied().ok_or(Error::UnknownKeyframe(id))
    }

    /// The current pose of keyframe `id`.
    pub fn world_from_keyframe(&self, id: usize) -> Option<Rigid3> {
        self.index.get(&id).map(|&i| self.nodes[i].world_from_keyframe)
    }

    /// Replaces the pose estimate of keyframe `id` (the sliding window
    /// refines recent keyframes between graph optimisations).
    pub fn set_world_from_keyframe(&mut self, id: usize, world_from_keyframe: Rigid3) -> Result<()> {
        let i = self.index_of(id)?;
        self.nodes[i].world_from_keyframe = world_from_keyframe;
        Ok(())
    }

    /// Adds keyframe `id` at its pose estimate.
    pub fn add_keyframe(&mut self, id: usize, stamp: f64, world_from_keyframe: Rigid3) -> Result<()> {
        if self.index.contains_key(&id) {
            return Err(Error::InvalidEdge(format!("keyframe {id} is already in the graph")));
        }
        check_finite(&world_from_keyframe, "keyframe pose")?;
        self.index.insert(id, self.nodes.len());
        self.nodes.push(Node { id, stamp, world_from_keyframe });
        Ok(())
    }

    /// Adds an odometry edge from keyframe `from` to keyframe `to`, measured
    /// by tracking (`restart`: across a tracking restart, see the module
    /// documentation).
    pub fn add_odometry(&mut self, from: usize, to: usize, to_from_from: Rigid3, restart: bool) -> Result<()> {
        let scale = if restart { self.config.restart_sigma_scale } else { 1.0 };
        let sigma_t = self.config.odometry_sigma_m * scale;
        let sigma_r = self.config.odometry_sigma_deg.to_radians() * scale;
        let diagonal = Vector6::new(sigma_t, sigma_t, sigma_t, sigma_r, sigma_r, sigma_r).map(|s| 1.0 / (s * s));
        let kind = if restart { EdgeKind::Restart } else { EdgeKind::Odometry };
        self.add_edge(Edge { from, to, to_from_from, information: Matrix6::from_diagonal(&diagonal), kind })
    }

    /// Replaces the measurement of the odometry edge `from → to` (after the
    /// sliding window refined both keyframes); no-op when there is none.
    pub fn update_odometry(&mut self, from: usize, to: usize, to_from_from: Rigid3) {
        for edge in &mut self.edges {
            if edge.from == from && edge.to == to && edge.kind == EdgeKind::Odometry {
                edge.to_from_from = to_from_from;
            }
        }
    }

    /// Adds a loop edge (checked: known keyframes, finite values, a
    /// symmetric positive-definite information).
    pub fn add_loop(&mut self, edge: &LoopEdge) -> Result<()> {
        if !edge.score.is_finite() {
            return Err(Error::InvalidEdge(format!("loop {} → {}: score is not finite", edge.from, edge.to)));
        }
        let kind = EdgeKind::Loop { score: edge.score };
        self.add_edge(Edge {
            from: edge.from,
            to: edge.to,
            to_from_from: edge.to_from_from,
            information: edge.information,
            kind,
        })
    }

    fn add_edge(&mut self, edge: Edge) -> Result<()> {
        let name = format!("edge {} → {}", edge.from, edge.to);
        self.index_of(edge.from)?;
        self.index_of(edge.to)?;
        if edge.from == edge.to {
            return Err(Error::InvalidEdge(format!("{name} joins a keyframe to itself")));
        }
        check_finite(&edge.to_from_from, &name)?;
        let symmetric = (edge.information - edge.information.transpose()).abs().max()
            <= 1e-9 * edge.information.abs().max().max(1.0);
        if !symmetric || edge.information.cholesky().is_none() {
            return Err(Error::InvalidEdge(format!("{name}: information is not symmetric positive definite")));
        }
        self.edges.push(edge);
        Ok(())
    }

    /// Optimises the node poses; drops loop edges that do not fit (see the
    /// module documentation). A graph without loop edges is consistent by
    /// construction and returns at once.
    pub fn optimize(&mut self) -> Result<OptimizeReport> {
        let mut report = OptimizeReport::default();
        if self.nodes.len() < 2 {
            return Ok(report);
        }
        let mut first_round = true;
        loop {
            let solution = solver::solve(self)?;
            if first_round {
                report.initial_cost = solution.initial_cost;
                first_round = false;
            }
            report.final_cost = solution.final_cost;
            report.iterations += solution.iterations;
            for (node, world_from_keyframe) in self.nodes.iter_mut().zip(solution.world_from_keyframe) {
                check_finite(&world_from_keyframe, "optimised pose")?;
                node.world_from_keyframe = world_from_keyframe;
            }
            let worst = self
                .edges
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e.kind, EdgeKind::Loop { .. }))
                .map(|(i, e)| (i, self.whitened_error(e)))
                .filter(|&(_, error)| error.is_nan() || error > self.config.loop_reject_sigma)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            match worst {
                Some((i, _)) => {
                    self.rejected.push(self.edges.remove(i));
                    report.rejected_loops += 1;
                }
                None => return Ok(report),
            }
        }
    }

    /// The whitened error `√(εᵀ Λ ε)` of `edge` at the current estimate.
    pub fn whitened_error(&self, edge: &Edge) -> f64 {
        let (Some(world_from_from), Some(world_from_to)) =
            (self.world_from_keyframe(edge.from), self.world_from_keyframe(edge.to))
        else {
            return f64::INFINITY;
        };
        let estimated = world_from_to.inverse() * world_from_from;
        let error = estimated * edge.to_from_from.inverse();
        let twist = twist_of(&error);
        (twist.transpose() * edge.information * twist)[(0, 0)].max(0.0).sqrt()
    }

    /// Marginal covariances of every node (in node order), as right
    /// perturbations `(v, ω)` in the keyframe's frame: the 6×6 diagonal
    /// blocks of `(JᵀJ)⁻¹` of the whitened, robust-weighted system
    /// linearised at the current estimate. Cost: one dense Cholesky of the
    /// 6n × 6n matrix and n six-column solves, O(n³) (≈ 0.1 s for 70
    /// keyframes in the dev profile).
    pub fn marginal_covariances(&self) -> Result<Vec<Matrix6<f64>>> {
        solver::marginal_covariances(self)
    }
}

/// The twist `(v, ω)` of a small transform: its translation and its
/// rotation's scaled axis (the SO(3) × ℝ³ logarithm, matching
/// [`crate::align::exp_twist`]).
pub fn twist_of(transform: &Rigid3) -> Vector6<f64> {
    let v = transform.translation.vector;
    let w = transform.rotation.scaled_axis();
    Vector6::new(v.x, v.y, v.z, w.x, w.y, w.z)
}

fn check_finite(transform: &Rigid3, what: &str) -> Result<()> {
    let finite = transform.translation.vector.iter().chain(transform.rotation.coords.iter()).all(|v| v.is_finite());
    if finite { Ok(()) } else { Err(Error::InvalidEdge(format!("{what} is not finite"))) }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use nalgebra::Vector3;

    /// Poses on a circle of radius 1 m (camera looking outwards), `n` of
    /// them, one lap.
    fn circle(n: usize) -> Vec<Rigid3> {
        (0..n)
            .map(|k| {
                let a = std::f64::consts::TAU * k as f64 / n as f64;
                Rigid3::new(Vector3::new(a.cos(), a.sin(), 0.0), Vector3::new(0.0, 0.0, a))
            })
            .collect()
    }

    /// A graph over `truth` whose odometry edges each carry the same small
    /// bias (a systematic drift), nodes at the drifted dead-reckoning poses.
    fn drifting_graph(truth: &[Rigid3]) -> PoseGraph {
        let bias = Rigid3::new(Vector3::new(0.004, -0.002, 0.001), Vector3::new(0.0, 0.0, 0.003));
        let mut graph = PoseGraph::new(GraphConfig::default());
        let mut world_from_node = truth[0];
        graph.add_keyframe(0, 0.0, world_from_node).unwrap();
        for k in 1..truth.len() {
            let measured = bias * truth[k].inverse() * truth[k - 1];
            world_from_node *= measured.inverse();
            graph.add_keyframe(k, k as f64, world_from_node).unwrap();
            graph.add_odometry(k - 1, k, measured, false).unwrap();
        }
        graph
    }

    fn loop_edge(truth: &[Rigid3], from: usize, to: usize, to_from_from: Option<Rigid3>) -> LoopEdge {
        let information = Matrix6::from_diagonal(&Vector6::new(1e4, 1e4, 1e4, 1e5, 1e5, 1e5));
        let to_from_from = to_from_from.unwrap_or(truth[to].inverse() * truth[from]);
        LoopEdge { from, to, to_from_from, information, score: 1.0 }
    }

    fn position_rmse(graph: &PoseGraph, truth: &[Rigid3]) -> f64 {
        let sum: f64 = graph
            .nodes()
            .iter()
            .zip(truth)
            .map(|(node, t)| (node.world_from_keyframe.translation.vector - t.translation.vector).norm_squared())
            .sum();
        (sum / truth.len() as f64).sqrt()
    }

    #[test]
    fn loop_edges_remove_drift_and_wrong_loops_are_rejected() {
        let truth = circle(40);
        let mut graph = drifting_graph(&truth);
        let drifted = position_rmse(&graph, &truth);
        graph.add_loop(&loop_edge(&truth, 39, 0, None)).unwrap();
        graph.add_loop(&loop_edge(&truth, 38, 1, None)).unwrap();
        // Two wrong loops: "same place" claims between far-apart keyframes.
        graph.add_loop(&loop_edge(&truth, 30, 10, Some(Rigid3::identity()))).unwrap();
        graph.add_loop(&loop_edge(&truth, 25, 5, Some(truth[12].inverse() * truth[25]))).unwrap();
        let report = graph.optimize().unwrap();
        let corrected = position_rmse(&graph, &truth);
        eprintln!("drift {drifted:.4} m → {corrected:.4} m, {report:?}");
        assert!(drifted > 0.05, "the test graph should drift ({drifted} m)");
        // A systematic bias bends the whole chain; the loops can only spread
        // its closure error, so the shape stays partly wrong.
        assert!(corrected < 0.6 * drifted, "{drifted} → {corrected}");
        assert_eq!(report.rejected_loops, 2);
        for edge in graph.edges() {
            assert!(graph.whitened_error(edge) < 3.0, "{edge:?} does not fit: {}", graph.whitened_error(edge));
        }
        let kept: Vec<(usize, usize)> =
            graph.edges().iter().filter(|e| matches!(e.kind, EdgeKind::Loop { .. })).map(|e| (e.from, e.to)).collect();
        assert_eq!(kept, [(39, 0), (38, 1)]);
    }

    #[test]
    fn a_graph_without_loops_keeps_its_poses() {
        let truth = circle(10);
        let mut graph = drifting_graph(&truth);
        let before: Vec<Rigid3> = graph.nodes().iter().map(|n| n.world_from_keyframe).collect();
        graph.optimize().unwrap();
        for (node, pose) in graph.nodes().iter().zip(before) {
            assert!((node.world_from_keyframe.translation.vector - pose.translation.vector).norm() < 1e-6);
        }
    }

    #[test]
    fn marginals_grow_along_the_chain_and_shrink_after_a_loop() {
        let truth = circle(30);
        let mut graph = drifting_graph(&truth);
        let open = graph.marginal_covariances().unwrap();
        assert!(open[0].trace() < 1e-9, "the gauge keyframe is fixed");
        let trace_t = |m: &Matrix6<f64>| m.fixed_view::<3, 3>(0, 0).trace();
        for k in 2..30 {
            assert!(trace_t(&open[k]) > trace_t(&open[k - 1]), "keyframe {k}");
        }
        // One odometry edge alone: the marginal of keyframe 1 is the edge's
        // own covariance (5 mm, 0.3°), in the keyframe's frame.
        let sigma_t = GraphConfig::default().odometry_sigma_m;
        assert!((open[1][(0, 0)] - sigma_t * sigma_t).abs() < 0.05 * sigma_t * sigma_t, "{}", open[1]);
        graph.add_loop(&loop_edge(&truth, 29, 0, None)).unwrap();
        graph.optimize().unwrap();
        let closed = graph.view().marginal_covariance(29).unwrap();
        assert!(trace_t(&closed) < 0.2 * trace_t(&open[29]));
        assert!(matches!(graph.view().marginal_covariance(99), Err(Error::UnknownKeyframe(99))));
    }

    #[test]
    fn bad_edges_are_refused_with_a_clear_error() {
        let mut graph = PoseGraph::new(GraphConfig::default());
        graph.add_keyframe(0, 0.0, Rigid3::identity()).unwrap();
        graph.add_keyframe(1, 0.1, Rigid3::identity()).unwrap();
        assert!(graph.add_keyframe(1, 0.2, Rigid3::identity()).is_err());
        let mut edge =
            LoopEdge { from: 0, to: 1, to_from_from: Rigid3::identity(), information: Matrix6::identity(), score: 1.0 };
        edge.information[(0, 0)] = -1.0;
        assert!(graph.add_loop(&edge).unwrap_err().to_string().contains("positive definite"));
        edge.information = Matrix6::identity();
        edge.to = 7;
        assert!(matches!(graph.add_loop(&edge), Err(Error::UnknownKeyframe(7))));
        edge.to = 0;
        assert!(graph.add_loop(&edge).is_err(), "self-loop");
        edge.to = 1;
        edge.to_from_from.translation.vector.x = f64::NAN;
        assert!(graph.add_loop(&edge).is_err(), "NaN pose");
    }
}
