//! `sensor_msgs/Image` ↔ [`RgbImage`] and [`DepthImage`].
//!
//! Read: `rgb8`, `bgr8` and `mono8` (grey replicated) to [`RgbImage`];
//! `16UC1` (millimetres, REP 118; 0 = missing) and `32FC1` (metres; NaN and
//! ±inf = missing) to [`DepthImage`]. Rows are `step` bytes apart (padding
//! skipped) and `is_bigendian` picks the byte order of 16- and 32-bit
//! pixels. Written images are tightly packed (`step` = row bytes) and
//! little-endian; missing depths are 0 in `16UC1` and NaN in `32FC1`, as
//! REP 118 asks.

use cairn_core::{DepthImage, RgbImage};

use crate::msg::sensor_msgs::Image;
use crate::msg::std_msgs::Header;
use crate::{Error, Result};

/// The `encoding` strings cairn reads and writes (from ROS'
/// `sensor_msgs/image_encodings.hpp`).
pub mod encodings {
    /// 8-bit red, green, blue.
    pub const RGB8: &str = "rgb8";
    /// 8-bit blue, green, red (OpenCV's order).
    pub const BGR8: &str = "bgr8";
    /// 8-bit grey.
    pub const MONO8: &str = "mono8";
    /// 16-bit unsigned depth in millimetres (REP 118).
    pub const DEPTH_16UC1: &str = "16UC1";
    /// 32-bit float depth in metres (REP 118).
    pub const DEPTH_32FC1: &str = "32FC1";
}

/// Millimetres per metre: the unit of `16UC1` depth (REP 118).
const MM_PER_METRE: f64 = 1000.0;

const SUPPORTED: &str = "use rgb8, bgr8, mono8, 16UC1 or 32FC1";

impl Image {
    /// The image as 8-bit RGB (`rgb8`, `bgr8` or `mono8`).
    pub fn to_rgb(&self) -> Result<RgbImage> {
        let bytes_per_pixel = match self.encoding.as_str() {
            encodings::RGB8 | encodings::BGR8 => 3,
            encodings::MONO8 => 1,
            encodings::DEPTH_16UC1 | encodings::DEPTH_32FC1 => {
                return Err(Error::Convert(format!(
                    "image encoding {} is depth, not colour; read it with to_depth",
                    self.encoding
                )));
            }
            other => return Err(unsupported(other)),
        };
        // After `rows` checked the data length, this capacity is bounded by it.
        let rows = self.rows(bytes_per_pixel)?;
        let mut rgb = Vec::with_capacity(3 * self.width as usize * self.height as usize);
        for row in rows {
            match self.encoding.as_str() {
                encodings::RGB8 => rgb.extend_from_slice(row),
                encodings::BGR8 => row.chunks_exact(3).for_each(|p| rgb.extend_from_slice(&[p[2], p[1], p[0]])),
                _ => row.iter().for_each(|&g| rgb.extend_from_slice(&[g, g, g])),
            }
        }
        Ok(RgbImage::new(self.width, self.height, rgb)?)
    }

    /// The image as metric depth (`16UC1` millimetres or `32FC1` metres).
    pub fn to_depth(&self) -> Result<DepthImage> {
        let big = self.is_bigendian != 0;
        match self.encoding.as_str() {
            encodings::DEPTH_16UC1 => {
                let units: Vec<u16> = self
                    .rows(2)?
                    .flat_map(|row| row.chunks_exact(2))
                    .map(|b| if big { u16::from_be_bytes([b[0], b[1]]) } else { u16::from_le_bytes([b[0], b[1]]) })
                    .collect();
                Ok(DepthImage::from_u16(self.width, self.height, &units, MM_PER_METRE)?)
            }
            encodings::DEPTH_32FC1 => {
                let metres: Vec<f32> = self
                    .rows(4)?
                    .flat_map(|row| row.chunks_exact(4))
                    .map(|b| {
                        let b = [b[0], b[1], b[2], b[3]];
                        if big { f32::from_be_bytes(b) } else { f32::from_le_bytes(b) }
                    })
                    .collect();
                Ok(DepthImage::new(self.width, self.height, metres)?)
            }
            encodings::RGB8 | encodings::BGR8 | encodings::MONO8 => Err(Error::Convert(format!(
                "image encoding {} is colour, not depth; read it with to_rgb",
                self.encoding
            ))),
            other => Err(unsupported(other)),
        }
    }

    /// An `rgb8` image of `rgb`.
    pub fn from_rgb(rgb: &RgbImage, header: Header) -> Image {
        Image {
            header,
            height: rgb.height,
            width: rgb.width,
            encoding: encodings::RGB8.to_string(),
            is_bigendian: 0,
            step: rgb.width.saturating_mul(3),
            data: rgb.data.clone(),
        }
    }

    /// A `32FC1` image of `depth` in metres; missing depths become NaN.
    pub fn from_depth_32fc1(depth: &DepthImage, header: Header) -> Image {
        let data = depth
            .data
            .iter()
            .flat_map(|&d| if d > 0.0 && d.is_finite() { d } else { f32::NAN }.to_le_bytes())
            .collect();
        Image {
            header,
            height: depth.height,
            width: depth.width,
            encoding: encodings::DEPTH_32FC1.to_string(),
            is_bigendian: 0,
            step: depth.width.saturating_mul(4),
            data,
        }
    }

    /// A `16UC1` image of `depth` in millimetres (rounded; beyond 65.535 m
    /// saturates); missing depths become 0.
    pub fn from_depth_16uc1(depth: &DepthImage, header: Header) -> Result<Image> {
        let data = depth.to_u16(MM_PER_METRE)?.iter().flat_map(|mm| mm.to_le_bytes()).collect();
        Ok(Image {
            header,
            height: depth.height,
            width: depth.width,
            encoding: encodings::DEPTH_16UC1.to_string(),
            is_bigendian: 0,
            step: depth.width.saturating_mul(2),
            data,
        })
    }

    /// The pixel bytes of each row (`width × bytes_per_pixel` of them),
    /// after checking `step` and the data length.
    fn rows(&self, bytes_per_pixel: usize) -> Result<impl Iterator<Item = &[u8]>> {
        let context = || format!("image {}×{} {}", self.width, self.height, self.encoding);
        let row_bytes = self.width as usize * bytes_per_pixel;
        let step = self.step as usize;
        if step < row_bytes {
            return Err(Error::Convert(format!(
                "{}: step {step} is shorter than a row of {} pixels ({row_bytes} bytes)",
                context(),
                self.width
            )));
        }
        let needed = u64::from(self.height) * u64::from(self.step);
        if (self.data.len() as u64) < needed {
            return Err(Error::Convert(format!(
                "{}: data has {} bytes, height·step needs {needed}",
                context(),
                self.data.len()
            )));
        }
        // Rows without pixels are skipped outright (a corrupt message may
        // claim billions of them).
        let height = if row_bytes == 0 { 0 } else { self.height as usize };
        Ok((0..height).map(move |v| &self.data[v * step..v * step + row_bytes]))
    }
}

fn unsupported(encoding: &str) -> Error {
    Error::Convert(format!("image encoding {encoding} is not supported; {SUPPORTED}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(encoding: &str, width: u32, height: u32, step: u32, pixels: &[&[u8]]) -> Image {
        let mut data = Vec::new();
        for row in pixels {
            data.extend_from_slice(row);
            data.resize(data.len() + step as usize - row.len(), 0xee);
        }
        Image { height, width, encoding: encoding.into(), step, data, ..Default::default() }
    }

    #[test]
    fn bgr8_with_row_padding_reads_as_rgb() {
        let img = padded("bgr8", 2, 2, 8, &[&[1, 2, 3, 4, 5, 6], &[7, 8, 9, 10, 11, 12]]);
        let rgb = img.to_rgb().expect("valid");
        assert_eq!(rgb.data, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
    }

    #[test]
    fn mono8_replicates_and_rgb8_round_trips() {
        let img = padded("mono8", 3, 1, 4, &[&[10, 20, 30]]);
        assert_eq!(img.to_rgb().expect("valid").data, [10, 10, 10, 20, 20, 20, 30, 30, 30]);
        let rgb = RgbImage::new(2, 1, vec![1, 2, 3, 4, 5, 6]).expect("sized");
        let msg = Image::from_rgb(&rgb, Header::default());
        assert_eq!((msg.step, msg.encoding.as_str()), (6, "rgb8"));
        assert_eq!(msg.to_rgb().expect("valid"), rgb);
    }

    #[test]
    fn depth_16uc1_is_millimetres_both_byte_orders_with_padding() {
        // 1500 mm, 0 (missing), 65535 mm; then one padding pair per row.
        let le = padded("16UC1", 3, 1, 8, &[&[0xdc, 0x05, 0, 0, 0xff, 0xff]]);
        let mut be = padded("16UC1", 3, 1, 8, &[&[0x05, 0xdc, 0, 0, 0xff, 0xff]]);
        be.is_bigendian = 1;
        for img in [le, be] {
            let depth = img.to_depth().expect("valid");
            assert_eq!(depth.data, [1.5, 0.0, 65.535]);
        }
    }

    #[test]
    fn depth_round_trips_through_16uc1_and_32fc1() {
        let depth = DepthImage::new(2, 2, vec![0.5, 0.0, 2.25, 10.0]).expect("sized");
        let mm = Image::from_depth_16uc1(&depth, Header::default()).expect("in range");
        assert_eq!(mm.data, [0xf4, 0x01, 0, 0, 0xca, 0x08, 0x10, 0x27]);
        assert_eq!(mm.to_depth().expect("valid"), depth);
        let metres = Image::from_depth_32fc1(&depth, Header::default());
        assert!(f32::from_le_bytes([metres.data[4], metres.data[5], metres.data[6], metres.data[7]]).is_nan());
        assert_eq!(metres.to_depth().expect("valid"), depth);
    }

    #[test]
    fn big_endian_32fc1_reads() {
        let pixels: Vec<u8> = [1.25f32, f32::NAN].iter().flat_map(|d| d.to_be_bytes()).collect();
        let mut img = padded("32FC1", 2, 1, 12, &[&pixels]);
        img.is_bigendian = 1;
        assert_eq!(img.to_depth().expect("valid").data, [1.25, 0.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        let yuv = Image { encoding: "yuv422".into(), ..Default::default() };
        let err = yuv.to_rgb().expect_err("unsupported").to_string();
        assert_eq!(err, "image encoding yuv422 is not supported; use rgb8, bgr8, mono8, 16UC1 or 32FC1");
        let short =
            Image { width: 10, height: 4, step: 30, encoding: "rgb8".into(), data: vec![0; 100], ..Default::default() };
        assert_eq!(
            short.to_rgb().expect_err("short").to_string(),
            "image 10×4 rgb8: data has 100 bytes, height·step needs 120"
        );
        let narrow =
            Image { width: 10, height: 1, step: 20, encoding: "rgb8".into(), data: vec![0; 20], ..Default::default() };
        assert!(narrow.to_rgb().expect_err("step").to_string().contains("step 20 is shorter than a row"));
        let depth = Image { encoding: "16UC1".into(), ..Default::default() };
        assert!(depth.to_rgb().expect_err("depth").to_string().contains("to_depth"));
        let huge =
            Image { width: u32::MAX, height: u32::MAX, step: u32::MAX, encoding: "mono8".into(), ..Default::default() };
        assert!(huge.to_rgb().is_err());
    }
}
