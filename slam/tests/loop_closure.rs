//! The L3D loop detector with FPFH descriptors on rendered cairn-sim
//! sequences (office, the TUM fr1 camera binned to 320×240, Kinect-like
//! noise): on a two-lap loop it closes loops and ends with a lower ATE than
//! without; on a path that never comes back (most of one corridor lap) it
//! accepts no loop; every loop it accepts on a figure eight agrees with the
//! true relative pose.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_core::Trajectory;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::transform::Rigid3;
use cairn_perception::describe::Fpfh;
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::graph::EdgeKind;
use cairn_slam::{L3dLoopDetector, LoopOutcome, Slam, SlamConfig};

/// The TUM fr1 camera binned 2×2 (calib/tum_fr1_qvga.yaml): a quarter of
/// the pixels to render and track.
fn camera() -> RgbdCamera {
    RgbdCamera::from_yaml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml")).unwrap()
}

struct Run {
    ate: f64,
    slam: Slam,
    truth: Vec<(f64, Rigid3)>,
}

/// Renders `laps` of `shape` in `frames` frames (office, `seed`) and runs
/// SLAM over it, with the FPFH loop detector when `loops`.
fn run(shape: PathShape, laps: f64, frames: usize, seed: u64, loops: bool) -> Run {
    let scene = Scene::generate(SceneKind::Office, seed);
    let camera = camera();
    let path = generate(&scene, shape, laps, frames, 30.0).unwrap();
    let stamps = path.stamps.clone().unwrap();
    let config = SlamConfig::default();
    let mut slam = Slam::new(camera.camera, config.clone()).unwrap();
    if loops {
        let fpfh = Fpfh { radius_m: config.loops.feature_radius_voxels * config.loops.voxel_m, max_neighbours: 100 };
        slam = slam.with_loop_detector(Box::new(L3dLoopDetector::new(config.loops.clone(), Box::new(fpfh))));
    }
    for (k, stamp) in stamps.iter().enumerate() {
        let frame = camera.render(&scene, &path.world_from_body[k], Some(seed * 100_000 + k as u64)).unwrap();
        slam.process(*stamp, &frame.rgb, &frame.depth).unwrap();
    }
    let trajectory = slam.trajectory();
    let estimate = Trajectory::with_stamps("estimate", stamps.clone(), trajectory.iter().map(|t| t.1).collect());
    let reference = Trajectory::with_stamps("truth", stamps.clone(), path.world_from_body.clone());
    let ate = metrics::ate(&reference.unwrap(), &estimate.unwrap(), &EvalOptions::default()).unwrap().stats.rmse;
    Run { ate, slam, truth: stamps.into_iter().zip(path.world_from_body).collect() }
}

/// The true pose of the keyframe taken at `stamp`.
fn true_pose(run: &Run, stamp: f64) -> Rigid3 {
    run.truth.iter().min_by(|a, b| (a.0 - stamp).abs().total_cmp(&(b.0 - stamp).abs())).unwrap().1
}

/// Each loop edge the detector proposed (kept or dropped by the graph),
/// with its error against the true relative pose (m, degrees).
fn loop_errors(run: &Run) -> Vec<(usize, usize, f64, f64)> {
    let graph = run.slam.graph();
    let stamp = |id: usize| graph.nodes().iter().find(|n| n.id == id).unwrap().stamp;
    graph
        .edges()
        .iter()
        .chain(graph.rejected())
        .filter(|e| matches!(e.kind, EdgeKind::Loop { .. }))
        .map(|e| {
            let truth = true_pose(run, stamp(e.to)).inverse() * true_pose(run, stamp(e.from));
            let error = truth.inverse() * e.to_from_from;
            (e.from, e.to, error.translation.vector.norm(), error.rotation.angle().to_degrees())
        })
        .collect()
}

fn accepted(run: &Run) -> usize {
    let detector = run.slam.loop_detector().unwrap();
    detector.decisions().iter().filter(|d| d.outcome == LoopOutcome::Accepted).count()
}

#[test]
fn two_laps_end_with_a_lower_ate_with_loop_closure() {
    let without = run(PathShape::Loop, 2.0, 300, 0, false);
    let with = run(PathShape::Loop, 2.0, 300, 0, true);
    let errors = loop_errors(&with);
    eprintln!(
        "two-lap loop: ATE {:.4} m without loops, {:.4} m with {} loops {errors:.3?}",
        without.ate,
        with.ate,
        accepted(&with)
    );
    assert!(accepted(&with) >= 3, "the second lap should close loops");
    for (from, to, metres, degrees) in errors {
        assert!(metres < 0.1 && degrees < 5.0, "false loop {from} → {to}: {metres} m, {degrees}°");
    }
    assert!(with.ate < without.ate, "{} → {}", without.ate, with.ate);
}

#[test]
fn no_false_loops_where_the_path_does_not_come_back() {
    let corridor = run(PathShape::Corridor, 0.8, 240, 5, true);
    assert_eq!(accepted(&corridor), 0, "{:?}", loop_errors(&corridor));
    let figure8 = run(PathShape::Figure8, 1.0, 240, 6, true);
    for (from, to, metres, degrees) in loop_errors(&figure8) {
        assert!(metres < 0.1 && degrees < 5.0, "false loop {from} → {to}: {metres} m, {degrees}°");
    }
}
