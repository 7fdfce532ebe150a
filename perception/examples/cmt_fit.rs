//! Diagnostic: fits CMT to a sample set in-process (resident schedule) and
//! every `EVERY` steps prints the last layer's loss parts and, on the first
//! sample, how well each ground-truth box is found (nearest prediction of
//! its class among the top-k: centre error, size ratio, yaw error, score).
//!
//! `cargo run --release -p cairn-perception --example cmt_fit -- DATA STEPS LR [EVERY] [fusion|lidar|camera]`

use cairn_core::samples::SampleSet;
use cairn_perception::cmt::CmtConfig;
use cairn_perception::cmt::batch::{CmtData, Modality, ground_truth, inputs};
use cairn_perception::cmt::decode::detections;
use cairn_perception::cmt::loss::CmtLoss;
use cairn_perception::cmt::{Cmt, model};
use cairn_train::model::{Model, TensorMap};
use cairn_train::{CpuDevice, Footprint, OptimizerConfig, Plan, Schedule, Trainer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let data = std::path::PathBuf::from(&args[1]);
    let steps: usize = args[2].parse()?;
    let lr: f32 = args[3].parse()?;
    let every: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let modality = match args.get(5).map(String::as_str) {
        Some("lidar") => Modality::Lidar,
        Some("camera") => Modality::Camera,
        _ => Modality::Fusion,
    };
    let mut config = CmtConfig::small();
    if std::env::var("NO_MASK").is_ok() {
        config.train.drop_images = 0.0;
        config.train.drop_points = 0.0;
    }
    if let Ok(p) = std::env::var("DROP_IMAGES") {
        config.train.drop_images = p.parse()?;
    }
    if let Ok(p) = std::env::var("DROP_POINTS") {
        config.train.drop_points = p.parse()?;
    }
    if let Ok(groups) = std::env::var("DN_GROUPS") {
        config.train.denoise_groups = groups.parse()?;
    }
    let set = SampleSet::read(&data)?;
    let batch: usize = std::env::var("BATCH").ok().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let source = CmtData::new(set.clone(), config.clone(), batch, 1, 0)?;
    let model = Model {
        name: "cmt".into(),
        layers: model::layers(&config),
        objective: Box::new(CmtLoss { config: config.clone() }),
        data: Box::new(source),
    };
    let weights = model.init_weights(0);
    let (footprint, _) = Footprint::measure(&model, &weights)?;
    let plan = Plan::build(Schedule::Resident, &footprint, 1, 1 << 34)?;
    let optimizer = OptimizerConfig::AdamW { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 };
    let initial = weights.clone();
    let names: Vec<Vec<String>> =
        model.layers.iter().map(|l| l.params().iter().map(|p| p.name.clone()).collect()).collect();
    let kinds: Vec<String> = model.layers.iter().map(|l| l.kind().to_string()).collect();
    let mut trainer = Trainer::new(model, plan, CpuDevice::new(1 << 34), optimizer, weights)?;
    let sample = &set.data_list[0];
    let gt = ground_truth(sample, &config);
    println!("sample {}: {} ground-truth boxes", sample.token, gt.len());
    let host = inputs(&set, &[sample], &config, modality)?;
    let mut recent = Vec::new();
    for step in 0..steps {
        let report = trainer.step()?;
        recent.push(report.loss);
        if (step + 1) % every != 0 && step + 1 != steps {
            continue;
        }
        let mean = recent.iter().sum::<f64>() / recent.len() as f64;
        recent.clear();
        let now = trainer.weights()?;
        if std::env::var("CHANGES").is_ok() {
            for (l, (a, b)) in initial.iter().zip(&now).enumerate() {
                let mut parts = Vec::new();
                for (k, (x, y)) in a.iter().zip(b).enumerate() {
                    let d: f32 = x.data.iter().zip(&y.data).map(|(p, q)| (p - q).powi(2)).sum::<f32>().sqrt();
                    let n: f32 = x.data.iter().map(|p| p * p).sum::<f32>().sqrt().max(1e-6);
                    parts.push(format!("{}={:.3}", names[l][k], d / n));
                }
                println!("  layer {l} {}: {}", kinds[l], parts.join(" "));
            }
        }
        let network = Cmt::new(config.clone(), &now)?;
        let tensors =
            host.iter().map(|(k, v)| Ok((k.clone(), v.to_tensor()?))).collect::<anyhow::Result<TensorMap>>()?;
        let outputs = network.forward(tensors)?;
        if std::env::var("STATS").is_ok() {
            for (key, t) in &outputs {
                if t.rank() == 3 && !key.starts_with("class") && !key.starts_with("box") {
                    let t = t.to_dtype(candle_core::DType::F32)?;
                    let abs = t.abs()?.mean_all()?.to_scalar::<f32>()?;
                    // spread across tokens (dim 1) relative to magnitude
                    let spread = t.broadcast_sub(&t.mean_keepdim(1)?)?.abs()?.mean_all()?.to_scalar::<f32>()?;
                    println!("  {key:14} {:?} mean|x| {abs:.4} across-token spread {spread:.4}", t.dims());
                }
            }
            let bt = config.bev_grid()[0] * config.bev_grid()[1];
            let memory = outputs["memory"].to_dtype(candle_core::DType::F32)?;
            let bev = memory.narrow(1, 0, bt)?;
            let image = memory.narrow(1, bt, memory.dim(1)? - bt)?;
            // PE locality: for a few queries, where does query_pe · bev_pe peak?
            let mpe = outputs["memory_pe"].to_dtype(candle_core::DType::F32)?.narrow(1, 0, bt)?.squeeze(0)?; // [Tb, C]
            let qpe = outputs["query_pe"].to_dtype(candle_core::DType::F32)?.squeeze(0)?; // [Q, C]
            let refs = outputs["reference"].to_dtype(candle_core::DType::F32)?.squeeze(0)?.to_vec2::<f32>()?;
            let dots = qpe.matmul(&mpe.t()?)?.to_vec2::<f32>()?;
            let centres = cairn_perception::cmt::position::bev_centres(&config);
            let mut report = Vec::new();
            for (i, row) in dots.iter().enumerate().take(8) {
                let (arg, max) =
                    row.iter().enumerate().fold((0, f32::MIN), |a, (j, v)| if *v > a.1 { (j, *v) } else { a });
                let mean = row.iter().sum::<f32>() / row.len() as f32;
                let sd = (row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / row.len() as f32).sqrt();
                let d = ((centres[2 * arg] - refs[i][0]).powi(2) + (centres[2 * arg + 1] - refs[i][1]).powi(2)).sqrt()
                    * 108.0;
                report.push(format!("{d:.1}m/{:.1}sd", (max - mean) / sd));
            }
            println!("  qpe·bevpe argmax distance from anchor / peak height: {}", report.join(" "));
            for (name, t) in [("bev tokens", bev), ("image tokens", image)] {
                let abs = t.abs()?.mean_all()?.to_scalar::<f32>()?;
                let spread = t.broadcast_sub(&t.mean_keepdim(1)?)?.abs()?.mean_all()?.to_scalar::<f32>()?;
                println!("  {name:14} mean|x| {abs:.4} across-token spread {spread:.4}");
            }
        }
        let last = config.decoder.layers - 1;
        let found = detections(&outputs[&format!("class.{last}")], &outputs[&format!("box.{last}")], 0, &config)?;
        let found = &found[0];
        let (mut centre, mut size, mut yaw, mut score, mut hits) = (0.0, 0.0, 0.0, 0.0, 0);
        for g in &gt {
            let best = found
                .iter()
                .filter(|p| p.label == g.label)
                .min_by(|a, b| dist(a.centre, g.centre).total_cmp(&dist(b.centre, g.centre)));
            if let Some(p) = best {
                let d = dist(p.centre, g.centre);
                centre += d;
                size += (0..3).map(|k| (p.size[k] / g.size[k]).ln().abs()).sum::<f64>() / 3.0;
                let mut e = (p.yaw - g.yaw).rem_euclid(std::f64::consts::TAU);
                if e > std::f64::consts::PI {
                    e = std::f64::consts::TAU - e;
                }
                yaw += e;
                score += p.score;
                hits += usize::from(d < 2.0);
            }
        }
        let n = gt.len().max(1) as f64;
        let top: Vec<String> = found.iter().take(3).map(|b| format!("{:.2}", b.score)).collect();
        println!(
            "step {:4} loss {mean:8.3} | gt→nearest: centre {:.2} m, |ln size| {:.2}, yaw {:.2} rad, score {:.3}, within 2 m {hits}/{} | top scores {}",
            step + 1,
            centre / n,
            size / n,
            yaw / n,
            score / n,
            gt.len(),
            top.join(" ")
        );
    }
    Ok(())
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}
