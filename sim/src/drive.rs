//! Multi-modal drives: the ego drives its lane of a [`Street`] and every
//! 0.5 s (nuScenes' keyframe rate) the rig takes a sample — a LiDAR sweep,
//! six camera images, and the ground-truth boxes — written as a sample set
//! (`DIR/sample_info.json` in the mmdet3d v1.x layout of
//! [`cairn_core::samples`], PNG images and `.pcd.bin` sweeps beside it).
//!
//! Frames: the LiDAR is kept level (its z is world up), so the boxes, which
//! are yawed about world z, are exact in the LiDAR frame; the ego frame is
//! `world_from_lidar · lidar_from_ego` of the rig (tilted by the rig's
//! ~1.4° LiDAR mounting). All sensors of a sample fire at its timestamp, so
//! each camera's `lidar2cam` is derived from the mounting (`cam2ego`,
//! `lidar2ego` of the rig) — a real sample's `lidar2cam` also holds the ego's
//! motion between its LiDAR and camera times (up to 0.4 m in the nuScenes
//! sample) — and cameras are placed by it, so `lidar2img = pad4(cam2img) ·
//! lidar2cam` projects exactly and `ego2global · cam2ego` is each camera's
//! pose.
//!
//! Ground truth per box (objects whose centre is within [`BOX_RANGE`] of the
//! LiDAR, and any other object the sweep hits): `bbox_3d = [x, y, z_bottom, l, w, h, yaw]` and `velocity` in the
//! LiDAR frame, `num_lidar_pts` (points of the written sweep inside the
//! box), `bbox_3d_isvalid` (at least one point), and `visibility`, the
//! nuScenes level of the fraction of the object's pixels that are not
//! occluded, over the six images.

use std::path::Path;

use cairn_core::samples::{Instance, SampleInfo, SampleSet, rows_from_rigid, write_pcd_bin};
use cairn_core::transform::Rigid3;
use nalgebra::{Point3, Translation3, UnitQuaternion, Vector3};

use crate::geometry::V3;
use crate::lidar::{Lidar, LidarConfig, LidarScan};
use crate::noise::frame_seed;
use crate::rig::Rig;
use crate::scene::Scene;
use crate::sequence::Progress;
use crate::street::{ObjectState, Street};
use crate::view::{Pinhole, View};
use crate::visibility::visible_fractions;
use crate::{Error, Result};

/// Time between samples (seconds): nuScenes' 2 Hz keyframes.
pub const SAMPLE_INTERVAL: f64 = 0.5;
/// Timestamp of the first sample (seconds).
pub const FIRST_TIMESTAMP: f64 = 1_600_000_000.0;
/// Objects whose centre is farther than this from the LiDAR (metres, in
/// the ground plane) get a box only when the sweep hits them.
pub const BOX_RANGE: f64 = 80.0;

/// Options of a drive.
#[derive(Debug, Clone, PartialEq)]
pub struct DriveOptions {
    /// Number of samples.
    pub samples: usize,
    /// Street seed (also seeds the sensor noise).
    pub seed: u64,
    /// LiDAR range noise and dropout on (the default) or an ideal sensor.
    pub noise: bool,
    /// Image size relative to the rig's (1 = 1600×900).
    pub image_scale: f64,
    /// The LiDAR.
    pub lidar: LidarConfig,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions { samples: 10, seed: 0, noise: true, image_scale: 1.0, lidar: LidarConfig::default() }
    }
}

/// One rendered sample with its per-sensor ground truth.
#[derive(Debug, Clone)]
pub struct DriveSample {
    /// The sample-set entry (file names relative to the set's folder).
    pub info: SampleInfo,
    /// The LiDAR sweep with the object hit by each point.
    pub scan: LidarScan,
    /// One view per rig camera, with per-pixel object ids.
    pub views: Vec<View>,
    /// The object id of each instance of `info.instances`.
    pub instance_ids: Vec<u32>,
}

/// A drive down a street with a sensor rig.
#[derive(Debug, Clone)]
pub struct Drive {
    /// The street.
    pub street: Street,
    /// The rig (images scaled by the options, `lidar2cam` from the mounting).
    pub rig: Rig,
    /// The LiDAR.
    pub lidar: Lidar,
    /// The options.
    pub options: DriveOptions,
    ego_from_lidar: Rigid3,
}

impl Drive {
    /// Generates the street for `options` and checks the rig.
    pub fn new(options: DriveOptions, rig: &Rig) -> Result<Drive> {
        if options.samples == 0 {
            return Err(Error::InvalidArgument("a drive needs at least one sample".into()));
        }
        let mut rig = rig.scaled(options.image_scale)?;
        // All sensors fire at the sample time: camera_from_lidar follows from
        // the mounting (a real sample's lidar2cam also folds in the ego's
        // motion between its LiDAR and camera timestamps).
        let ego_from_lidar = rig.ego_from_lidar()?;
        for camera in &mut rig.cameras {
            let ego_from_camera = camera.sample("", 0.0).ego_from_camera()?;
            camera.lidar2cam = rows_from_rigid(&(ego_from_camera.inverse() * ego_from_lidar));
        }
        let street = Street::generate(options.seed, SAMPLE_INTERVAL * (options.samples - 1) as f64);
        let lidar = Lidar::new(options.lidar.clone())?;
        Ok(Drive { street, rig, lidar, options, ego_from_lidar })
    }

    /// Time of sample `index` since the start (seconds).
    pub fn time(index: usize) -> f64 {
        SAMPLE_INTERVAL * index as f64
    }

    /// `world_from_lidar` at time `t`: the rig's mounting point above the
    /// ego lane, level, turned by the mounting's yaw.
    pub fn world_from_lidar(&self, t: f64) -> Rigid3 {
        let mounting = &self.ego_from_lidar;
        let (_, _, yaw) = mounting.rotation.euler_angles();
        let level = Rigid3::from_parts(
            Translation3::from(mounting.translation.vector),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw),
        );
        self.street.world_from_ego(t) * level
    }

    /// Renders sample `index` (scene, sweep, images, boxes); file names are
    /// set, nothing is written.
    pub fn sample(&self, index: usize) -> Result<DriveSample> {
        let t = Drive::time(index);
        let timestamp = FIRST_TIMESTAMP + t;
        let scene = self.street.scene_at(t);
        let world_from_lidar = self.world_from_lidar(t);
        let noise_seed = self.options.noise.then(|| frame_seed(self.options.seed, index as u64));
        let scan = self.lidar.scan(&scene, &world_from_lidar, noise_seed);
        let stamp = format!("{}", (timestamp * 1e6).round() as u64);
        let prefix = format!("cairn-sim-street-{}", self.options.seed);
        let lidar_path = format!("{prefix}__LIDAR_TOP__{stamp}.pcd.bin");
        let mut views = Vec::with_capacity(self.rig.cameras.len());
        let mut images = std::collections::BTreeMap::new();
        let mut pinholes = Vec::new();
        for camera in &self.rig.cameras {
            let camera_from_lidar = camera.camera_from_lidar()?;
            let pinhole = Pinhole { intrinsics: camera.intrinsics(), width: camera.width, height: camera.height };
            views.push(pinhole.render(&scene, &(world_from_lidar * camera_from_lidar.inverse()))?);
            pinholes.push((pinhole, camera_from_lidar));
            let img_path = format!("{prefix}__{}__{stamp}.png", camera.name);
            images.insert(camera.name.clone(), camera.sample(&img_path, timestamp));
        }
        let mut hit = vec![false; self.street.agents.len()];
        for p in &scan.points {
            if let Some(h) = hit.get_mut(p.object as usize) {
                *h = true;
            }
        }
        let objects: Vec<ObjectState> = self
            .street
            .objects_at(t)
            .into_iter()
            .filter(|o| {
                let p = world_from_lidar.inverse_transform_point(&Point3::from(o.bottom.cast::<f64>()));
                p.coords.xy().norm() <= BOX_RANGE || hit[o.id as usize]
            })
            .collect();
        let visible = visible_fractions(&scene, &objects, &views, &pinholes, &world_from_lidar);
        let instances = objects
            .iter()
            .zip(&visible)
            .map(|(object, &fraction)| instance(object, &world_from_lidar, &scan, fraction))
            .collect();
        let world_from_ego = world_from_lidar * self.ego_from_lidar.inverse();
        let info = SampleInfo {
            sample_idx: index,
            token: token(self.options.seed, index),
            timestamp,
            ego2global: rows_from_rigid(&world_from_ego),
            images,
            lidar_points: self.rig.lidar_sample(&lidar_path),
            instances,
            cam_instances: Default::default(),
        };
        Ok(DriveSample { info, scan, views, instance_ids: objects.iter().map(|o| o.id).collect() })
    }

    /// The scene of sample `index`.
    pub fn scene(&self, index: usize) -> Scene {
        self.street.scene_at(Drive::time(index))
    }
}

/// The box of `object` in the LiDAR frame, with its point count and
/// visibility level.
fn instance(object: &ObjectState, world_from_lidar: &Rigid3, scan: &LidarScan, visible: f64) -> Instance {
    let bottom = world_from_lidar.inverse_transform_point(&Point3::from(object.bottom.cast::<f64>()));
    let (_, _, lidar_yaw) = world_from_lidar.rotation.euler_angles();
    let yaw = wrap_angle(f64::from(object.yaw) - lidar_yaw);
    let velocity = world_from_lidar.inverse_transform_vector(&object.velocity.cast::<f64>());
    let [l, w, h] = object.size.map(f64::from);
    let label = object.class.label();
    let mut instance = Instance {
        bbox_label: label,
        bbox_3d: [bottom.x, bottom.y, bottom.z, l, w, h, yaw],
        bbox_3d_isvalid: false,
        bbox_label_3d: label,
        num_lidar_pts: 0,
        num_radar_pts: 0,
        velocity: [velocity.x, velocity.y],
        visibility: Some(visibility_level(visible)),
    };
    instance.num_lidar_pts =
        scan.points.iter().filter(|p| instance.contains(&Point3::from(V3::from(p.p_in_lidar).cast::<f64>()))).count()
            as i64;
    instance.bbox_3d_isvalid = instance.num_lidar_pts > 0;
    instance
}

/// nuScenes visibility level of a visible fraction: 1 (0–40 %), 2 (40–60 %),
/// 3 (60–80 %), 4 (80–100 %).
pub fn visibility_level(fraction: f64) -> u8 {
    match fraction {
        f if f < 0.4 => 1,
        f if f < 0.6 => 2,
        f if f < 0.8 => 3,
        _ => 4,
    }
}

/// An angle in `(−π, π]`.
fn wrap_angle(a: f64) -> f64 {
    let wrapped = a.rem_euclid(std::f64::consts::TAU);
    if wrapped > std::f64::consts::PI { wrapped - std::f64::consts::TAU } else { wrapped }
}

/// A unique, reproducible 32-hex-digit token for sample `index` of `seed`.
pub fn token(seed: u64, index: usize) -> String {
    let a = frame_seed(seed, index as u64);
    let b = frame_seed(a, 0x0074_6f6b_656e);
    format!("{a:016x}{b:016x}")
}

/// Renders `options.samples` samples into the sample set `out` (created;
/// it must not hold one already), calling `progress` after each sample.
/// Returns the set as written.
pub fn write_drive(options: &DriveOptions, rig: &Rig, out: &Path, progress: impl FnMut(Progress)) -> Result<SampleSet> {
    write_drives(options, 1, rig, out, progress)
}

/// Drives `streets` streets, seeds `options.seed`, `options.seed + 1`, …,
/// `options.samples` samples each, into one sample set `out` (created; it
/// must not hold one already): a training or evaluation set of many
/// streets from one command. File names and tokens carry the street seed,
/// so the streets never collide; `sample_idx` runs over the whole set.
pub fn write_drives(
    options: &DriveOptions,
    streets: usize,
    rig: &Rig,
    out: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<SampleSet> {
    if streets == 0 {
        return Err(Error::InvalidArgument("a drive needs at least one street".into()));
    }
    let index = out.join(cairn_core::samples::INDEX_FILE);
    if index.exists() {
        return Err(Error::InvalidArgument(format!("{} exists already", index.display())));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let last = options.seed + streets as u64 - 1;
    let version =
        if streets == 1 { format!("street-seed-{last}") } else { format!("street-seeds-{}-{last}", options.seed) };
    let mut set = SampleSet::new("cairn-sim", &version);
    set.dir = out.to_path_buf();
    let total = options.samples * streets;
    for street in 0..streets as u64 {
        let drive = Drive::new(DriveOptions { seed: options.seed + street, ..options.clone() }, rig)?;
        for k in 0..options.samples {
            let mut sample = drive.sample(k)?;
            write_pcd_bin(&out.join(&sample.info.lidar_points.lidar_path), &sample.scan.sweep())?;
            for (view, camera) in sample.views.iter().zip(&drive.rig.cameras) {
                view.rgb.save_png(out.join(&sample.info.images[&camera.name].img_path))?;
            }
            sample.info.sample_idx = set.data_list.len();
            set.data_list.push(sample.info);
            progress(Progress { done: set.data_list.len(), total });
        }
    }
    set.write(out)?;
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_reproducible() {
        let tokens: std::collections::HashSet<String> = (0..100).map(|k| token(3, k)).collect();
        assert_eq!(tokens.len(), 100);
        assert_eq!(token(3, 7), token(3, 7));
        assert_ne!(token(3, 7), token(4, 7));
        assert_eq!(token(0, 0).len(), 32);
    }

    #[test]
    fn several_streets_make_one_set_without_collisions() {
        let out = std::env::temp_dir().join(format!("cairn-drives-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&out);
        let options = DriveOptions { samples: 2, seed: 40, image_scale: 0.02, ..Default::default() };
        let set = write_drives(&options, 2, &Rig::nuscenes().unwrap(), &out, |_| ()).unwrap();
        assert_eq!(set.data_list.iter().map(|s| s.sample_idx).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        let tokens: std::collections::HashSet<_> = set.data_list.iter().map(|s| s.token.clone()).collect();
        assert_eq!(tokens.len(), 4);
        assert_eq!(set.data_list[2].token, token(41, 0));
        let read = SampleSet::read(&out).unwrap();
        assert_eq!(read.data_list.len(), 4);
        for sample in &read.data_list {
            assert!(read.file(&sample.lidar_points.lidar_path).exists());
            assert!(sample.images.values().all(|c| read.file(&c.img_path).exists()));
        }
        assert!(write_drives(&options, 1, &Rig::nuscenes().unwrap(), &out, |_| ()).is_err(), "a set exists there");
        std::fs::remove_dir_all(&out).ok();
    }

    #[test]
    fn visibility_levels_follow_nuscenes_bins() {
        assert_eq!([0.0, 0.39, 0.4, 0.59, 0.6, 0.79, 0.8, 1.0].map(visibility_level), [1, 1, 2, 2, 3, 3, 4, 4]);
        assert!((wrap_angle(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
        assert!((wrap_angle(-0.5) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn lidar_is_level_and_mounted_like_the_rig() {
        let drive = Drive::new(DriveOptions { samples: 3, ..Default::default() }, &Rig::nuscenes().unwrap()).unwrap();
        let world_from_lidar = drive.world_from_lidar(1.0);
        let up = world_from_lidar.rotation * Vector3::z();
        assert!((up - Vector3::z()).norm() < 1e-12);
        // 1.84 m above the road, moved along the lane at the ego's speed.
        assert!((world_from_lidar.translation.z - 1.84).abs() < 0.01);
        let moved = world_from_lidar.translation.vector - drive.world_from_lidar(0.0).translation.vector;
        assert!((moved.x - f64::from(drive.street.ego.speed)).abs() < 1e-9 && moved.y.abs() < 1e-12);
    }
}
