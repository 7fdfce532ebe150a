//! Per-frame preprocessing: grey pyramid → Canny edges → distance fields.

use std::time::Instant;

use cairn_core::RgbImage;
use rayon::prelude::*;

use crate::config::EdgeConfig;
use crate::distance::DistanceField;
use crate::edges::{EdgeMap, canny};
use crate::pyramid::{GrayImage, gray_pyramid};

/// One pyramid level of a preprocessed frame.
#[derive(Debug, Clone)]
pub struct FrameLevel {
    /// Grey levels (0–255).
    pub gray: GrayImage,
    /// Canny edges.
    pub edges: EdgeMap,
    /// Distance transform of the edges, with its gradient.
    pub field: DistanceField,
}

/// A preprocessed frame and how long each stage took.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Levels, finest first.
    pub levels: Vec<FrameLevel>,
    /// Grey conversion and pyramid (ms).
    pub pyramid_ms: f64,
    /// Canny on all levels (ms, summed over levels).
    pub edges_ms: f64,
    /// Distance transforms on all levels (ms, summed over levels).
    pub distance_ms: f64,
}

impl Frame {
    /// Builds the pyramid of `rgb` and, per level (in parallel on the rayon
    /// pool), its edges and distance field.
    pub fn new(rgb: &RgbImage, config: &EdgeConfig) -> Frame {
        let start = Instant::now();
        let base = GrayImage::new(rgb.width as usize, rgb.height as usize, rgb.to_gray_f32());
        let grays = gray_pyramid(base, config.pyramid_levels);
        let pyramid_ms = ms_since(start);
        let processed: Vec<(FrameLevel, f64, f64)> = grays
            .into_par_iter()
            .map(|gray| {
                let start = Instant::now();
                let edges = canny(&gray, config);
                let edges_ms = ms_since(start);
                let start = Instant::now();
                let field = DistanceField::new(&edges);
                (FrameLevel { gray, edges, field }, edges_ms, ms_since(start))
            })
            .collect();
        let edges_ms = processed.iter().map(|p| p.1).sum();
        let distance_ms = processed.iter().map(|p| p.2).sum();
        Frame { levels: processed.into_iter().map(|p| p.0).collect(), pyramid_ms, edges_ms, distance_ms }
    }

    /// Edge pixels at the finest level.
    pub fn edge_count(&self) -> usize {
        self.levels.first().map_or(0, |level| level.edges.pixels.len())
    }

    /// The edge maps, finest first.
    pub fn edge_maps(&self) -> Vec<&EdgeMap> {
        self.levels.iter().map(|level| &level.edges).collect()
    }
}

/// Milliseconds since `start`.
pub fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}
