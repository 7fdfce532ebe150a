//! Canny edges (Canny 1986): Gaussian smoothing, Sobel gradients,
//! non-maximum suppression along the gradient, hysteresis thresholds.
//!
//! Gradient magnitudes are L2 norms of the 3×3 Sobel responses on the
//! smoothed grey levels (0–255), as OpenCV's `Canny(..., L2gradient=true)`.
//! The one-pixel image border never holds an edge.

use crate::config::EdgeConfig;
use crate::pyramid::GrayImage;

/// The edge pixels of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeMap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Row-major, `true` on an edge pixel.
    pub mask: Vec<bool>,
    /// The edge pixels as `(u, v)`, in row-major order.
    pub pixels: Vec<(u32, u32)>,
}

/// Canny edges of `image` with the smoothing and thresholds of `config`.
pub fn canny(image: &GrayImage, config: &EdgeConfig) -> EdgeMap {
    let smoothed = gaussian_blur(image, config.gaussian_sigma);
    let (gx, gy, magnitude) = sobel(&smoothed);
    let classes = non_maximum_suppression(&gx, &gy, &magnitude, image.width, image.height, config);
    hysteresis(classes, image.width, image.height)
}

/// Canny edges of every level of a pyramid.
pub fn edge_pyramid(levels: &[GrayImage], config: &EdgeConfig) -> Vec<EdgeMap> {
    levels.iter().map(|level| canny(level, config)).collect()
}

/// Separable Gaussian blur, borders clamped; the kernel reaches ±⌈3σ⌉.
pub fn gaussian_blur(image: &GrayImage, sigma: f32) -> GrayImage {
    if sigma <= 0.0 || image.width == 0 || image.height == 0 {
        return image.clone();
    }
    let radius = (3.0 * sigma).ceil() as usize;
    let weights: Vec<f32> = (0..=2 * radius)
        .map(|i| {
            let x = i as f32 - radius as f32;
            (-x * x / (2.0 * sigma * sigma)).exp()
        })
        .collect();
    let total: f32 = weights.iter().sum();
    let kernel: Vec<f32> = weights.iter().map(|w| w / total).collect();
    let (width, height) = (image.width, image.height);
    let clamp = |i: isize, n: usize| i.clamp(0, n as isize - 1) as usize;
    // Horizontal pass: the interior accumulates tap by tap over contiguous
    // slices (vectorisable); the `radius` columns at each end clamp.
    let mut horizontal = vec![0.0f32; width * height];
    for v in 0..height {
        let row = &image.data[v * width..(v + 1) * width];
        let out = &mut horizontal[v * width..(v + 1) * width];
        if width > 2 * radius {
            let interior = &mut out[radius..width - radius];
            for (i, k) in kernel.iter().enumerate() {
                for (o, p) in interior.iter_mut().zip(&row[i..]) {
                    *o += k * p;
                }
            }
        }
        for u in (0..width).filter(|&u| u < radius || u + radius >= width) {
            out[u] = (0..kernel.len())
                .map(|i| kernel[i] * row[clamp(u as isize + i as isize - radius as isize, width)])
                .sum();
        }
    }
    // Vertical pass, row by row so memory is read in order.
    let mut out = vec![0.0f32; width * height];
    for v in 0..height {
        let target = &mut out[v * width..(v + 1) * width];
        for (i, k) in kernel.iter().enumerate() {
            let source_row = clamp(v as isize + i as isize - radius as isize, height);
            let source = &horizontal[source_row * width..(source_row + 1) * width];
            for (t, s) in target.iter_mut().zip(source) {
                *t += k * s;
            }
        }
    }
    GrayImage { width, height, data: out }
}

/// Sobel `gx`, `gy` and their L2 magnitude; zero on the one-pixel border.
fn sobel(image: &GrayImage) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (width, height) = (image.width, image.height);
    let mut gx = vec![0.0f32; width * height];
    let mut gy = vec![0.0f32; width * height];
    let mut magnitude = vec![0.0f32; width * height];
    if width < 3 || height < 3 {
        return (gx, gy, magnitude);
    }
    let d = &image.data;
    for v in 1..height - 1 {
        let (up, mid, down) = ((v - 1) * width, v * width, (v + 1) * width);
        for u in 1..width - 1 {
            let x = (d[up + u + 1] - d[up + u - 1])
                + 2.0 * (d[mid + u + 1] - d[mid + u - 1])
                + (d[down + u + 1] - d[down + u - 1]);
            let y =
                (d[down + u - 1] - d[up + u - 1]) + 2.0 * (d[down + u] - d[up + u]) + (d[down + u + 1] - d[up + u + 1]);
            gx[mid + u] = x;
            gy[mid + u] = y;
            magnitude[mid + u] = (x * x + y * y).sqrt();
        }
    }
    (gx, gy, magnitude)
}

/// Pixel classes after non-maximum suppression.
const NONE: u8 = 0;
const WEAK: u8 = 1;
const STRONG: u8 = 2;
const EDGE: u8 = 3;

/// Keeps pixels whose magnitude is a maximum along the gradient direction
/// (quantised to 0°, 45°, 90°, 135°) and at least the low threshold; ties
/// are broken as OpenCV does (`>` on one side, `>=` on the other) so a
/// plateau gives one edge, not two.
fn non_maximum_suppression(
    gx: &[f32],
    gy: &[f32],
    magnitude: &[f32],
    width: usize,
    height: usize,
    config: &EdgeConfig,
) -> Vec<u8> {
    const TAN_22_5: f32 = 0.414_213_57;
    const TAN_67_5: f32 = 2.414_213_6;
    let mut classes = vec![NONE; width * height];
    if width < 3 || height < 3 {
        return classes;
    }
    let w = width as isize;
    for v in 1..height - 1 {
        for u in 1..width - 1 {
            let i = v * width + u;
            let m = magnitude[i];
            if m < config.low_threshold {
                continue;
            }
            let (x, y) = (gx[i].abs(), gy[i].abs());
            // Offset (in the flat index) of the neighbour along the gradient.
            let step: isize = if y <= x * TAN_22_5 {
                1
            } else if y >= x * TAN_67_5 {
                w
            } else if (gx[i] > 0.0) == (gy[i] > 0.0) {
                w + 1
            } else {
                w - 1
            };
            let ahead = magnitude[(i as isize + step) as usize];
            let behind = magnitude[(i as isize - step) as usize];
            if m > behind && m >= ahead {
                classes[i] = if m >= config.high_threshold { STRONG } else { WEAK };
            }
        }
    }
    classes
}

/// Grows edges from strong pixels through 8-connected weak ones.
fn hysteresis(mut classes: Vec<u8>, width: usize, height: usize) -> EdgeMap {
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..classes.len() {
        if classes[i] != STRONG {
            continue;
        }
        classes[i] = EDGE;
        stack.push(i);
        while let Some(j) = stack.pop() {
            let (u, v) = ((j % width) as isize, (j / width) as isize);
            for dv in -1..=1isize {
                for du in -1..=1isize {
                    let (nu, nv) = (u + du, v + dv);
                    if nu < 0 || nv < 0 || nu >= width as isize || nv >= height as isize {
                        continue;
                    }
                    let n = nv as usize * width + nu as usize;
                    if classes[n] == WEAK || classes[n] == STRONG {
                        classes[n] = EDGE;
                        stack.push(n);
                    }
                }
            }
        }
    }
    let mask: Vec<bool> = classes.iter().map(|&c| c == EDGE).collect();
    let pixels = mask
        .iter()
        .enumerate()
        .filter(|&(_, &edge)| edge)
        .map(|(i, _)| ((i % width) as u32, (i / width) as u32))
        .collect();
    EdgeMap { width, height, mask, pixels }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use crate::pyramid::gray_pyramid;
    use rand::{Rng, SeedableRng};

    /// A vertical step: columns `< step` dark, the rest bright.
    fn vertical_step(width: usize, height: usize, step: usize, dark: f32, bright: f32) -> GrayImage {
        let data = (0..width * height).map(|i| if i % width < step { dark } else { bright }).collect();
        GrayImage::new(width, height, data)
    }

    #[test]
    fn vertical_step_gives_one_column_at_the_step() {
        let image = vertical_step(64, 48, 30, 20.0, 180.0);
        let edges = canny(&image, &EdgeConfig::default());
        // The step lies between columns 29 and 30 (u = 29.5).
        let columns: std::collections::BTreeSet<u32> = edges.pixels.iter().map(|p| p.0).collect();
        assert_eq!(columns.len(), 1, "one edge column, got {columns:?}");
        let column = *columns.iter().next().unwrap();
        assert!((f64::from(column) - 29.5).abs() <= 1.0, "column {column}");
        // Every interior row has its edge pixel.
        assert_eq!(edges.pixels.len(), 46);
    }

    #[test]
    fn diagonal_step_stays_within_one_pixel() {
        let (width, height) = (60, 60);
        // Bright where u - v > 5: the edge is the line u - v = 5 (± ½).
        let data =
            (0..width * height).map(|i| if (i % width) as f32 - (i / width) as f32 > 5.0 { 200.0 } else { 40.0 });
        let edges = canny(&GrayImage::new(width, height, data.collect()), &EdgeConfig::default());
        assert!(edges.pixels.len() > 40);
        // Away from the border, where clamped smoothing bends the step.
        for &(u, v) in edges.pixels.iter().filter(|&&(u, v)| (4..56).contains(&u) && (4..56).contains(&v)) {
            // Distance of the pixel centre to the line u - v = 5.5.
            let distance = (f64::from(u) - f64::from(v) - 5.5).abs() / 2f64.sqrt();
            assert!(distance <= 1.0, "edge pixel ({u}, {v}) is {distance:.2} px from the step");
        }
    }

    #[test]
    fn flat_and_faintly_noisy_images_have_no_edges() {
        let flat = GrayImage::new(40, 30, vec![128.0; 1200]);
        assert!(canny(&flat, &EdgeConfig::default()).pixels.is_empty());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let noisy = GrayImage::new(40, 30, (0..1200).map(|_| 128.0 + rng.random_range(-2.0..2.0)).collect());
        assert!(canny(&noisy, &EdgeConfig::default()).pixels.is_empty());
    }

    #[test]
    fn weak_chain_survives_only_when_connected_to_a_strong_pixel() {
        // A step whose contrast fades from strong (top) to weak (bottom): the
        // whole line is kept through hysteresis; a separate step as faint as
        // the faintest part is not.
        let (width, height) = (64, 40);
        let value = |u: usize, v: usize| -> f32 {
            let contrast = 40.0 - 28.0 * v as f32 / height as f32;
            if (20..40).contains(&u) {
                100.0 + contrast
            } else if u >= 50 {
                112.0 // a separate faint step at u = 49.5
            } else {
                100.0
            }
        };
        let data = (0..width * height).map(|i| value(i % width, i / width)).collect();
        let config = EdgeConfig { low_threshold: 20.0, high_threshold: 60.0, ..EdgeConfig::default() };
        let edges = canny(&GrayImage::new(width, height, data), &config);
        let at_step = |lo: u32, hi: u32| edges.pixels.iter().filter(|p| (lo..=hi).contains(&p.0)).count();
        assert_eq!(at_step(18, 21), height - 2, "the fading step is kept whole");
        assert_eq!(at_step(48, 51), 0, "isolated weak step dropped");
    }

    #[test]
    fn pyramid_levels_all_find_the_step() {
        let levels = gray_pyramid(vertical_step(160, 120, 80, 0.0, 200.0), 3);
        for (l, edges) in edge_pyramid(&levels, &EdgeConfig::default()).iter().enumerate() {
            let expected = 80.0 / f64::from(1 << l) - 0.5;
            assert!(!edges.pixels.is_empty(), "level {l}");
            for &(u, _) in &edges.pixels {
                assert!((f64::from(u) - expected).abs() <= 1.0, "level {l}: column {u}, step at {expected}");
            }
        }
    }
}
