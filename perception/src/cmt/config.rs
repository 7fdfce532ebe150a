//! CMT's configuration: one flat struct per stage, with the two presets the
//! `cairn train cmt --config small|full` flag names. `full` is the paper's
//! nuScenes setting (900 queries, 256 dims, 8 heads, ±54 m, 1600×640
//! images); `small` keeps the architecture and shrinks every size so that it
//! trains on a 2-core CPU in under an hour.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The image branch: pre-processing, backbone and FPN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Cameras per sample (nuScenes: 6).
    pub cameras: usize,
    /// Network input width and height (pixels). An image is resized to this
    /// width (aspect kept) and its top rows cropped to this height, as the
    /// official test pipeline does (1600×900 → 1600×640).
    pub size: [usize; 2],
    /// Residual blocks per backbone stage (ResNet-style; stage *k* has
    /// stride 2^(k+2)).
    pub blocks: Vec<usize>,
    /// Channels of the first stage (doubled per stage).
    pub width: usize,
    /// FPN output channels (the image tokens' width before projection).
    pub fpn_channels: usize,
    /// Token stride in pixels (16: one token per 16×16 pixels).
    pub stride: usize,
}

/// The LiDAR branch: pillars, pillar feature net, BEV backbone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LidarConfig {
    /// Pillar size in x and y (metres); the BEV grid covers the point-cloud
    /// range with these cells.
    pub pillar_size: [f64; 2],
    /// Most pillars per sample (the fullest kept).
    pub max_pillars: usize,
    /// Most points per pillar (the rest dropped).
    pub max_points: usize,
    /// Pillar feature channels.
    pub pillar_channels: usize,
    /// Stride of the BEV tokens relative to the pillar grid.
    pub bev_stride: usize,
    /// Channels of the BEV backbone's stages (one stage per factor of 2 of
    /// `bev_stride`, plus the first at stride 1).
    pub bev_channels: Vec<usize>,
}

/// Position encodings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionConfig {
    /// Depth bins an image pixel is lifted at (64).
    pub depth_bins: usize,
    /// Nearest depth bin (metres; 1).
    pub depth_start: f64,
    /// Farthest depth (metres; 54): bin k is at
    /// `depth_start + k · (depth_max − depth_start) / depth_bins`.
    pub depth_max: f64,
    /// Sine/cosine frequencies per axis of the BEV encoding (128).
    pub bev_frequencies: usize,
    /// Hidden width of the image PE MLP (1024; input 3 × depth_bins).
    pub image_hidden: usize,
}

/// The transformer decoder and its heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecoderConfig {
    /// Decoder layers (6), each with its own heads.
    pub layers: usize,
    /// Token width (256).
    pub dim: usize,
    /// Attention heads (8).
    pub heads: usize,
    /// Feed-forward width (1024).
    pub ffn: usize,
    /// Learnable anchor queries (900).
    pub queries: usize,
    /// Initial bias of the class logits (−2.19: prior 0.1).
    pub class_bias: f64,
}

/// Training: losses, masked-modal dropping and query denoising.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Focal loss γ (2).
    pub focal_gamma: f64,
    /// Focal loss α (0.25).
    pub focal_alpha: f64,
    /// Weight of the classification loss (2).
    pub class_weight: f64,
    /// Weight of the box L1 loss (0.25).
    pub box_weight: f64,
    /// Per-element L1 weights of the box code
    /// `[cx, cy, log w, log l, cz, log h, sin, cos, vx, vy]`.
    pub code_weights: [f64; 10],
    /// Probability that a sample's images are all dropped (0.25).
    pub drop_images: f64,
    /// Probability that a sample's points are all dropped (0.25).
    pub drop_points: f64,
    /// Denoising query groups (0 turns denoising off).
    pub denoise_groups: usize,
    /// Noise on denoising centres, as a fraction of the box size.
    pub denoise_noise: f64,
    /// A denoising query whose noise (in half box sizes, the norm of the
    /// uniform draw in `[−1, 1]³`) exceeds this is trained as background
    /// (the official `split`, 0.75).
    #[serde(default = "TrainConfig::default_denoise_split")]
    pub denoise_split: f64,
    /// Weight of the denoising losses relative to the matched ones (the
    /// official `dn_weight`, 1).
    #[serde(default = "TrainConfig::default_denoise_weight")]
    pub denoise_weight: f64,
    /// Weight of an unmatched query in the classification loss's normaliser
    /// `max(matched + negative_weight · unmatched, 1)` (official: 0.1).
    #[serde(default = "TrainConfig::default_negative_weight")]
    pub negative_weight: f64,
}

/// Inference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferConfig {
    /// Boxes kept per sample: the top scores over queries × classes (300).
    pub top_k: usize,
    /// Boxes whose centre falls outside `[x_min, y_min, z_min, x_max, y_max,
    /// z_max]` (LiDAR frame, metres) are dropped after the top-k (official
    /// `post_center_range`: ±61.2 m, ±10 m).
    #[serde(default = "InferConfig::default_centre_range")]
    pub centre_range: [f64; 6],
}

impl InferConfig {
    /// The official inference: top 300, centres within ±61.2 m, ±10 m.
    pub fn paper() -> InferConfig {
        InferConfig { top_k: 300, centre_range: Self::default_centre_range() }
    }

    fn default_centre_range() -> [f64; 6] {
        [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]
    }
}

/// The whole CMT configuration (saved inside every checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmtConfig {
    /// Preset name (`small`, `full`) or a user's label.
    pub name: String,
    /// Classes (10, [`crate::detection::CLASSES`]).
    pub classes: usize,
    /// Point-cloud range `[x_min, y_min, z_min, x_max, y_max, z_max]` in the
    /// LiDAR frame (metres): pillars, anchors and position encodings live in
    /// it.
    pub point_cloud_range: [f64; 6],
    /// Image branch.
    pub image: ImageConfig,
    /// LiDAR branch.
    pub lidar: LidarConfig,
    /// Position encodings.
    pub position: PositionConfig,
    /// Decoder and heads.
    pub decoder: DecoderConfig,
    /// Training.
    pub train: TrainConfig,
    /// Inference.
    pub infer: InferConfig,
}

impl CmtConfig {
    /// The paper's nuScenes sizes: 900 queries, 256 dims, 8 heads, 6
    /// layers, ±54 m, 1600×640 images, a 180×180 BEV token grid.
    pub fn full() -> CmtConfig {
        CmtConfig {
            name: "full".into(),
            classes: 10,
            point_cloud_range: [-54.0, -54.0, -5.0, 54.0, 54.0, 3.0],
            image: ImageConfig {
                cameras: 6,
                size: [1600, 640],
                blocks: vec![3, 4, 6, 3],
                width: 64,
                fpn_channels: 256,
                stride: 16,
            },
            lidar: LidarConfig {
                pillar_size: [0.075, 0.075],
                max_pillars: 60_000,
                max_points: 20,
                pillar_channels: 64,
                bev_stride: 8,
                bev_channels: vec![64, 128, 256, 256],
            },
            position: PositionConfig {
                depth_bins: 64,
                depth_start: 1.0,
                depth_max: 54.0,
                bev_frequencies: 128,
                image_hidden: 1024,
            },
            decoder: DecoderConfig { layers: 6, dim: 256, heads: 8, ffn: 1024, queries: 900, class_bias: -2.19 },
            train: TrainConfig::paper(),
            infer: InferConfig::paper(),
        }
    }

    /// The paper's architecture at sizes that train on a 2-core CPU in under
    /// an hour: 320×128 images (1600×900 at 0.2, top cropped), 0.6 m pillars
    /// at BEV stride 4 (45×45 tokens), 3 layers of 64 dims, 200 queries.
    pub fn small() -> CmtConfig {
        CmtConfig {
            name: "small".into(),
            image: ImageConfig {
                cameras: 6,
                size: [320, 128],
                blocks: vec![1, 1, 1],
                width: 16,
                fpn_channels: 64,
                stride: 16,
            },
            lidar: LidarConfig {
                pillar_size: [0.6, 0.6],
                max_pillars: 12_000,
                max_points: 16,
                pillar_channels: 32,
                bev_stride: 4,
                bev_channels: vec![32, 64, 64],
            },
            position: PositionConfig {
                depth_bins: 64,
                image_hidden: 256,
                bev_frequencies: 32,
                ..Self::full().position
            },
            decoder: DecoderConfig { layers: 3, dim: 64, heads: 4, ffn: 128, queries: 200, class_bias: -2.19 },
            ..Self::full()
        }
    }

    /// A preset by name.
    pub fn preset(name: &str) -> Result<CmtConfig> {
        match name {
            "small" => Ok(Self::small()),
            "full" => Ok(Self::full()),
            other => Err(Error::Config(format!("cmt: no preset {other:?} (choose small or full)"))),
        }
    }

    /// The pillar grid `[columns (x), rows (y)]`.
    pub fn pillar_grid(&self) -> [usize; 2] {
        let r = &self.point_cloud_range;
        let cells = |extent: f64, size: f64| (extent / size).round() as usize;
        [cells(r[3] - r[0], self.lidar.pillar_size[0]), cells(r[4] - r[1], self.lidar.pillar_size[1])]
    }

    /// The BEV token grid `[columns (x), rows (y)]`.
    pub fn bev_grid(&self) -> [usize; 2] {
        self.pillar_grid().map(|cells| cells / self.lidar.bev_stride)
    }

    /// The image token grid per camera `[columns, rows]`.
    pub fn image_grid(&self) -> [usize; 2] {
        self.image.size.map(|pixels| pixels / self.image.stride)
    }

    /// Checks every size and probability; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |field: &str, why: &str| Err(Error::Config(format!("cmt.{field}: {why}")));
        let r = &self.point_cloud_range;
        if !(r[3] > r[0] && r[4] > r[1] && r[5] > r[2]) || r.iter().any(|v| !v.is_finite()) {
            return fail("point_cloud_range", "needs finite min < max on every axis");
        }
        if self.classes == 0 || self.classes > crate::detection::CLASSES.len() {
            return fail("classes", "must be 1–10");
        }
        let image = &self.image;
        if image.cameras == 0 || image.blocks.is_empty() || image.width == 0 || image.fpn_channels == 0 {
            return fail("image", "cameras, blocks, width and fpn_channels must be positive");
        }
        if image.stride == 0 || image.size.iter().any(|s| *s == 0 || !s.is_multiple_of(image.stride)) {
            return fail("image.size", "each side must be a positive multiple of image.stride");
        }
        let lidar = &self.lidar;
        let stride_ok = lidar.bev_stride.is_power_of_two()
            && lidar.bev_channels.len() == lidar.bev_stride.trailing_zeros() as usize + 1;
        if !stride_ok {
            return fail("lidar.bev_channels", "needs one stage per factor of 2 of bev_stride, plus one");
        }
        let grid = self.pillar_grid();
        if lidar.pillar_size.iter().any(|s| s.is_nan() || *s <= 0.0)
            || grid.iter().any(|g| *g == 0 || !g.is_multiple_of(lidar.bev_stride))
        {
            return fail("lidar.pillar_size", "the range must hold a whole number of BEV tokens");
        }
        if lidar.max_pillars == 0 || lidar.max_points == 0 || lidar.pillar_channels == 0 {
            return fail("lidar", "max_pillars, max_points and pillar_channels must be positive");
        }
        let p = &self.position;
        if p.depth_bins == 0 || !(p.depth_start > 0.0 && p.depth_max > p.depth_start) || p.bev_frequencies == 0 {
            return fail("position", "needs depth bins, 0 < depth_start < depth_max and BEV frequencies");
        }
        let d = &self.decoder;
        if d.layers == 0 || d.heads == 0 || !d.dim.is_multiple_of(d.heads) || d.ffn == 0 || d.queries == 0 {
            return fail("decoder", "needs layers, queries, an FFN and dim divisible by heads");
        }
        let t = &self.train;
        let probability = |v: f64| (0.0..=1.0).contains(&v);
        if !probability(t.drop_images) || !probability(t.drop_points) || t.drop_images + t.drop_points > 1.0 {
            return fail("train.drop_images/drop_points", "must be probabilities summing to at most 1");
        }
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        let weights_ok =
            [t.focal_gamma, t.class_weight, t.box_weight, t.denoise_noise, t.denoise_weight, t.negative_weight]
                .into_iter()
                .chain(t.code_weights)
                .all(finite_non_negative);
        if !weights_ok || !probability(t.focal_alpha) {
            return fail("train", "loss weights, γ and the denoising noise must be finite and ≥ 0, α in [0, 1]");
        }
        if !(t.denoise_split.is_finite() && t.denoise_split > 0.0) {
            return fail("train.denoise_split", "must be positive");
        }
        if self.infer.top_k == 0 {
            return fail("infer.top_k", "must be positive");
        }
        let c = &self.infer.centre_range;
        if !(c[3] > c[0] && c[4] > c[1] && c[5] > c[2]) {
            return fail("infer.centre_range", "needs min < max on every axis");
        }
        Ok(())
    }
}

impl TrainConfig {
    /// The official losses and schedule: focal (γ 2, α 0.25, ×2), L1 ×0.25
    /// with weights [2, 2, 1, 1, 1, 1, 1, 1, 0.2, 0.2], masked-modal 0.25 /
    /// 0.25, denoising on.
    pub fn paper() -> TrainConfig {
        TrainConfig {
            focal_gamma: 2.0,
            focal_alpha: 0.25,
            class_weight: 2.0,
            box_weight: 0.25,
            code_weights: [2.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],
            drop_images: 0.25,
            drop_points: 0.25,
            denoise_groups: 10,
            denoise_noise: 1.0,
            denoise_split: Self::default_denoise_split(),
            denoise_weight: Self::default_denoise_weight(),
            negative_weight: Self::default_negative_weight(),
        }
    }

    fn default_denoise_split() -> f64 {
        0.75
    }

    fn default_denoise_weight() -> f64 {
        1.0
    }

    fn default_negative_weight() -> f64 {
        0.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_presets_are_valid_and_have_the_documented_grids() {
        let full = CmtConfig::full();
        full.validate().expect("full is valid");
        assert_eq!(full.pillar_grid(), [1440, 1440]);
        assert_eq!(full.bev_grid(), [180, 180]);
        assert_eq!(full.image_grid(), [100, 40]);
        let small = CmtConfig::small();
        small.validate().expect("small is valid");
        assert_eq!(small.bev_grid(), [45, 45]);
        assert_eq!(small.image_grid(), [20, 8]);
    }

    #[test]
    fn a_bad_field_is_named() {
        let mut config = CmtConfig::small();
        config.decoder.heads = 5;
        let message = config.validate().expect_err("64 dims do not split into 5 heads").to_string();
        assert!(message.contains("decoder"), "{message}");
        assert!(CmtConfig::preset("huge").is_err());
    }

    #[test]
    fn the_config_survives_json() {
        let config = CmtConfig::small();
        let text = serde_json::to_string(&config).expect("serialises");
        assert_eq!(serde_json::from_str::<CmtConfig>(&text).expect("parses"), config);
    }
}
