//! `cairn detect INPUT --model DIR --out preds.json`: runs a trained CMT
//! ([`cairn_perception::cmt::Cmt`], `cmt.json` + `cmt.safetensors`) over
//! every sample of a sample set and writes the nuScenes detection
//! submission (global frame, keyed by sample token), ready for
//! `cairn eval det`. `--modality lidar|camera` zeroes the other sensor's
//! inputs, as the paper's robustness study does. INPUT may also be a bag:
//! its messages go through the detection node's pipeline
//! ([`crate::ros::detect_pipeline`]) as `cairn node detect` would receive
//! them, one sample per synchronised set. `--png DIR` draws each
//! sample's LiDAR sweep and boxes (detections orange, ground truth green)
//! over its camera images ([`crate::viz::detect_view`]); `--rrd FILE`
//! records the same in rerun, with the sweep and boxes in 3D.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_bags::storage::Bag;
use cairn_core::samples::{SampleInfo, SampleSet};
use cairn_perception::cmt::Cmt;
use cairn_perception::cmt::batch::{Modality, ground_truth, inputs};
use cairn_perception::cmt::decode::{detections, submission};
use cairn_perception::detection::{LidarBox, SubmissionMeta};
use cairn_train::host::HostMap;
use cairn_train::model::TensorMap;
use clap::{Args, ValueEnum};

use crate::ros::detect_params::DetectParams;
use crate::ros::detect_pipeline::{DetectPipeline, for_each_bag_input};
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
    /// A sample set folder (sample_info.json), or a rosbag2 (folder,
    /// .mcap or .db3) with camera Image + CameraInfo, PointCloud2 and
    /// /tf_static topics (as `cairn bag from-samples` writes them).
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// For a bag: the detection node's parameter file (topics, frames,
    /// synchronisation; config/detect.yaml). Defaults as the node's.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
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
    let recorder = crate::viz::Recorder::open(&args.viz, "cairn detect")?;
    if let Some(dir) = &args.png {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let start = std::time::Instant::now();
    let is_sample_set = args.input.join("sample_info.json").is_file();
    let (samples, boxes, meta) =
        if is_sample_set { detect_samples(args, &network, &recorder)? } else { detect_bag(args, network, &recorder)? };
    let seconds = start.elapsed().as_secs_f64();
    let borrowed: Vec<&SampleInfo> = samples.iter().collect();
    submission(&borrowed, &boxes, meta)?.write(&args.out)?;
    let count: usize = boxes.iter().map(Vec::len).sum();
    let mut text = format!(
        "cairn detect ({:?}): {count} boxes on {} samples in {seconds:.1} s ({:.2} s per sample); wrote {}\n",
        args.modality,
        samples.len(),
        seconds / samples.len().max(1) as f64,
        args.out.display()
    );
    if let Some(dir) = &args.png {
        text.push_str(&format!("views (LiDAR and boxes over every camera) in {}\n", dir.display()));
    }
    Ok(text)
}

/// Detections of a sample set, one list per sample, and what the
/// submission says it used.
type Detected = (Vec<SampleInfo>, Vec<Vec<LidarBox>>, SubmissionMeta);

/// `cairn detect SAMPLES`: every sample of a sample set.
fn detect_samples(args: &DetectArgs, network: &Cmt, recorder: &crate::viz::Recorder) -> Result<Detected> {
    let set = SampleSet::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    if set.data_list.is_empty() {
        bail!("{} holds no samples", args.input.display());
    }
    let modality = match args.modality {
        ModalityArg::Fusion => Modality::Fusion,
        ModalityArg::Lidar => Modality::Lidar,
        ModalityArg::Camera => Modality::Camera,
    };
    let bar = crate::progress::bar("cairn detect", "samples");
    bar.set_length(set.data_list.len() as u64);
    let mut boxes = Vec::with_capacity(set.data_list.len());
    for (index, sample) in set.data_list.iter().enumerate() {
        let host = inputs(&set, &[sample], network.config(), modality)?;
        let found = run_network(network, &host).with_context(|| format!("sample {}", sample.token))?;
        if args.png.is_some() || recorder.is_enabled() {
            let shown = shown(found.iter().flatten(), args.show_score);
            let truth = ground_truth(sample, network.config());
            let view = SampleView::build(&set, sample, &shown, &truth)?;
            show(args, recorder, index, sample.timestamp, &view)?;
        }
        boxes.extend(found);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let meta = SubmissionMeta {
        use_camera: modality != Modality::Lidar,
        use_lidar: modality != Modality::Camera,
        use_radar: false,
        use_map: false,
        use_external: false,
    };
    Ok((set.data_list, boxes, meta))
}

/// `cairn detect BAG`: the bag's messages through the detection node's
/// pipeline (the topics, synchronisation and calibration from tf of
/// `cairn node detect --params`), one sample per synchronised set, tokened
/// by its stamp; boxes go to the global frame through the bag's /tf map
/// pose when it has one (`cairn bag from-samples` writes it).
fn detect_bag(args: &DetectArgs, network: Cmt, recorder: &crate::viz::Recorder) -> Result<Detected> {
    if args.modality != ModalityArg::Fusion {
        bail!("--modality applies to sample sets; for a bag, leave the LiDAR topic out of it (--params topics.points)");
    }
    let bag = Bag::open(&args.input).with_context(|| {
        format!("{} is neither a sample set (no sample_info.json) nor a readable rosbag2", args.input.display())
    })?;
    let params = DetectParams { score_threshold: 0.0, ..DetectParams::read(args.params.as_deref())? };
    let mut pipeline = DetectPipeline::new(params.clone(), network)?;
    let bar = crate::progress::bar("cairn detect", "sets");
    let (mut samples, mut boxes, mut with_lidar) = (Vec::new(), Vec::new(), 0usize);
    let mut take_sets = |pipeline: &mut DetectPipeline, now: f64| -> Result<()> {
        while let Some(set) = pipeline.next_set(now) {
            let (mut sample, data, found, modality) =
                pipeline.detect_sample(&set).with_context(|| format!("the set at {:.6} s", set.stamp))?;
            sample.sample_idx = samples.len();
            if args.png.is_some() || recorder.is_enabled() {
                let view =
                    SampleView::from_data(&sample, &data.images, data.cloud, &shown(&found, args.show_score), &[]);
                show(args, recorder, samples.len(), sample.timestamp, &view)?;
            }
            with_lidar += usize::from(modality == Modality::Fusion);
            samples.push(sample);
            boxes.push(found);
            bar.inc(1);
        }
        Ok(())
    };
    let mut last = 0.0f64;
    for_each_bag_input(&bag, &params, |input, time| {
        last = last.max(time);
        pipeline.push(input, time);
        take_sets(&mut pipeline, time)
    })?;
    // The sets still waiting for a camera: past every timeout, they go.
    take_sets(&mut pipeline, last + 1e6)?;
    bar.finish_and_clear();
    for (cause, count) in pipeline.problems.counts() {
        eprintln!("cairn detect: {count} × {cause}");
    }
    if samples.is_empty() {
        bail!(
            "{}: no synchronised set of {} and the camera topics ({}); check the topics with `cairn bag info`",
            args.input.display(),
            params.topics.points,
            params.topics.image
        );
    }
    let meta = SubmissionMeta {
        use_camera: true,
        use_lidar: with_lidar > 0,
        use_radar: false,
        use_map: false,
        use_external: false,
    };
    Ok((samples, boxes, meta))
}

/// The boxes a view shows: the detections scoring at least `score`.
fn shown<'a>(found: impl IntoIterator<Item = &'a LidarBox>, score: f64) -> Vec<LidarBox> {
    found.into_iter().filter(|b| b.score >= score).cloned().collect()
}

/// Records a view (`--rrd`/`--connect`) and writes its PNG (`--png`).
fn show(args: &DetectArgs, recorder: &crate::viz::Recorder, index: usize, stamp: f64, view: &SampleView) -> Result<()> {
    recorder.detections(index, stamp, view);
    if let Some(dir) = &args.png {
        write_png(view, args.png_tile, &dir.join(format!("{index:04}_{}.png", view.token)))?;
    }
    Ok(())
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

    /// `cairn detect BAG` on `cairn bag from-samples` of a drive gives the
    /// boxes `cairn detect SAMPLES` gives, in the global frame (through the
    /// bag's /tf), one sample per synchronised set; a folder that is
    /// neither is an error that says so.
    #[test]
    fn a_bag_of_the_samples_gives_the_same_submission() {
        let dir = std::env::temp_dir().join(format!("cairn-detect-bag-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let options = DriveOptions { samples: 2, seed: 1003, image_scale: 0.2, ..Default::default() };
        let set = write_drive(&options, &Rig::nuscenes().unwrap(), &dir.join("data"), |_| {}).unwrap();
        cairn_bags::dataset::samples_to_bag(&dir.join("data"), &dir.join("bag"), &mut |_, _| {}).unwrap();
        let config = cairn_perception::cmt::CmtConfig::small();
        let weights = cairn_perception::cmt::model::init_weights(&config, 3);
        cairn_perception::cmt::weights::save(&dir.join("model"), &config, &weights).unwrap();
        let detect = |input: &str, out: &str, extra: &[&str]| {
            let (input, model, out) = (dir.join(input), dir.join("model"), dir.join(out));
            let argv = ["cairn", "detect", input.to_str().unwrap(), "--model", model.to_str().unwrap()];
            let mut argv: Vec<&str> = argv.to_vec();
            let out = out.to_str().unwrap().to_string();
            argv.extend(["--out", &out]);
            argv.extend(extra);
            run_cli(&argv).map(|_| cairn_perception::detection::Submission::read(std::path::Path::new(&out)).unwrap())
        };
        let offline = detect("data", "samples.json", &[]).unwrap();
        let png = dir.join("png");
        let from_bag = detect("bag", "bag.json", &["--png", png.to_str().unwrap(), "--png-tile", "160"]).unwrap();
        assert!(from_bag.meta.use_lidar && from_bag.meta.use_camera);
        assert_eq!(from_bag.results.len(), 2, "one sample per set");
        assert_eq!(std::fs::read_dir(&png).unwrap().count(), 2);
        let mut bag_samples: Vec<_> = from_bag.results.iter().collect();
        bag_samples.sort_by(|a, b| a.0.parse::<f64>().unwrap().total_cmp(&b.0.parse::<f64>().unwrap()));
        for (sample, (_, got)) in set.data_list.iter().zip(bag_samples) {
            let expected = &offline.results[&sample.token];
            assert_eq!(got.len(), expected.len());
            for (a, b) in got.iter().zip(expected) {
                assert_eq!(a.detection_name, b.detection_name);
                assert!((a.detection_score - b.detection_score).abs() < 1e-5);
                for k in 0..3 {
                    assert!((a.translation[k] - b.translation[k]).abs() < 1e-4, "{a:?} vs {b:?}");
                    assert!((a.size[k] - b.size[k]).abs() < 1e-4, "{a:?} vs {b:?}");
                }
            }
        }
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        let error = format!("{:#}", detect("empty", "x.json", &[]).unwrap_err());
        assert!(error.contains("neither a sample set"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
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
