//! `sensor_msgs/PointCloud2` ↔ [`PointCloud`], channels found by name.
//!
//! Read: `x`, `y`, `z` (`FLOAT32` or `FLOAT64`, required), `intensity`
//! (any numeric type, as `f32`), `rgb` / `rgba` (PCL's packed `0x00RRGGBB`
//! in a `FLOAT32` or `UINT32`) and `ring` (any integer type, the laser
//! index of a spinning LiDAR, which [`PointCloud`] does not carry: see
//! [`RingCloud`]). Any `point_step` / `row_step` padding and either byte
//! order are honoured; points with a non-finite coordinate (the NaNs of
//! organised, non-dense clouds) are dropped, with their other channels.
//!
//! Written clouds are unordered (`height` 1), little-endian and dense:
//! `x y z` `FLOAT32`, then `intensity` `FLOAT32`, `rgb` (packed, alpha 255)
//! and `ring` `UINT16` when present, the point padded to 4 bytes.

use cairn_core::PointCloud;

use crate::msg::sensor_msgs::{PointCloud2, PointField};
use crate::msg::std_msgs::Header;
use crate::{Error, Result};

/// A point cloud with the per-point laser ring of a spinning LiDAR.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RingCloud {
    /// Points and their intensity / colour.
    pub cloud: PointCloud,
    /// Laser (ring) index of each point, when the sensor gives one.
    pub ring: Option<Vec<u16>>,
}

/// Where one channel lives in a point, and its type.
#[derive(Debug, Clone, Copy)]
struct Channel {
    offset: usize,
    datatype: u8,
}

/// Bytes of a `PointField` datatype; `None` for an unknown one.
fn datatype_size(datatype: u8) -> Option<usize> {
    match datatype {
        PointField::INT8 | PointField::UINT8 => Some(1),
        PointField::INT16 | PointField::UINT16 => Some(2),
        PointField::INT32 | PointField::UINT32 | PointField::FLOAT32 => Some(4),
        PointField::FLOAT64 => Some(8),
        _ => None,
    }
}

fn datatype_name(datatype: u8) -> String {
    let names = ["INT8", "UINT8", "INT16", "UINT16", "INT32", "UINT32", "FLOAT32", "FLOAT64"];
    names.get(usize::from(datatype).wrapping_sub(1)).map_or_else(|| format!("datatype {datatype}"), |n| n.to_string())
}

impl Channel {
    /// The channel's value in `point` as `f64` (exact for every type but
    /// `FLOAT64`, which it is already).
    fn read(self, point: &[u8], big_endian: bool) -> f64 {
        let bytes = &point[self.offset..];
        macro_rules! number {
            ($ty:ty, $n:literal) => {{
                let mut raw = [0u8; $n];
                raw.copy_from_slice(&bytes[..$n]);
                f64::from(if big_endian { <$ty>::from_be_bytes(raw) } else { <$ty>::from_le_bytes(raw) })
            }};
        }
        match self.datatype {
            PointField::INT8 => number!(i8, 1),
            PointField::UINT8 => number!(u8, 1),
            PointField::INT16 => number!(i16, 2),
            PointField::UINT16 => number!(u16, 2),
            PointField::INT32 => number!(i32, 4),
            PointField::UINT32 => number!(u32, 4),
            PointField::FLOAT32 => number!(f32, 4),
            _ => number!(f64, 8),
        }
    }

    /// The raw 32 bits of a 4-byte channel (packed colour).
    fn read_u32(self, point: &[u8], big_endian: bool) -> u32 {
        let mut raw = [0u8; 4];
        raw.copy_from_slice(&point[self.offset..self.offset + 4]);
        if big_endian { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) }
    }
}

impl PointCloud2 {
    /// The cloud's points, intensities and colours (see the module doc).
    pub fn to_cloud(&self) -> Result<PointCloud> {
        Ok(self.to_ring_cloud()?.cloud)
    }

    /// The cloud and its `ring` channel (see the module doc).
    pub fn to_ring_cloud(&self) -> Result<RingCloud> {
        let [x, y, z] = ["x", "y", "z"].map(|name| self.coordinate(name));
        let (x, y, z) = (x?, y?, z?);
        let intensity = self.channel("intensity")?;
        let ring = self.channel("ring")?;
        if let Some(ch) = ring.filter(|ch| matches!(ch.datatype, PointField::FLOAT32 | PointField::FLOAT64)) {
            return Err(self.error(format!("field ring is {}; it must be an integer type", datatype_name(ch.datatype))));
        }
        let rgb = match self.channel("rgb")? {
            Some(ch) => Some(ch),
            None => self.channel("rgba")?,
        };
        if let Some(ch) = rgb.filter(|ch| !matches!(ch.datatype, PointField::FLOAT32 | PointField::UINT32)) {
            return Err(
                self.error(format!("packed colour field is {}, not FLOAT32 or UINT32", datatype_name(ch.datatype)))
            );
        }
        let big = self.is_bigendian;
        let mut out = RingCloud { cloud: PointCloud::with_capacity(0), ring: ring.map(|_| Vec::new()) };
        for point in self.points()? {
            let p = [x, y, z].map(|ch| ch.read(point, big) as f32);
            if !p.iter().all(|c| c.is_finite()) {
                continue;
            }
            let colour = rgb.map(|ch| {
                let packed = ch.read_u32(point, big);
                [(packed >> 16) as u8, (packed >> 8) as u8, packed as u8]
            });
            out.cloud.push_with(p.into(), intensity.map(|ch| ch.read(point, big) as f32), colour);
            if let (Some(ch), Some(rings)) = (ring, &mut out.ring) {
                let value = ch.read(point, big);
                let index = u16::try_from(value as i64)
                    .map_err(|_| self.error(format!("ring value {value} does not fit a uint16")))?;
                rings.push(index);
            }
        }
        Ok(out)
    }

    /// A message of `cloud` (see the module doc).
    pub fn from_cloud(cloud: &PointCloud, header: Header) -> Result<PointCloud2> {
        Self::from_ring_cloud(&RingCloud { cloud: cloud.clone(), ring: None }, header)
    }

    /// A message of `cloud` with its ring channel (see the module doc).
    pub fn from_ring_cloud(cloud: &RingCloud, header: Header) -> Result<PointCloud2> {
        let points = &cloud.cloud;
        points.validate()?;
        let n = points.len();
        if let Some(ring) = cloud.ring.as_ref().filter(|r| r.len() != n) {
            return Err(Error::Convert(format!("ring has {} entries for {n} points", ring.len())));
        }
        let mut fields = Vec::new();
        let mut add = |name: &str, datatype: u8| {
            let offset =
                fields.last().map_or(0, |f: &PointField| f.offset + datatype_size(f.datatype).unwrap_or(0) as u32);
            fields.push(PointField { name: name.into(), offset, datatype, count: 1 });
        };
        for name in ["x", "y", "z"] {
            add(name, PointField::FLOAT32);
        }
        if points.intensity.is_some() {
            add("intensity", PointField::FLOAT32);
        }
        if points.rgb.is_some() {
            add("rgb", PointField::FLOAT32);
        }
        if cloud.ring.is_some() {
            add("ring", PointField::UINT16);
        }
        let used = fields.last().map_or(0, |f| f.offset as usize + datatype_size(f.datatype).unwrap_or(0));
        let point_step = used.next_multiple_of(4);
        let too_many = || Error::Convert(format!("{n} points of {point_step} bytes do not fit one PointCloud2"));
        let row_step = u32::try_from(n.checked_mul(point_step).ok_or_else(too_many)?).map_err(|_| too_many())?;
        let mut data = Vec::with_capacity(n * point_step);
        for i in 0..n {
            let start = data.len();
            for c in [points.x[i], points.y[i], points.z[i]] {
                data.extend_from_slice(&c.to_le_bytes());
            }
            if let Some(intensity) = &points.intensity {
                data.extend_from_slice(&intensity[i].to_le_bytes());
            }
            if let Some(rgb) = &points.rgb {
                let [r, g, b] = rgb[i];
                data.extend_from_slice(&[b, g, r, 0xff]);
            }
            if let Some(ring) = &cloud.ring {
                data.extend_from_slice(&ring[i].to_le_bytes());
            }
            data.resize(start + point_step, 0);
        }
        Ok(PointCloud2 {
            header,
            height: 1,
            width: row_step / point_step as u32,
            fields,
            is_bigendian: false,
            point_step: point_step as u32,
            row_step,
            data,
            is_dense: true,
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Convert(format!("PointCloud2 {}×{}: {message}", self.width, self.height))
    }

    /// The channel called `name`, checked to fit in a point.
    fn channel(&self, name: &str) -> Result<Option<Channel>> {
        let Some(field) = self.fields.iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        let size = datatype_size(field.datatype).ok_or_else(|| {
            self.error(format!("field {name} has datatype {}, not one of PointField's 1…8", field.datatype))
        })?;
        if u64::from(field.offset) + size as u64 > u64::from(self.point_step) {
            return Err(self.error(format!(
                "field {name} ({} at offset {}) does not fit in point_step {}",
                datatype_name(field.datatype),
                field.offset,
                self.point_step
            )));
        }
        Ok(Some(Channel { offset: field.offset as usize, datatype: field.datatype }))
    }

    /// A required `FLOAT32` / `FLOAT64` coordinate channel.
    fn coordinate(&self, name: &str) -> Result<Channel> {
        let names: Vec<&str> = self.fields.iter().map(|f| f.name.as_str()).collect();
        let ch =
            self.channel(name)?.ok_or_else(|| self.error(format!("no field {name} (fields: {})", names.join(", "))))?;
        match ch.datatype {
            PointField::FLOAT32 | PointField::FLOAT64 => Ok(ch),
            other => {
                Err(self
                    .error(format!("field {name} is {}; x, y and z must be FLOAT32 or FLOAT64", datatype_name(other))))
            }
        }
    }

    /// Every point's bytes, row by row, after checking the layout.
    fn points(&self) -> Result<impl Iterator<Item = &[u8]>> {
        let (point_step, row_step) = (self.point_step as usize, self.row_step as usize);
        let row_bytes = u64::from(self.width) * u64::from(self.point_step);
        if row_bytes > u64::from(self.row_step) {
            return Err(self.error(format!("row_step {row_step} is shorter than width·point_step = {row_bytes}")));
        }
        let needed = u64::from(self.height) * u64::from(self.row_step);
        if (self.data.len() as u64) < needed {
            return Err(self.error(format!("data has {} bytes, height·row_step needs {needed}", self.data.len())));
        }
        // `coordinate` made point_step ≥ 4, so the data length bounds the
        // number of points; rows without points are skipped outright.
        let (width, height) = (self.width as usize, if self.width == 0 { 0 } else { self.height as usize });
        Ok((0..height)
            .flat_map(move |v| (0..width).map(move |u| &self.data[v * row_step + u * point_step..][..point_step])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn field(name: &str, offset: u32, datatype: u8) -> PointField {
        PointField { name: name.into(), offset, datatype, count: 1 }
    }

    /// Two points as a big-endian cloud: FLOAT64 xyz, UINT16 intensity,
    /// UINT8 ring, 6 padding bytes per point and 5 per row.
    fn big_endian_cloud() -> PointCloud2 {
        let mut data = Vec::new();
        for (xyz, intensity, ring) in
            [([1.0f64, -2.0, 3.5], 700u16, 5u8), ([f64::NAN, 0.0, 0.0], 1, 1), ([0.25, 0.5, -0.75], 65535, 31)]
        {
            for c in xyz {
                data.extend_from_slice(&c.to_be_bytes());
            }
            data.extend_from_slice(&intensity.to_be_bytes());
            data.push(ring);
            data.extend_from_slice(&[0xaa; 5]);
        }
        data.extend_from_slice(&[0xbb; 5]);
        PointCloud2 {
            height: 1,
            width: 3,
            fields: vec![
                field("x", 0, PointField::FLOAT64),
                field("y", 8, PointField::FLOAT64),
                field("z", 16, PointField::FLOAT64),
                field("intensity", 24, PointField::UINT16),
                field("ring", 26, PointField::UINT8),
            ],
            is_bigendian: true,
            point_step: 32,
            row_step: 3 * 32 + 5,
            data,
            is_dense: false,
            ..Default::default()
        }
    }

    #[test]
    fn big_endian_padded_cloud_reads_and_drops_nan_points() {
        let read = big_endian_cloud().to_ring_cloud().expect("valid");
        assert_eq!(read.cloud.x, [1.0, 0.25]);
        assert_eq!(read.cloud.z, [3.5, -0.75]);
        assert_eq!(read.cloud.intensity, Some(vec![700.0, 65535.0]));
        assert_eq!(read.ring, Some(vec![5, 31]));
        assert_eq!(read.cloud.rgb, None);
    }

    #[test]
    fn organised_rows_with_row_padding_read_in_order() {
        let mut cloud = big_endian_cloud();
        // Two rows of one point each: the row step skips the second point.
        (cloud.width, cloud.height, cloud.row_step) = (1, 2, 64);
        cloud.data.resize(128, 0);
        let read = cloud.to_cloud().expect("valid");
        assert_eq!(read.x, [1.0, 0.25]);
    }

    #[test]
    fn ring_cloud_with_colour_round_trips() {
        let mut points = PointCloud::default();
        points.push_with(Point3::new(1.0, 2.0, 3.0), Some(0.5), Some([255, 128, 1]));
        points.push_with(Point3::new(-1.0, 0.0, 9.0), Some(7.0), Some([0, 10, 20]));
        let ring_cloud = RingCloud { cloud: points, ring: Some(vec![3, 15]) };
        let msg = PointCloud2::from_ring_cloud(&ring_cloud, Header::default()).expect("valid");
        assert_eq!((msg.point_step, msg.row_step, msg.width, msg.height), (24, 48, 2, 1));
        assert_eq!(
            msg.fields.iter().map(|f| (f.name.as_str(), f.offset)).collect::<Vec<_>>(),
            [("x", 0), ("y", 4), ("z", 8), ("intensity", 12), ("rgb", 16), ("ring", 20)]
        );
        assert_eq!(&msg.data[16..20], &[1, 128, 255, 255]);
        assert_eq!(msg.to_ring_cloud().expect("valid"), ring_cloud);
        let plain = PointCloud2::from_cloud(&ring_cloud.cloud, Header::default()).expect("valid");
        assert_eq!(plain.point_step, 20);
        assert_eq!(plain.to_cloud().expect("valid"), ring_cloud.cloud);
    }

    #[test]
    fn layout_errors_name_the_problem() {
        let mut cloud = big_endian_cloud();
        cloud.data.truncate(50);
        assert!(
            cloud.to_cloud().expect_err("short").to_string().contains("data has 50 bytes, height·row_step needs 101")
        );
        let mut cloud = big_endian_cloud();
        cloud.point_step = 20;
        assert!(
            cloud
                .to_cloud()
                .expect_err("x too wide")
                .to_string()
                .contains("field z (FLOAT64 at offset 16) does not fit in point_step 20")
        );
        let mut cloud = big_endian_cloud();
        cloud.row_step = 90;
        assert!(
            cloud
                .to_cloud()
                .expect_err("rows")
                .to_string()
                .contains("row_step 90 is shorter than width·point_step = 96")
        );
        let mut cloud = big_endian_cloud();
        cloud.fields[1].datatype = PointField::INT16;
        assert!(cloud.to_cloud().expect_err("int y").to_string().contains("field y is INT16"));
        cloud.fields.remove(1);
        assert!(cloud.to_cloud().expect_err("no y").to_string().contains("no field y (fields: x, z, intensity, ring)"));
        let mut cloud = big_endian_cloud();
        cloud.fields[0].datatype = 42;
        assert!(cloud.to_cloud().expect_err("bad type").to_string().contains("datatype 42"));
        let huge = PointCloud2 {
            width: u32::MAX,
            height: u32::MAX,
            point_step: 24,
            row_step: u32::MAX,
            fields: big_endian_cloud().fields[..3].to_vec(),
            ..Default::default()
        };
        assert!(huge.to_cloud().is_err());
    }

    #[test]
    fn writing_checks_channel_lengths() {
        let mut points = PointCloud::default();
        points.push(Point3::new(0.0, 0.0, 1.0));
        let err = PointCloud2::from_ring_cloud(&RingCloud { cloud: points, ring: Some(vec![]) }, Header::default());
        assert!(err.expect_err("ring length").to_string().contains("ring has 0 entries for 1 points"));
    }
}
