//! Multi-modal sample sets: `DIR/sample_info.json` in the mmdetection3d v1.x
//! layout (the layout of the nuScenes sample in `../shared/data`), with the
//! camera images and LiDAR sweeps (`.pcd.bin`) beside it.
//!
//! One [`SampleSet`] holds `metainfo` (class name → id) and a `data_list` of
//! [`SampleInfo`]: per sample a unique `token`, a `timestamp` (seconds), the
//! `ego2global` pose, the camera rig (`images.CAM_*`: `img_path`, `cam2img`,
//! `cam2ego`, `lidar2cam`), the LiDAR sweep (`lidar_points`: `lidar_path`,
//! `lidar2ego`) and the ground-truth boxes (`instances`, in the LiDAR frame:
//! `bbox_3d = [x, y, z_bottom, l, w, h, yaw]`).
//!
//! The JSON keeps mmdet3d's names (`lidar2cam` is `camera_from_lidar` in
//! cairn's naming); the accessors return cairn-named [`Rigid3`] transforms.
//!
//! ```no_run
//! use cairn_core::samples::SampleSet;
//! let set = SampleSet::read("../shared/data/nuscenes_sample".as_ref())?;
//! let sample = &set.data_list[0];
//! let sweep = set.read_lidar(sample)?;
//! let camera_from_lidar = sample.images["CAM_FRONT"].camera_from_lidar()?;
//! println!("{} points, {} boxes", sweep.cloud.len(), sample.instances.len());
//! # Ok::<(), cairn_core::Error>(())
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Matrix4, Point3, Vector3};
use serde::{Deserialize, Serialize};

use crate::cloud::PointCloud;
use crate::transform::{Rigid3, rigid_from_matrix};
use crate::{Error, Result};

/// The file name of a sample set's index.
pub const INDEX_FILE: &str = "sample_info.json";

/// The ten nuScenes detection classes, in nuScenes' (and mmdet3d's) id order.
pub const NUSCENES_CLASSES: [&str; 10] = [
    "car",
    "truck",
    "trailer",
    "bus",
    "construction_vehicle",
    "bicycle",
    "motorcycle",
    "pedestrian",
    "traffic_cone",
    "barrier",
];

/// The class id of annotated objects outside the class table (mmdet3d's
/// convention, e.g. animals in nuScenes).
pub const IGNORED_CLASS: i64 = -1;

/// The six cameras of the nuScenes rig, front first, clockwise.
pub const NUSCENES_CAMERAS: [&str; 6] =
    ["CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_BACK_RIGHT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_FRONT_LEFT"];

/// A whole sample set: `sample_info.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSet {
    /// Class names and dataset description.
    pub metainfo: MetaInfo,
    /// One entry per sample.
    pub data_list: Vec<SampleInfo>,
    /// The folder the set was read from (images and sweeps are relative to
    /// it); empty for a set built in memory.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// `metainfo`: the class table and where the data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaInfo {
    /// Class name → label id, in file order.
    #[serde(with = "ordered_map")]
    pub categories: Vec<(String, i64)>,
    /// Dataset name (`nuscenes`, `cairn-sim`).
    pub dataset: String,
    /// Dataset version.
    pub version: String,
    /// mmdet3d info-file version.
    #[serde(default = "default_info_version")]
    pub info_version: String,
}

fn default_info_version() -> String {
    "1.1".to_owned()
}

impl MetaInfo {
    /// The nuScenes class table (ids 0–9) for a dataset name and version.
    pub fn nuscenes_classes(dataset: &str, version: &str) -> MetaInfo {
        MetaInfo {
            categories: NUSCENES_CLASSES.iter().zip(0..).map(|(name, id)| ((*name).to_owned(), id)).collect(),
            dataset: dataset.to_owned(),
            version: version.to_owned(),
            info_version: default_info_version(),
        }
    }

    /// The class name of a label id.
    pub fn class_name(&self, label: i64) -> Option<&str> {
        self.categories.iter().find(|(_, id)| *id == label).map(|(name, _)| name.as_str())
    }
}

/// One sample: a LiDAR sweep, the camera images around it, and its boxes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleInfo {
    /// Index of the sample in the set.
    pub sample_idx: usize,
    /// Unique token.
    pub token: String,
    /// Sample time (seconds; the LiDAR sweep's time).
    pub timestamp: f64,
    /// `global_from_ego`, row-major 4×4.
    pub ego2global: [[f64; 4]; 4],
    /// Camera name → image and calibration.
    pub images: BTreeMap<String, CameraSample>,
    /// The LiDAR sweep.
    pub lidar_points: LidarSample,
    /// Ground-truth 3D boxes in the LiDAR frame.
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// Per-camera projections of the boxes (2D boxes, camera-frame 3D
    /// boxes); optional.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cam_instances: BTreeMap<String, Vec<CamInstance>>,
}

/// One camera of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraSample {
    /// Image file, relative to the set's folder.
    pub img_path: String,
    /// Intrinsic matrix K (3×3, no distortion: images are rectified).
    pub cam2img: [[f64; 3]; 3],
    /// `ego_from_camera`, row-major 4×4.
    pub cam2ego: [[f64; 4]; 4],
    /// `camera_from_lidar`, row-major 4×4.
    pub lidar2cam: [[f64; 4]; 4],
    /// Token of the image's sample_data record.
    #[serde(default)]
    pub sample_data_token: String,
    /// Image time (seconds).
    pub timestamp: f64,
}

/// The LiDAR sweep of a sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LidarSample {
    /// float32 features per point (5: x, y, z, intensity, ring).
    pub num_pts_feats: usize,
    /// Sweep file (`.pcd.bin`), relative to the set's folder.
    pub lidar_path: String,
    /// `ego_from_lidar`, row-major 4×4.
    pub lidar2ego: [[f64; 4]; 4],
}

/// A ground-truth 3D box in the LiDAR frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    /// Class id (as `bbox_label_3d`).
    pub bbox_label: i64,
    /// `[x, y, z_bottom, l, w, h, yaw]`: bottom-centre (metres), length
    /// along the heading, width, height, and heading about +z (radians).
    pub bbox_3d: [f64; 7],
    /// False for boxes to ignore in training and evaluation.
    pub bbox_3d_isvalid: bool,
    /// Class id: an index into `metainfo.categories`, or [`IGNORED_CLASS`].
    pub bbox_label_3d: i64,
    /// LiDAR points inside the box.
    pub num_lidar_pts: i64,
    /// Radar points inside the box.
    #[serde(default)]
    pub num_radar_pts: i64,
    /// Velocity (m/s) in the LiDAR frame, x and y; NaN when unknown
    /// (nuScenes writes `NaN`, JSON `null`).
    #[serde(with = "nan_as_null")]
    pub velocity: [f64; 2],
    /// nuScenes visibility level in the six cameras, 1–4: visible fraction
    /// 0–40 %, 40–60 %, 60–80 %, 80–100 % (absent from mmdet3d's infos;
    /// written by cairn-sim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<u8>,
}

/// A box as seen by one camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CamInstance {
    /// Class id.
    pub bbox_label: i64,
    /// Class id.
    pub bbox_label_3d: i64,
    /// 2D box in pixels: `[x_min, y_min, x_max, y_max]`.
    pub bbox: [f64; 4],
    /// False for boxes to ignore.
    pub bbox_3d_isvalid: bool,
    /// 3D box in the camera frame: `[x, y, z, l, h, w, yaw]` (mmdet3d's camera convention).
    pub bbox_3d: [f64; 7],
    /// Velocity in the camera frame (x, z); NaN when unknown.
    #[serde(with = "nan_as_null")]
    pub velocity: [f64; 2],
    /// Projected 3D centre in pixels.
    pub center_2d: [f64; 2],
    /// Depth of the centre (metres).
    pub depth: f64,
    /// Attribute id (nuScenes attributes); -1 when unknown.
    #[serde(default = "minus_one")]
    pub attr_label: i64,
}

fn minus_one() -> i64 {
    -1
}

/// A LiDAR sweep as stored in `.pcd.bin`: per point x, y, z, intensity and
/// ring (5 little-endian float32).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LidarSweep {
    /// Points in the LiDAR frame, with intensity.
    pub cloud: PointCloud,
    /// Laser (ring) index of each point.
    pub ring: Vec<u16>,
}

/// The rigid transform of a row-major 4×4 (the JSON form); `what` names it
/// in the error when the matrix is not rigid.
pub fn rigid_from_rows(rows: &[[f64; 4]; 4], what: &str) -> Result<Rigid3> {
    let m = Matrix4::from_fn(|r, c| rows[r][c]);
    let bottom = [m[(3, 0)], m[(3, 1)], m[(3, 2)], m[(3, 3)]];
    if bottom != [0.0, 0.0, 0.0, 1.0] {
        return Err(Error::InvalidArgument(format!("{what}: last row is {bottom:?}, not [0, 0, 0, 1]")));
    }
    let rotation: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into_owned();
    let t = Vector3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]);
    rigid_from_matrix(&rotation, t).map_err(|e| Error::InvalidArgument(format!("{what}: {e}")))
}

/// The row-major 4×4 of a rigid transform (the JSON form).
pub fn rows_from_rigid(target_from_source: &Rigid3) -> [[f64; 4]; 4] {
    let m = target_from_source.to_homogeneous();
    std::array::from_fn(|r| std::array::from_fn(|c| m[(r, c)]))
}

impl SampleInfo {
    /// `global_from_ego`.
    pub fn global_from_ego(&self) -> Result<Rigid3> {
        rigid_from_rows(&self.ego2global, &format!("sample {} ego2global", self.token))
    }
}

impl CameraSample {
    /// `camera_from_lidar`.
    pub fn camera_from_lidar(&self) -> Result<Rigid3> {
        rigid_from_rows(&self.lidar2cam, &format!("{} lidar2cam", self.img_path))
    }

    /// `ego_from_camera`.
    pub fn ego_from_camera(&self) -> Result<Rigid3> {
        rigid_from_rows(&self.cam2ego, &format!("{} cam2ego", self.img_path))
    }

    /// `(fx, fy, cx, cy)` of `cam2img`.
    pub fn intrinsics(&self) -> (f64, f64, f64, f64) {
        let k = &self.cam2img;
        (k[0][0], k[1][1], k[0][2], k[1][2])
    }
}

impl LidarSample {
    /// `ego_from_lidar`.
    pub fn ego_from_lidar(&self) -> Result<Rigid3> {
        rigid_from_rows(&self.lidar2ego, &format!("{} lidar2ego", self.lidar_path))
    }
}

impl Instance {
    /// The eight corners of the box (LiDAR frame): bottom face
    /// counter-clockwise from (+l/2, +w/2), then the top face.
    pub fn corners(&self) -> [Point3<f64>; 8] {
        let [x, y, z, l, w, h, yaw] = self.bbox_3d;
        let (s, c) = yaw.sin_cos();
        let signs = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)];
        std::array::from_fn(|i| {
            let (sl, sw) = signs[i % 4];
            let (dx, dy) = (sl * l / 2.0, sw * w / 2.0);
            let dz = if i < 4 { 0.0 } else { h };
            Point3::new(x + c * dx - s * dy, y + s * dx + c * dy, z + dz)
        })
    }

    /// True when a point (LiDAR frame) lies inside the box.
    pub fn contains(&self, p: &Point3<f64>) -> bool {
        let [x, y, z, l, w, h, yaw] = self.bbox_3d;
        let (s, c) = yaw.sin_cos();
        let (dx, dy) = (p.x - x, p.y - y);
        let along = c * dx + s * dy;
        let across = -s * dx + c * dy;
        along.abs() <= l / 2.0 && across.abs() <= w / 2.0 && p.z >= z && p.z <= z + h
    }
}

impl SampleSet {
    /// An empty set with the nuScenes class table.
    pub fn new(dataset: &str, version: &str) -> SampleSet {
        SampleSet { metainfo: MetaInfo::nuscenes_classes(dataset, version), data_list: Vec::new(), dir: PathBuf::new() }
    }

    /// Reads `DIR/sample_info.json` (or the JSON file itself) and checks it:
    /// unique tokens, rigid transforms, known class ids.
    pub fn read(path: &Path) -> Result<SampleSet> {
        let (dir, index) = if path.is_dir() {
            (path.to_path_buf(), path.join(INDEX_FILE))
        } else {
            (path.parent().map(Path::to_path_buf).unwrap_or_default(), path.to_path_buf())
        };
        let text = std::fs::read_to_string(&index).map_err(|e| Error::io(&index, e))?;
        let mut set: SampleSet = serde_json::from_str(&python_json_to_strict(&text)).map_err(|e| Error::Parse {
            path: index.clone(),
            line: e.line(),
            message: format!("not an mmdet3d sample_info.json: {e}"),
        })?;
        set.dir = dir;
        set.validate().map_err(|e| Error::InvalidArgument(format!("{}: {e}", index.display())))?;
        Ok(set)
    }

    /// Checks the set: unique tokens, rigid transforms, known class ids,
    /// finite boxes with positive size.
    pub fn validate(&self) -> Result<()> {
        let mut tokens = HashSet::new();
        for sample in &self.data_list {
            if !tokens.insert(sample.token.as_str()) {
                return Err(Error::InvalidArgument(format!("token {} appears twice", sample.token)));
            }
            sample.global_from_ego()?;
            sample.lidar_points.ego_from_lidar()?;
            if sample.lidar_points.num_pts_feats < 3 {
                return Err(Error::InvalidArgument(format!(
                    "sample {}: num_pts_feats {} < 3",
                    sample.token, sample.lidar_points.num_pts_feats
                )));
            }
            for camera in sample.images.values() {
                camera.camera_from_lidar()?;
                camera.ego_from_camera()?;
            }
            for (i, box_) in sample.instances.iter().enumerate() {
                if box_.bbox_label_3d != IGNORED_CLASS && self.metainfo.class_name(box_.bbox_label_3d).is_none() {
                    return Err(Error::InvalidArgument(format!(
                        "sample {} box {i}: class id {} is not in metainfo.categories",
                        sample.token, box_.bbox_label_3d
                    )));
                }
                let [.., l, w, h, _] = box_.bbox_3d;
                if box_.bbox_3d.iter().any(|v| !v.is_finite()) || l <= 0.0 || w <= 0.0 || h <= 0.0 {
                    return Err(Error::InvalidArgument(format!(
                        "sample {} box {i}: bad bbox_3d {:?}",
                        sample.token, box_.bbox_3d
                    )));
                }
            }
        }
        Ok(())
    }

    /// Writes `DIR/sample_info.json` (the data files are the writer's job).
    pub fn write(&self, dir: &Path) -> Result<()> {
        self.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(INDEX_FILE);
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| Error::InvalidArgument(format!("sample set does not serialise: {e}")))?;
        std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
    }

    /// Path of a file named in the set (image or sweep).
    pub fn file(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    /// Reads a sample's LiDAR sweep.
    pub fn read_lidar(&self, sample: &SampleInfo) -> Result<LidarSweep> {
        read_pcd_bin(&self.file(&sample.lidar_points.lidar_path), sample.lidar_points.num_pts_feats)
    }
}

/// Reads a `.pcd.bin` sweep of `features` float32 per point (x, y, z, then
/// intensity and ring when present). A size that is not a whole number of
/// points, a non-finite coordinate or a ring that is not a small
/// non-negative integer is an error naming the file.
pub fn read_pcd_bin(path: &Path, features: usize) -> Result<LidarSweep> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |message: String| Error::PointCloud(format!("{}: {message}", path.display()));
    if features < 3 {
        return Err(bad(format!("{features} features per point; x, y, z are needed")));
    }
    let point_bytes = 4 * features;
    if bytes.len() % point_bytes != 0 {
        return Err(bad(format!("{} bytes is not a whole number of {point_bytes}-byte points", bytes.len())));
    }
    let n = bytes.len() / point_bytes;
    let mut sweep = LidarSweep { cloud: PointCloud::with_capacity(n), ring: Vec::with_capacity(n) };
    let mut intensity = Vec::with_capacity(if features > 3 { n } else { 0 });
    for (i, point) in bytes.chunks_exact(point_bytes).enumerate() {
        let f = |k: usize| f32::from_le_bytes([point[4 * k], point[4 * k + 1], point[4 * k + 2], point[4 * k + 3]]);
        let (x, y, z) = (f(0), f(1), f(2));
        if !(x.is_finite() && y.is_finite() && z.is_finite()) {
            return Err(bad(format!("point {i} has a non-finite coordinate ({x}, {y}, {z})")));
        }
        sweep.cloud.push(Point3::new(x, y, z));
        if features > 3 {
            intensity.push(f(3));
        }
        if features > 4 {
            let ring = f(4);
            if !(0.0..=f32::from(u16::MAX)).contains(&ring) || ring.fract() != 0.0 {
                return Err(bad(format!("point {i} has ring {ring}, not a laser index")));
            }
            sweep.ring.push(ring as u16);
        }
    }
    if features > 3 {
        sweep.cloud.intensity = Some(intensity);
    }
    Ok(sweep)
}

/// Writes a sweep as `.pcd.bin` (5 float32 per point: x, y, z, intensity,
/// ring; intensity 0 and ring 0 when the sweep has none).
pub fn write_pcd_bin(path: &Path, sweep: &LidarSweep) -> Result<()> {
    let n = sweep.cloud.len();
    if !sweep.ring.is_empty() && sweep.ring.len() != n {
        return Err(Error::PointCloud(format!("{n} points but {} ring indices", sweep.ring.len())));
    }
    sweep.cloud.validate()?;
    let mut bytes = Vec::with_capacity(20 * n);
    for i in 0..n {
        let intensity = sweep.cloud.intensity.as_ref().map_or(0.0, |v| v[i]);
        let ring = sweep.ring.get(i).map_or(0.0, |&r| f32::from(r));
        for v in [sweep.cloud.x[i], sweep.cloud.y[i], sweep.cloud.z[i], intensity, ring] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

/// Python's `json` writes `NaN`, `Infinity` and `-Infinity`, which strict
/// JSON lacks: they become `null` (outside strings; line numbers are kept).
fn python_json_to_strict(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = ["NaN", "-Infinity", "Infinity"].into_iter().find(|t| rest.starts_with(t)) {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// `[f64; 2]` whose unknown (NaN) entries are JSON `null`.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64; 2], serializer: S) -> Result<S::Ok, S::Error> {
        v.map(|x| x.is_finite().then_some(x)).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[f64; 2], D::Error> {
        Ok(<[Option<f64>; 2]>::deserialize(deserializer)?.map(|x| x.unwrap_or(f64::NAN)))
    }
}

/// (De)serialises a JSON object as an ordered list of pairs, keeping the
/// file's key order.
mod ordered_map {
    use serde::de::{MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(pairs: &[(String, i64)], serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(pairs.len()))?;
        for (k, v) in pairs {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, i64)>, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = Vec<(String, i64)>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of class name → id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some(entry) = map.next_entry::<String, i64>()? {
                    pairs.push(entry);
                }
                Ok(pairs)
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn identity_rows() -> [[f64; 4]; 4] {
        rows_from_rigid(&Rigid3::identity())
    }

    fn sample(token: &str) -> SampleInfo {
        SampleInfo {
            sample_idx: 0,
            token: token.to_owned(),
            timestamp: 1.5,
            ego2global: identity_rows(),
            images: BTreeMap::from([(
                "CAM_FRONT".to_owned(),
                CameraSample {
                    img_path: "front.png".to_owned(),
                    cam2img: [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]],
                    cam2ego: identity_rows(),
                    lidar2cam: identity_rows(),
                    sample_data_token: String::new(),
                    timestamp: 1.5,
                },
            )]),
            lidar_points: LidarSample {
                num_pts_feats: 5,
                lidar_path: "lidar.pcd.bin".to_owned(),
                lidar2ego: identity_rows(),
            },
            instances: vec![Instance {
                bbox_label: 0,
                bbox_3d: [10.0, 2.0, -1.5, 4.5, 1.9, 1.6, 0.3],
                bbox_3d_isvalid: true,
                bbox_label_3d: 0,
                num_lidar_pts: 12,
                num_radar_pts: 0,
                velocity: [1.0, 0.0],
                visibility: None,
            }],
            cam_instances: BTreeMap::new(),
        }
    }

    #[test]
    fn write_then_read_is_identity_and_keeps_class_order() {
        let dir = std::env::temp_dir().join(format!("cairn_samples_rt_{}", std::process::id()));
        let mut set = SampleSet::new("cairn-sim", "test");
        set.data_list.push(sample("a"));
        set.write(&dir).expect("write");
        let back = SampleSet::read(&dir).expect("read");
        assert_eq!(back.data_list, set.data_list);
        assert_eq!(back.metainfo.categories[0].0, "car");
        assert_eq!(back.metainfo.categories[9].0, "barrier");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn duplicate_tokens_and_unknown_classes_are_errors() {
        let mut set = SampleSet::new("x", "y");
        set.data_list.push(sample("a"));
        set.data_list.push(sample("a"));
        assert!(set.validate().unwrap_err().to_string().contains("token a appears twice"));
        let mut set = SampleSet::new("x", "y");
        let mut s = sample("a");
        s.instances[0].bbox_label_3d = 42;
        set.data_list.push(s);
        assert!(set.validate().unwrap_err().to_string().contains("class id 42"));
    }

    #[test]
    fn non_rigid_matrix_is_an_error() {
        let mut s = sample("a");
        s.ego2global[0][0] = 2.0;
        assert!(s.global_from_ego().is_err());
        s.ego2global = identity_rows();
        s.ego2global[3][0] = 1.0;
        assert!(s.global_from_ego().unwrap_err().to_string().contains("last row"));
    }

    #[test]
    fn box_contains_its_centre_and_not_outside_points() {
        let b = sample("a").instances[0].clone();
        assert!(b.contains(&Point3::new(10.0, 2.0, -0.7)));
        assert!(!b.contains(&Point3::new(10.0, 2.0, -1.6)));
        // 2.2 m along the heading is inside (l/2 = 2.25), across it is outside (w/2 = 0.95).
        let (s, c) = 0.3f64.sin_cos();
        assert!(b.contains(&Point3::new(10.0 + 2.2 * c, 2.0 + 2.2 * s, -1.0)));
        assert!(!b.contains(&Point3::new(10.0 - 2.2 * s, 2.0 + 2.2 * c, -1.0)));
        for corner in b.corners() {
            let inward = Point3::from(corner.coords * 0.999 + Vector3::new(10.0, 2.0, -0.7) * 0.001);
            assert!(b.contains(&inward), "{corner:?}");
        }
    }

    #[test]
    fn pcd_bin_round_trip_and_bad_sizes() {
        let dir = std::env::temp_dir().join(format!("cairn_pcd_bin_{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut sweep = LidarSweep::default();
        sweep.cloud.push(Point3::new(1.0, 2.0, 3.0));
        sweep.cloud.push(Point3::new(-1.0, 0.5, 0.25));
        sweep.cloud.intensity = Some(vec![7.0, 99.0]);
        sweep.ring = vec![0, 31];
        let path = dir.join("s.pcd.bin");
        write_pcd_bin(&path, &sweep).expect("write");
        assert_eq!(read_pcd_bin(&path, 5).expect("read"), sweep);
        let bytes = std::fs::read(&path).expect("bytes");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("truncate");
        assert!(read_pcd_bin(&path, 5).unwrap_err().to_string().contains("whole number"));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn python_nan_reads_as_nan_and_strings_are_untouched() {
        let text = r#"{"a": [NaN, -Infinity, 1.0], "b": "NaN \" Infinity"}"#;
        assert_eq!(python_json_to_strict(text), r#"{"a": [null, null, 1.0], "b": "NaN \" Infinity"}"#);
        let mut s = sample("a");
        s.instances[0].velocity = [f64::NAN, 2.0];
        let json = serde_json::to_string(&s.instances[0]).expect("json");
        assert!(json.contains("[null,2.0]"), "{json}");
        let back: Instance = serde_json::from_str(&json).expect("back");
        assert!(back.velocity[0].is_nan() && back.velocity[1] == 2.0);
    }

    #[test]
    fn rows_round_trip() {
        let t = Rigid3::new(Vector3::new(1.0, -2.0, 0.5), Vector3::new(0.1, 0.2, -0.3));
        let back = rigid_from_rows(&rows_from_rigid(&t), "t").expect("rigid");
        assert_relative_eq!(back.to_homogeneous(), t.to_homogeneous(), epsilon = 1e-12);
    }
}
