//! What `cairn detect` looks like in rerun, per sample on the `frame`
//! timeline (`stamp` = the sample time): `cameras/{CAM}/image` (as read)
//! with `cameras/{CAM}/lidar` (the sweep projected into it, coloured by
//! intensity) and `cameras/{CAM}/boxes/{detections,ground_truth}` (box wire
//! frames, labelled with class and score); in 3D, `lidar/points` (coloured
//! by intensity) and `lidar/boxes/{detections,ground_truth}` (labelled
//! boxes), in the LiDAR frame.

use super::detect_view::{SampleView, box_colour, intensity_colour};
use super::stream::Stream;

impl Stream {
    /// See [`super::Recorder::detections`].
    pub(super) fn detections(&self, index: usize, stamp: f64, view: &SampleView) {
        self.set_time(index, stamp);
        let intensity = view.cloud.intensity.as_deref().unwrap_or(&[]);
        let max = intensity.iter().copied().fold(0.0f32, f32::max);
        for camera in &view.cameras {
            let base = format!("cameras/{}", camera.name);
            let (w, h) = (camera.image.width(), camera.image.height());
            self.log(&format!("{base}/image"), &rerun::Image::from_rgb24(camera.image.as_raw().clone(), [w, h]));
            let pixels = camera.points.iter().map(|p| p.pixel);
            let colours = camera.points.iter().map(|p| intensity_colour(p.intensity, max));
            self.log(&format!("{base}/lidar"), &rerun::Points2D::new(pixels).with_colors(colours).with_radii([1.5]));
            for (ground_truth, name) in [(false, "detections"), (true, "ground_truth")] {
                let boxes: Vec<_> = camera.boxes.iter().filter(|b| b.ground_truth == ground_truth).collect();
                let strips = boxes.iter().flat_map(|b| b.edges.iter().map(|e| e.to_vec()));
                let labels = boxes.iter().flat_map(|b| std::iter::repeat_n(b.label.clone(), b.edges.len()));
                let lines =
                    rerun::LineStrips2D::new(strips).with_colors([box_colour(ground_truth)]).with_labels(labels);
                self.log(&format!("{base}/boxes/{name}"), &lines);
            }
        }
        let points = view.cloud.points().map(|p| [p.x, p.y, p.z]);
        let colours = (0..view.cloud.len()).map(|k| intensity_colour(intensity.get(k).copied().unwrap_or(0.0), max));
        self.log("lidar/points", &rerun::Points3D::new(points).with_colors(colours).with_radii([0.03]));
        for (ground_truth, name) in [(false, "detections"), (true, "ground_truth")] {
            let boxes: Vec<_> = view.boxes.iter().filter(|(_, g)| *g == ground_truth).map(|(b, _)| b).collect();
            let centres = boxes.iter().map(|b| b.centre.map(|v| v as f32));
            let sizes = boxes.iter().map(|b| [b.size[1] as f32, b.size[0] as f32, b.size[2] as f32]); // length along x
            let rotations = boxes.iter().map(|b| {
                let half = b.yaw as f32 / 2.0;
                rerun::Quaternion::from_xyzw([0.0, 0.0, half.sin(), half.cos()])
            });
            let labels = boxes.iter().map(|b| super::detect_view::box_label(b, ground_truth));
            let logged = rerun::Boxes3D::from_centers_and_sizes(centres, sizes)
                .with_quaternions(rotations)
                .with_colors([box_colour(ground_truth)])
                .with_labels(labels);
            self.log(&format!("lidar/boxes/{name}"), &logged);
        }
        self.flush();
    }
}
