//! 8-bit RGB colour images (interleaved `RGBRGB…`, row-major), read from
//! PNG, with the grey conversion the edge tracker works on.

use std::path::Path;

use image::{ImageFormat, ImageReader};

use crate::{Error, Result};

/// An 8-bit RGB image, pixel `(u, v)` at `data[3·(v·width + u) ..][..3]`.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Interleaved RGB bytes, `3 × width × height` of them.
    pub data: Vec<u8>,
}

impl RgbImage {
    /// Wraps interleaved RGB bytes; fails unless there are `3·width·height`.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        let expected = 3 * width as usize * height as usize;
        if data.len() != expected {
            return Err(Error::InvalidArgument(format!(
                "RGB image {width}×{height} needs {expected} bytes, got {}",
                data.len()
            )));
        }
        Ok(RgbImage { width, height, data })
    }

    /// Reads a PNG or JPEG (by content). Grey images are replicated to
    /// three channels, alpha is dropped and 16-bit channels are scaled to 8
    /// bits.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let reader = ImageReader::open(path).map_err(|e| Error::io(path, e))?;
        let reader = reader.with_guessed_format().map_err(|e| Error::io(path, e))?;
        let decoded = reader.decode().map_err(|e| Error::Image { path: path.to_path_buf(), message: e.to_string() })?;
        let rgb = decoded.to_rgb8();
        let (width, height) = rgb.dimensions();
        Ok(RgbImage { width, height, data: rgb.into_raw() })
    }

    /// Writes a PNG.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let buffer = image::RgbImage::from_raw(self.width, self.height, self.data.clone())
            .ok_or_else(|| Error::InvalidArgument(format!("RGB data does not fill {}×{}", self.width, self.height)))?;
        buffer
            .save_with_format(path, ImageFormat::Png)
            .map_err(|e| Error::Image { path: path.to_path_buf(), message: e.to_string() })
    }

    /// The colour at column `u`, row `v`; `None` outside the image.
    pub fn get(&self, u: u32, v: u32) -> Option<[u8; 3]> {
        if u >= self.width || v >= self.height {
            return None;
        }
        let i = 3 * (v as usize * self.width as usize + u as usize);
        self.data.get(i..i + 3).and_then(|px| px.try_into().ok())
    }

    /// Grey levels in `[0, 255]`, row-major, with the ITU-R BT.601 weights
    /// OpenCV's `RGB2GRAY` uses (`0.299 R + 0.587 G + 0.114 B`), not rounded.
    pub fn to_gray_f32(&self) -> Vec<f32> {
        self.data
            .chunks_exact(3)
            .map(|px| 0.299 * f32::from(px[0]) + 0.587 * f32::from(px[1]) + 0.114 * f32::from(px[2]))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use approx::assert_relative_eq;
    use image::{ImageBuffer, Luma, Rgb};

    #[test]
    fn gray_by_hand() {
        // red: 0.299·255 = 76.245; (10, 20, 30): 2.99 + 11.74 + 3.42 = 18.15
        let image = RgbImage::new(2, 1, vec![255, 0, 0, 10, 20, 30]).unwrap();
        let gray = image.to_gray_f32();
        assert_relative_eq!(gray[0], 76.245, epsilon = 1e-4);
        assert_relative_eq!(gray[1], 18.15, epsilon = 1e-4);
        assert_eq!(image.get(1, 0), Some([10, 20, 30]));
        assert_eq!(image.get(2, 0), None);
        assert!(RgbImage::new(2, 2, vec![0; 6]).is_err());
    }

    #[test]
    fn loads_rgb_and_gray_png() {
        let path = std::env::temp_dir().join(format!("cairn_image_{}.png", std::process::id()));
        let rgb: ImageBuffer<Rgb<u8>, Vec<u8>> = ImageBuffer::from_raw(1, 2, vec![1, 2, 3, 4, 5, 6]).unwrap();
        rgb.save_with_format(&path, ImageFormat::Png).unwrap();
        let loaded = RgbImage::load(&path);
        let gray: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_raw(2, 1, vec![7, 9]).unwrap();
        gray.save_with_format(&path, ImageFormat::Png).unwrap();
        let from_gray = RgbImage::load(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.unwrap(), RgbImage::new(1, 2, vec![1, 2, 3, 4, 5, 6]).unwrap());
        assert_eq!(from_gray.unwrap().data, vec![7, 7, 7, 9, 9, 9]);
        let err = RgbImage::load("/nonexistent/rgb.png").unwrap_err();
        assert!(err.to_string().contains("rgb.png"), "{err}");
    }
}
