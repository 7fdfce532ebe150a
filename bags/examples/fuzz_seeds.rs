//! Writes the seed inputs of the `cdr_decode` fuzz target into
//! `bags/fuzz/corpus/cdr_decode/`: one realistic message per type the
//! target decodes (selector byte + CDR), little- and big-endian.
//!
//! `cargo run -p cairn-bags --example fuzz_seeds`

use std::path::Path;

use cairn_bags::cdr::{self, Endianness};
use cairn_bags::convert::cloud::RingCloud;
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::geometry_msgs::{
    Pose, PoseStamped, PoseWithCovariance, PoseWithCovarianceStamped, Transform, TransformStamped,
};
use cairn_bags::msg::nav_msgs::{Odometry, Path as NavPath};
use cairn_bags::msg::sensor_msgs::{CameraInfo, CompressedImage, Image, Imu, PointCloud2};
use cairn_bags::msg::std_msgs::Header;
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::vision_msgs::{Detection3D, Detection3DArray, ObjectHypothesis, ObjectHypothesisWithPose};
use cairn_bags::msg::visualization_msgs::{Marker, MarkerArray};
use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PointCloud, RgbImage};
use nalgebra::{Point3, Vector3};

fn write<T: RosMessage>(dir: &Path, selector: u8, name: &str, msg: &T) -> anyhow::Result<()> {
    for (suffix, endianness) in [("le", Endianness::Little), ("be", Endianness::Big)] {
        let mut bytes = vec![selector];
        bytes.extend(cdr::encode_as(msg, endianness)?);
        std::fs::write(dir.join(format!("seed_{selector:02}_{name}_{suffix}")), bytes)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/cdr_decode");
    std::fs::create_dir_all(&dir)?;
    let header = Header { frame_id: "camera".into(), ..Default::default() };
    let rgb = RgbImage::new(4, 2, (0..24).collect())?;
    write(&dir, 0, "image_rgb8", &Image::from_rgb(&rgb, header.clone()))?;
    let depth = DepthImage::new(3, 2, vec![0.5, 0.0, 1.25, 2.0, 4.5, 0.7])?;
    write(&dir, 0, "image_16uc1", &Image::from_depth_16uc1(&depth, header.clone())?)?;
    let calibration = cairn_core::Calibration::from_yaml_str(include_str!("../../calib/tum_fr1.yaml"), "fr1")?;
    write(&dir, 1, "camera_info", &CameraInfo::from_calibration(&calibration, header.clone()))?;
    let mut cloud = PointCloud::default();
    cloud.push(Point3::new(1.0, 2.0, 3.0));
    cloud.push(Point3::new(-1.0, 0.5, 0.2));
    cloud.intensity = Some(vec![5.0, 9.0]);
    let ring = RingCloud { cloud, ring: Some(vec![0, 31]) };
    write(&dir, 2, "point_cloud2", &PointCloud2::from_ring_cloud(&ring, header.clone())?)?;
    let pose = Rigid3::new(Vector3::new(1.0, 2.0, 3.0), Vector3::new(0.1, 0.2, 0.3));
    let edge = TransformStamped {
        header: Header { frame_id: "world".into(), ..Default::default() },
        child_frame_id: "kinect".into(),
        transform: Transform::from_rigid(&pose),
    };
    write(&dir, 3, "tf", &TFMessage { transforms: vec![edge.clone(), edge] })?;
    let with_cov = PoseWithCovariance { pose: Pose::from_rigid(&pose), covariance: [0.01; 36] };
    let odometry =
        Odometry { header: header.clone(), child_frame_id: "base_link".into(), pose: with_cov, ..Default::default() };
    write(&dir, 4, "odometry", &odometry)?;
    let stamped = PoseStamped { header: header.clone(), pose: Pose::from_rigid(&pose) };
    write(&dir, 5, "path", &NavPath { header: header.clone(), poses: vec![stamped.clone(), stamped.clone()] })?;
    write(&dir, 6, "pose_cov", &PoseWithCovarianceStamped { header: header.clone(), pose: with_cov })?;
    let detection = Detection3D {
        header: header.clone(),
        results: vec![ObjectHypothesisWithPose {
            hypothesis: ObjectHypothesis { class_id: "car".into(), score: 0.9 },
            pose: with_cov,
        }],
        id: "7".into(),
        ..Default::default()
    };
    write(&dir, 7, "detections", &Detection3DArray { header: header.clone(), detections: vec![detection] })?;
    let marker = Marker { header: header.clone(), ns: "boxes".into(), id: 3, text: "car".into(), ..Default::default() };
    write(&dir, 8, "markers", &MarkerArray { markers: vec![marker] })?;
    write(&dir, 9, "imu", &Imu { header: header.clone(), ..Default::default() })?;
    let jpeg = CompressedImage { header: header.clone(), format: "jpeg".into(), data: vec![0xff, 0xd8, 0xff, 0xd9] };
    write(&dir, 10, "compressed", &jpeg)?;
    write(&dir, 11, "pose_stamped", &stamped)?;
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
