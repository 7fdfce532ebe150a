//! Saved maps and relocalisation on a rendered two-lap loop (office, the TUM
//! fr1 camera binned to 320×240, Kinect-like noise): the first lap is mapped
//! and saved; a second run starts a quarter into the second lap, from a
//! pose it is not told, loads the map, and must relocalise within 2 s of
//! sequence time with a pose error under 5 cm in the map's frame. A run in
//! another scene must never relocalise against that map.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_core::transform::Rigid3;
use cairn_perception::describe::Fpfh;
use cairn_sim::path::{PathShape, generate};
use cairn_sim::{RgbdCamera, Scene, SceneKind};
use cairn_slam::map::SavedMap;
use cairn_slam::relocalise::KeyframeMapper;
use cairn_slam::{Slam, SlamConfig};

const FRAMES: usize = 300; // two laps at 30 Hz
const SEED: u64 = 21;

fn camera() -> RgbdCamera {
    RgbdCamera::from_yaml_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../calib/tum_fr1_qvga.yaml")).unwrap()
}

fn mapper(config: &SlamConfig) -> KeyframeMapper {
    let loops = &config.loops;
    let fpfh = Fpfh { radius_m: loops.feature_radius_voxels * loops.voxel_m, max_neighbours: 100 };
    KeyframeMapper::new(loops.clone(), Box::new(fpfh))
}

/// Runs `slam` over frames `range` of the two-lap loop in `scene`.
fn run(mut slam: Slam, scene: &Scene, range: std::ops::Range<usize>) -> (Slam, Vec<f64>, Vec<Rigid3>) {
    let camera = camera();
    let path = generate(scene, PathShape::Loop, 2.0, FRAMES, 30.0).unwrap();
    let stamps = path.stamps.clone().unwrap();
    for k in range.clone() {
        let frame = camera.render(scene, &path.world_from_body[k], Some(SEED * 100_000 + k as u64)).unwrap();
        slam.process(stamps[k], &frame.rgb, &frame.depth).unwrap();
    }
    (slam, stamps, path.world_from_body)
}

#[test]
fn a_second_lap_relocalises_in_the_saved_map_of_the_first() {
    let scene = Scene::generate(SceneKind::Office, SEED);
    let config = SlamConfig::default();
    // Lap 1: map, save, read back.
    let slam = Slam::new(camera().camera, config.clone()).unwrap().with_mapper(mapper(&config).recording());
    let (mut slam, stamps, truth) = run(slam, &scene, 0..FRAMES / 2);
    let dir = std::env::temp_dir().join(format!("cairn-relocalise-{}", std::process::id()));
    let saved = slam.take_map().unwrap();
    assert!(saved.keyframes.len() >= 5, "{} keyframes", saved.keyframes.len());
    saved.write(&dir).unwrap();
    let map = SavedMap::read(&dir).unwrap();
    assert_eq!(map.keyframes.len(), saved.keyframes.len());

    // Lap 2, from a quarter into it: relocalise, then track in the map's frame.
    let start = FRAMES / 2 + FRAMES / 8;
    let slam = Slam::new(camera().camera, config.clone()).unwrap().with_mapper(mapper(&config).with_map(map).unwrap());
    let (slam, _, _) = run(slam, &scene, start..FRAMES);
    let mapper = slam.mapper().unwrap();
    let found = *mapper.relocalisation().expect("the second lap relocalises");
    let delay = found.stamp - stamps[start];
    // The map's frame is the first lap's first camera.
    let map_from_truth = truth[0].inverse();
    let trajectory = slam.trajectory();
    let errors: Vec<f64> = trajectory
        .iter()
        .zip(start..)
        .filter(|(pose, _)| pose.0 >= found.stamp)
        .map(|(pose, k)| (map_from_truth * truth[k]).translation.vector.metric_distance(&pose.1.translation.vector))
        .collect();
    let at = errors[0];
    let worst = errors.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "relocalised after {delay:.2} s ({} keyframes tried) against map keyframe {} (overlap {:.2}, {} inliers): \
         error {at:.4} m there, worst {worst:.4} m over the {} frames after",
        mapper.attempts(),
        found.map_keyframe,
        found.overlap,
        found.inliers,
        errors.len()
    );
    assert!(delay <= 2.0, "relocalised only after {delay} s");
    assert!(at < 0.05, "relocalised {at} m away from the truth");

    // Another scene never relocalises against this map.
    let other = Scene::generate(SceneKind::Office, SEED + 1);
    let map = SavedMap::read(&dir).unwrap();
    let slam = Slam::new(camera().camera, config.clone()).unwrap().with_mapper(mapper_for(&config, map));
    let (slam, _, _) = run(slam, &other, 0..FRAMES / 2);
    let mapper = slam.mapper().unwrap();
    assert!(mapper.relocalisation().is_none(), "false relocalisation {:?}", mapper.relocalisation());
    eprintln!("another scene: no relocalisation in {} keyframes tried", mapper.attempts());
    std::fs::remove_dir_all(&dir).ok();
}

fn mapper_for(config: &SlamConfig, map: SavedMap) -> KeyframeMapper {
    mapper(config).with_map(map).unwrap()
}

#[test]
fn a_corrupt_or_missing_map_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("cairn-bad-map-{}", std::process::id()));
    let missing = SavedMap::read(&dir).unwrap_err().to_string();
    assert!(missing.contains("map.json"), "{missing}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("map.json"), r#"{"format": "cairn-map 1", "descriptor": "fpfh", "keyframes": [{"id": 0, "stamp": 0.0, "world_from_keyframe": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}], "edges": []}"#).unwrap();
    std::fs::write(dir.join("keyframes.safetensors"), b"not a safetensors file").unwrap();
    let corrupt = SavedMap::read(&dir).unwrap_err().to_string();
    assert!(corrupt.contains("keyframes.safetensors"), "{corrupt}");
    std::fs::remove_dir_all(&dir).ok();
}
