//! Entry points of the fuzz targets (`bags/fuzz`, cargo-fuzz) and of the
//! corpus replay test that runs in CI on stable Rust: each takes arbitrary
//! bytes and must return without panicking, whatever they hold.

use std::path::PathBuf;

use crate::cdr;
use crate::msg::RosMessage;
use crate::msg::{geometry_msgs, nav_msgs, sensor_msgs, tf2_msgs, vision_msgs, visualization_msgs};
use crate::storage::Bag;

/// A per-process, per-thread scratch file with the given extension.
fn scratch(extension: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    std::env::temp_dir().join(format!("cairn-fuzz-{}-{thread}.{extension}", std::process::id()))
}

/// Opens `data` as a bag file with `extension` and streams every message.
fn bag_bytes(data: &[u8], extension: &str) {
    let path = scratch(extension);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(bag) = Bag::open_recover(&path) {
        let _ = bag.info();
        if let Ok(messages) = bag.messages(&[]) {
            for message in messages {
                if message.is_err() {
                    break;
                }
            }
        }
    }
    // sqlite leaves -wal/-shm companions beside a WAL-mode database.
    for suffix in ["", "-wal", "-shm"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        let _ = std::fs::remove_file(companion);
    }
}

/// Fuzz target: arbitrary bytes as an MCAP file.
pub fn mcap_file(data: &[u8]) {
    bag_bytes(data, "mcap");
}

/// Fuzz target: arbitrary bytes as a rosbag2 sqlite3 file.
pub fn sqlite_file(data: &[u8]) {
    bag_bytes(data, "db3");
}

/// Decodes `data` as `T`; what decodes is converted (where cairn converts
/// it) and must encode to bytes that decode to the same message.
fn decode_as<T: RosMessage>(data: &[u8], convert: fn(&T)) {
    let Ok(message) = cdr::decode::<T>(data) else { return };
    convert(&message);
    if let Ok(bytes) = cdr::encode(&message) {
        let again = cdr::decode::<T>(&bytes);
        // NaN fields make `==` false; compare the re-encoded bytes instead.
        let stable = again.ok().and_then(|m| cdr::encode(&m).ok()).is_some_and(|b| b == bytes);
        assert!(stable, "{} does not survive encode → decode → encode", T::TYPE_NAME);
    }
}

/// Fuzz target: arbitrary bytes as CDR. The first byte picks the message
/// type; the rest is the CDR payload (encapsulation header included). Every
/// decoded message is also converted to cairn-core types where cairn does
/// (images, clouds, calibration, poses) and re-encoded.
pub fn cdr_decode(data: &[u8]) {
    let Some((&selector, payload)) = data.split_first() else { return };
    match selector % 12 {
        0 => decode_as::<sensor_msgs::Image>(payload, |m| {
            let _ = m.to_rgb();
            let _ = m.to_depth();
        }),
        1 => decode_as::<sensor_msgs::CameraInfo>(payload, |m| {
            let _ = m.to_calibration();
        }),
        2 => decode_as::<sensor_msgs::PointCloud2>(payload, |m| {
            let _ = m.to_ring_cloud();
        }),
        3 => decode_as::<tf2_msgs::TFMessage>(payload, |m| {
            for t in &m.transforms {
                let _ = t.transform.to_rigid();
            }
        }),
        4 => decode_as::<nav_msgs::Odometry>(payload, |m| {
            let _ = m.pose.pose.to_rigid();
        }),
        5 => decode_as::<nav_msgs::Path>(payload, |m| {
            for p in &m.poses {
                let _ = p.pose.to_rigid();
            }
        }),
        6 => decode_as::<geometry_msgs::PoseWithCovarianceStamped>(payload, |m| {
            let _ = m.pose.pose.to_rigid();
        }),
        7 => decode_as::<vision_msgs::Detection3DArray>(payload, |_| {}),
        8 => decode_as::<visualization_msgs::MarkerArray>(payload, |_| {}),
        9 => decode_as::<sensor_msgs::Imu>(payload, |_| {}),
        10 => decode_as::<sensor_msgs::CompressedImage>(payload, |_| {}),
        _ => decode_as::<geometry_msgs::PoseStamped>(payload, |m| {
            let _ = m.pose.to_rigid();
        }),
    }
}
