//! Depth images in metres, and their 16-bit PNG form.
//!
//! A [`DepthImage`] stores one `f32` depth (the z coordinate in the camera
//! frame, in metres) per pixel, row-major. `0.0` means *missing*; so does any
//! value that is not a finite positive number (NaN, ±inf, negative), which
//! [`DepthImage::get`] and [`DepthImage::valid_count`] treat as missing and
//! the constructors turn into `0.0`.
//!
//! On disk, depth is a 16-bit single-channel PNG of integer units: TUM RGB-D
//! and ICL-NUIM use 5000 units per metre ([`crate::calib::DEFAULT_DEPTH_SCALE`]),
//! ROS `16UC1` images from Kinect/RealSense drivers use 1000 (millimetres).
//! A unit value of 0 is missing.

use std::path::Path;

use image::{DynamicImage, ImageBuffer, ImageFormat, ImageReader, Luma};

use crate::{Error, Result};

/// A depth image in metres; `0.0` marks a missing measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Row-major depths in metres, `width × height` of them.
    pub data: Vec<f32>,
}

/// True for a usable depth: finite and positive.
fn is_valid(depth: f32) -> bool {
    depth.is_finite() && depth > 0.0
}

/// Checks that `units_per_metre` is a finite positive scale.
fn check_units(units_per_metre: f64) -> Result<()> {
    if units_per_metre.is_finite() && units_per_metre > 0.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("depth units per metre must be positive, got {units_per_metre}")))
    }
}

impl DepthImage {
    /// Wraps metric depths, turning every invalid value (NaN, ±inf,
    /// negative) into `0.0` = missing. Fails if `data` does not hold
    /// `width × height` values.
    pub fn new(width: u32, height: u32, mut data: Vec<f32>) -> Result<Self> {
        check_size(width, height, data.len())?;
        for d in &mut data {
            if !is_valid(*d) {
                *d = 0.0;
            }
        }
        Ok(DepthImage { width, height, data })
    }

    /// Converts integer depth units (e.g. a TUM PNG, 5000 per metre) to
    /// metres; unit 0 is missing.
    pub fn from_u16(width: u32, height: u32, units: &[u16], units_per_metre: f64) -> Result<Self> {
        check_size(width, height, units.len())?;
        check_units(units_per_metre)?;
        let metres_per_unit = 1.0 / units_per_metre;
        let data = units.iter().map(|&u| (f64::from(u) * metres_per_unit) as f32).collect();
        Ok(DepthImage { width, height, data })
    }

    /// Converts to integer units, rounding to nearest and saturating at
    /// `u16::MAX`; missing depths become 0.
    pub fn to_u16(&self, units_per_metre: f64) -> Result<Vec<u16>> {
        check_units(units_per_metre)?;
        let to_units = |d: f32| {
            if is_valid(d) {
                // `as` saturates: anything beyond 65535 units becomes u16::MAX.
                (f64::from(d) * units_per_metre).round() as u16
            } else {
                0
            }
        };
        Ok(self.data.iter().map(|&d| to_units(d)).collect())
    }

    /// Reads a 16-bit single-channel PNG of depth units. Any other pixel
    /// format (8-bit, colour, alpha) is refused with an error naming the file.
    pub fn load_png(path: impl AsRef<Path>, units_per_metre: f64) -> Result<Self> {
        let path = path.as_ref();
        let image_error = |message: String| Error::Image { path: path.to_path_buf(), message };
        let mut reader = ImageReader::open(path).map_err(|e| Error::io(path, e))?;
        reader.set_format(ImageFormat::Png);
        let decoded = reader.decode().map_err(|e| image_error(e.to_string()))?;
        match decoded {
            DynamicImage::ImageLuma16(buffer) => {
                let (width, height) = buffer.dimensions();
                Self::from_u16(width, height, buffer.as_raw(), units_per_metre)
            }
            other => Err(image_error(format!(
                "a depth image must be a 16-bit single-channel PNG, this one is {:?}",
                other.color()
            ))),
        }
    }

    /// Writes a 16-bit single-channel PNG of depth units (see [`Self::to_u16`]).
    pub fn save_png(&self, path: impl AsRef<Path>, units_per_metre: f64) -> Result<()> {
        let path = path.as_ref();
        let units = self.to_u16(units_per_metre)?;
        let buffer: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(self.width, self.height, units)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("depth image data does not fill {}×{}", self.width, self.height))
            })?;
        buffer
            .save_with_format(path, ImageFormat::Png)
            .map_err(|e| Error::Image { path: path.to_path_buf(), message: e.to_string() })
    }

    /// The depth at column `u`, row `v` in metres; `None` when missing or
    /// outside the image.
    pub fn get(&self, u: u32, v: u32) -> Option<f32> {
        if u >= self.width || v >= self.height {
            return None;
        }
        let index = v as usize * self.width as usize + u as usize;
        self.data.get(index).copied().filter(|&d| is_valid(d))
    }

    /// Number of pixels with a valid depth.
    pub fn valid_count(&self) -> usize {
        self.data.iter().filter(|&&d| is_valid(d)).count()
    }
}

/// Checks that `len` values fill a `width × height` image.
fn check_size(width: u32, height: u32, len: usize) -> Result<()> {
    let expected = width as usize * height as usize;
    if len == expected {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!("depth image {width}×{height} needs {expected} values, got {len}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A temp file path unique to this process and test.
    fn temp_png(test: &str) -> PathBuf {
        std::env::temp_dir().join(format!("cairn_depth_{}_{test}.png", std::process::id()))
    }

    #[test]
    fn from_u16_uses_tum_scale() {
        // 5000 units = 1 m, 2500 = 0.5 m, 0 = missing.
        let depth = DepthImage::from_u16(3, 1, &[5000, 2500, 0], 5000.0).unwrap();
        assert_eq!(depth.data, vec![1.0, 0.5, 0.0]);
        assert_eq!(depth.get(0, 0), Some(1.0));
        assert_eq!(depth.get(2, 0), None);
        assert_eq!(depth.get(3, 0), None);
        assert_eq!(depth.get(0, 1), None);
        assert_eq!(depth.valid_count(), 2);
        assert!(DepthImage::from_u16(2, 2, &[1, 2, 3], 5000.0).is_err());
        assert!(DepthImage::from_u16(1, 1, &[1], 0.0).is_err());
    }

    #[test]
    fn to_u16_rounds_saturates_and_zeroes_missing() {
        // 1.00009 m · 5000 = 5000.45 → 5000; 1.0001 m → 5000.5 → 5001; 20 m → 100000 → 65535.
        let depth =
            DepthImage { width: 7, height: 1, data: vec![1.00009, 1.0001, 20.0, 0.0, f32::NAN, -1.0, f32::INFINITY] };
        assert_eq!(depth.to_u16(5000.0).unwrap(), vec![5000, 5001, 65535, 0, 0, 0, 0]);
        assert!(depth.to_u16(f64::NAN).is_err());
    }

    #[test]
    fn nan_negative_and_infinite_depths_are_missing() {
        let raw = vec![f32::NAN, -0.5, f32::INFINITY, f32::NEG_INFINITY, 2.0, 0.0];
        // Constructed directly: readers treat the bad values as missing.
        let direct = DepthImage { width: 3, height: 2, data: raw.clone() };
        assert_eq!(direct.valid_count(), 1);
        assert_eq!((0..3).map(|u| direct.get(u, 0)).collect::<Vec<_>>(), vec![None, None, None]);
        assert_eq!(direct.get(1, 1), Some(2.0));
        // Through `new`: sanitised to 0.0.
        let clean = DepthImage::new(3, 2, raw).unwrap();
        assert_eq!(clean.data, vec![0.0, 0.0, 0.0, 0.0, 2.0, 0.0]);
        assert!(DepthImage::new(3, 3, vec![1.0; 6]).is_err());
    }

    #[test]
    fn png_round_trip() {
        let path = temp_png("round_trip");
        let units: Vec<u16> = vec![0, 1, 5000, 12345, 65535, 2500];
        let depth = DepthImage::from_u16(3, 2, &units, 5000.0).unwrap();
        depth.save_png(&path, 5000.0).unwrap();
        let back = DepthImage::load_png(&path, 5000.0);
        std::fs::remove_file(&path).unwrap();
        let back = back.unwrap();
        assert_eq!((back.width, back.height), (3, 2));
        assert_eq!(back.to_u16(5000.0).unwrap(), units);
        assert_eq!(back.get(2, 0), Some(1.0));
        assert_eq!(back.get(0, 1), Some(12345.0 / 5000.0));
    }

    #[test]
    fn eight_bit_png_is_rejected_naming_the_file() {
        let path = temp_png("eight_bit");
        let gray8: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_raw(2, 1, vec![10, 20]).unwrap();
        gray8.save_with_format(&path, ImageFormat::Png).unwrap();
        let err = DepthImage::load_png(&path, 5000.0);
        std::fs::remove_file(&path).unwrap();
        let message = err.unwrap_err().to_string();
        assert!(message.contains("cairn_depth_") && message.contains("16-bit"), "{message}");
        assert!(message.contains("L8"), "{message}");
    }

    #[test]
    fn missing_or_corrupt_file_names_the_file() {
        let err = DepthImage::load_png("/nonexistent/depth.png", 5000.0).unwrap_err();
        assert!(matches!(err, Error::Io { .. }) && err.to_string().contains("depth.png"), "{err}");
        let path = temp_png("corrupt");
        std::fs::write(&path, b"not a png").unwrap();
        let err = DepthImage::load_png(&path, 5000.0);
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, Err(Error::Image { .. })), "{err:?}");
    }
}
