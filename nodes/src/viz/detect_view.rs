//! What a detection run looks like from each camera, without rerun: the
//! LiDAR sweep and 3D boxes (LiDAR frame) projected through each camera's
//! `lidar2cam` and `cam2img` — the same calibration the detector's image
//! position encodings use — so a glance shows whether points land on the
//! objects they hit. [`SampleView`] holds the projections; [`write_png`]
//! draws them over the camera images, tiled 3 × 2 (`cairn detect --png`),
//! and the rerun recorder logs the same projections (`--rrd`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use cairn_core::PointCloud;
use cairn_core::samples::{CameraSample, SampleInfo, SampleSet};
use cairn_perception::detection::{CLASSES, LidarBox};
use image::{Rgb, RgbImage};
use nalgebra::Point3;

/// Points nearer than this to a camera's image plane are not projected.
const NEAREST_DEPTH_M: f64 = 0.5;

/// One point of the sweep seen by a camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectedPoint {
    /// Pixel (column, row) in the full-size image.
    pub pixel: [f32; 2],
    /// Depth along the camera's optical axis (metres).
    pub depth: f32,
    /// The point's intensity (as in the sweep).
    pub intensity: f32,
}

/// A box's twelve edges as pixel segments, with what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedBox {
    /// Edges whose both ends lie in front of the camera.
    pub edges: Vec<[[f32; 2]; 2]>,
    /// `class score` (score left out for ground truth).
    pub label: String,
    /// True for a ground-truth box, false for a detection.
    pub ground_truth: bool,
    /// The box's index in [`SampleView::boxes`].
    pub index: usize,
}

/// One camera's view of a sample.
#[derive(Debug, Clone)]
pub struct CameraView {
    /// Camera name (`CAM_FRONT`, …).
    pub name: String,
    /// The image as read.
    pub image: RgbImage,
    /// Sweep points inside the image.
    pub points: Vec<ProjectedPoint>,
    /// Boxes with at least one edge in front of the camera.
    pub boxes: Vec<ProjectedBox>,
}

/// Every camera's view of a sample, plus the sweep and boxes themselves
/// (LiDAR frame) for 3D views.
#[derive(Debug, Clone)]
pub struct SampleView {
    /// The sample's token.
    pub token: String,
    /// Per camera, in the sample's (sorted) order.
    pub cameras: Vec<CameraView>,
    /// The sweep (LiDAR frame).
    pub cloud: PointCloud,
    /// Detections, then ground truth (LiDAR frame).
    pub boxes: Vec<(LidarBox, bool)>,
}

impl SampleView {
    /// Reads the sample's images and sweep and projects `detections` and
    /// `ground_truth` (both LiDAR frame) into every camera.
    pub fn build(
        set: &SampleSet,
        sample: &SampleInfo,
        detections: &[LidarBox],
        ground_truth: &[LidarBox],
    ) -> Result<SampleView> {
        let sweep = set.read_lidar(sample).with_context(|| format!("reading the sweep of sample {}", sample.token))?;
        let images = sample
            .images
            .iter()
            .map(|(name, camera)| {
                let path = set.file(&camera.img_path);
                let image = image::open(&path).with_context(|| format!("reading {}", path.display()))?.to_rgb8();
                Ok((name.clone(), image))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        Ok(Self::from_data(sample, &images, sweep.cloud, detections, ground_truth))
    }

    /// [`SampleView::build`] from decoded data (a bag's messages): the
    /// cameras of `sample` that have an image in `images`.
    pub fn from_data(
        sample: &SampleInfo,
        images: &BTreeMap<String, RgbImage>,
        cloud: PointCloud,
        detections: &[LidarBox],
        ground_truth: &[LidarBox],
    ) -> SampleView {
        let boxes: Vec<(LidarBox, bool)> = detections
            .iter()
            .map(|b| (b.clone(), false))
            .chain(ground_truth.iter().map(|b| (b.clone(), true)))
            .collect();
        let cameras = sample
            .images
            .iter()
            .filter_map(|(name, camera)| Some(camera_view(name, camera, images.get(name)?.clone(), &cloud, &boxes)))
            .collect();
        SampleView { token: sample.token.clone(), cameras, cloud, boxes }
    }
}

/// A label for a box: its class name, and its score for a detection.
pub fn box_label(lidar_box: &LidarBox, ground_truth: bool) -> String {
    let class = CLASSES.get(lidar_box.label).copied().unwrap_or("?");
    if ground_truth { class.to_string() } else { format!("{class} {:.2}", lidar_box.score) }
}

/// The eight corners of a box (LiDAR frame): bottom face, then top.
pub fn corners(lidar_box: &LidarBox) -> [Point3<f64>; 8] {
    let [x, y, z] = lidar_box.centre;
    let [w, l, h] = lidar_box.size;
    let (s, c) = lidar_box.yaw.sin_cos();
    let signs = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)];
    std::array::from_fn(|i| {
        let (sl, sw) = signs[i % 4];
        let (dx, dy) = (sl * l / 2.0, sw * w / 2.0);
        let dz = if i < 4 { -h / 2.0 } else { h / 2.0 };
        Point3::new(x + c * dx - s * dy, y + s * dx + c * dy, z + dz)
    })
}

/// The corner pairs of a box's twelve edges.
const EDGES: [(usize, usize); 12] =
    [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7)];

fn camera_view(
    name: &str,
    camera: &CameraSample,
    image: RgbImage,
    cloud: &PointCloud,
    boxes: &[(LidarBox, bool)],
) -> CameraView {
    // A calibration that is not rigid cannot be projected: no points, no boxes.
    let Ok(camera_from_lidar) = camera.camera_from_lidar() else {
        return CameraView { name: name.to_string(), image, points: Vec::new(), boxes: Vec::new() };
    };
    let (fx, fy, cx, cy) = camera.intrinsics();
    let project = |p: &Point3<f64>| -> Option<([f32; 2], f64)> {
        let q = camera_from_lidar * p;
        (q.z > NEAREST_DEPTH_M).then(|| ([(fx * q.x / q.z + cx) as f32, (fy * q.y / q.z + cy) as f32], q.z))
    };
    let (width, height) = (image.width() as f32, image.height() as f32);
    let intensity = |k: usize| cloud.intensity.as_ref().and_then(|i| i.get(k).copied()).unwrap_or(0.0);
    let points = cloud
        .points()
        .enumerate()
        .filter_map(|(k, p)| {
            let (pixel, depth) = project(&p.cast::<f64>())?;
            let inside = (0.0..width).contains(&pixel[0]) && (0.0..height).contains(&pixel[1]);
            inside.then_some(ProjectedPoint { pixel, depth: depth as f32, intensity: intensity(k) })
        })
        .collect();
    let boxes = boxes
        .iter()
        .enumerate()
        .filter_map(|(index, (lidar_box, ground_truth))| {
            let corners = corners(lidar_box).map(|c| project(&c).map(|(pixel, _)| pixel));
            let edges: Vec<[[f32; 2]; 2]> =
                EDGES.iter().filter_map(|(a, b)| Some([corners[*a]?, corners[*b]?])).collect();
            let on_screen =
                edges.iter().flatten().any(|p| (0.0..width).contains(&p[0]) && (0.0..height).contains(&p[1]));
            on_screen.then(|| ProjectedBox {
                edges,
                label: box_label(lidar_box, *ground_truth),
                ground_truth: *ground_truth,
                index,
            })
        })
        .collect();
    CameraView { name: name.to_string(), image, points, boxes }
}

/// A colour for a depth: near red through yellow and green to far blue
/// (0–60 m).
pub fn depth_colour(depth: f32) -> [u8; 3] {
    let t = (depth / 60.0).clamp(0.0, 1.0);
    let ramp = |x: f32| (255.0 * x.clamp(0.0, 1.0)) as u8;
    [ramp(1.5 - 3.0 * (t - 0.0).abs()), ramp(1.5 - 3.0 * (t - 0.4).abs()), ramp(1.5 - 3.0 * (t - 0.9).abs())]
}

/// A colour for an intensity (nuScenes 0–255, synthetic 0–1: both spread
/// over the ramp by the sweep's own maximum).
pub fn intensity_colour(intensity: f32, max: f32) -> [u8; 3] {
    depth_colour(60.0 * (intensity / max.max(f32::MIN_POSITIVE)).sqrt())
}

/// Ground truth is drawn green, detections orange.
pub fn box_colour(ground_truth: bool) -> [u8; 3] {
    if ground_truth { [40, 220, 60] } else { [255, 140, 0] }
}

/// Draws every camera's view — LiDAR points coloured by depth, boxes as
/// wire frames — tiled three to a row, each scaled to `tile_width` pixels,
/// and writes the PNG.
pub fn write_png(view: &SampleView, tile_width: u32, path: &Path) -> Result<()> {
    let tiles: Vec<RgbImage> = view.cameras.iter().map(|camera| draw_camera(camera, tile_width)).collect();
    let tile_height = tiles.iter().map(RgbImage::height).max().unwrap_or(1);
    let columns = tiles.len().clamp(1, 3) as u32;
    let rows = (tiles.len() as u32).div_ceil(columns).max(1);
    let mut canvas = RgbImage::new(columns * tile_width, rows * tile_height);
    for (k, tile) in tiles.iter().enumerate() {
        let (x, y) = ((k as u32 % columns) * tile_width, (k as u32 / columns) * tile_height);
        image::imageops::replace(&mut canvas, tile, i64::from(x), i64::from(y));
    }
    canvas.save(path).with_context(|| format!("writing {}", path.display()))
}

fn draw_camera(camera: &CameraView, tile_width: u32) -> RgbImage {
    let scale = tile_width as f32 / camera.image.width().max(1) as f32;
    let height = ((camera.image.height() as f32 * scale).round() as u32).max(1);
    let mut tile = image::imageops::resize(&camera.image, tile_width, height, image::imageops::FilterType::Triangle);
    for point in &camera.points {
        let colour = Rgb(depth_colour(point.depth));
        let (u, v) = ((point.pixel[0] * scale) as i64, (point.pixel[1] * scale) as i64);
        for (du, dv) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            put(&mut tile, u + du, v + dv, colour);
        }
    }
    for projected in &camera.boxes {
        let colour = Rgb(box_colour(projected.ground_truth));
        for [a, b] in &projected.edges {
            line(&mut tile, [a[0] * scale, a[1] * scale], [b[0] * scale, b[1] * scale], colour);
        }
    }
    tile
}

fn put(image: &mut RgbImage, u: i64, v: i64, colour: Rgb<u8>) {
    if u >= 0 && v >= 0 && (u as u32) < image.width() && (v as u32) < image.height() {
        image.put_pixel(u as u32, v as u32, colour);
    }
}

/// A straight line, sampled every half pixel (clipped to the image).
fn line(image: &mut RgbImage, a: [f32; 2], b: [f32; 2], colour: Rgb<u8>) {
    let length = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
    let steps = ((2.0 * length).ceil() as usize).clamp(1, 20_000);
    for k in 0..=steps {
        let t = k as f32 / steps as f32;
        put(image, (a[0] + t * (b[0] - a[0])) as i64, (a[1] + t * (b[1] - a[1])) as i64, colour);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn corners_span_the_box_and_turn_with_its_yaw() {
        let lidar_box = LidarBox {
            centre: [10.0, 2.0, 1.0],
            size: [2.0, 4.0, 1.5],
            yaw: std::f64::consts::FRAC_PI_2,
            velocity: [0.0; 2],
            label: 0,
            score: 0.5,
        };
        let c = corners(&lidar_box);
        // Heading +y: the length (4 m) runs along y, the width (2 m) along x.
        let (xs, ys, zs) = (c.map(|p| p.x), c.map(|p| p.y), c.map(|p| p.z));
        let span =
            |v: [f64; 8]| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
        assert!((span(xs) - 2.0).abs() < 1e-9 && (span(ys) - 4.0).abs() < 1e-9 && (span(zs) - 1.5).abs() < 1e-9);
        assert_eq!(box_label(&lidar_box, false), "car 0.50");
        assert_eq!(box_label(&lidar_box, true), "car");
    }

    /// The view's projections are the calibration the detector uses: in a
    /// synthetic drive, the sweep points inside a ground-truth box land
    /// inside the pixel bounds of that box's projected wire frame.
    #[test]
    fn points_inside_a_box_project_inside_its_wire_frame() {
        use cairn_sim::drive::{DriveOptions, write_drive};
        let dir = std::env::temp_dir().join(format!("cairn-detect-view-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 1, seed: 77, image_scale: 0.2, ..Default::default() };
        let set = write_drive(&options, &cairn_sim::rig::Rig::nuscenes().unwrap(), &dir, |_| {}).unwrap();
        let sample = &set.data_list[0];
        let truth: Vec<LidarBox> = sample.instances.iter().filter_map(LidarBox::from_instance).collect();
        let view = SampleView::build(&set, sample, &[], &truth).unwrap();
        assert_eq!(view.cameras.len(), 6);
        let (mut inside, mut checked) = (0usize, 0usize);
        for (camera, (name, calibration)) in view.cameras.iter().zip(&sample.images) {
            assert_eq!(&camera.name, name);
            let camera_from_lidar = calibration.camera_from_lidar().unwrap();
            let (fx, fy, cx, cy) = calibration.intrinsics();
            let instances = sample.instances.iter().filter(|i| LidarBox::from_instance(i).is_some());
            for (index, instance) in instances.enumerate() {
                let Some(wire) = camera.boxes.iter().find(|b| b.index == index && b.edges.len() == 12) else {
                    continue;
                };
                let xs = wire.edges.iter().flatten().map(|p| p[0]);
                let ys = wire.edges.iter().flatten().map(|p| p[1]);
                let (x0, x1) = (xs.clone().fold(f32::MAX, f32::min), xs.fold(f32::MIN, f32::max));
                let (y0, y1) = (ys.clone().fold(f32::MAX, f32::min), ys.fold(f32::MIN, f32::max));
                for p in view.cloud.points() {
                    let p = p.cast::<f64>();
                    if !instance.contains(&p) {
                        continue;
                    }
                    let q = camera_from_lidar * p;
                    if q.z <= NEAREST_DEPTH_M {
                        continue;
                    }
                    let (u, v) = ((fx * q.x / q.z + cx) as f32, (fy * q.y / q.z + cy) as f32);
                    let seen =
                        camera.points.iter().any(|s| (s.pixel[0] - u).abs() < 1e-3 && (s.pixel[1] - v).abs() < 1e-3);
                    if !seen {
                        continue; // outside this image
                    }
                    checked += 1;
                    inside += usize::from((x0..=x1).contains(&u) && (y0..=y1).contains(&v));
                }
            }
        }
        assert!(checked > 100, "only {checked} points inside boxes were seen by a camera");
        assert!(inside as f64 >= 0.99 * checked as f64, "{inside} of {checked} inside their box's frame");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_depth_ramp_runs_from_red_to_blue() {
        let (near, far) = (depth_colour(0.0), depth_colour(60.0));
        assert!(near[0] > 200 && near[2] < 50, "{near:?}");
        assert!(far[2] > 200 && far[0] < 50, "{far:?}");
    }
}
