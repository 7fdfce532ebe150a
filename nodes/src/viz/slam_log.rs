//! What a SLAM run looks like in rerun: per frame the camera (pose and
//! frustum), its colour and depth images, the tracker's edge pixels and the
//! stage timings; per keyframe its depth cloud, every keyframe's corrected
//! pose, the loop edges and the trajectory so far; at the end the final
//! trajectory and the ground truth. Entity paths: see [`super`].

use cairn_core::align::Alignment;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::{DepthImage, PinholeCamera, RgbImage, Trajectory};
use cairn_slam::edges::canny;
use cairn_slam::graph::EdgeKind;
use cairn_slam::pyramid::GrayImage;
use cairn_slam::{Slam, SlamFrame};
use nalgebra::{Point2, Vector3};
use rerun::datatypes::ChannelDatatype;

use super::stream::{Stream, position, transform};

/// At most this many points of each keyframe's depth image go into its
/// cloud (an even pixel grid; 20 000 keeps a long run's recording light).
pub const CLOUD_POINTS: usize = 20_000;

const EDGE_COLOUR: [u8; 3] = [255, 220, 0];
const ESTIMATE_COLOUR: [u8; 3] = [230, 60, 40];
const GROUNDTRUTH_COLOUR: [u8; 3] = [40, 40, 40];
const KEYFRAME_COLOUR: [u8; 3] = [40, 120, 230];
const LOOP_COLOUR: [u8; 3] = [20, 200, 80];

impl Stream {
    /// See [`super::Recorder::slam_frame`].
    pub(super) fn slam_frame(&self, index: usize, rgb: &RgbImage, depth: &DepthImage, frame: &SlamFrame, slam: &Slam) {
        let tracking = &frame.tracking;
        self.set_time(index, tracking.stamp);
        self.log("world/camera", &transform(&tracking.world_from_camera));
        self.log("world/camera/image", &pinhole(slam.camera()));
        self.log("world/camera/image/rgb", &rerun::Image::from_rgb24(rgb.data.clone(), [rgb.width, rgb.height]));
        self.log("world/camera/image/depth", &depth_image(depth));
        self.log("world/camera/image/edges", &edge_pixels(rgb, slam));
        self.log_timings(frame);
        if tracking.new_keyframe {
            if let Some(id) = tracking.keyframe_id {
                self.log(&format!("world/keyframes/{id}/cloud"), &cloud(rgb, depth, slam.camera()));
            }
            self.log_map(slam);
        }
    }

    /// See [`super::Recorder::slam_finish`].
    pub(super) fn slam_finish(&self, slam: &Slam, groundtruth: Option<&Trajectory>) {
        let trajectory = slam.trajectory();
        if let Some((stamp, _, _)) = trajectory.last() {
            self.set_time(trajectory.len() - 1, *stamp);
        }
        self.log_map(slam);
        if let Some(reference) = groundtruth {
            let strip = groundtruth_in_estimate_frame(reference, slam);
            let lines = rerun::LineStrips3D::new([strip]).with_colors([GROUNDTRUTH_COLOUR]);
            self.log("world/trajectory/groundtruth", &lines);
        }
        self.flush();
    }

    /// The stage times and tracking quality of one frame, as time series.
    fn log_timings(&self, frame: &SlamFrame) {
        let (t, b) = (&frame.tracking.timing, &frame.backend);
        let series = [
            ("timings/pyramid_ms", t.pyramid_ms),
            ("timings/edges_ms", t.edges_ms),
            ("timings/distance_ms", t.distance_ms),
            ("timings/tracking_ms", t.tracking_ms),
            ("timings/keyframe_ms", t.keyframe_ms),
            ("timings/total_ms", t.total_ms),
            ("timings/window_ms", b.window_ms),
            ("timings/loops_ms", b.loops_ms),
            ("timings/graph_ms", b.graph_ms),
            ("tracking/inliers", frame.tracking.inliers as f64),
            ("tracking/mean_residual_px", frame.tracking.mean_residual_px),
        ];
        for (path, value) in series {
            self.log(path, &rerun::Scalars::single(value));
        }
    }

    /// The map as it stands: every keyframe's (corrected) pose and
    /// position, the loop edges between them and the trajectory so far.
    fn log_map(&self, slam: &Slam) {
        let graph = slam.graph();
        for node in graph.nodes() {
            let path = format!("world/keyframes/{}", node.id);
            self.log(&path, &transform(&node.world_from_keyframe));
        }
        let positions: Vec<[f32; 3]> =
            graph.nodes().iter().map(|n| position(&n.world_from_keyframe.translation.vector)).collect();
        let keyframes = rerun::Points3D::new(positions).with_colors([KEYFRAME_COLOUR]).with_radii([0.02]);
        self.log("world/keyframes/positions", &keyframes);
        let at = |id: usize| graph.world_from_keyframe(id).map(|pose| position(&pose.translation.vector));
        let loops: Vec<[[f32; 3]; 2]> = graph
            .edges()
            .iter()
            .filter(|edge| matches!(edge.kind, EdgeKind::Loop { .. }))
            .filter_map(|edge| Some([at(edge.from)?, at(edge.to)?]))
            .collect();
        self.log("world/loops", &rerun::LineStrips3D::new(loops).with_colors([LOOP_COLOUR]));
        let estimate: Vec<[f32; 3]> =
            slam.trajectory().iter().map(|(_, pose, _)| position(&pose.translation.vector)).collect();
        let lines = rerun::LineStrips3D::new([estimate]).with_colors([ESTIMATE_COLOUR]);
        self.log("world/trajectory/estimate", &lines);
    }
}

/// The camera's projection: rerun puts pixel centres at +0.5, cairn (like
/// ROS) at integers, so the principal point moves by half a pixel.
fn pinhole(camera: &PinholeCamera) -> rerun::Pinhole {
    let (fx, fy, cx, cy) = (camera.fx as f32, camera.fy as f32, camera.cx as f32 + 0.5, camera.cy as f32 + 0.5);
    // Column-major image_from_camera.
    rerun::Pinhole::new([[fx, 0.0, 0.0], [0.0, fy, 0.0], [cx, cy, 1.0]])
        .with_resolution([camera.width as f32, camera.height as f32])
        .with_image_plane_distance(0.2)
}

/// A depth image in metres (float32, meter = 1).
fn depth_image(depth: &DepthImage) -> rerun::DepthImage {
    let bytes: Vec<u8> = depth.data.iter().flat_map(|d| d.to_le_bytes()).collect();
    rerun::DepthImage::from_data_type_and_bytes(bytes, [depth.width, depth.height], ChannelDatatype::F32)
        .with_meter(1.0)
}

/// The tracker's finest-level edge pixels (the same Canny on the same grey
/// image with the same configuration as [`cairn_slam::frame::Frame`]),
/// at pixel centres.
fn edge_pixels(rgb: &RgbImage, slam: &Slam) -> rerun::Points2D {
    let gray = GrayImage::new(rgb.width as usize, rgb.height as usize, rgb.to_gray_f32());
    let edges = canny(&gray, &slam.config().edges);
    let pixels = edges.pixels.iter().map(|&(u, v)| [u as f32 + 0.5, v as f32 + 0.5]);
    rerun::Points2D::new(pixels).with_colors([EDGE_COLOUR]).with_radii([0.5])
}

/// The depth image back-projected into the camera frame on an even pixel
/// grid of at most [`CLOUD_POINTS`], coloured by the image.
fn cloud(rgb: &RgbImage, depth: &DepthImage, camera: &PinholeCamera) -> rerun::Points3D {
    let (width, height) = (depth.width as usize, depth.height as usize);
    let stride = ((width * height) as f64 / CLOUD_POINTS as f64).sqrt().ceil().max(1.0) as usize;
    let same_size = rgb.width == depth.width && rgb.height == depth.height;
    let (mut points, mut colours) = (Vec::new(), Vec::new());
    for v in (0..height).step_by(stride) {
        for u in (0..width).step_by(stride) {
            let d = depth.data[v * width + u];
            if !(d.is_finite() && d > 0.0) {
                continue;
            }
            let p_in_camera = camera.unproject(Point2::new(u as f64, v as f64), f64::from(d));
            points.push(position(&p_in_camera.coords));
            let k = 3 * (v * width + u);
            colours.push(if same_size { [rgb.data[k], rgb.data[k + 1], rgb.data[k + 2]] } else { [200; 3] });
        }
    }
    rerun::Points3D::new(points).with_colors(colours).with_radii([0.004])
}

/// The ground-truth positions moved into the estimate's world by the
/// inverse of the SE(3) alignment (estimate → ground truth) the ATE uses;
/// as recorded when the two cannot be aligned (e.g. no motion yet).
fn groundtruth_in_estimate_frame(reference: &Trajectory, slam: &Slam) -> Vec<[f32; 3]> {
    let trajectory = slam.trajectory();
    let estimate = Trajectory::with_stamps(
        "estimate",
        trajectory.iter().map(|t| t.0).collect(),
        trajectory.iter().map(|t| t.1).collect(),
    );
    let options = EvalOptions { align: Alignment::Se3, ..Default::default() };
    let alignment = estimate.and_then(|estimate| metrics::prepare(reference, &estimate, &options)).ok().map(|p| p.2);
    reference
        .positions()
        .map(|p_in_reference| match &alignment {
            // p_reference = s·R·p_estimate + t
            Some(a) => a.rotation.inverse() * (p_in_reference - a.translation) / a.scale,
            None => p_in_reference,
        })
        .map(|p: Vector3<f64>| position(&p))
        .collect()
}
