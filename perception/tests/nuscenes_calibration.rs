//! Calibration is right when LiDAR and cameras agree about where the objects
//! are: the LiDAR points inside a ground-truth 3D box (`Instance::contains`),
//! projected through `lidar2img = pad4(cam2img) · lidar2cam`, land inside
//! that camera's 2D box of the object.
//!
//! Counted points: those inside the 3D box, in front of the camera
//! (positive depth) and inside the image (a 2D box is clipped to the image, so points
//! of a truncated object that project beyond the border cannot be in it).
//! The fraction is pooled over every box a camera sees; ≥ 90 % must land
//! in their 2D boxes. Per-box worst and mean fractions (and the worst of the
//! boxes with ≥ 10 counted points) are printed. A
//! negative control turns `lidar2cam` by 2° about the camera's vertical
//! axis: the pooled fraction must then fall below 90 %, so the check can fail.
//!
//! - Real data (../shared/data/nuscenes_sample; skipped, visibly, without
//!   it): the 2D box is `cam_instances[camera][k].bbox` as given. A cam
//!   instance is matched to the 3D instance of the same class whose bottom
//!   centre, taken into the camera frame by `lidar2cam`, is nearest its
//!   `bbox_3d` bottom centre (`[x, y, z]`, mmdet3d's camera box origin) —
//!   within 0.5 m, else it is left out (in this sample every match is within
//!   5 cm). Note: in this sample (mmdetection3d's demo infos) `bbox` and
//!   `center_2d` sit about half the projected box height *below* the
//!   projection of the 3D box's corners, for every box: they were computed
//!   as if the box were centred on its bottom centre. That costs some
//!   points at the top of small boxes; the 2D boxes are used as given.
//! - Synthetic (`cairn sim drive`, always runs): the 2D box is the bounding
//!   box of the pixels the renderer drew for the object (its per-pixel
//!   object ids), widened by half a pixel (pixel centres are integers).

use std::path::{Path, PathBuf};

use cairn_core::samples::{CameraSample, Instance, SampleSet};
use cairn_sim::drive::{Drive, DriveOptions};
use cairn_sim::rig::Rig;
use cairn_sim::scene::NO_OBJECT;
use libtest_mimic::{Arguments, Failed, Trial};
use nalgebra::{Matrix4, Point3, Rotation3, Vector3};

const REQUIRED: f64 = 0.9;
const MATCH_DISTANCE: f64 = 0.5;
/// Boxes with at least this many counted points are also reported on their own.
const WELL_SEEN: usize = 10;
/// The negative control's error: a turn about the camera's y (down) axis.
const CONTROL_DEGREES: f64 = 2.0;

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nuscenes_sample")
}

/// `pad4(cam2img) · lidar2cam`, optionally turned about the camera's y axis.
fn lidar2img(camera: &CameraSample, turn_degrees: f64) -> Matrix4<f64> {
    let mut pad4 = Matrix4::identity();
    for (r, row) in camera.cam2img.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            pad4[(r, c)] = *v;
        }
    }
    let turn = Rotation3::from_axis_angle(&Vector3::y_axis(), turn_degrees.to_radians()).to_homogeneous();
    pad4 * turn * Matrix4::from_fn(|r, c| camera.lidar2cam[r][c])
}

/// Pixel coordinates of a LiDAR-frame point, or `None` behind the camera.
fn project(lidar2img: &Matrix4<f64>, p: &Point3<f64>) -> Option<(f64, f64)> {
    let h = lidar2img * p.to_homogeneous();
    (h.z > 0.0).then(|| (h.x / h.z, h.y / h.z))
}

/// Points of one box that a camera sees: (inside its 2D box, counted).
fn count(
    points: &[Point3<f64>],
    instance: &Instance,
    lidar2img: &Matrix4<f64>,
    size: (f64, f64),
    bbox: [f64; 4],
) -> (usize, usize) {
    let [x0, y0, x1, y1] = bbox;
    let in_image = |(u, v): &(f64, f64)| *u >= 0.0 && *u < size.0 && *v >= 0.0 && *v < size.1;
    let pixels: Vec<(f64, f64)> =
        points.iter().filter(|p| instance.contains(p)).filter_map(|p| project(lidar2img, p)).filter(in_image).collect();
    let inside = pixels.iter().filter(|(u, v)| *u >= x0 && *u <= x1 && *v >= y0 && *v <= y1).count();
    (inside, pixels.len())
}

/// Per-box (inside, counted) pairs → the pooled fraction, with a report line.
fn summarise(label: &str, boxes: &[(usize, usize)]) -> Result<f64, Failed> {
    let seen: Vec<f64> = boxes.iter().filter(|(_, n)| *n > 0).map(|(k, n)| *k as f64 / *n as f64).collect();
    let (inside, total) = boxes.iter().fold((0, 0), |(a, b), (k, n)| (a + k, b + n));
    if total == 0 {
        return Err(format!("{label}: no LiDAR point of any box is seen by a camera").into());
    }
    let pooled = inside as f64 / total as f64;
    let worst = seen.iter().copied().fold(1.0, f64::min);
    let mean = seen.iter().sum::<f64>() / seen.len() as f64;
    let well_seen: Vec<f64> =
        boxes.iter().filter(|(_, n)| *n >= WELL_SEEN).map(|(k, n)| *k as f64 / *n as f64).collect();
    let worst_well_seen = well_seen.iter().copied().fold(1.0, f64::min);
    eprintln!(
        "{label}: {inside}/{total} points in their 2D boxes (pooled {pooled:.4}) over {} boxes; per box worst {worst:.3}, \
         mean {mean:.4}; worst of the {} boxes with ≥ {WELL_SEEN} points {worst_well_seen:.3}",
        seen.len(),
        well_seen.len()
    );
    Ok(pooled)
}

/// The cam instances of a real sample, each with its 3D instance.
fn real_fractions(set: &SampleSet, turn_degrees: f64) -> Result<Vec<(usize, usize)>, Failed> {
    let sample = set.data_list.first().ok_or("the sample set is empty")?;
    let sweep = set.read_lidar(sample)?;
    let points: Vec<Point3<f64>> = sweep.cloud.points().map(|p| p.cast::<f64>()).collect();
    let mut boxes = Vec::new();
    for (name, cam_instances) in &sample.cam_instances {
        let camera = sample.images.get(name).ok_or(format!("{name}: cam_instances without an image"))?;
        let camera_from_lidar = camera.camera_from_lidar()?;
        let to_image = lidar2img(camera, turn_degrees);
        // nuScenes images are 1600 × 900 (the sample keeps no image size).
        let size = (1600.0, 900.0);
        for cam_instance in cam_instances {
            let [cx, cy, cz, ..] = cam_instance.bbox_3d;
            let nearest = sample
                .instances
                .iter()
                .filter(|i| i.bbox_label_3d == cam_instance.bbox_label_3d)
                .map(|i| {
                    let [x, y, z, ..] = i.bbox_3d;
                    let bottom = camera_from_lidar * Point3::new(x, y, z);
                    ((bottom - Point3::new(cx, cy, cz)).norm(), i)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, instance)) = nearest.filter(|(d, _)| *d < MATCH_DISTANCE) {
                boxes.push(count(&points, instance, &to_image, size, cam_instance.bbox));
            }
        }
    }
    Ok(boxes)
}

fn real_data() -> Result<(), Failed> {
    let set = SampleSet::read(&sample_dir())?;
    let pooled = summarise("nuscenes_sample", &real_fractions(&set, 0.0)?)?;
    let control = summarise("nuscenes_sample, lidar2cam turned 2°", &real_fractions(&set, CONTROL_DEGREES)?)?;
    check(pooled, control)
}

fn check(pooled: f64, control: f64) -> Result<(), Failed> {
    if pooled < REQUIRED {
        return Err(format!("only {pooled:.4} of the points land in their 2D boxes (≥ {REQUIRED} needed)").into());
    }
    if control >= REQUIRED {
        return Err(
            format!("a {CONTROL_DEGREES}° calibration error still scores {control:.4}: the check cannot fail").into()
        );
    }
    Ok(())
}

/// The rendered pixels' bounding box of `object` in a view, widened by half a pixel.
fn pixel_box(object: &[u32], width: usize, id: u32) -> Option<[f64; 4]> {
    let mut found: Option<[f64; 4]> = None;
    for (k, _) in object.iter().enumerate().filter(|(_, o)| **o == id && id != NO_OBJECT) {
        let (u, v) = ((k % width) as f64, (k / width) as f64);
        let b = found.get_or_insert([u, v, u, v]);
        *b = [b[0].min(u), b[1].min(v), b[2].max(u), b[3].max(v)];
    }
    found.map(|[x0, y0, x1, y1]| [x0 - 0.5, y0 - 0.5, x1 + 0.5, y1 + 0.5])
}

fn sim_fractions(turn_degrees: f64) -> Result<Vec<(usize, usize)>, Failed> {
    let options = DriveOptions { samples: 2, seed: 5, image_scale: 0.25, ..Default::default() };
    let drive = Drive::new(options, &Rig::nuscenes()?)?;
    let mut boxes = Vec::new();
    for k in 0..2 {
        let sample = drive.sample(k)?;
        let points: Vec<Point3<f64>> = sample.scan.sweep().cloud.points().map(|p| p.cast::<f64>()).collect();
        for (view, rig_camera) in sample.views.iter().zip(&drive.rig.cameras) {
            let camera = sample.info.images.get(&rig_camera.name).ok_or("a rig camera without an image")?;
            let to_image = lidar2img(camera, turn_degrees);
            let size = (f64::from(rig_camera.width), f64::from(rig_camera.height));
            for (instance, id) in sample.info.instances.iter().zip(&sample.instance_ids) {
                if let Some(bbox) = pixel_box(&view.object, rig_camera.width as usize, *id) {
                    boxes.push(count(&points, instance, &to_image, size, bbox));
                }
            }
        }
    }
    Ok(boxes)
}

fn sim_drive() -> Result<(), Failed> {
    let pooled = summarise("cairn sim drive", &sim_fractions(0.0)?)?;
    let control = summarise("cairn sim drive, lidar2cam turned 2°", &sim_fractions(CONTROL_DEGREES)?)?;
    check(pooled, control)
}

fn main() {
    let args = Arguments::from_args();
    let missing = !sample_dir().join("sample_info.json").exists();
    if missing {
        eprintln!("skipping calibration/nuscenes_sample: {} is absent", sample_dir().display());
    }
    let trials = vec![
        Trial::test("calibration/nuscenes_sample/lidar_points_land_in_their_2d_boxes", real_data)
            .with_ignored_flag(missing),
        Trial::test("calibration/sim_drive/lidar_points_land_in_their_2d_boxes", sim_drive),
    ];
    libtest_mimic::run(&args, trials).exit();
}
