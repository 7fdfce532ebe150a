//! The loss log of a real training run: the CSV parses back with one row
//! per step, a resumed log keeps the rows before the resume step, and the
//! PNG decodes at the documented size with the curve drawn (not blank).

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use cairn_train::losslog::{LossLog, PLOT_SIZE, read_csv};
use cairn_train::models::mlp::{MlpConfig, mlp_model};
use cairn_train::{CpuDevice, Footprint, OptimizerConfig, Plan, Schedule, Trainer};

#[test]
fn a_training_run_logs_csv_and_a_png_curve() {
    let dir = std::env::temp_dir().join(format!("cairn-losslog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("run.csv");
    let model = mlp_model(&MlpConfig { layers: 4, hidden: 16, rows: 8, ..Default::default() }).unwrap();
    let weights = model.init_weights(0);
    let (footprint, _) = Footprint::measure(&model, &weights).unwrap();
    let plan = Plan::build(Schedule::Harmony, &footprint, 2, 1 << 20).unwrap();
    let optimizer = OptimizerConfig::AdamW { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0 };
    let mut trainer = Trainer::new(model, plan, CpuDevice::new(1 << 20), optimizer, weights).unwrap();
    let mut log = LossLog::open(&csv, 0).unwrap();
    for _ in 0..12 {
        let report = trainer.step().unwrap();
        log.record(report.step, report.loss, Some(f64::from(optimizer.lr())), report.seconds).unwrap();
    }
    let png = log.write_png().unwrap();
    assert_eq!(png, dir.join("run.png"));

    let rows = read_csv(&csv).unwrap();
    assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
    assert!(rows.iter().all(|r| r.lr == Some(f64::from(1e-2f32)) && r.loss.is_finite() && r.wall_s > 0.0));
    assert!(rows[11].loss < rows[0].loss, "the loss falls: {} → {}", rows[0].loss, rows[11].loss);

    let image = image::open(&png).unwrap().to_rgb8();
    assert_eq!(image.dimensions(), PLOT_SIZE);
    let background = *image.get_pixel(0, 0);
    let drawn = image.pixels().filter(|p| **p != background).count();
    let blue = image.pixels().filter(|p| p[2] > 150 && p[0] < 100).count();
    assert!(drawn > 1000 && blue > 200, "{drawn} drawn pixels, {blue} on the curve");

    // A run resumed at step 8 keeps rows 0..8 and drops what came after.
    let mut resumed = LossLog::open(&csv, 8).unwrap();
    resumed.record(8, 0.5, None, 0.1).unwrap();
    let rows = read_csv(&csv).unwrap();
    assert_eq!(rows.len(), 9);
    assert_eq!((rows[8].step, rows[8].lr), (8, None));
    std::fs::write(&csv, "not,a,log\n").unwrap();
    assert!(LossLog::open(&csv, 3).unwrap_err().to_string().contains("not a loss log"));
    std::fs::remove_dir_all(&dir).unwrap();
}
