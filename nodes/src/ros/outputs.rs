//! The node's output messages, built from SLAM results: odometry and the
//! REP-105 transforms `map → odom → camera`, the keyframe path and the
//! loop-closure markers. Every message carries the stamp of the colour
//! image it was computed from.

use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::geometry_msgs::{
    Point, Pose, PoseStamped, PoseWithCovariance, Transform, TransformStamped, Twist, TwistWithCovariance, Vector3,
};
use cairn_bags::msg::nav_msgs::{Odometry, Path};
use cairn_bags::msg::std_msgs::{ColorRGBA, Header};
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::visualization_msgs::{Marker, MarkerArray};
use cairn_core::transform::Rigid3;
use cairn_slam::PoseGraph;
use cairn_slam::graph::EdgeKind;

use super::params::FrameParams;

/// What the node publishes after one processed frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    /// `odom ← camera`, with the camera-frame velocity since the last frame.
    pub odometry: Odometry,
    /// `map → odom` and `odom → camera`.
    pub tf: TFMessage,
    /// The keyframe poses in the map frame (on a new keyframe).
    pub path: Option<Path>,
    /// The loop-closure edges (on a new keyframe; empty without loops).
    pub loop_markers: Option<MarkerArray>,
}

/// The continuous odometry frame (REP-105): `odom ← camera` follows the
/// tracker, and `map ← odom` takes up each pose-graph correction, so the
/// odometry never jumps.
#[derive(Debug, Clone, PartialEq)]
pub struct OdomFrame {
    /// The pose-graph correction (identity until a loop closes).
    pub map_from_odom: Rigid3,
    /// The previous frame's stamp and `odom ← camera`, for the velocity.
    last: Option<(f64, Rigid3)>,
}

impl Default for OdomFrame {
    fn default() -> Self {
        OdomFrame { map_from_odom: Rigid3::identity(), last: None }
    }
}

impl OdomFrame {
    /// `odom ← camera` for a frame the tracker placed at `map_from_camera`
    /// (in the map as it stood before this frame's back end ran), and the
    /// camera-frame twist since the last frame.
    pub fn track(&mut self, stamp: f64, map_from_camera: &Rigid3) -> (Rigid3, Twist) {
        let odom_from_camera = self.map_from_odom.inverse() * map_from_camera;
        let twist = match self.last {
            Some((last_stamp, odom_from_last)) if stamp > last_stamp => {
                let last_from_camera = odom_from_last.inverse() * odom_from_camera;
                let dt = stamp - last_stamp;
                let v = last_from_camera.translation.vector / dt;
                let w = last_from_camera.rotation.scaled_axis() / dt;
                Twist { linear: Vector3 { x: v.x, y: v.y, z: v.z }, angular: Vector3 { x: w.x, y: w.y, z: w.z } }
            }
            _ => Twist::default(),
        };
        self.last = Some((stamp, odom_from_camera));
        (odom_from_camera, twist)
    }

    /// After a pose-graph optimisation moved this frame to
    /// `corrected_map_from_camera`: `map ← odom` absorbs the correction.
    pub fn correct(&mut self, corrected_map_from_camera: &Rigid3) {
        if let Some((_, odom_from_camera)) = self.last {
            self.map_from_odom = corrected_map_from_camera * odom_from_camera.inverse();
        }
    }
}

fn header(stamp: Time, frame_id: &str) -> Header {
    Header { stamp, frame_id: frame_id.to_owned() }
}

/// `nav_msgs/Odometry` of `odom ← camera`.
pub fn odometry(stamp: Time, frames: &FrameParams, odom_from_camera: &Rigid3, twist: Twist) -> Odometry {
    Odometry {
        header: header(stamp, &frames.odom),
        child_frame_id: frames.camera.clone(),
        pose: PoseWithCovariance { pose: Pose::from_rigid(odom_from_camera), covariance: [0.0; 36] },
        twist: TwistWithCovariance { twist, covariance: [0.0; 36] },
    }
}

/// `map → odom` and `odom → camera` in one message.
pub fn transforms(stamp: Time, frames: &FrameParams, map_from_odom: &Rigid3, odom_from_camera: &Rigid3) -> TFMessage {
    let edge = |parent: &str, child: &str, parent_from_child: &Rigid3| TransformStamped {
        header: header(stamp, parent),
        child_frame_id: child.to_owned(),
        transform: Transform::from_rigid(parent_from_child),
    };
    TFMessage {
        transforms: vec![
            edge(&frames.map, &frames.odom, map_from_odom),
            edge(&frames.odom, &frames.camera, odom_from_camera),
        ],
    }
}

/// The keyframe poses of the graph, in the map frame.
pub fn keyframe_path(stamp: Time, frames: &FrameParams, graph: &PoseGraph) -> Path {
    let poses = graph
        .nodes()
        .iter()
        .map(|node| PoseStamped {
            header: header(Time::from_secs_f64(node.stamp).unwrap_or(stamp), &frames.map),
            pose: Pose::from_rigid(&node.world_from_keyframe),
        })
        .collect();
    Path { header: header(stamp, &frames.map), poses }
}

/// One `LINE_LIST` marker joining the keyframes of every loop edge (no
/// points while no loop has closed).
pub fn loop_markers(stamp: Time, frames: &FrameParams, graph: &PoseGraph) -> MarkerArray {
    let position = |id: usize| {
        graph.world_from_keyframe(id).map(|map_from_keyframe| {
            let t = map_from_keyframe.translation.vector;
            Point { x: t.x, y: t.y, z: t.z }
        })
    };
    let points = graph
        .edges()
        .iter()
        .filter(|edge| matches!(edge.kind, EdgeKind::Loop { .. }))
        .filter_map(|edge| Some([position(edge.from)?, position(edge.to)?]))
        .flatten()
        .collect();
    let marker = Marker {
        header: header(stamp, &frames.map),
        ns: "loops".into(),
        id: 0,
        r#type: Marker::LINE_LIST,
        action: Marker::ADD,
        pose: Pose::from_rigid(&Rigid3::identity()),
        scale: Vector3 { x: 0.01, y: 0.0, z: 0.0 },
        color: ColorRGBA { r: 1.0, g: 0.2, b: 0.2, a: 1.0 },
        points,
        ..Default::default()
    };
    MarkerArray { markers: vec![marker] }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use nalgebra::{Translation3, UnitQuaternion};

    fn rigid(x: f64, yaw: f64) -> Rigid3 {
        Rigid3::from_parts(Translation3::new(x, 0.0, 0.0), UnitQuaternion::from_euler_angles(0.0, 0.0, yaw))
    }

    #[test]
    fn odom_stays_continuous_across_a_correction() {
        let mut odom = OdomFrame::default();
        let (odom_from_a, _) = odom.track(0.0, &rigid(1.0, 0.0));
        assert_relative_eq!(odom_from_a.translation.vector.x, 1.0);
        // The graph moves this frame to x = 1.5; the tracker then continues
        // from the corrected map pose.
        odom.correct(&rigid(1.5, 0.0));
        let (odom_from_b, twist) = odom.track(0.5, &rigid(1.6, 0.0));
        assert_relative_eq!(odom_from_b.translation.vector.x, 1.1, epsilon = 1e-12);
        assert_relative_eq!(twist.linear.x, 0.2, epsilon = 1e-12);
        assert_relative_eq!((odom.map_from_odom * odom_from_b).translation.vector.x, 1.6, epsilon = 1e-12);
    }

    #[test]
    fn transforms_chain_map_odom_camera_with_the_image_stamp() {
        let stamp = Time { sec: 7, nanosec: 5 };
        let tf = transforms(stamp, &FrameParams::default(), &Rigid3::identity(), &rigid(2.0, 0.3));
        let names: Vec<(&str, &str)> =
            tf.transforms.iter().map(|t| (t.header.frame_id.as_str(), t.child_frame_id.as_str())).collect();
        assert_eq!(names, [("map", "odom"), ("odom", "camera")]);
        assert!(tf.transforms.iter().all(|t| t.header.stamp == stamp));
        assert_relative_eq!(tf.transforms[1].transform.to_rigid().unwrap().translation.vector.x, 2.0);
    }
}
