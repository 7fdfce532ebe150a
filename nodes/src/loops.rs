//! `cairn loop register TARGET SOURCE`: registers two point clouds (PLY,
//! ASCII or binary) the way L3D's loop check does — voxel downsampling,
//! descriptors, mutual nearest neighbours, RANSAC, overlap — and prints
//! `target_from_source`, the overlap and the stage timings.
//! `cairn loop eval DATASET`: loop-closure scores (see [`crate::loop_eval`]).
//!
//! The descriptor is FPFH (`--descriptor fpfh`, the default) or the trained
//! DIP network (`--descriptor l3d`, built-in weights or `--weights DIR`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_core::ply;
use cairn_core::transform::to_matrix;
use cairn_perception::describe::{DipDescriptor, Fpfh, LocalDescriptor};
use cairn_perception::l3d::{DipNetwork, RansacConfig};
use cairn_perception::register::{RegisterConfig, register_clouds_on};
use clap::{Args, Subcommand, ValueEnum};

/// The descriptor of `cairn loop register` and `cairn loop eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DescriptorArg {
    /// FPFH (hand-crafted, the Open3D baseline's)
    Fpfh,
    /// The learned L3D (DIP) descriptor
    L3d,
}

/// Where `cairn loop register` runs its network and matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// the CPU (exact blocked search)
    Cpu,
    /// CUDA GPU 0 (candle tensors; feature `cuda`)
    Cuda,
}

impl DeviceArg {
    /// The candle device, `None` for the CPU's exact path.
    fn device(self) -> Result<Option<candle_core::Device>> {
        match self {
            DeviceArg::Cpu => Ok(None),
            DeviceArg::Cuda => candle_core::Device::new_cuda(0)
                .map(Some)
                .context("--device cuda needs a cairn built with `--features cuda` and an NVIDIA GPU"),
        }
    }
}

/// The DIP descriptor with the weights in `weights` (a `cairn train l3d`
/// folder), else the built-in ones.
pub fn dip_descriptor(weights: Option<&std::path::Path>, seed: u64) -> Result<DipDescriptor> {
    let network = match weights {
        Some(dir) => DipNetwork::load(dir).with_context(|| format!("loading the DIP weights in {}", dir.display()))?,
        None => DipNetwork::builtin().context("loading the built-in DIP weights")?,
    };
    Ok(DipDescriptor { network, seed })
}

use crate::viz::{Recorder, VizArgs};

/// `cairn loop …` subcommands.
#[derive(Debug, Subcommand)]
pub enum LoopCommand {
    /// Register SOURCE onto TARGET (PLY point clouds): prints the 4×4
    /// target_from_source, the overlap metric, the number of mutual nearest
    /// neighbours and RANSAC inliers, and per-stage times.
    Register(RegisterArgs),
    /// Score loop closure on a sequence with ground truth (TUM folder): ATE
    /// without and with loop closure (`--descriptor fpfh|l3d`), precision, recall and F1 of the
    /// keyframes' loop decisions against ground-truth overlap > 0.3.
    Eval(crate::loop_eval::EvalArgs),
}

/// Arguments of `cairn loop register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The cloud that stays put (PLY).
    #[arg(value_name = "TARGET.ply")]
    target: PathBuf,
    /// The cloud to move onto it (PLY).
    #[arg(value_name = "SOURCE.ply")]
    source: PathBuf,
    /// Voxel size (m) of the downsampling; descriptor and RANSAC radii
    /// scale with it.
    #[arg(long, default_value_t = RegisterConfig::default().voxel_m)]
    voxel: f32,
    /// RANSAC seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Descriptor.
    #[arg(long, value_enum, default_value_t = DescriptorArg::Fpfh)]
    descriptor: DescriptorArg,
    /// `--descriptor l3d`: a folder with dip.json and dip.safetensors
    /// instead of the built-in weights.
    #[arg(long, value_name = "DIR")]
    weights: Option<PathBuf>,
    /// Print one JSON object (target_from_source, overlap, mnn, inliers,
    /// points, timings in ms).
    #[arg(long)]
    json: bool,
    /// Where the descriptor network (`--descriptor l3d`) and the
    /// mutual-nearest-neighbour search run: `cpu`, or `cuda` (GPU 0; needs a
    /// build with `--features cuda`).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// `--rrd FILE` / `--connect URL`: rerun visualisation of both clouds,
    /// the registered source and the matches (inliers, outliers).
    #[command(flatten)]
    viz: VizArgs,
}

/// Runs `cairn loop …`.
pub fn run(command: &LoopCommand) -> Result<String> {
    match command {
        LoopCommand::Register(args) => register(args),
        LoopCommand::Eval(args) => crate::loop_eval::run(args),
    }
}

fn register(args: &RegisterArgs) -> Result<String> {
    if !(args.voxel > 0.0 && args.voxel.is_finite()) {
        anyhow::bail!("--voxel must be a positive size in metres, got {}", args.voxel);
    }
    let device = args.device.device()?;
    let recorder = Recorder::open(&args.viz, "cairn_loop_register")?;
    let target = ply::read(&args.target).with_context(|| format!("reading {}", args.target.display()))?;
    let source = ply::read(&args.source).with_context(|| format!("reading {}", args.source.display()))?;
    let defaults = RegisterConfig::default();
    let config =
        RegisterConfig { voxel_m: args.voxel, ransac: RansacConfig { seed: args.seed, ..defaults.ransac }, ..defaults };
    let descriptor: Box<dyn LocalDescriptor> = match args.descriptor {
        DescriptorArg::Fpfh => Box::new(Fpfh {
            radius_m: config.feature_radius_voxels * config.voxel_m,
            max_neighbours: config.feature_max_neighbours,
        }),
        DescriptorArg::L3d => {
            let mut dip = dip_descriptor(args.weights.as_deref(), args.seed)?;
            if let Some(device) = &device {
                dip.network = dip.network.to_device(device).context("moving the DIP network to the GPU")?;
            }
            Box::new(dip)
        }
    };
    let found = register_clouds_on(&target, &source, &config, descriptor.as_ref(), device.as_ref())
        .with_context(|| format!("registering {} onto {}", args.source.display(), args.target.display()))?;
    recorder.registration(&target, &source, &found, config.inlier_voxels * f64::from(config.voxel_m));
    let matrix = to_matrix(&found.target_from_source);
    let rows: Vec<[f64; 4]> =
        (0..4).map(|r| [matrix[(r, 0)], matrix[(r, 1)], matrix[(r, 2)], matrix[(r, 3)]]).collect();
    if args.json {
        let t = &found.timings;
        let value = serde_json::json!({
            "target_from_source": rows,
            "overlap": found.overlap,
            "mnn": found.mnn,
            "inliers": found.inliers,
            "points": { "target": found.points.0, "source": found.points.1 },
            "device": if device.is_some() { "cuda" } else { "cpu" },
            "timings_ms": {
                "downsample": t.downsample_ms,
                "descriptors": t.descriptors_ms,
                "matching": t.matching_ms,
                "ransac": t.ransac_ms,
                "total": t.total_ms,
            },
        });
        return Ok(format!("{value}\n"));
    }
    let mut text = format!(
        "{} ({} points after {} m voxels) onto {} ({} points)\ntarget_from_source:\n",
        args.source.display(),
        found.points.1,
        args.voxel,
        args.target.display(),
        found.points.0
    );
    for row in &rows {
        text.push_str(&format!("  {:>10.6} {:>10.6} {:>10.6} {:>10.6}\n", row[0], row[1], row[2], row[3]));
    }
    let t = &found.timings;
    text.push_str(&format!(
        "overlap {:.3} ({} mutual nearest neighbours, {} RANSAC inliers)\n\
         time {:.0} ms: downsample {:.0}, descriptors {:.0}, matching {:.0}, RANSAC {:.0}\n",
        found.overlap,
        found.mnn,
        found.inliers,
        t.total_ms,
        t.downsample_ms,
        t.descriptors_ms,
        t.matching_ms,
        t.ransac_ms
    ));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_weights_load_and_missing_ones_are_a_clear_error() {
        assert_eq!(dip_descriptor(None, 0).unwrap().network.config().dim, 32);
        let err = dip_descriptor(Some(std::path::Path::new("/nonexistent/dip")), 0).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("/nonexistent/dip") && text.contains("dip.json"), "{text}");
    }
}
