//! Whole-pipeline checks on short cairn-sim sequences (office scene, TUM
//! fr1 camera at 640×480, generated loop path at ≈ 0.85 m/s): noiseless
//! and noisy sequences are tracked within 2 cm ATE, and broken inputs (a
//! frame without depth, a black frame, a duplicated frame, a first frame
//! without depth) are survived without NaN, one pose per frame.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::sync::OnceLock;

use cairn_core::metrics::{self, EvalOptions};
use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, RgbImage, Trajectory};
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::{FrameResult, LostReason, Odometry, SlamConfig, TrackingState};

/// Frames per sequence: enough for several keyframe changes, few enough to
/// render in seconds.
const FRAMES: usize = 40;

/// A rendered sequence: stamps, ground truth and images.
struct Sequence {
    stamps: Vec<f64>,
    world_from_camera: Vec<Rigid3>,
    frames: Vec<(RgbImage, DepthImage)>,
}

fn camera() -> &'static RgbdCamera {
    static CAMERA: OnceLock<RgbdCamera> = OnceLock::new();
    CAMERA.get_or_init(|| RgbdCamera::tum_fr1().unwrap())
}

fn render(noise: bool) -> Sequence {
    render_range(noise, 0..FRAMES)
}

/// Frames `range` of a one-lap loop of 300 frames (0..FRAMES by default).
fn render_range(noise: bool, range: std::ops::Range<usize>) -> Sequence {
    let scene = Scene::generate(SceneKind::Office, 1);
    let path = generate(&scene, PathShape::Loop, 1.0, 300, 30.0).unwrap();
    let frames = range
        .clone()
        .map(|k| {
            let frame = camera().render(&scene, &path.world_from_body[k], noise.then_some(k as u64)).unwrap();
            (frame.rgb, frame.depth)
        })
        .collect();
    Sequence {
        stamps: path.stamps.unwrap()[range.clone()].to_vec(),
        world_from_camera: path.world_from_body[range].to_vec(),
        frames,
    }
}

fn noisy() -> &'static Sequence {
    static NOISY: OnceLock<Sequence> = OnceLock::new();
    NOISY.get_or_init(|| render(true))
}

/// Runs the odometry over `(stamp, rgb, depth)` inputs.
fn run<'a>(inputs: impl Iterator<Item = (f64, &'a RgbImage, &'a DepthImage)>) -> Vec<FrameResult> {
    run_with(SlamConfig::default(), inputs)
}

fn run_with<'a>(
    config: SlamConfig,
    inputs: impl Iterator<Item = (f64, &'a RgbImage, &'a DepthImage)>,
) -> Vec<FrameResult> {
    let mut odometry = Odometry::new(camera().camera, config).unwrap();
    inputs.map(|(stamp, rgb, depth)| odometry.process(stamp, rgb, depth).unwrap()).collect()
}

/// SE(3)-aligned ATE RMSE of `results` against the sequence's ground truth
/// at `truth_indices`.
fn ate(results: &[FrameResult], sequence: &Sequence, truth_indices: &[usize]) -> f64 {
    let stamps: Vec<f64> = (0..results.len()).map(|k| k as f64).collect();
    let estimate =
        Trajectory::with_stamps("estimate", stamps.clone(), results.iter().map(|r| r.world_from_camera).collect());
    let truth = Trajectory::with_stamps(
        "truth",
        stamps,
        truth_indices.iter().map(|&k| sequence.world_from_camera[k]).collect(),
    );
    metrics::ate(&truth.unwrap(), &estimate.unwrap(), &EvalOptions::default()).unwrap().stats.rmse
}

fn assert_finite(results: &[FrameResult]) {
    for (k, r) in results.iter().enumerate() {
        let pose = r.world_from_camera;
        let finite = pose.translation.vector.iter().chain(pose.rotation.coords.iter()).all(|v| v.is_finite());
        assert!(finite, "frame {k}: non-finite pose {pose:?}");
        assert!((pose.rotation.quaternion().norm() - 1.0).abs() < 1e-9, "frame {k}: quaternion off the unit sphere");
    }
}

#[test]
fn noiseless_sequence_is_tracked_within_two_centimetres() {
    let sequence = render(false);
    let inputs = sequence.frames.iter().zip(&sequence.stamps).map(|((rgb, depth), &stamp)| (stamp, rgb, depth));
    let results = run(inputs);
    assert_finite(&results);
    assert!(results.iter().all(|r| r.tracking_state.is_tracked()), "a noiseless frame was lost");
    let rmse = ate(&results, &sequence, &(0..FRAMES).collect::<Vec<_>>());
    eprintln!("noiseless: ATE RMSE {rmse:.6} m, {} keyframes", results.iter().filter(|r| r.new_keyframe).count());
    assert!(rmse < 0.02, "ATE RMSE {rmse} m");
}

#[test]
fn noisy_sequence_is_tracked_within_two_centimetres() {
    let sequence = noisy();
    let inputs = sequence.frames.iter().zip(&sequence.stamps).map(|((rgb, depth), &stamp)| (stamp, rgb, depth));
    let results = run(inputs);
    assert_finite(&results);
    assert!(results.iter().all(|r| r.tracking_state.is_tracked()), "a noisy frame was lost");
    let rmse = ate(&results, sequence, &(0..FRAMES).collect::<Vec<_>>());
    eprintln!("noisy: ATE RMSE {rmse:.6} m, valid depth {}", sequence.frames[5].1.valid_count());
    assert!(rmse < 0.02, "ATE RMSE {rmse} m");
}

#[test]
fn broken_frames_are_survived_one_pose_each_without_nan() {
    let sequence = noisy();
    let (width, height) = (camera().camera.width, camera().camera.height);
    let no_depth = DepthImage::new(width, height, vec![0.0; (width * height) as usize]).unwrap();
    let black = RgbImage::new(width, height, vec![0; (width * height * 3) as usize]).unwrap();
    // Input k → (ground-truth index, which rgb, which depth).
    let mut plan: Vec<(usize, &RgbImage, &DepthImage)> = Vec::new();
    for k in 0..FRAMES {
        let (rgb, depth) = &sequence.frames[k];
        match k {
            0 => plan.push((k, rgb, &no_depth)), // no keyframe possible yet
            12 => plan.push((k, rgb, &no_depth)),
            18 => plan.push((k, &black, depth)),
            24 => {
                plan.push((k, rgb, depth));
                plan.push((k, rgb, depth)); // the same frame again
            }
            _ => plan.push((k, rgb, depth)),
        }
    }
    let inputs = plan.iter().map(|&(k, rgb, depth)| (sequence.stamps[k], rgb, depth));
    let results = run(inputs);
    assert_eq!(results.len(), plan.len(), "one result per input frame");
    assert_finite(&results);
    assert_eq!(results[0].tracking_state, TrackingState::Lost(LostReason::NoKeyframe));
    assert_eq!(results[18].tracking_state, TrackingState::Lost(LostReason::Textureless));
    let tracked = results.iter().filter(|r| r.tracking_state.is_tracked()).count();
    assert!(tracked >= plan.len() - 3, "only {tracked} of {} frames tracked", plan.len());
    // The duplicate is tracked to (almost) the same pose.
    let (a, b) = (results[24].world_from_camera, results[25].world_from_camera);
    let moved = (a.inverse() * b).translation.vector.norm();
    assert!(moved < 2e-3, "duplicate moved {moved} m");
    let truth: Vec<usize> = plan.iter().map(|p| p.0).collect();
    let rmse = ate(&results, sequence, &truth);
    eprintln!("broken inputs: ATE RMSE {rmse:.4} m");
    assert!(rmse < 0.03, "ATE RMSE {rmse} m");
}

#[test]
fn coming_back_reuses_keyframes_instead_of_adding_new_ones() {
    // Forward along the sequence, then the same frames backwards (stamps
    // keep increasing): the way back passes the old keyframes again.
    let sequence = noisy();
    let order: Vec<usize> = (0..FRAMES).chain((0..FRAMES - 1).rev()).collect();
    let inputs = order.iter().enumerate().map(|(i, &k)| {
        let (rgb, depth) = &sequence.frames[k];
        (sequence.stamps[0] + i as f64 / 30.0, rgb, depth)
    });
    let results = run(inputs);
    assert_finite(&results);
    assert!(results.iter().all(|r| r.tracking_state.is_tracked()));
    let forward = results[..FRAMES].iter().filter(|r| r.new_keyframe).count();
    let backward = results[FRAMES..].iter().filter(|r| r.new_keyframe).count();
    eprintln!("keyframes: {forward} forward, {backward} backward");
    assert!(forward >= 3, "the forward pass should change keyframes ({forward})");
    assert!(backward <= 1, "the way back took {backward} new keyframes");
    let rmse = ate(&results, sequence, &order);
    assert!(rmse < 0.02, "ATE RMSE {rmse} m");
}

#[test]
fn a_sudden_jump_is_flagged_lost_and_tracking_recovers() {
    // Frames 0..=12, then the camera is suddenly 12 frames (≈ 0.35 m)
    // further along; stamps stay 1/30 s apart.
    let sequence = noisy();
    let order: Vec<usize> = (0..=12).chain(25..FRAMES).collect();
    let inputs = order.iter().enumerate().map(|(i, &k)| {
        let (rgb, depth) = &sequence.frames[k];
        (sequence.stamps[0] + i as f64 / 30.0, rgb, depth)
    });
    let mut config = SlamConfig::default();
    config.tracking.reinitialise_after = 4;
    let results = run_with(config, inputs);
    assert_eq!(results.len(), order.len());
    assert_finite(&results);
    let states: Vec<TrackingState> = results.iter().map(|r| r.tracking_state).collect();
    assert!(states[..13].iter().all(TrackingState::is_tracked), "{states:?}");
    assert!(matches!(states[13], TrackingState::Lost(_)), "the jump went unnoticed: {states:?}");
    // Back on track (relocalised or restarted) well before the end, and
    // tracked from then on.
    let back = (14..results.len()).find(|&i| states[i..].iter().all(TrackingState::is_tracked));
    let back = back.unwrap_or(results.len());
    assert!(back <= 13 + 6, "not recovered: {states:?}");
    // The poses after recovery are consistent with each other.
    let rmse = ate(&results[back..], sequence, &order[back..]);
    assert!(rmse < 0.02, "ATE RMSE after recovery {rmse} m");
}

#[test]
fn lost_without_a_keyframe_to_return_to_restarts_from_a_new_one() {
    // Frames 0..=10, then half a lap later (the other side of the room):
    // no recent keyframe sees it, so after `reinitialise_after` lost frames
    // tracking restarts from a new keyframe.
    let (start, far) = (noisy(), render_range(true, 150..166));
    let mut inputs: Vec<(f64, &RgbImage, &DepthImage)> = Vec::new();
    for k in 0..=10 {
        inputs.push((start.stamps[k], &start.frames[k].0, &start.frames[k].1));
    }
    for (k, (rgb, depth)) in far.frames.iter().enumerate() {
        inputs.push((start.stamps[10] + (k + 1) as f64 / 30.0, rgb, depth));
    }
    let mut config = SlamConfig::default();
    config.tracking.reinitialise_after = 4;
    let results = run_with(config, inputs.into_iter());
    assert_eq!(results.len(), 11 + far.frames.len());
    assert_finite(&results);
    let states: Vec<TrackingState> = results.iter().map(|r| r.tracking_state).collect();
    assert!(states[11..15].iter().all(|s| matches!(s, TrackingState::Lost(_))), "{states:?}");
    assert_eq!(states[14], TrackingState::Lost(LostReason::TooFewReprojections), "{states:?}");
    assert_eq!(states[15], TrackingState::Reinitialised, "{states:?}");
    assert!(states[16..].iter().all(TrackingState::is_tracked), "{states:?}");
    // After the restart the motion is right again (ATE of that stretch).
    let rmse = ate(&results[15..], &far, &(4..far.frames.len()).collect::<Vec<_>>());
    assert!(rmse < 0.02, "ATE RMSE after the restart {rmse} m");
}

/// One input of a plan: (ground-truth index, stamp, colour, depth).
type Input<'a> = (usize, f64, &'a RgbImage, &'a DepthImage);

/// Runs a plan; returns its results and ATE against the ground truth.
fn run_plan(plan: &[Input<'_>], sequence: &Sequence) -> (Vec<FrameResult>, f64) {
    let results = run(plan.iter().map(|&(_, stamp, rgb, depth)| (stamp, rgb, depth)));
    let truth: Vec<usize> = plan.iter().map(|p| p.0).collect();
    let rmse = ate(&results, sequence, &truth);
    (results, rmse)
}

#[test]
fn each_broken_input_is_flagged_and_costs_at_most_half_the_clean_ate_again() {
    // The acceptance of the robustness issue, one problem per run: a frame
    // with all-zero depth, a black frame, a 1 s gap in the stamps (the
    // camera's images go on), a duplicated frame (same stamp).
    let sequence = noisy();
    let (width, height) = (camera().camera.width, camera().camera.height);
    let no_depth = DepthImage::new(width, height, vec![0.0; (width * height) as usize]).unwrap();
    let black = RgbImage::new(width, height, vec![0; (width * height * 3) as usize]).unwrap();
    let clean: Vec<Input<'_>> =
        sequence.frames.iter().enumerate().map(|(k, (rgb, depth))| (k, sequence.stamps[k], rgb, depth)).collect();
    let (clean_results, clean_ate) = run_plan(&clean, sequence);
    assert!(clean_results.iter().all(|r| !r.warnings.any()), "the clean run has warnings");
    let mut zero_depth = clean.clone();
    zero_depth[12].3 = &no_depth;
    let mut black_image = clean.clone();
    black_image[18].2 = &black;
    let mut gap = clean.clone();
    gap[20..].iter_mut().for_each(|input| input.1 += 1.0);
    let mut duplicate = clean.clone();
    duplicate.insert(25, clean[24]);
    type Flagged = fn(&FrameResult) -> bool;
    let cases: [(&str, Vec<Input<'_>>, usize, Flagged); 4] = [
        ("all-zero depth", zero_depth, 12, |r| r.warnings.missing_depth),
        ("black image", black_image, 18, |r| r.tracking_state == TrackingState::Lost(LostReason::Textureless)),
        ("1 s stamp gap", gap, 20, |r| r.warnings.stamp_gap),
        ("duplicated frame", duplicate, 25, |r| r.warnings.stamp_not_increasing),
    ];
    let mut failures = Vec::new();
    for (name, plan, at, flagged) in cases {
        let (results, rmse) = run_plan(&plan, sequence);
        assert_eq!(results.len(), plan.len(), "{name}: one result per input frame");
        assert_finite(&results);
        let (state, warnings) = (results[at].tracking_state, results[at].warnings);
        eprintln!("{name}: ATE RMSE {rmse:.5} m (clean {clean_ate:.5} m), frame {at}: {state:?} {warnings:?}");
        if !flagged(&results[at]) {
            failures.push(format!("{name}: frame {at} not flagged: {:?}", results[at]));
        }
        let others_clean = results.iter().enumerate().all(|(k, r)| k == at || !r.warnings.any());
        if !others_clean {
            failures.push(format!("{name}: warnings on other frames"));
        }
        if rmse > 1.5 * clean_ate {
            failures.push(format!("{name}: ATE {rmse:.5} m > 1.5 × clean {clean_ate:.5} m"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
