//! `cairn detect SAMPLES --model DIR --out preds.json`: runs a trained CMT
//! ([`cairn_perception::cmt::Cmt`], `cmt.json` + `cmt.safetensors`) over
//! every sample of a sample set and writes the nuScenes detection
//! submission (global frame, keyed by sample token), ready for
//! `cairn eval det`. `--modality lidar|camera` zeroes the other sensor's
//! inputs, as the paper's robustness study does. `--png DIR` draws each
//! sample's LiDAR sweep and boxes (detections orange, ground truth green)
//! over its camera images ([`crate::viz::detect_view`]); `--rrd FILE`
//! records the same in rerun, with the sweep and boxes in 3D.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_core::samples::SampleSet;
use cairn_perception::cmt::Cmt;
use cairn_perception::cmt::batch::{Modality, ground_truth, inputs};
use cairn_perception::cmt::decode::{detections, submission};
use cairn_perception::detection::{LidarBox, SubmissionMeta};
use cairn_train::host::HostMap;
use cairn_train::model::TensorMap;
use clap::{Args, ValueEnum};

use crate::viz::detect_view::{SampleView, write_png};

/// Which sensors the detector sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModalityArg {
    /// Cameras and LiDAR.
    Fusion,
    /// LiDAR only (images zeroed).
    Lidar,
    /// Cameras only (no points).
    Camera,
}

/// Arguments of `cairn detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Sample set folder (sample_info.json).
    #[arg(value_name = "SAMPLES")]
    pub samples: PathBuf,
    /// Trained network folder (cmt.json, cmt.safetensors; `cairn train cmt --out`).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Submission JSON to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Sensors the detector sees.
    #[arg(long, value_enum, default_value = "fusion")]
    pub modality: ModalityArg,
    /// Write one PNG per sample into DIR: every camera image with the LiDAR
    /// sweep (coloured by depth) and the boxes (detections orange, ground
    /// truth green) projected into it.
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// Detections shown in `--png` and `--rrd` views score at least this
    /// (the submission keeps every box).
    #[arg(long, default_value_t = 0.3)]
    pub show_score: f64,
    /// Width in pixels of each camera tile in `--png`.
    #[arg(long, default_value_t = 533)]
    pub png_tile: u32,
    /// rerun output (`--rrd FILE`, `--connect URL`).
    #[command(flatten)]
    pub viz: crate::viz::VizArgs,
}

/// Runs `cairn detect`.
pub fn run(args: &DetectArgs) -> Result<String> {
    let network = Cmt::load(&args.model).with_context(|| format!("loading the network {}", args.model.display()))?;
    let set = SampleSet::read(&args.samples).with_context(|| format!("reading {}", args.samples.display()))?;
    if set.data_list.is_empty() {
        bail!("{} holds no samples", args.samples.display());
    }
    let modality = match args.modality {
        ModalityArg::Fusion => Modality::Fusion,
        ModalityArg::Lidar => Modality::Lidar,
        ModalityArg::Camera => Modality::Camera,
    };
    let bar = crate::progress::bar("cairn detect", "samples");
    bar.set_length(set.data_list.len() as u64);
    let (start, mut boxes) = (std::time::Instant::now(), Vec::with_capacity(set.data_list.len()));
    let recorder = crate::viz::Recorder::open(&args.viz, "cairn detect")?;
    if let Some(dir) = &args.png {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    for (index, sample) in set.data_list.iter().enumerate() {
        let host = inputs(&set, &[sample], network.config(), modality)?;
        let found = run_network(&network, &host).with_context(|| format!("sample {}", sample.token))?;
        if args.png.is_some() || recorder.is_enabled() {
            let shown: Vec<LidarBox> = found.iter().flatten().filter(|b| b.score >= args.show_score).cloned().collect();
            let truth = ground_truth(sample, network.config());
            let view = SampleView::build(&set, sample, &shown, &truth)?;
            recorder.detections(index, sample.timestamp, &view);
            if let Some(dir) = &args.png {
                write_png(&view, args.png_tile, &dir.join(format!("{index:04}_{}.png", sample.token)))?;
            }
        }
        boxes.extend(found);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let meta = SubmissionMeta {
        use_camera: modality != Modality::Lidar,
        use_lidar: modality != Modality::Camera,
        use_radar: false,
        use_map: false,
        use_external: false,
    };
    let samples: Vec<_> = set.data_list.iter().collect();
    let written = submission(&samples, &boxes, meta)?;
    written.write(&args.out)?;
    let count: usize = boxes.iter().map(Vec::len).sum();
    let mut text = format!(
        "cairn detect ({:?}): {count} boxes on {} samples in {seconds:.1} s ({:.2} s per sample); wrote {}\n",
        args.modality,
        samples.len(),
        seconds / samples.len() as f64,
        args.out.display()
    );
    if let Some(dir) = &args.png {
        text.push_str(&format!("views (LiDAR and boxes over every camera) in {}\n", dir.display()));
    }
    Ok(text)
}

/// The network on a batch of host inputs (`cairn_perception::cmt::batch`):
/// its last decoder layer's boxes per sample, LiDAR frame, highest score
/// first. `cairn detect` and `cairn node detect` both detect through this.
pub fn run_network(network: &Cmt, host: &HostMap) -> Result<Vec<Vec<LidarBox>>> {
    let config = network.config();
    let last = config.decoder.layers - 1;
    let tensors = host.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<Result<TensorMap>>()?;
    let outputs = network.forward(tensors)?;
    let class = outputs.get(&format!("class.{last}")).context("the network gave no class logits")?;
    let box_codes = outputs.get(&format!("box.{last}")).context("the network gave no boxes")?;
    Ok(detections(class, box_codes, 0, config)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use cairn_sim::drive::{DriveOptions, write_drive};
    use cairn_sim::rig::Rig;
    use clap::Parser;

    fn run_cli(argv: &[&str]) -> anyhow::Result<String> {
        crate::run(&crate::Cli::try_parse_from(argv)?)
    }

    #[test]
    fn an_untrained_network_writes_a_submission_of_every_sample() {
        let dir = std::env::temp_dir().join(format!("cairn-detect-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 2, seed: 1002, image_scale: 0.2, ..Default::default() };
        let set = write_drive(&options, &Rig::nuscenes().unwrap(), &dir.join("data"), |_| {}).unwrap();
        let config = cairn_perception::cmt::CmtConfig::small();
        let weights = cairn_perception::cmt::model::init_weights(&config, 0);
        cairn_perception::cmt::weights::save(&dir.join("model"), &config, &weights).unwrap();
        let (data, model, out) = (dir.join("data"), dir.join("model"), dir.join("preds.json"));
        let text = run_cli(&[
            "cairn",
            "detect",
            data.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--modality",
            "camera",
        ])
        .unwrap();
        assert!(text.contains("2 samples"), "{text}");
        let written = cairn_perception::detection::Submission::read(&out).unwrap();
        assert!(written.meta.use_camera && !written.meta.use_lidar);
        for sample in &set.data_list {
            let boxes = &written.results[&sample.token];
            assert_eq!(boxes.len(), config.infer.top_k.min(config.decoder.queries * config.classes));
            assert!(boxes.windows(2).all(|w| w[0].detection_score >= w[1].detection_score));
        }
        let missing =
            run_cli(&["cairn", "detect", data.to_str().unwrap(), "--model", "/nonexistent", "--out", "x.json"]);
        assert!(format!("{:#}", missing.unwrap_err()).contains("/nonexistent"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
