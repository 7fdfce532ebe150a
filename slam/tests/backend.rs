//! The back end on a rendered two-lap loop (cairn-sim office, TUM fr1
//! camera, Kinect-like noise): [`Slam`] without a loop detector drifts;
//! with a test-only detector fed by ground truth (noisy relative poses, and
//! some wrong loops that the robust kernel must reject) the pose graph
//! removes the drift, and every frame's pose follows its keyframe.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_core::Trajectory;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, RgbImage};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::graph::EdgeKind;
use cairn_slam::loops::{self, LoopDetector, LoopEdge, PoseGraphView};
use cairn_slam::{Slam, SlamConfig};
use nalgebra::{Matrix6, Vector3, Vector6};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// Loop edges from ground truth: for the newest keyframe, the nearest
/// keyframe at least `MIN_GAP` keyframes older within 0.3 m and 20°, its
/// true relative pose perturbed by Gaussian noise of the stated
/// information; every `WRONG_EVERY`-th keyframe also gets a wrong loop
/// ("the same place as a keyframe half the run ago").
struct GroundTruthLoops {
    truth: Vec<(f64, Rigid3)>,
    keyframes: Vec<(usize, Rigid3)>,
    rng: ChaCha8Rng,
    wrong: Vec<(usize, usize)>,
}

const MIN_GAP: usize = 10;
const WRONG_EVERY: usize = 6;
const SIGMA_T: f64 = 0.003;
const SIGMA_R: f64 = 0.002;

impl GroundTruthLoops {
    fn true_pose(&self, stamp: f64) -> Rigid3 {
        let nearest = self.truth.iter().min_by(|a, b| (a.0 - stamp).abs().total_cmp(&(b.0 - stamp).abs()));
        nearest.unwrap().1
    }

    fn edge(&self, from: (usize, Rigid3), to: (usize, Rigid3), noise: Vector6<f64>) -> LoopEdge {
        let measured = to.1.inverse() * from.1;
        let perturbation = Rigid3::new(noise.fixed_rows::<3>(0).into(), noise.fixed_rows::<3>(3).into());
        let information = Matrix6::from_diagonal(&Vector6::new(
            1.0 / (SIGMA_T * SIGMA_T),
            1.0 / (SIGMA_T * SIGMA_T),
            1.0 / (SIGMA_T * SIGMA_T),
            1.0 / (SIGMA_R * SIGMA_R),
            1.0 / (SIGMA_R * SIGMA_R),
            1.0 / (SIGMA_R * SIGMA_R),
        ));
        LoopEdge { from: from.0, to: to.0, to_from_from: perturbation * measured, information, score: 1.0 }
    }
}

impl LoopDetector for GroundTruthLoops {
    fn add_keyframe(&mut self, keyframe: &loops::Keyframe<'_>) -> cairn_slam::Result<()> {
        assert_eq!(keyframe.rgb.width, keyframe.camera.width);
        assert_eq!(keyframe.depth_m.width, keyframe.camera.width);
        let pose = self.true_pose(keyframe.stamp);
        self.keyframes.push((keyframe.id, pose));
        Ok(())
    }

    fn detect(&mut self, graph: &PoseGraphView<'_>) -> cairn_slam::Result<Vec<LoopEdge>> {
        let Some(&newest) = self.keyframes.last() else { return Ok(vec![]) };
        // The view has the newest keyframe, with a finite marginal covariance.
        let covariance = graph.marginal_covariance(newest.0)?;
        assert!(covariance.iter().all(|v| v.is_finite()) && covariance.trace() > 0.0);
        let count = self.keyframes.len();
        let older = &self.keyframes[..count.saturating_sub(MIN_GAP)];
        let near = older
            .iter()
            .map(|&(id, pose)| (id, pose, (pose.inverse() * newest.1)))
            .filter(|(_, _, rel)| rel.translation.vector.norm() < 0.3 && rel.rotation.angle() < 20f64.to_radians())
            .min_by(|a, b| a.2.translation.vector.norm().total_cmp(&b.2.translation.vector.norm()));
        let normal_t = Normal::new(0.0, SIGMA_T).unwrap();
        let normal_r = Normal::new(0.0, SIGMA_R).unwrap();
        let mut edges = Vec::new();
        if let Some((id, pose, _)) = near {
            let noise =
                Vector6::from_fn(
                    |r, _| {
                        if r < 3 { normal_t.sample(&mut self.rng) } else { normal_r.sample(&mut self.rng) }
                    },
                );
            edges.push(self.edge(newest, (id, pose), noise));
        }
        if count.is_multiple_of(WRONG_EVERY) && count > 2 * MIN_GAP {
            // A wrong match: claims the camera is back at a keyframe taken
            // half the run ago (the rendered office repeats textures).
            let other = self.keyframes[self.rng.random_range(0..count / 2)];
            let far = (other.1.inverse() * newest.1).translation.vector.norm();
            if far > 0.5 {
                let mut edge = self.edge(newest, other, Vector6::zeros());
                edge.to_from_from = Rigid3::new(Vector3::new(0.02, 0.0, 0.0), Vector3::zeros());
                self.wrong.push((edge.from, edge.to));
                edges.push(edge);
            }
        }
        Ok(edges)
    }
}

struct Run {
    ate: f64,
    max: f64,
    poses: usize,
    /// Mean pose-graph optimisation time per optimisation (ms).
    graph_ms: f64,
}

fn run(
    frames: &[(f64, RgbImage, DepthImage)],
    truth: &[Rigid3],
    config: SlamConfig,
    detector: Option<GroundTruthLoops>,
) -> (Run, Slam) {
    let camera = RgbdCamera::tum_fr1().unwrap();
    let mut slam = Slam::new(camera.camera, config).unwrap();
    if let Some(detector) = detector {
        slam = slam.with_loop_detector(Box::new(detector));
    }
    let (mut graph_ms, mut optimisations) = (0.0, 0);
    for (stamp, rgb, depth) in frames {
        let frame = slam.process(*stamp, rgb, depth).unwrap();
        if frame.graph.is_some() {
            graph_ms += frame.backend.graph_ms;
            optimisations += 1;
        }
    }
    let trajectory = slam.trajectory();
    let stamps: Vec<f64> = trajectory.iter().map(|t| t.0).collect();
    let estimate = Trajectory::with_stamps("estimate", stamps.clone(), trajectory.iter().map(|t| t.1).collect());
    let reference = Trajectory::with_stamps("truth", stamps, truth.to_vec());
    let report = metrics::ate(&reference.unwrap(), &estimate.unwrap(), &EvalOptions::default()).unwrap();
    let graph_ms = graph_ms / f64::from(optimisations.max(1));
    (Run { ate: report.stats.rmse, max: report.stats.max, poses: trajectory.len(), graph_ms }, slam)
}

#[test]
fn ground_truth_loops_remove_the_two_lap_drift_and_wrong_loops_are_rejected() {
    let scene = Scene::generate(SceneKind::Office, 0);
    let camera = RgbdCamera::tum_fr1().unwrap();
    let path = generate(&scene, PathShape::Loop, 2.0, 300, 30.0).unwrap();
    let stamps = path.stamps.clone().unwrap();
    let frames: Vec<(f64, RgbImage, DepthImage)> = (0..stamps.len())
        .map(|k| {
            let frame = camera.render(&scene, &path.world_from_body[k], Some(k as u64)).unwrap();
            (stamps[k], frame.rgb, frame.depth)
        })
        .collect();
    let truth = path.world_from_body.clone();
    let mut no_window = SlamConfig::default();
    no_window.window.enabled = false;
    let (odometry, _) = run(&frames, &truth, no_window, None);
    let (windowed, _) = run(&frames, &truth, SlamConfig::default(), None);
    let detector = GroundTruthLoops {
        truth: stamps.iter().copied().zip(truth.iter().copied()).collect(),
        keyframes: Vec::new(),
        rng: ChaCha8Rng::seed_from_u64(7),
        wrong: Vec::new(),
    };
    let (closed, slam) = run(&frames, &truth, SlamConfig::default(), Some(detector));
    let graph = slam.graph();
    let loops = graph.edges().iter().filter(|e| matches!(e.kind, EdgeKind::Loop { .. })).count();
    let rejected: Vec<(usize, usize)> = graph.rejected().iter().map(|e| (e.from, e.to)).collect();
    eprintln!(
        "two-lap loop, ATE RMSE / max (m): odometry {:.4} / {:.4}, + window {:.4} / {:.4}, + ground-truth loops {:.4} / {:.4} \
         ({loops} loops kept, rejected {rejected:?}); {} keyframes",
        odometry.ate,
        odometry.max,
        windowed.ate,
        windowed.max,
        closed.ate,
        closed.max,
        graph.nodes().len()
    );
    // The cost of marginals on demand (printed, not asserted).
    let start = std::time::Instant::now();
    let last = graph.nodes().last().unwrap().id;
    let covariance = graph.view().marginal_covariance(last).unwrap();
    eprintln!(
        "pose graph: {:.1} ms per optimisation; marginal covariances of {} keyframes: {:.1} ms; last keyframe σ_xyz {:.4} m",
        closed.graph_ms,
        graph.nodes().len(),
        start.elapsed().as_secs_f64() * 1e3,
        covariance.fixed_view::<3, 3>(0, 0).trace().sqrt()
    );
    assert_eq!(odometry.poses, frames.len());
    assert_eq!(windowed.poses, frames.len());
    assert_eq!(closed.poses, frames.len());
    assert!(loops >= 3, "the second lap should close loops ({loops})");
    // Every wrong loop was dropped, no right one was.
    for edge in graph.edges() {
        if matches!(edge.kind, EdgeKind::Loop { .. }) {
            let (a, b) = (graph.world_from_keyframe(edge.from).unwrap(), graph.world_from_keyframe(edge.to).unwrap());
            assert!((b.inverse() * a).translation.vector.norm() < 0.4, "a wrong loop was kept: {edge:?}");
        }
    }
    assert!(!rejected.is_empty(), "the test should propose wrong loops");
    // Each keyframe's own frame is output at the keyframe's optimised pose
    // (every frame's pose goes through its keyframe).
    let trajectory = slam.trajectory();
    for node in graph.nodes() {
        let (_, pose, _) = trajectory.iter().find(|t| t.0 == node.stamp).unwrap();
        let moved = (pose.inverse() * node.world_from_keyframe).translation.vector.norm();
        assert!(moved < 1e-9, "keyframe {} output {moved} m away from its graph pose", node.id);
    }
    assert!(closed.ate < 0.5 * odometry.ate, "drift not removed: {} → {}", odometry.ate, closed.ate);
}
