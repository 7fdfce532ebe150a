//! Conversions between ROS messages and cairn-core types, in one place (as
//! KISS-ICP keeps its ROS adapter's conversions together).
//!
//! | ROS message | cairn-core | module |
//! |---|---|---|
//! | `builtin_interfaces/Time`, `Duration` | `f64` seconds, `u64` nanoseconds | [`time`] |
//! | `geometry_msgs/Pose`, `Transform` | [`Rigid3`](cairn_core::transform::Rigid3) | [`geometry`] |
//! | `sensor_msgs/Image` (`rgb8`, `bgr8`, `mono8`) | [`RgbImage`](cairn_core::RgbImage) | [`image`] |
//! | `sensor_msgs/Image` (`16UC1` mm, `32FC1` m) | [`DepthImage`](cairn_core::DepthImage) | [`image`] |
//! | `sensor_msgs/PointCloud2` | [`PointCloud`](cairn_core::PointCloud) (+ ring) | [`cloud`] |
//! | `sensor_msgs/CameraInfo` | [`PinholeCamera`](cairn_core::PinholeCamera), [`Calibration`](cairn_core::Calibration) | [`camera`] |
//!
//! Every conversion is a method on the message type (`image.to_rgb()`,
//! `Image::from_rgb(&rgb, header)`); content cairn cannot use is an
//! [`Error::Convert`](crate::Error::Convert) that names the problem.
//!
//! ```
//! use cairn_bags::msg::{sensor_msgs::Image, std_msgs::Header};
//! use cairn_core::DepthImage;
//! let depth = DepthImage::new(2, 1, vec![1.5, 0.0])?;
//! let msg = Image::from_depth_16uc1(&depth, Header::default())?;
//! assert_eq!((msg.encoding.as_str(), msg.step), ("16UC1", 4));
//! assert_eq!(msg.to_depth()?, depth);
//! # Ok::<(), cairn_bags::Error>(())
//! ```

pub mod camera;
pub mod cloud;
pub mod geometry;
pub mod image;
pub mod time;

pub use cloud::RingCloud;
