//! Grey-level and depth image pyramids.
//!
//! Level 0 is the input; level `l + 1` halves level `l` by averaging 2×2
//! blocks (odd last rows/columns are dropped). With pixel centres at integer
//! coordinates (as in [`cairn_core::camera`]), pixel `(u, v)` of level `l`
//! is centred on `((u + 0.5)·2^l − 0.5, (v + 0.5)·2^l − 0.5)` of level 0.

use cairn_core::DepthImage;

/// A single-channel `f32` image, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major values, `width × height` of them.
    pub data: Vec<f32>,
}

impl GrayImage {
    /// Wraps `data` (must hold `width × height` values; shorter data is
    /// padded with zeros, longer data truncated).
    pub fn new(width: usize, height: usize, mut data: Vec<f32>) -> Self {
        data.resize(width * height, 0.0);
        GrayImage { width, height, data }
    }

    /// The value at `(u, v)` (no bounds check beyond the slice's).
    #[inline]
    pub fn at(&self, u: usize, v: usize) -> f32 {
        self.data[v * self.width + u]
    }

    /// Half the size, each pixel the mean of a 2×2 block.
    pub fn half(&self) -> GrayImage {
        let (width, height) = (self.width / 2, self.height / 2);
        let mut data = Vec::with_capacity(width * height);
        for v in 0..height {
            let top = &self.data[2 * v * self.width..][..2 * width];
            let bottom = &self.data[(2 * v + 1) * self.width..][..2 * width];
            for u in 0..width {
                data.push(0.25 * (top[2 * u] + top[2 * u + 1] + bottom[2 * u] + bottom[2 * u + 1]));
            }
        }
        GrayImage { width, height, data }
    }
}

/// `levels` images: `base` and successive halvings (fewer if the image
/// becomes smaller than 8 pixels on a side).
pub fn gray_pyramid(base: GrayImage, levels: usize) -> Vec<GrayImage> {
    let mut pyramid = vec![base];
    while pyramid.len() < levels {
        let Some(last) = pyramid.last() else { break };
        if last.width < 16 || last.height < 16 {
            break;
        }
        let next = last.half();
        pyramid.push(next);
    }
    pyramid
}

/// A depth pyramid in metres (`0.0` = missing). A coarse pixel is the mean
/// of its 2×2 block when all four depths are valid and agree within
/// `max_relative_spread` (`(max − min)/min`); otherwise it is missing, so
/// coarse levels never invent depth across an occlusion boundary.
pub fn depth_pyramid(depth: &DepthImage, levels: usize, max_relative_spread: f32) -> Vec<GrayImage> {
    let base = GrayImage::new(depth.width as usize, depth.height as usize, depth.data.clone());
    let mut pyramid = vec![base];
    while pyramid.len() < levels {
        let Some(last) = pyramid.last() else { break };
        let (width, height) = (last.width / 2, last.height / 2);
        let mut data = Vec::with_capacity(width * height);
        for v in 0..height {
            for u in 0..width {
                let block = [
                    last.at(2 * u, 2 * v),
                    last.at(2 * u + 1, 2 * v),
                    last.at(2 * u, 2 * v + 1),
                    last.at(2 * u + 1, 2 * v + 1),
                ];
                let min = block.iter().copied().fold(f32::INFINITY, f32::min);
                let max = block.iter().copied().fold(0.0, f32::max);
                let ok = min > 0.0 && min.is_finite() && (max - min) <= max_relative_spread * min;
                data.push(if ok { 0.25 * block.iter().sum::<f32>() } else { 0.0 });
            }
        }
        pyramid.push(GrayImage { width, height, data });
    }
    pyramid
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn halving_averages_blocks_and_drops_odd_edges() {
        let image = GrayImage::new(5, 3, (0..15).map(|v| v as f32).collect());
        let half = image.half();
        assert_eq!((half.width, half.height), (2, 1));
        // block (0,1,5,6) and (2,3,7,8)
        assert_eq!(half.data, vec![3.0, 5.0]);
        let pyramid = gray_pyramid(GrayImage::new(64, 48, vec![1.0; 64 * 48]), 3);
        assert_eq!(pyramid.iter().map(|p| (p.width, p.height)).collect::<Vec<_>>(), [(64, 48), (32, 24), (16, 12)]);
    }

    #[test]
    fn depth_halving_refuses_discontinuities_and_holes() {
        let depth = DepthImage::new(4, 2, vec![1.0, 1.02, 1.0, 3.0, 1.0, 1.0, 0.0, 1.0]).unwrap();
        let pyramid = depth_pyramid(&depth, 2, 0.05);
        assert_eq!(pyramid[1].data.len(), 2);
        assert!((pyramid[1].data[0] - 1.005).abs() < 1e-6);
        assert_eq!(pyramid[1].data[1], 0.0);
    }
}
