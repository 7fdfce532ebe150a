//! The detector's output messages: CMT boxes (LiDAR frame) →
//! `vision_msgs/Detection3DArray` (one Detection3D per box: the nuScenes
//! class name as `class_id`, the score, the box centre pose and its size
//! along its own axes: length, width, height) and a
//! `visualization_msgs/MarkerArray` (DELETEALL, then one cube per box).

use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::geometry_msgs::{Pose, PoseWithCovariance, Vector3};
use cairn_bags::msg::std_msgs::{ColorRGBA, Header};
use cairn_bags::msg::vision_msgs::{
    BoundingBox3D, Detection3D, Detection3DArray, ObjectHypothesis, ObjectHypothesisWithPose,
};
use cairn_bags::msg::visualization_msgs::{Marker, MarkerArray};
use cairn_core::transform::Rigid3;
use cairn_perception::detection::{CLASSES, LidarBox};
use nalgebra::{Translation3, UnitQuaternion, Vector3 as V3};

/// The boxes as a Detection3DArray in `frame`, placed by `frame_from_lidar`.
pub fn detection_array(stamp: Time, frame: &str, boxes: &[LidarBox], frame_from_lidar: &Rigid3) -> Detection3DArray {
    let header = Header { stamp, frame_id: frame.to_owned() };
    let detections = boxes
        .iter()
        .map(|b| {
            let [x, y, z] = b.centre;
            let lidar_from_box =
                Rigid3::from_parts(Translation3::new(x, y, z), UnitQuaternion::from_axis_angle(&V3::z_axis(), b.yaw));
            let center = Pose::from_rigid(&(frame_from_lidar * lidar_from_box));
            let class_id = CLASSES.get(b.label).copied().unwrap_or("unknown").to_owned();
            Detection3D {
                header: header.clone(),
                results: vec![ObjectHypothesisWithPose {
                    hypothesis: ObjectHypothesis { class_id, score: b.score },
                    pose: PoseWithCovariance { pose: center, covariance: [0.0; 36] },
                }],
                // LidarBox sizes are nuScenes' (w, l, h); the box's own x is its heading.
                bbox: BoundingBox3D { center, size: Vector3 { x: b.size[1], y: b.size[0], z: b.size[2] } },
                id: String::new(),
            }
        })
        .collect();
    Detection3DArray { header, detections }
}

/// A colour per class (10 hues).
fn class_colour(class_id: &str) -> ColorRGBA {
    let index = CLASSES.iter().position(|c| *c == class_id).unwrap_or(0) as f32;
    let hue = index / CLASSES.len() as f32 * 6.0;
    let ramp = |offset: f32| (((hue + offset) % 6.0 - 3.0).abs() - 1.0).clamp(0.0, 1.0);
    ColorRGBA { r: ramp(0.0), g: ramp(4.0), b: ramp(2.0), a: 0.5 }
}

/// One translucent cube per detection, after a DELETEALL that clears the
/// previous frame's boxes.
pub fn box_markers(array: &Detection3DArray) -> MarkerArray {
    let header = array.header.clone();
    let mut markers = vec![Marker {
        header: header.clone(),
        ns: "detections".into(),
        action: Marker::DELETEALL,
        ..Default::default()
    }];
    for (id, detection) in array.detections.iter().enumerate() {
        let class_id = detection.results.first().map_or("", |r| r.hypothesis.class_id.as_str());
        markers.push(Marker {
            header: header.clone(),
            ns: "detections".into(),
            id: i32::try_from(id).unwrap_or(i32::MAX),
            r#type: Marker::CUBE,
            action: Marker::ADD,
            pose: detection.bbox.center,
            scale: detection.bbox.size,
            color: class_colour(class_id),
            text: class_id.to_owned(),
            ..Default::default()
        });
    }
    MarkerArray { markers }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn boxes_go_into_the_output_frame_with_length_first() {
        let lidar_box = LidarBox {
            centre: [10.0, 0.0, 1.0],
            size: [2.0, 4.5, 1.5],
            yaw: 0.3,
            velocity: [0.0; 2],
            label: 7,
            score: 0.625,
        };
        // The LiDAR sits 1 m ahead of and 1.8 m above base_link, turned 90°.
        let ego_from_lidar = Rigid3::from_parts(
            Translation3::new(1.0, 0.0, 1.8),
            UnitQuaternion::from_axis_angle(&V3::z_axis(), std::f64::consts::FRAC_PI_2),
        );
        let array = detection_array(Time { sec: 3, nanosec: 0 }, "base_link", &[lidar_box], &ego_from_lidar);
        let d = &array.detections[0];
        assert_eq!((d.results[0].hypothesis.class_id.as_str(), d.results[0].hypothesis.score), ("pedestrian", 0.625));
        let p = &d.bbox.center.position;
        assert_relative_eq!(p.x, 1.0, epsilon = 1e-12);
        assert_relative_eq!(p.y, 10.0, epsilon = 1e-12);
        assert_relative_eq!(p.z, 2.8, epsilon = 1e-12);
        let yaw = d.bbox.center.to_rigid().unwrap().rotation.euler_angles().2;
        assert_relative_eq!(yaw, 0.3 + std::f64::consts::FRAC_PI_2, epsilon = 1e-12);
        assert_eq!((d.bbox.size.x, d.bbox.size.y, d.bbox.size.z), (4.5, 2.0, 1.5));
        assert_eq!(array.header.frame_id, "base_link");
        let markers = box_markers(&array);
        assert_eq!(markers.markers.len(), 2);
        assert_eq!((markers.markers[0].action, markers.markers[1].r#type), (Marker::DELETEALL, Marker::CUBE));
        assert_eq!(markers.markers[1].scale, d.bbox.size);
    }
}
