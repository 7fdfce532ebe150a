//! Per-stage latency of the CMT network on the CPU, for both presets, on
//! one sample: the nuScenes sample in ../shared/data when present (six
//! 1600×900 JPEGs and a 32-beam sweep), else one `cairn sim drive` sample
//! at the nuScenes image size. Stages: image pre-processing (decode,
//! resize, crop, normalise, matrices), pillarisation (host), LiDAR backbone
//! (pillar net, BEV stages, tokens), image backbone + FPN, position
//! encodings, decoder (all layers with their heads), post-processing (the
//! top-k decoding of [`cairn_perception::cmt::decode::detections`]).
//! Weights are random (`init_weights`), which costs the same as trained
//! ones. `small` reports the fastest of 3 runs (the machine is shared),
//! `full` one run.
//!
//! `cargo bench -p cairn-perception --bench cmt` (optionally `-- small` or
//! `-- full`). It prints a table and asserts nothing about speed.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use cairn_core::samples::SampleSet;
use cairn_perception::cmt::decode::detections;
use cairn_perception::cmt::image::image_inputs;
use cairn_perception::cmt::model::{init_weights, parameter_count};
use cairn_perception::cmt::pillars::{pillar_inputs, pillarise};
use cairn_perception::cmt::{Cmt, CmtConfig};
use cairn_sim::drive::{DriveOptions, write_drive};
use cairn_sim::rig::Rig;
use cairn_train::TensorMap;

/// The stage a layer kind belongs to.
fn stage(kind: &str) -> &'static str {
    match kind {
        "cmt-pillar-net" | "cmt-bev-stage" | "cmt-bev-tokens" => "lidar backbone",
        "cmt-position" => "position encodings",
        "cmt-decoder" => "decoder + heads",
        kind if kind.starts_with("cmt-image") => "image backbone + fpn",
        _ => "other",
    }
}

fn sample_set() -> Result<(SampleSet, String), Box<dyn std::error::Error>> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/nuscenes_sample");
    if shared.join("sample_info.json").exists() {
        return Ok((SampleSet::read(&shared)?, "nuScenes sample".into()));
    }
    let dir = std::env::temp_dir().join(format!("cairn-cmt-bench-{}", std::process::id()));
    let options = DriveOptions { samples: 1, seed: 1, image_scale: 1.0, ..Default::default() };
    Ok((write_drive(&options, &Rig::nuscenes()?, &dir, |_| {})?, "cairn sim drive sample".into()))
}

/// Per stage, the fastest of `runs` (ms).
fn time_preset(
    set: &SampleSet,
    config: &CmtConfig,
    runs: usize,
) -> Result<BTreeMap<String, f64>, Box<dyn std::error::Error>> {
    let sample = &set.data_list[0];
    let net = Cmt::new(config.clone(), &init_weights(config, 0))?;
    let sweep = set.read_lidar(sample)?;
    let mut best: BTreeMap<String, f64> = BTreeMap::new();
    let mut keep = |name: &str, ms: f64| {
        let entry = best.entry(name.to_string()).or_insert(f64::INFINITY);
        *entry = entry.min(ms);
    };
    for _ in 0..runs {
        let start = Instant::now();
        let mut inputs: TensorMap = image_inputs(set, &[sample], config)?;
        keep("1 image pre-processing", start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        let pillars = pillarise(&sweep.cloud, config);
        let host = pillar_inputs(&[pillars], config.lidar.max_points);
        keep("2 pillarisation (host)", start.elapsed().as_secs_f64() * 1e3);
        for (name, tensor) in host {
            inputs.insert(name, tensor.to_tensor()?);
        }
        let (outputs, times) = net.forward_timed(inputs)?;
        let last = config.decoder.layers - 1;
        let start = Instant::now();
        let boxes = detections(&outputs[&format!("class.{last}")], &outputs[&format!("box.{last}")], 0, config)?;
        keep("7 post-processing (top-k)", start.elapsed().as_secs_f64() * 1e3);
        drop(boxes);
        let mut per_stage: BTreeMap<&str, f64> = BTreeMap::new();
        for (kind, time) in &times {
            *per_stage.entry(stage(kind)).or_default() += time.as_secs_f64() * 1e3;
        }
        for (index, name) in
            ["lidar backbone", "image backbone + fpn", "position encodings", "decoder + heads"].iter().enumerate()
        {
            keep(&format!("{} {name}", index + 3), per_stage.get(name).copied().unwrap_or(0.0));
        }
    }
    Ok(best)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let choice = std::env::args().skip(1).find(|a| a == "small" || a == "full");
    let presets: Vec<(CmtConfig, usize)> = match choice.as_deref() {
        Some("small") => vec![(CmtConfig::small(), 3)],
        Some("full") => vec![(CmtConfig::full(), 1)],
        _ => vec![(CmtConfig::small(), 3), (CmtConfig::full(), 1)],
    };
    let (set, source) = sample_set()?;
    println!("CMT per-stage latency on the CPU ({source}, batch 1, random weights)");
    for (config, runs) in presets {
        let best = time_preset(&set, &config, runs)?;
        let total: f64 = best.values().sum();
        println!("\npreset {} ({} parameters, fastest of {runs})", config.name, parameter_count(&config));
        println!("{:<28} {:>10}", "stage", "ms");
        for (name, ms) in &best {
            println!("{:<28} {:>10.1}", &name[2..], ms);
        }
        println!("{:<28} {:>10.1}", "total", total);
    }
    Ok(())
}
