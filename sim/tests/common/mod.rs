//! Helpers shared by cairn-sim's integration tests.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
#![allow(dead_code)]

use std::path::PathBuf;

use cairn_core::DepthImage;

/// A fresh, empty scratch folder named after the test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Bilinear depth at a sub-pixel position; `None` near a hole or a depth
/// step (the four neighbours must agree within 5 %), or off the image.
pub fn bilinear(depth: &DepthImage, x: f64, y: f64) -> Option<f64> {
    let (u0, v0) = (x.floor(), y.floor());
    if u0 < 0.0 || v0 < 0.0 || u0 + 1.0 >= f64::from(depth.width) || v0 + 1.0 >= f64::from(depth.height) {
        return None;
    }
    let (u, v) = (u0 as u32, v0 as u32);
    let d = [depth.get(u, v)?, depth.get(u + 1, v)?, depth.get(u, v + 1)?, depth.get(u + 1, v + 1)?].map(f64::from);
    let (lo, hi) = d.iter().fold((f64::MAX, f64::MIN), |(lo, hi), &z| (lo.min(z), hi.max(z)));
    if hi - lo > 0.05 * lo {
        return None;
    }
    let (fx, fy) = (x - u0, y - v0);
    Some((d[0] * (1.0 - fx) + d[1] * fx) * (1.0 - fy) + (d[2] * (1.0 - fx) + d[3] * fx) * fy)
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
