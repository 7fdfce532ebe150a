//! XCDR1 (plain CDR) encoding of ROS 2 messages, as rmw sends them and
//! rosbag2 stores them: a 4-byte encapsulation header, then the body.
//!
//! The header is the representation identifier (`00 00` = `CDR_BE`,
//! `00 01` = `CDR_LE`) and two option bytes, which are ignored on read and
//! written as zero. Body primitives are aligned to their own size (8 for
//! `float64`) relative to the first body byte; strings carry a length that
//! counts their terminating NUL; sequences a `uint32` count; fixed arrays
//! none. No trailing padding is written, exactly as rosbags writes it;
//! readers accept up to 3 bytes of it (rmw pads bodies to 4 bytes), and
//! refuse more, which usually means the bytes are another type.
//!
//! ```
//! use cairn_bags::{cdr, msg::std_msgs::Header};
//! let header = Header { frame_id: "map".into(), ..Default::default() };
//! let bytes = cdr::encode(&header)?;
//! assert_eq!(&bytes[..4], &[0, 1, 0, 0]);
//! assert_eq!(cdr::decode::<Header>(&bytes)?, header);
//! # Ok::<(), cairn_bags::Error>(())
//! ```

use byteorder::{BigEndian, ByteOrder, LittleEndian};

use crate::msg::RosMessage;
use crate::{Error, Result};

/// Encapsulation header of a little-endian body, as cairn writes it.
pub const HEADER_CDR_LE: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Encapsulation header of a big-endian body.
pub const HEADER_CDR_BE: [u8; 4] = [0x00, 0x00, 0x00, 0x00];

/// Byte order of a CDR body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endianness {
    /// `CDR_LE` (representation id `0x0001`): what every ROS 2 host writes.
    Little,
    /// `CDR_BE` (representation id `0x0000`).
    Big,
}

/// Encodes `msg` as little-endian CDR with its encapsulation header.
pub fn encode<T: RosMessage>(msg: &T) -> Result<Vec<u8>> {
    encode_as(msg, Endianness::Little)
}

/// Encodes `msg` in the given byte order with its encapsulation header.
pub fn encode_as<T: RosMessage>(msg: &T, endianness: Endianness) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(64);
    // The serializer counts alignment from the first byte it writes, i.e.
    // relative to the body, as CDR requires.
    let written = match endianness {
        Endianness::Little => {
            bytes.extend_from_slice(&HEADER_CDR_LE);
            cdr_encoding::to_writer::<T, LittleEndian, _>(&mut bytes, msg)
        }
        Endianness::Big => {
            bytes.extend_from_slice(&HEADER_CDR_BE);
            cdr_encoding::to_writer::<T, BigEndian, _>(&mut bytes, msg)
        }
    };
    written.map_err(|e| Error::Encode { type_name: T::TYPE_NAME.to_string(), message: e.to_string() })?;
    Ok(bytes)
}

/// Decodes CDR bytes (little- or big-endian, with the encapsulation header)
/// as a `T`. Never panics: truncated, corrupt or foreign bytes are an
/// [`Error::Decode`] saying what is wrong.
pub fn decode<T: RosMessage>(bytes: &[u8]) -> Result<T> {
    let fail = |message: String| Error::Decode { type_name: T::TYPE_NAME.to_string(), message };
    let (header, body) = match bytes.split_first_chunk::<4>() {
        Some((header, body)) => (header, body),
        None => {
            return Err(fail(format!(
                "truncated: {} bytes, shorter than the 4-byte encapsulation header",
                bytes.len()
            )));
        }
    };
    let decoded = match endianness(header).map_err(fail)? {
        Endianness::Little => body_as::<T, LittleEndian>(body),
        Endianness::Big => body_as::<T, BigEndian>(body),
    };
    let (msg, used) = decoded.map_err(|e| fail(describe(e, body.len())))?;
    let left_over = body.len().saturating_sub(used);
    if left_over > 3 {
        return Err(fail(format!(
            "{left_over} bytes left over after the message ({used} of {} body bytes used); \
             at most 3 bytes of padding may follow — are these bytes another type?",
            body.len()
        )));
    }
    Ok(msg)
}

/// The body's byte order from the encapsulation header.
pub fn endianness(header: &[u8; 4]) -> std::result::Result<Endianness, String> {
    match u16::from_be_bytes([header[0], header[1]]) {
        0x0000 => Ok(Endianness::Big),
        0x0001 => Ok(Endianness::Little),
        id => Err(format!(
            "encapsulation {} (0x{id:04x}) is not supported; expected CDR_BE (0x0000) or CDR_LE (0x0001)",
            representation_name(id)
        )),
    }
}

/// Name of a DDS representation identifier (DDS-XTypes 1.3, 7.6.3.1.2).
fn representation_name(id: u16) -> &'static str {
    match id {
        0x0002 => "PL_CDR_BE",
        0x0003 => "PL_CDR_LE",
        0x0006 => "CDR2_BE (XCDR2)",
        0x0007 => "CDR2_LE (XCDR2)",
        0x0008 => "D_CDR2_BE (XCDR2)",
        0x0009 => "D_CDR2_LE (XCDR2)",
        0x000a => "PL_CDR2_BE (XCDR2)",
        0x000b => "PL_CDR2_LE (XCDR2)",
        0x0010 => "XML",
        _ => "unknown",
    }
}

fn body_as<T: RosMessage, B: ByteOrder>(body: &[u8]) -> std::result::Result<(T, usize), cdr_encoding::Error> {
    cdr_encoding::from_bytes::<T, B>(body)
}

/// A cdr-encoding error in words a user can act on.
fn describe(error: cdr_encoding::Error, body_len: usize) -> String {
    match error {
        cdr_encoding::Error::Eof => {
            format!("truncated: the {body_len}-byte body ends before the message's last field")
        }
        cdr_encoding::Error::BadUTF8(e) => format!("a string is not valid UTF-8 ({e})"),
        cdr_encoding::Error::BadBoolean(b) => format!("a bool holds {b}, not 0 or 1"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::geometry_msgs::{Point, Pose, Quaternion, TransformStamped};
    use crate::msg::sensor_msgs::{CameraInfo, Image, PointCloud2, PointField};
    use crate::msg::std_msgs::{ColorRGBA, Header};
    use crate::msg::visualization_msgs::Marker;

    fn header(frame: &str) -> Header {
        Header { stamp: crate::msg::builtin_interfaces::Time { sec: -3, nanosec: 7 }, frame_id: frame.into() }
    }

    fn marker() -> Marker {
        Marker {
            header: header("odd"),
            ns: "cairn/ns".into(),
            id: -4,
            r#type: Marker::LINE_STRIP,
            pose: Pose { position: Point { x: 1.5, y: -2.0, z: 0.25 }, orientation: Quaternion::default() },
            points: vec![Point { x: 1.0, y: 2.0, z: 3.0 }; 2],
            colors: vec![ColorRGBA { r: 0.5, g: 0.25, b: 1.0, a: 1.0 }],
            text: "hi!".into(),
            mesh_use_embedded_materials: true,
            ..Default::default()
        }
    }

    #[test]
    fn header_is_padded_like_ros() {
        // sec, nanosec, then "map" = length 4 (with NUL) + 4 bytes.
        let bytes = encode(&header("map")).expect("encodes");
        assert_eq!(bytes, [0, 1, 0, 0, 253, 255, 255, 255, 7, 0, 0, 0, 4, 0, 0, 0, b'm', b'a', b'p', 0]);
    }

    #[test]
    fn float64_aligns_to_8_relative_to_the_body() {
        // Header ends at body offset 4+4+4+2 = 14 ("o" + NUL); child "c" → 20;
        // translation.x aligns to 24, i.e. file offset 28.
        let msg = TransformStamped { header: header("o"), child_frame_id: "c".into(), ..Default::default() };
        let bytes = encode(&msg).expect("encodes");
        assert_eq!(bytes.len(), 4 + 24 + 7 * 8);
        assert_eq!(bytes[24], b'c');
        assert_eq!(&bytes[26..28], &[0, 0]);
        // rotation.w = 1.0 is the last field.
        assert_eq!(&bytes[bytes.len() - 8..], &1.0f64.to_le_bytes());
    }

    #[test]
    fn round_trips_in_both_byte_orders() {
        let msg = marker();
        for endianness in [Endianness::Little, Endianness::Big] {
            let bytes = encode_as(&msg, endianness).expect("encodes");
            assert_eq!(decode::<Marker>(&bytes).expect("decodes"), msg);
        }
        let big = encode_as(&msg, Endianness::Big).expect("encodes");
        assert_eq!(&big[..4], &HEADER_CDR_BE);
        assert_eq!(&big[4..8], &(-3i32).to_be_bytes());
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let image = Image {
            header: header("cam"),
            height: 2,
            width: 3,
            encoding: "mono8".into(),
            step: 3,
            data: vec![9; 6],
            ..Default::default()
        };
        let cloud = PointCloud2 {
            fields: vec![PointField { name: "x".into(), offset: 0, datatype: PointField::FLOAT32, count: 1 }],
            data: vec![1, 2, 3, 4],
            ..Default::default()
        };
        let info = CameraInfo { d: vec![0.1, -0.2], distortion_model: "plumb_bob".into(), ..Default::default() };
        assert_every_prefix_fails(&marker());
        assert_every_prefix_fails(&image);
        assert_every_prefix_fails(&cloud);
        assert_every_prefix_fails(&info);
    }

    fn assert_every_prefix_fails<T: RosMessage>(msg: &T) {
        let bytes = encode(msg).expect("encodes");
        for len in 0..bytes.len() {
            assert!(decode::<T>(&bytes[..len]).is_err(), "prefix of {len} of {} bytes decoded", bytes.len());
        }
    }

    #[test]
    fn truncation_and_header_errors_say_what_is_wrong() {
        let short = decode::<Header>(&[0, 1]).expect_err("too short");
        assert!(short.to_string().contains("shorter than the 4-byte encapsulation header"), "{short}");
        let bytes = encode(&header("frame")).expect("encodes");
        let cut = decode::<Header>(&bytes[..bytes.len() - 2]).expect_err("truncated");
        assert!(cut.to_string().contains("std_msgs/msg/Header") && cut.to_string().contains("truncated"), "{cut}");
        let mut xcdr2 = bytes.clone();
        xcdr2[1] = 0x07;
        let err = decode::<Header>(&xcdr2).expect_err("XCDR2");
        assert!(err.to_string().contains("CDR2_LE") && err.to_string().contains("0x0007"), "{err}");
        let mut weird = bytes;
        weird[0] = 0x12;
        assert!(decode::<Header>(&weird).is_err());
    }

    #[test]
    fn up_to_three_padding_bytes_are_accepted_more_are_refused() {
        let mut bytes = encode(&header("ab")).expect("encodes");
        bytes.extend_from_slice(&[0, 0, 0]);
        assert!(decode::<Header>(&bytes).is_ok());
        bytes.push(0);
        let err = decode::<Header>(&bytes).expect_err("4 extra bytes");
        assert!(err.to_string().contains("4 bytes left over"), "{err}");
    }

    #[test]
    fn corrupt_values_are_errors() {
        let mut bytes = encode(&marker()).expect("encodes");
        let last = bytes.len() - 1; // mesh_use_embedded_materials
        bytes[last] = 7;
        assert!(decode::<Marker>(&bytes).expect_err("bad bool").to_string().contains("bool holds 7"));
        let mut utf8 = encode(&header("abc")).expect("encodes");
        utf8[16] = 0xff;
        assert!(decode::<Header>(&utf8).expect_err("bad utf-8").to_string().contains("UTF-8"));
        // A sequence claiming 4 billion elements fails on the data, fast.
        let mut huge = encode(&Image::default()).expect("encodes");
        let n = huge.len();
        huge[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode::<Image>(&huge).is_err());
    }
}
