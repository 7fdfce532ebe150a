//! Dataset folders ↔ bags (`cairn bag from-tum`, `to-tum`, `from-samples`):
//!
//! - a TUM folder → bag → TUM folder gives back the same pixels, depth
//!   units, ground truth and calibration; the bag has TUM's topics and
//!   opens in rosbags (PyPI) with every message deserialised;
//! - 16UC1 depth is read as millimetres (REP-118) and written ×5000;
//! - missing topics, wrong calibration sizes and truncated bags give clear
//!   errors, and `--recover` keeps everything before the damage;
//! - a sample set → bag holds the images, camera_info, the LiDAR sweep
//!   (ring included), the rig on /tf_static and the boxes — for a
//!   synthetic set and for the real nuScenes sample in ../shared/data.
//!
//! rosbags trials are ignored (skipped) when the venv lacks rosbags, unless
//! `CAIRN_REQUIRE_ORACLES=1`; the nuScenes trial when ../shared/data is
//! absent.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cairn_bags::cdr;
use cairn_bags::dataset::{self, ToTumOptions, tum_topics};
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::sensor_msgs::{CameraInfo, Image, PointCloud2};
use cairn_bags::msg::std_msgs::Header;
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::vision_msgs::Detection3DArray;
use cairn_bags::storage::{Bag, BagWriter, Connection, StorageKind};
use cairn_core::samples::{
    CameraSample, Instance, LidarSample, LidarSweep, SampleInfo, SampleSet, rows_from_rigid, write_pcd_bin,
};
use cairn_core::transform::Rigid3;
use cairn_core::tum::{TumWriter, builtin_calibration};
use cairn_core::{DepthImage, RgbImage, Trajectory};
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir, shared_file};
use libtest_mimic::{Arguments, Failed, Trial};
use nalgebra::{Point3, Vector3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

type TestResult = Result<(), Failed>;

fn no_progress() -> impl FnMut(u64, u64) {
    |_, _| {}
}

fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    dir.to_path_buf()
}

/// A small TUM folder: 640×480 random colour, depth with holes (0) and
/// far values, colour and depth stamps offset as a real Kinect's are, and
/// ground truth at its own rate.
fn write_tum_folder(dir: &Path, frames: usize) -> Result<Trajectory, Failed> {
    let calibration = builtin_calibration("fr1")?;
    let mut writer = TumWriter::create(dir, &calibration)?;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (mut stamps, mut poses) = (Vec::new(), Vec::new());
    for i in 0..frames {
        let t = 1305031102.175304 + i as f64 / 30.0;
        let rgb: Vec<u8> = (0..640 * 480 * 3).map(|_| rng.random()).collect();
        writer.write_rgb(t, &RgbImage::new(640, 480, rgb)?)?;
        let units: Vec<u16> =
            (0..640 * 480).map(|k| if k % 17 == 0 { 0 } else { rng.random_range(2000..40000) }).collect();
        writer.write_depth(t + 0.0112, &DepthImage::from_u16(640, 480, &units, 5000.0)?)?;
        for k in 0..3 {
            let s = t + k as f64 / 90.0;
            let pose = Rigid3::new(
                Vector3::new(0.1 * s.sin(), 0.01 * i as f64, k as f64),
                Vector3::new(0.0, 0.1, 0.02 * i as f64),
            );
            writer.push_pose(s, &pose);
            stamps.push(s);
            poses.push(pose);
        }
    }
    writer.finish()?;
    Ok(Trajectory::with_stamps("gt", stamps, poses)?)
}

fn tum_round_trip(scratch: PathBuf) -> TestResult {
    let (folder, bag, back) =
        (fresh(&scratch.join("tum")), fresh(&scratch.join("tum_bag")), fresh(&scratch.join("back")));
    let gt = write_tum_folder(&folder, 4)?;
    let summary = dataset::tum_to_bag(&folder, None, &bag, &mut no_progress())?;
    let opened = Bag::open(&bag)?;
    let counts: BTreeMap<&str, (&str, u64)> =
        opened.info().topics.iter().map(|t| (t.name.as_str(), (t.type_name.as_str(), t.count))).collect();
    assert_eq!(counts[tum_topics::RGB], ("sensor_msgs/msg/Image", 4), "{summary:?}");
    assert_eq!(counts[tum_topics::DEPTH], ("sensor_msgs/msg/Image", 4));
    assert_eq!(counts[tum_topics::CAMERA_INFO], ("sensor_msgs/msg/CameraInfo", 4));
    assert_eq!(counts[tum_topics::TF], ("tf2_msgs/msg/TFMessage", 12));
    // Depth is 32FC1 metres with missing depth as NaN (openni's convention).
    let depth_topic = opened.connection_index(tum_topics::DEPTH).unwrap();
    let first_depth = opened.messages(&[tum_topics::DEPTH])?.next().unwrap()?;
    assert_eq!(first_depth.connection, depth_topic);
    let image: Image = cdr::decode(&first_depth.data)?;
    assert_eq!(image.encoding, "32FC1");
    let first = f32::from_le_bytes(image.data[..4].try_into().unwrap());
    assert!(first.is_nan(), "pixel 0 has no depth: {first}");

    dataset::bag_to_tum(&bag, &ToTumOptions::default(), &back, &mut no_progress())?;
    for list in ["rgb.txt", "depth.txt"] {
        let a = cairn_core::tum::read_list(&folder, list)?;
        let b = cairn_core::tum::read_list(&back, list)?;
        assert_eq!(a.len(), b.len(), "{list}");
        for ((ta, fa), (tb, fb)) in a.iter().zip(&b) {
            assert!((ta - tb).abs() < 1e-6, "{list}: {ta} vs {tb}");
            let (pa, pb) = (folder.join(fa), back.join(fb));
            if list == "rgb.txt" {
                assert_eq!(RgbImage::load(&pa)?, RgbImage::load(&pb)?, "{fa}");
            } else {
                let (da, db) = (DepthImage::load_png(&pa, 5000.0)?, DepthImage::load_png(&pb, 5000.0)?);
                assert_eq!(da.to_u16(5000.0)?, db.to_u16(5000.0)?, "{fa}: depth units differ");
            }
        }
    }
    let gt_back = Trajectory::read(&back.join("groundtruth.txt"), Default::default())?;
    assert_eq!(gt_back.len(), gt.len());
    for (a, b) in gt.world_from_body.iter().zip(&gt_back.world_from_body) {
        assert!((a.to_homogeneous() - b.to_homogeneous()).abs().max() < 1e-6);
    }
    let calib_a = cairn_core::Calibration::from_yaml_file(folder.join("calib.yaml"))?;
    let calib_b = cairn_core::Calibration::from_yaml_file(back.join("calib.yaml"))?;
    assert_eq!(calib_a.camera(), calib_b.camera());
    // A folder that already holds a sequence is refused, not overwritten.
    let again = dataset::bag_to_tum(&bag, &ToTumOptions::default(), &back, &mut no_progress());
    assert!(again.unwrap_err().to_string().contains("already holds a sequence"));
    Ok(())
}

fn from_tum_bag_reads_in_rosbags(scratch: PathBuf) -> TestResult {
    let (folder, bag) = (fresh(&scratch.join("tum")), fresh(&scratch.join("bag")));
    write_tum_folder(&folder, 2)?;
    dataset::tum_to_bag(&folder, None, &bag, &mut no_progress())?;
    rosbags_reads_every_message(&bag)
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// rosbags opens the bag, deserialises every message, and sees the same
/// messages (topic, type, time, bytes) as cairn.
fn rosbags_reads_every_message(bag: &Path) -> TestResult {
    let python = Oracle::python().map_err(Failed::from)?;
    let script = repo_root().join("bags/tests/oracle/rosbags_bags.py");
    let out = python.run([script.display().to_string(), "read".into(), bag.display().to_string()]);
    let read: Value = serde_json::from_str(&out.map_err(|e| Failed::from(format!("{e:#}")))?)?;
    let opened = Bag::open(bag)?;
    let mut expected = Vec::new();
    for message in opened.messages(&[])? {
        let m = message?;
        let c = &opened.connections[m.connection];
        expected.push(serde_json::json!({
            "topic": c.topic, "type": c.type_name, "timestamp": m.log_time, "sha256": sha256_hex(&m.data),
        }));
    }
    if read["messages"].as_array() != Some(&expected) {
        return Err(format!("rosbags read {} messages, cairn {}", read["count"], expected.len()).into());
    }
    if read["metadata_count"] != read["count"] {
        return Err(format!("metadata.yaml disagrees with the data: {read}").into());
    }
    Ok(())
}

fn connection<T: RosMessage>(topic: &str) -> Connection {
    Connection {
        topic: topic.into(),
        type_name: T::TYPE_NAME.into(),
        definition: T::definition(),
        serialization_format: "cdr".into(),
        offered_qos_profiles: String::new(),
    }
}

/// A bag with a 16UC1 depth topic (millimetres) and an rgb8 topic, as a
/// RealSense or Azure Kinect driver records.
/// Images are `width`×`height/2`, filled with incompressible noise.
fn write_millimetre_bag(bag: &Path, frames: u32, width: u32) -> Result<Vec<Vec<u16>>, Failed> {
    let (w, h) = (width, width / 2);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut writer = BagWriter::create(bag)?;
    let rgb_c = writer.add_connection(connection::<Image>("/color/image_raw"))?;
    let depth_c = writer.add_connection(connection::<Image>("/depth/image_rect_raw"))?;
    let mut all = Vec::new();
    for i in 0..frames {
        let stamp = Time { sec: 100 + i as i32, nanosec: 5 };
        let header = Header { stamp, frame_id: "camera".into() };
        let rgb = RgbImage::new(w, h, (0..3 * w * h).map(|_| rng.random()).collect())?;
        writer.write(rgb_c, stamp.to_nanos()?, &cdr::encode(&Image::from_rgb(&rgb, header.clone()))?)?;
        let mm: Vec<u16> = (0..w * h).map(|k| if k == 3 { 0 } else { rng.random_range(300..13000) }).collect();
        let depth = DepthImage::from_u16(w, h, &mm, 1000.0)?;
        writer.write(depth_c, stamp.to_nanos()? + 1, &cdr::encode(&Image::from_depth_16uc1(&depth, header)?)?)?;
        all.push(mm);
    }
    writer.finish()?;
    Ok(all)
}

fn sixteen_bit_depth_is_millimetres(scratch: PathBuf) -> TestResult {
    let (bag, out) = (fresh(&scratch.join("mm_bag")), fresh(&scratch.join("mm_tum")));
    let written = write_millimetre_bag(&bag, 3, 8)?;
    let options = ToTumOptions {
        rgb_topic: "/color/image_raw".into(),
        depth_topic: "/depth/image_rect_raw".into(),
        ..Default::default()
    };
    let summary = dataset::bag_to_tum(&bag, &options, &out, &mut no_progress())?;
    assert!(!out.join("groundtruth.txt").exists() && !out.join("calib.yaml").exists(), "{summary:?}");
    let depth = cairn_core::tum::read_list(&out, "depth.txt")?;
    assert_eq!(depth.len(), 3);
    for ((_, file), mm) in depth.iter().zip(&written) {
        let units = DepthImage::load_png(out.join(file), 5000.0)?.to_u16(5000.0)?;
        let expected: Vec<u16> = mm.iter().map(|&v| v * 5).collect();
        assert_eq!(units, expected, "{file}: 16UC1 millimetres must be written ×5");
    }
    // A missing topic names the topics there are.
    let options = ToTumOptions { rgb_topic: "/nope".into(), ..options };
    let message =
        dataset::bag_to_tum(&bag, &options, &fresh(&scratch.join("x")), &mut no_progress()).unwrap_err().to_string();
    assert!(message.contains("no topic /nope") && message.contains("/depth/image_rect_raw"), "{message}");
    Ok(())
}

fn truncated_bag_recovers_intact_frames(scratch: PathBuf) -> TestResult {
    let bag = fresh(&scratch.join("cut_bag"));
    write_millimetre_bag(&bag, 40, 320)?;
    let mcap = std::fs::read_dir(&bag)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "mcap"))
        .ok_or("no mcap")?;
    let bytes = std::fs::read(&mcap)?;
    std::fs::write(&mcap, &bytes[..bytes.len() / 3])?;
    let options = ToTumOptions {
        rgb_topic: "/color/image_raw".into(),
        depth_topic: "/depth/image_rect_raw".into(),
        ..Default::default()
    };
    let strict = dataset::bag_to_tum(&bag, &options, &fresh(&scratch.join("strict")), &mut no_progress());
    let message = strict.unwrap_err().to_string();
    assert!(message.contains(".mcap"), "the error names the broken file: {message}");
    let recovered = fresh(&scratch.join("recovered"));
    let options = ToTumOptions { recover: true, ..options };
    let summary = dataset::bag_to_tum(&bag, &options, &recovered, &mut no_progress())?;
    assert!(summary.problem.is_some(), "{summary:?}");
    let rgb = cairn_core::tum::read_list(&recovered, "rgb.txt")?;
    assert!(!rgb.is_empty() && rgb.len() < 40, "{} of 40 frames recovered", rgb.len());
    for (_, file) in &rgb {
        RgbImage::load(recovered.join(file))?;
    }
    Ok(())
}

fn wrong_calibration_is_an_error_and_keeps_the_bag(scratch: PathBuf) -> TestResult {
    let (folder, bag) = (fresh(&scratch.join("tum")), fresh(&scratch.join("bag")));
    write_tum_folder(&folder, 2)?;
    let small = scratch.join("small.yaml");
    std::fs::write(
        &small,
        "image_width: 320\nimage_height: 240\ncamera_name: small\ncamera_matrix: {rows: 3, cols: 3, data: [260, 0, 160, 0, 260, 120, 0, 0, 1]}\n\
         distortion_model: plumb_bob\ndistortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n",
    )?;
    let message = dataset::tum_to_bag(&folder, Some(&small), &bag, &mut no_progress()).unwrap_err().to_string();
    assert!(message.contains("640×480") && message.contains("320×240") && message.contains("--calib"), "{message}");
    // The bag was finished: it opens, with what came before the bad frame.
    let opened = Bag::open(&bag)?;
    assert!(opened.info().topics.iter().all(|t| t.name != tum_topics::RGB), "{:?}", opened.info());
    Ok(())
}

/// A two-sample synthetic set with PNG images, 5-feature sweeps and boxes.
fn write_sample_set(dir: &Path) -> Result<SampleSet, Failed> {
    std::fs::create_dir_all(dir)?;
    let mut set = SampleSet::new("cairn-test", "v0");
    let lidar_from_ego = Rigid3::new(Vector3::new(0.9, 0.0, 1.8), Vector3::new(0.0, 0.0, -std::f64::consts::FRAC_PI_2));
    for i in 0..2 {
        let t = 1532402927.5 + 0.5 * i as f64;
        let mut images = BTreeMap::new();
        for (k, name) in ["CAM_FRONT", "CAM_BACK"].iter().enumerate() {
            let file = format!("{name}_{i}.png");
            RgbImage::new(16, 8, (0..384).map(|v| (v + k * 7 + i) as u8).collect())?.save_png(dir.join(&file))?;
            let ego_from_camera = Rigid3::new(
                Vector3::new(1.5 - 3.0 * k as f64, 0.0, 1.5),
                Vector3::new(-1.2, 0.0, -1.5 + 3.0 * k as f64),
            );
            images.insert(
                name.to_string(),
                CameraSample {
                    img_path: file,
                    cam2img: [[12.0, 0.0, 8.0], [0.0, 12.0, 4.0], [0.0, 0.0, 1.0]],
                    cam2ego: rows_from_rigid(&ego_from_camera),
                    lidar2cam: rows_from_rigid(&(ego_from_camera.inverse() * lidar_from_ego.inverse())),
                    sample_data_token: format!("{name}{i}"),
                    timestamp: t - 0.01 * (k + 1) as f64,
                },
            );
        }
        let lidar_path = format!("sweep_{i}.pcd.bin");
        let mut sweep = LidarSweep::default();
        for p in 0..100 {
            sweep.cloud.push(Point3::new(p as f32 * 0.1, -(p as f32) * 0.05, 0.3 + i as f32));
            sweep.ring.push((p % 32) as u16);
        }
        sweep.cloud.intensity = Some((0..100).map(|p| p as f32).collect());
        write_pcd_bin(&dir.join(&lidar_path), &sweep)?;
        set.data_list.push(SampleInfo {
            sample_idx: i,
            token: format!("token{i}"),
            timestamp: t,
            ego2global: rows_from_rigid(&Rigid3::new(
                Vector3::new(400.0 + 5.0 * i as f64, 1100.0, 0.0),
                Vector3::zeros(),
            )),
            images,
            lidar_points: LidarSample {
                num_pts_feats: 5,
                lidar_path,
                lidar2ego: rows_from_rigid(&lidar_from_ego.inverse()),
            },
            instances: vec![Instance {
                bbox_label: 7,
                bbox_3d: [5.0, 1.0, -1.8, 0.7, 0.6, 1.7, 0.5],
                bbox_3d_isvalid: true,
                bbox_label_3d: 7,
                num_lidar_pts: 3,
                num_radar_pts: 0,
                velocity: [0.5, f64::NAN],
                visibility: Some(4),
            }],
            cam_instances: BTreeMap::new(),
        });
    }
    set.write(dir)?;
    Ok(SampleSet::read(dir)?)
}

/// Checks a sample-set bag against its set: counts, images, camera_info,
/// sweeps, the rig on /tf_static, the ego poses and the boxes.
fn check_samples_bag(set: &SampleSet, bag: &Path) -> TestResult {
    let opened = Bag::open(bag)?;
    let n = set.data_list.len() as u64;
    let counts: BTreeMap<&str, u64> = opened.info().topics.iter().map(|t| (t.name.as_str(), t.count)).collect();
    let cameras: Vec<&String> = set.data_list[0].images.keys().collect();
    for name in &cameras {
        assert_eq!(counts[format!("/{name}/image_raw").as_str()], n);
        assert_eq!(counts[format!("/{name}/camera_info").as_str()], n);
    }
    assert_eq!((counts["/LIDAR_TOP"], counts["/tf"], counts["/tf_static"]), (n, n, 1));
    assert_eq!(counts[dataset::GT_BOXES_TOPIC], n);
    let tf_static = opened.connections.iter().find(|c| c.topic == "/tf_static").unwrap();
    assert!(
        tf_static.offered_qos_profiles.contains("transient_local")
            || tf_static.offered_qos_profiles.contains("durability: 1")
    );
    let (mut sample, mut image_index) = (0usize, BTreeMap::<String, usize>::new());
    let mut last = 0;
    for message in opened.messages(&[])? {
        let m = message?;
        assert!(m.log_time >= last, "log times in order");
        last = m.log_time;
        let topic = opened.connections[m.connection].topic.as_str();
        match topic {
            "/tf_static" => {
                let tf: TFMessage = cdr::decode(&m.data)?;
                assert_eq!(tf.transforms.len(), cameras.len() + 1);
                let s = &set.data_list[0];
                for t in &tf.transforms {
                    assert_eq!(t.header.frame_id, "base_link");
                    let expected = if t.child_frame_id == "LIDAR_TOP" {
                        s.lidar_points.ego_from_lidar()?
                    } else {
                        s.images[&t.child_frame_id].ego_from_camera()?
                    };
                    let got = t.transform.to_rigid()?;
                    assert!(
                        (got.to_homogeneous() - expected.to_homogeneous()).abs().max() < 1e-9,
                        "{}",
                        t.child_frame_id
                    );
                }
            }
            "/LIDAR_TOP" => {
                let cloud: PointCloud2 = cdr::decode(&m.data)?;
                let ring = cloud.to_ring_cloud()?;
                let sweep = set.read_lidar(&set.data_list[sample])?;
                assert_eq!(ring.cloud, sweep.cloud);
                assert_eq!(ring.ring.as_deref(), Some(sweep.ring.as_slice()));
                assert_eq!(cloud.header.frame_id, "LIDAR_TOP");
                assert!((cloud.header.stamp.as_secs_f64() - set.data_list[sample].timestamp).abs() < 1e-6);
            }
            "/tf" => {
                let tf: TFMessage = cdr::decode(&m.data)?;
                let got = tf.transforms[0].transform.to_rigid()?;
                let expected = set.data_list[sample].global_from_ego()?;
                assert!((got.translation.vector - expected.translation.vector).norm() < 1e-6);
            }
            t if t == dataset::GT_BOXES_TOPIC => {
                let boxes: Detection3DArray = cdr::decode(&m.data)?;
                let instances = &set.data_list[sample].instances;
                assert_eq!(boxes.detections.len(), instances.len());
                for (d, b) in boxes.detections.iter().zip(instances) {
                    let [x, y, z, l, w, h, _] = b.bbox_3d;
                    let c = &d.bbox.center.position;
                    assert!((c.x - x).abs() + (c.y - y).abs() + (c.z - (z + h / 2.0)).abs() < 1e-9);
                    assert_eq!((d.bbox.size.x, d.bbox.size.y, d.bbox.size.z), (l, w, h));
                    let class = set.metainfo.class_name(b.bbox_label_3d).unwrap_or("ignore");
                    assert_eq!(d.results[0].hypothesis.class_id, class);
                }
                sample += 1; // the boxes are the sample's last message
            }
            t if t.ends_with("/image_raw") => {
                let name = t.trim_start_matches('/').trim_end_matches("/image_raw").to_owned();
                let k = *image_index.entry(name.clone()).and_modify(|k| *k += 1).or_insert(0);
                let image: Image = cdr::decode(&m.data)?;
                let expected = RgbImage::load(set.file(&set.data_list[k].images[&name].img_path))?;
                assert_eq!(image.to_rgb()?, expected, "{t} #{k}");
            }
            t if t.ends_with("/camera_info") => {
                let info: CameraInfo = cdr::decode(&m.data)?;
                let name = t.trim_start_matches('/').trim_end_matches("/camera_info");
                let (fx, fy, cx, cy) = set.data_list[0].images[name].intrinsics();
                assert_eq!([info.k[0], info.k[4], info.k[2], info.k[5]], [fx, fy, cx, cy]);
            }
            other => return Err(format!("unexpected topic {other}").into()),
        }
    }
    assert_eq!(sample as u64, n);
    Ok(())
}

fn synthetic_samples_to_bag(scratch: PathBuf) -> TestResult {
    let (dir, bag) = (fresh(&scratch.join("set")), fresh(&scratch.join("set_bag")));
    let set = write_sample_set(&dir)?;
    dataset::samples_to_bag(&dir, &bag, &mut no_progress())?;
    check_samples_bag(&set, &bag)?;
    // A sweep whose size is not whole points is an error naming the file;
    // the bag before it is kept.
    let broken = fresh(&scratch.join("broken_set"));
    let set = write_sample_set(&broken)?;
    let sweep = broken.join(&set.data_list[1].lidar_points.lidar_path);
    let bytes = std::fs::read(&sweep)?;
    std::fs::write(&sweep, &bytes[..bytes.len() - 6])?;
    let bag = fresh(&scratch.join("broken_bag"));
    let message = dataset::samples_to_bag(&broken, &bag, &mut no_progress()).unwrap_err().to_string();
    assert!(message.contains("sweep_1.pcd.bin") && message.contains("whole number"), "{message}");
    let counts = Bag::open(&bag)?.info().topics.iter().map(|t| (t.name.clone(), t.count)).collect::<BTreeMap<_, _>>();
    assert_eq!(counts["/LIDAR_TOP"], 1, "the first sample's sweep is kept");
    Ok(())
}

fn samples_sharing_a_timestamp_get_increasing_stamps(scratch: PathBuf) -> TestResult {
    let (dir, bag) = (fresh(&scratch.join("set")), fresh(&scratch.join("bag")));
    let mut set = write_sample_set(&dir)?;
    let t = set.data_list[0].timestamp;
    set.data_list[1].timestamp = t;
    set.data_list[1].images.values_mut().for_each(|c| c.timestamp = t);
    set.write(&dir)?;
    dataset::samples_to_bag(&dir, &bag, &mut no_progress())?;
    let opened = Bag::open(&bag)?;
    let (mut sweeps, mut images) = (Vec::new(), Vec::new());
    for message in opened.messages(&["/LIDAR_TOP", "/CAM_FRONT/image_raw"])? {
        let m = message?;
        let stamp = m.log_time as f64 * 1e-9;
        if opened.connections[m.connection].topic == "/LIDAR_TOP" { sweeps.push(stamp) } else { images.push(stamp) }
    }
    assert_eq!(sweeps.len(), 2);
    assert!((sweeps[1] - sweeps[0] - dataset::SAMPLE_SPACING_S).abs() < 1e-6, "{sweeps:?}");
    assert!((images[1] - sweeps[1]).abs() < 1e-6, "the cameras move with their sample: {images:?}");
    Ok(())
}

fn samples_bag_reads_in_rosbags(scratch: PathBuf) -> TestResult {
    let (dir, bag) = (fresh(&scratch.join("set")), fresh(&scratch.join("bag")));
    let set = write_sample_set(&dir)?;
    dataset::samples_to_bag(&dir, &bag, &mut no_progress())?;
    rosbags_reads_every_message(&bag)?;
    // The same bag as sqlite3: cairn and rosbags read it alike.
    let sqlite = fresh(&scratch.join("bag_db3"));
    dataset::samples_to_bag_as(&dir, &sqlite, StorageKind::Sqlite3, &mut no_progress())?;
    assert!(sqlite.join("bag_db3_0.db3").is_file());
    check_samples_bag(&set, &sqlite)?;
    rosbags_reads_every_message(&sqlite)
}

fn nuscenes_sample_to_bag(scratch: PathBuf) -> TestResult {
    let info = shared_file("nuscenes_sample/sample_info.json").map_err(Failed::from)?;
    let dir = info.parent().ok_or("no parent")?;
    let bag = fresh(&scratch.join("nuscenes_bag"));
    let set = SampleSet::read(dir)?;
    dataset::samples_to_bag(dir, &bag, &mut no_progress())?;
    check_samples_bag(&set, &bag)?;
    let counts = Bag::open(&bag)?.info().topics.iter().map(|t| (t.name.clone(), t.count)).collect::<BTreeMap<_, _>>();
    assert_eq!(counts.len(), 6 * 2 + 4, "{counts:?}");
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let scratch = scratch_dir("bag_dataset").unwrap_or_else(|_| std::env::temp_dir().join("bag_dataset"));
    let no_rosbags = match Oracle::python() {
        Ok(python) => python.run(["-c", "import rosbags"]).err().map(|e| format!("rosbags not in the venv: {e}")),
        Err(reason) => Some(reason),
    }
    .filter(|_| !oracles_required());
    if let Some(reason) = &no_rosbags {
        eprintln!("skipping the rosbags trials: {reason}");
    }
    let no_shared = shared_file("nuscenes_sample/sample_info.json").err();
    if let Some(reason) = &no_shared {
        eprintln!("skipping the nuScenes trial: {reason}");
    }
    let dir = |name: &str| scratch.join(name);
    let trials = vec![
        Trial::test("dataset/tum_round_trip", {
            let d = dir("round_trip");
            move || tum_round_trip(d)
        }),
        Trial::test("dataset/sixteen_bit_depth_is_millimetres", {
            let d = dir("mm");
            move || sixteen_bit_depth_is_millimetres(d)
        }),
        Trial::test("dataset/truncated_bag_recovers_intact_frames", {
            let d = dir("cut");
            move || truncated_bag_recovers_intact_frames(d)
        }),
        Trial::test("dataset/wrong_calibration_is_an_error_and_keeps_the_bag", {
            let d = dir("calib");
            move || wrong_calibration_is_an_error_and_keeps_the_bag(d)
        }),
        Trial::test("dataset/synthetic_samples_to_bag", {
            let d = dir("samples");
            move || synthetic_samples_to_bag(d)
        }),
        Trial::test("dataset/samples_sharing_a_timestamp_get_increasing_stamps", {
            let d = dir("samples_same_time");
            move || samples_sharing_a_timestamp_get_increasing_stamps(d)
        }),
        Trial::test("dataset/from_tum_bag_reads_in_rosbags", {
            let d = dir("tum_rosbags");
            move || from_tum_bag_reads_in_rosbags(d)
        })
        .with_ignored_flag(no_rosbags.is_some()),
        Trial::test("dataset/samples_bag_reads_in_rosbags", {
            let d = dir("samples_rosbags");
            move || samples_bag_reads_in_rosbags(d)
        })
        .with_ignored_flag(no_rosbags.is_some()),
        Trial::test("dataset/nuscenes_sample_to_bag", {
            let d = dir("nuscenes");
            move || nuscenes_sample_to_bag(d)
        })
        .with_ignored_flag(no_shared.is_some()),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    let _ = std::fs::remove_dir_all(&scratch);
    conclusion.exit();
}
