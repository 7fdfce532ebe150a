//! `sensor_msgs`: images, camera calibration, point clouds and IMU data
//! (conversions to cairn-core types live in [`crate::convert`]).

use serde::{Deserialize, Serialize};

use super::geometry_msgs::{Quaternion, Vector3};
use super::std_msgs::Header;

/// `sensor_msgs/msg/Image`: an uncompressed image, `height` rows of `step`
/// bytes; pixel `(0, 0)` is the top-left corner.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Image {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// Number of rows.
    pub height: u32,
    /// Number of columns.
    pub width: u32,
    /// Pixel encoding (`rgb8`, `bgr8`, `mono8`, `16UC1`, `32FC1`, …).
    pub encoding: String,
    /// 1 when multi-byte channels are big-endian.
    pub is_bigendian: u8,
    /// Row length in bytes (≥ `width` × bytes per pixel).
    pub step: u32,
    /// `height × step` bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
ros_message!(
    Image,
    "sensor_msgs/msg/Image",
    "std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data\n"
);

/// `sensor_msgs/msg/CompressedImage`: a JPEG/PNG (or other codec) image.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompressedImage {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// Codec and pixel format, e.g. `jpeg` or `rgb8; jpeg compressed bgr8`.
    pub format: String,
    /// The compressed bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}
ros_message!(
    CompressedImage,
    "sensor_msgs/msg/CompressedImage",
    "std_msgs/Header header\nstring format\nuint8[] data\n"
);

/// `sensor_msgs/msg/RegionOfInterest`: a sub-window of the full image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegionOfInterest {
    /// Leftmost pixel column.
    pub x_offset: u32,
    /// Topmost pixel row.
    pub y_offset: u32,
    /// Height in pixels (0: full resolution).
    pub height: u32,
    /// Width in pixels (0: full resolution).
    pub width: u32,
    /// Whether a sub-window should be rectified.
    pub do_rectify: bool,
}
ros_message!(
    RegionOfInterest,
    "sensor_msgs/msg/RegionOfInterest",
    "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n"
);

/// `sensor_msgs/msg/CameraInfo`: calibration of a camera (see
/// [`crate::convert`] for [`cairn_core::PinholeCamera`]).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CameraInfo {
    /// Acquisition time and the camera's optical frame.
    pub header: Header,
    /// Calibrated image height.
    pub height: u32,
    /// Calibrated image width.
    pub width: u32,
    /// Distortion model: `plumb_bob`, `rational_polynomial`, `equidistant`, ….
    pub distortion_model: String,
    /// Distortion coefficients (`plumb_bob`: `k1 k2 t1 t2 k3`).
    pub d: Vec<f64>,
    /// Row-major 3×3 intrinsic matrix of the raw image.
    pub k: [f64; 9],
    /// Row-major 3×3 rectification rotation (stereo).
    pub r: [f64; 9],
    /// Row-major 3×4 projection matrix of the rectified image.
    pub p: [f64; 12],
    /// Horizontal binning (0 or 1: none).
    pub binning_x: u32,
    /// Vertical binning (0 or 1: none).
    pub binning_y: u32,
    /// Captured sub-window (all zeros: full resolution).
    pub roi: RegionOfInterest,
}
ros_message!(
    CameraInfo,
    "sensor_msgs/msg/CameraInfo",
    "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] d\nfloat64[9] k\nfloat64[9] r\nfloat64[12] p\nuint32 binning_x\nuint32 binning_y\nRegionOfInterest roi\n"
);

/// `sensor_msgs/msg/PointField`: one channel of a [`PointCloud2`] point.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PointField {
    /// Channel name (`x`, `y`, `z`, `intensity`, `ring`, `rgb`, …).
    pub name: String,
    /// Byte offset from the start of the point.
    pub offset: u32,
    /// One of the datatype constants ([`Self::FLOAT32`], …).
    pub datatype: u8,
    /// Number of elements.
    pub count: u32,
}
ros_message!(
    PointField,
    "sensor_msgs/msg/PointField",
    "uint8 INT8    = 1\nuint8 UINT8   = 2\nuint8 INT16   = 3\nuint8 UINT16  = 4\nuint8 INT32   = 5\nuint8 UINT32  = 6\nuint8 FLOAT32 = 7\nuint8 FLOAT64 = 8\nstring name\nuint32 offset\nuint8  datatype\nuint32 count\n"
);

impl PointField {
    /// `int8`.
    pub const INT8: u8 = 1;
    /// `uint8`.
    pub const UINT8: u8 = 2;
    /// `int16`.
    pub const INT16: u8 = 3;
    /// `uint16`.
    pub const UINT16: u8 = 4;
    /// `int32`.
    pub const INT32: u8 = 5;
    /// `uint32`.
    pub const UINT32: u8 = 6;
    /// `float32`.
    pub const FLOAT32: u8 = 7;
    /// `float64`.
    pub const FLOAT64: u8 = 8;
}

/// `sensor_msgs/msg/PointCloud2`: points as a binary blob whose layout
/// `fields` describes; `height` rows of `row_step` bytes, points of
/// `point_step` bytes (height 1 for unordered clouds).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PointCloud2 {
    /// Acquisition time and the sensor frame.
    pub header: Header,
    /// Rows (1 for an unordered cloud).
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The channels of a point.
    pub fields: Vec<PointField>,
    /// Whether multi-byte channels are big-endian.
    pub is_bigendian: bool,
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// `row_step × height` bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// True when no point is invalid (NaN).
    pub is_dense: bool,
}
ros_message!(
    PointCloud2,
    "sensor_msgs/msg/PointCloud2",
    "std_msgs/Header header\nuint32 height\nuint32 width\nPointField[] fields\nbool    is_bigendian\nuint32  point_step\nuint32  row_step\nuint8[] data\nbool is_dense\n"
);

/// `sensor_msgs/msg/Imu`: orientation, angular velocity and linear
/// acceleration; a covariance starting with −1 marks a missing estimate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Imu {
    /// Acquisition time and the IMU frame.
    pub header: Header,
    /// Orientation estimate.
    pub orientation: Quaternion,
    /// Row-major 3×3 covariance about x, y, z.
    pub orientation_covariance: [f64; 9],
    /// Angular velocity (rad/s).
    pub angular_velocity: Vector3,
    /// Row-major 3×3 covariance about x, y, z.
    pub angular_velocity_covariance: [f64; 9],
    /// Linear acceleration (m/s²).
    pub linear_acceleration: Vector3,
    /// Row-major 3×3 covariance of x, y, z.
    pub linear_acceleration_covariance: [f64; 9],
}
ros_message!(
    Imu,
    "sensor_msgs/msg/Imu",
    "std_msgs/Header header\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance\ngeometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance\ngeometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance\n"
);
