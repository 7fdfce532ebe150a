//! CMT (Cross Modal Transformer, Yan et al., ICCV 2023): camera and LiDAR
//! tokens in one transformer decoder, 3D boxes out, still working when the
//! LiDAR is missing. The network is written as cairn-train layers, so the
//! swapping trainer trains it; the facts it follows (from the official code,
//! junjie18/CMT) are in DESIGN.md.
//!
//! # The tensor contract between the parts
//! Every layer is a pure function from named tensors to named tensors
//! ([`cairn_train::model::TensorMap`]). A layer passes on, unchanged, every
//! input a later layer needs. `B` samples, `N` cameras, `H×W` network image
//! size, `P` pillars, `M` points per pillar, `Q` anchor queries, `Dn`
//! denoising queries (0 at inference), `Qt = Dn + Q`, `L` decoder layers.
//!
//! Inputs (built on the host from a sample):
//! - `images` `[B, N, 3, H, W]`: BGR, `(v − mean) / std` with mean
//!   `[103.530, 116.280, 123.675]`, std `[57.375, 57.120, 58.395]`; zeros for a
//!   missing or dropped camera.
//! - `image_valid` `[B, N]`: 1 where the camera's image is present, else 0.
//! - `lidar2img` `[B, N, 4, 4]` and `img2lidar` `[B, N, 4, 4]`: projection of
//!   the resized and cropped network image (`pad4(cam2img) · lidar2cam`,
//!   scaled and shifted) and its inverse (computed in f64).
//! - `pillar_points` `[B, P, M, 9]`: per point x, y, z, intensity, offsets
//!   from the pillar's point mean (3) and from the pillar's centre (x, y); intensity divided by 255;
//!   zeros where absent.
//! - `pillar_mask` `[B, P, M]`: 1 for a real point.
//! - `pillar_cells` `[B, P]`: the pillar's cell `row · columns + column` in
//!   the pillar grid ([`CmtConfig::pillar_grid`]), as f32 (exact below 2²⁴).
//! - `pillar_valid` `[B, P]`: 1 for a real pillar, 0 for padding (all 0 when
//!   the points are missing or dropped).
//! - `denoise_anchors` `[B, Dn, 3]`: noisy ground-truth centres normalised to
//!   `[0, 1]³` over the point-cloud range (`Dn` may be 0).
//! - `attention_mask` `[Qt, Qt]`: additive self-attention mask (0 or −1e9) that
//!   keeps denoising groups from seeing each other and the anchor queries
//!   from seeing them.
//!
//! Intermediate (between the parts):
//! - `bev_tokens` `[B, Tb, C]` with `Tb = bev rows · bev columns` row-major,
//!   `C = decoder.dim`; `image_tokens` `[B, N·h·w, C]` camera-major, then
//!   row-major over the `h×w` token grid.
//!
//! Outputs (of the last layer), for every decoder layer `l` in `0..L`:
//! - `class.{l}` `[B, Qt, classes]`: logits.
//! - `box.{l}` `[B, Qt, 10]`: `[cx, cy, log w, log l, cz, log h, sin yaw,
//!   cos yaw, vx, vy]` in the LiDAR frame, centres in metres (box centre z),
//!   sizes as logs of metres — the official box code, on which the loss
//!   weights [`TrainConfig::code_weights`] act.
//!
//! # Parts, in reading order
//! - [`config`]: the presets (`small`, `full`) and their validation.
//! - [`pillars`]: LiDAR pre-processing on the host (pillarisation).
//! - [`lidar`]: LiDAR tokens (pillar feature net, scatter, BEV backbone).
//! - [`image`]: host-side pre-processing (resize, crop, normalise, the
//!   matching `lidar2img`/`img2lidar`) → the image inputs.
//! - [`backbone`]: image backbone + FPN → `image_tokens`.
//! - [`lifting`]: pixels and anchors lifted along camera rays.
//! - [`position`]: image, BEV and query position encodings; the anchors.
//! - [`decoder`]: the post-norm decoder layers, each with its [`heads`].
//! - [`model`]: the layers assembled, and [`Cmt`] for inference.
//! - [`weights`]: `cmt.safetensors` + `cmt.json`, load and save.
//!
//! Training and inference, in the order a step runs them:
//! - [`batch`]: the training data source (sample set → the contract's
//!   inputs and targets, masked-modal dropping) and inference inputs per
//!   modality.
//! - [`denoise`]: point-based query denoising (noisy ground-truth centres,
//!   their targets, the attention mask).
//! - [`boxes`]: the box coder (`LidarBox` ↔ the box code, centre
//!   normalisation).
//! - [`matching`]: Hungarian matching (focal class cost + weighted L1).
//! - [`loss`]: the objective on every decoder layer (focal + weighted L1,
//!   denoising losses).
//! - [`decode`]: top-k sigmoid scores, no NMS, to a nuScenes submission.
//!
//! Intermediate names inside the image branch and between the position
//! layer and the decoder (see the parts): `image.features`,
//! `image.level.{k}`; `memory` `[B, Tb + Ti, C]` (`[bev_tokens;
//! image_tokens]`), `memory_pe`, `query_pe` `[B, Qt, C]`, `reference`
//! `[B, Qt, 3]` (the anchors, normalised), `query` `[B, Qt, C]`.

pub mod backbone;
pub mod batch;
pub mod boxes;
pub mod config;
pub mod decode;
pub mod decoder;
pub mod denoise;
pub mod heads;
pub mod image;
pub mod lidar;
pub mod lifting;
pub mod loss;
pub mod matching;
pub mod model;
pub mod pillars;
pub mod position;
pub mod weights;

pub use model::Cmt;

pub use config::{CmtConfig, DecoderConfig, ImageConfig, InferConfig, LidarConfig, PositionConfig, TrainConfig};
