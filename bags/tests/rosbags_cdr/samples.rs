//! One sample value per message type, chosen to exercise CDR alignment:
//! strings of odd lengths (and non-ASCII) before 8-byte fields, empty and
//! non-empty sequences, negative and extreme numbers.

use cairn_bags::msg::builtin_interfaces::{Duration, Time};
use cairn_bags::msg::geometry_msgs::*;
use cairn_bags::msg::nav_msgs::{Odometry, Path};
use cairn_bags::msg::rosgraph_msgs::Clock;
use cairn_bags::msg::sensor_msgs::*;
use cairn_bags::msg::std_msgs::{ColorRGBA, Header};
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::vision_msgs::*;
use cairn_bags::msg::visualization_msgs::{Marker, MarkerArray, MeshFile, UVCoordinate};

use super::{Case, case};

fn header(frame_id: &str, sec: i32) -> Header {
    Header { stamp: Time { sec, nanosec: 999_999_999 }, frame_id: frame_id.into() }
}

fn covariance(scale: f64) -> [f64; 36] {
    std::array::from_fn(|i| if i % 7 == 0 { scale * (i as f64 + 1.0) } else { -1e-3 * i as f64 })
}

fn pose(k: f64) -> Pose {
    Pose {
        position: Point { x: k, y: -2.5 * k, z: 1e-9 },
        orientation: Quaternion { x: 0.1, y: -0.2, z: 0.3, w: (1.0f64 - 0.14).sqrt() },
    }
}

fn vector(k: f64) -> Vector3 {
    Vector3 { x: -k, y: k * 0.5, z: f64::MAX }
}

fn transform_stamped(child: &str) -> TransformStamped {
    TransformStamped {
        header: header("odom", 1_700_000_000),
        child_frame_id: child.into(),
        transform: Transform { translation: vector(0.25), rotation: pose(1.0).orientation },
    }
}

fn pose_with_covariance() -> PoseWithCovariance {
    PoseWithCovariance { pose: pose(3.0), covariance: covariance(0.01) }
}

fn compressed(format: &str) -> CompressedImage {
    CompressedImage { header: header("cam", -1), format: format.into(), data: vec![0xff, 0xd8, 0xff, 0xe0, 7] }
}

fn marker(id: i32, text: &str) -> Marker {
    Marker {
        header: header("map", 12),
        ns: "cairn/detections".into(),
        id,
        r#type: Marker::TRIANGLE_LIST,
        action: Marker::ADD,
        pose: pose(-1.0),
        scale: vector(2.0),
        color: ColorRGBA { r: 0.1, g: 0.2, b: 0.3, a: 0.75 },
        lifetime: Duration { sec: -2, nanosec: 500 },
        frame_locked: true,
        points: vec![Point { x: 1.0, y: 2.0, z: 3.0 }, Point { x: -4.0, y: 5.5, z: -6.25 }, Point::default()],
        colors: vec![ColorRGBA { r: 1.0, g: 0.0, b: 0.5, a: 1.0 }],
        texture_resource: "embedded://tex".into(),
        texture: compressed("png"),
        uv_coordinates: vec![UVCoordinate { u: 0.0, v: 1.0 }, UVCoordinate { u: 0.33, v: 0.66 }],
        text: text.into(),
        mesh_resource: String::new(),
        mesh_file: MeshFile { filename: "a.stl".into(), data: vec![1, 2, 3] },
        mesh_use_embedded_materials: false,
    }
}

fn detection(id: &str, results: usize) -> Detection3D {
    Detection3D {
        header: header("lidar_top", 1_533_151_603),
        results: (0..results)
            .map(|i| ObjectHypothesisWithPose {
                hypothesis: ObjectHypothesis {
                    class_id: ["car", "pedestrian", "é"][i % 3].into(),
                    score: 0.9 - i as f64 * 0.1,
                },
                pose: pose_with_covariance(),
            })
            .collect(),
        bbox: BoundingBox3D { center: pose(7.0), size: Vector3 { x: 4.5, y: 1.9, z: 1.6 } },
        id: id.into(),
    }
}

fn point_field(name: &str, offset: u32, datatype: u8) -> PointField {
    PointField { name: name.into(), offset, datatype, count: 1 }
}

/// Every message type cairn defines, once.
pub fn all() -> Vec<Case> {
    let image = Image {
        header: header("camera_rgb_optical_frame", 1_305_031_102),
        height: 2,
        width: 3,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: 10,
        data: (0..20).collect(),
    };
    let camera_info = CameraInfo {
        header: header("cam", 5),
        height: 480,
        width: 640,
        distortion_model: "plumb_bob".into(),
        d: vec![0.2624, -0.9531, -0.0054, 0.0026, 1.1633],
        k: [517.3, 0.0, 318.6, 0.0, 516.5, 255.3, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p: [517.3, 0.0, 318.6, -38.8, 0.0, 516.5, 255.3, 0.0, 0.0, 0.0, 1.0, 0.0],
        binning_x: 2,
        binning_y: 1,
        roi: RegionOfInterest { x_offset: 1, y_offset: 2, height: 3, width: 4, do_rectify: true },
    };
    let cloud = PointCloud2 {
        header: header("velodyne", 3),
        height: 1,
        width: 2,
        fields: vec![
            point_field("x", 0, PointField::FLOAT32),
            point_field("y", 4, PointField::FLOAT32),
            point_field("z", 8, PointField::FLOAT32),
            point_field("intensity", 12, PointField::FLOAT32),
            point_field("ring", 16, PointField::UINT16),
        ],
        is_bigendian: false,
        point_step: 20,
        row_step: 40,
        data: (0..40).map(|i| (i * 7) as u8).collect(),
        is_dense: true,
    };
    let imu = Imu {
        header: header("imu_link", 9),
        orientation: pose(0.0).orientation,
        orientation_covariance: [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        angular_velocity: vector(0.01),
        angular_velocity_covariance: [1e-4; 9],
        linear_acceleration: Vector3 { x: 0.0, y: 0.0, z: 9.81 },
        linear_acceleration_covariance: [2e-3; 9],
    };
    let odometry = Odometry {
        header: header("odom", 100),
        child_frame_id: "base_link".into(),
        pose: pose_with_covariance(),
        twist: TwistWithCovariance {
            twist: Twist { linear: vector(1.0), angular: vector(-0.5) },
            covariance: covariance(-2.0),
        },
    };
    let path = Path {
        header: header("map", 1),
        poses: (0..3).map(|i| PoseStamped { header: header(&"f".repeat(i), i as i32), pose: pose(i as f64) }).collect(),
    };
    vec![
        case(Time { sec: -1_234_567, nanosec: 890_123_456 }),
        case(Duration { sec: i32::MIN, nanosec: u32::MAX }),
        case(header("base_link", 1_700_000_000)),
        case(ColorRGBA { r: 0.1, g: -0.0, b: 1e-30, a: f32::MAX }),
        case(image),
        case(compressed("rgb8; jpeg compressed bgr8")),
        case(camera_info),
        case(RegionOfInterest { x_offset: 7, y_offset: 0, height: u32::MAX, width: 1, do_rectify: false }),
        case(cloud),
        case(point_field("intensity", 12, PointField::FLOAT32)),
        case(imu),
        case(Point { x: -1.5, y: 0.0, z: 1e300 }),
        case(pose(0.5).orientation),
        case(pose(2.0)),
        case(PoseStamped { header: header("odd", -7), pose: pose(4.0) }),
        case(pose_with_covariance()),
        case(PoseWithCovarianceStamped { header: header("ab", 2), pose: pose_with_covariance() }),
        case(transform_stamped("camera").transform),
        case(transform_stamped("c")),
        case(Twist { linear: vector(1.0), angular: vector(2.0) }),
        case(TwistWithCovariance { twist: Twist::default(), covariance: covariance(5.0) }),
        case(vector(3.0)),
        case(odometry),
        case(path),
        case(Clock { clock: Time { sec: 1_305_031_102, nanosec: 999_999_999 } }),
        case(TFMessage {
            transforms: vec![transform_stamped("base_link"), transform_stamped("x"), transform_stamped("")],
        }),
        case(ObjectHypothesis { class_id: "traffic_cone".into(), score: -0.0 }),
        case(ObjectHypothesisWithPose {
            hypothesis: ObjectHypothesis { class_id: "bus".into(), score: 1.0 },
            pose: pose_with_covariance(),
        }),
        case(BoundingBox3D { center: pose(-3.0), size: Vector3 { x: 0.5, y: 0.25, z: 2.0 } }),
        case(detection("track-17", 2)),
        case(Detection3DArray {
            header: header("lidar_top", 8),
            detections: vec![detection("a", 3), detection("", 0)],
        }),
        case(UVCoordinate { u: 0.25, v: -0.5 }),
        case(MeshFile { filename: "mesh.dae".into(), data: vec![] }),
        case(marker(-3, "héllo")),
        case(MarkerArray { markers: vec![marker(1, ""), marker(2, "odd")] }),
        case(marker(4, "other distro")).for_other_distro(),
        case(MarkerArray { markers: vec![marker(5, "x")] }).for_other_distro(),
    ]
}
