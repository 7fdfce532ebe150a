//! `cairn demo`: the end-to-end path that exists today, on embedded
//! defaults — render RGB-D sequences with cairn-sim (cached), track them
//! with `cairn slam` (loop closure on: `--loop fpfh`), and report ATE and
//! frames/s, with a top-down plot of each estimate against its ground
//! truth; the two-lap loop is tracked again with `--loop none` to show the
//! ATE without loop closure.
//!
//! Sequences: the real fr1_xyz motion in the office when
//! `../shared/data/trajectories` is there (else a figure eight), and a
//! two-lap loop (the drift that loop closure must remove).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cairn_core::align::Alignment;
use cairn_core::metrics::{self, EvalOptions};
use cairn_core::trajectory::{Trajectory, TrajectoryFormat};
use cairn_sim::{CameraPath, PathShape, RgbdCamera, Scene, SceneKind, SequenceOptions, render_rgbd_sequence};
use clap::Args;

use crate::slam::{self, LoopArg, SlamArgs};
use crate::viz::{Recorder, VizArgs};

/// Arguments of `cairn demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where sequences (cached between runs), estimates and plots go.
    #[arg(long, value_name = "DIR", default_value = "target/cairn-demo")]
    out: PathBuf,
    /// Frames per sequence (default: the whole fr1_xyz motion, 300 for generated paths).
    #[arg(long)]
    frames: Option<usize>,
    /// Scene seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `--rrd FILE` / `--connect URL`: rerun visualisation of the tracked
    /// sequences (each under its own name; the extra run without loop
    /// closure is not recorded).
    #[command(flatten)]
    viz: VizArgs,
}

/// The real fr1_xyz ground truth, when ../shared/data (or
/// `CAIRN_SHARED_DATA`) has it.
fn real_motion() -> Option<PathBuf> {
    let data = std::env::var_os("CAIRN_SHARED_DATA").map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from);
    let file = data.join("trajectories/tum_fr1_xyz_groundtruth.txt");
    file.is_file().then_some(file)
}

/// Runs `cairn demo` and returns its report.
pub fn run(args: &DemoArgs) -> Result<String> {
    let mut sequences: Vec<(String, CameraPath)> = Vec::new();
    match real_motion() {
        Some(file) => sequences
            .push(("office_fr1_xyz".into(), CameraPath::Recorded { path: file, format: TrajectoryFormat::Tum })),
        None => {
            eprintln!("note: ../shared/data is absent; using a generated figure eight instead of the fr1_xyz motion");
            sequences.push(("office_figure8".into(), CameraPath::Generated { shape: PathShape::Figure8, laps: 1.0 }));
        }
    }
    sequences.push(("office_loop_2laps".into(), CameraPath::Generated { shape: PathShape::Loop, laps: 2.0 }));

    let recorder = Recorder::open(&args.viz, "cairn_demo")?;
    let scene = Scene::generate(SceneKind::Office, args.seed);
    let camera = RgbdCamera::tum_fr1()?;
    let mut report = String::from("cairn demo: cairn-sim office (TUM fr1 camera, Kinect-like noise) → cairn slam\n");
    for (name, path) in sequences {
        let revisits = matches!(path, CameraPath::Generated { shape: PathShape::Loop, .. });
        let dir = args.out.join(format!("{name}_seed{}", args.seed));
        let done = dir.join(".rendered");
        if !done.exists() {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("clearing the unfinished {}", dir.display()))?;
            }
            let options = SequenceOptions { frames: args.frames, noise: true, noise_seed: args.seed, path };
            let bar = crate::progress::bar(format!("rendering {name}"), "frames");
            render_rgbd_sequence(&scene, &camera, &options, &dir, |p| {
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
            })
            .with_context(|| format!("rendering {}", dir.display()))?;
            bar.finish_and_clear();
            std::fs::write(&done, "").with_context(|| format!("writing {}", done.display()))?;
        }
        let estimate = dir.join("est.tum");
        let slam_args = SlamArgs { frames: args.frames, ..SlamArgs::new(dir.clone(), estimate.clone()) };
        let mut summary = slam::run_recorded(&slam_args, &recorder.scoped(&name))
            .with_context(|| format!("tracking {}", dir.display()))?;
        if revisits {
            // The same sequence without loop closure, to show what it removes.
            let out = dir.join("est_without_loops.tum");
            let without = SlamArgs { loop_closure: LoopArg::None, out, ..slam_args };
            let text = slam::run(&without).with_context(|| format!("tracking {}", dir.display()))?;
            let ate = text.lines().find(|l| l.starts_with("ATE")).unwrap_or("ATE: not computed");
            summary.push_str(&format!("without loop closure (--loop none): {ate}\n"));
        }
        let plot = dir.join("trajectory.png");
        plot_top_down(&dir.join("groundtruth.txt"), &estimate, &plot)?;
        report.push_str(&format!("\n== {name} ({})\n{summary}plot: {}\n", dir.display(), plot.display()));
    }
    Ok(report)
}

/// Draws the ground truth (black) and the SE(3)-aligned estimate (red) seen
/// from above (x right, y up) into a PNG.
fn plot_top_down(groundtruth: &Path, estimate: &Path, png: &Path) -> Result<()> {
    let reference = Trajectory::read(groundtruth, TrajectoryFormat::Tum)?;
    let estimate = Trajectory::read(estimate, TrajectoryFormat::Tum)?;
    // An estimate that never moved (every frame lost) cannot be aligned:
    // plot it as it is.
    let (reference, aligned, _) = [Alignment::Se3, Alignment::None]
        .into_iter()
        .find_map(|align| metrics::prepare(&reference, &estimate, &EvalOptions { align, ..Default::default() }).ok())
        .with_context(|| format!("associating {} with {}", estimate.name, reference.name))?;
    let gt: Vec<[f64; 2]> = reference.positions().map(|p| [p.x, p.y]).collect();
    let est: Vec<[f64; 2]> = aligned.positions().map(|p| [p.x, p.y]).collect();
    let (size, margin) = (800u32, 40.0);
    let all = gt.iter().chain(&est);
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in all {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]).max(1e-3);
    let available = f64::from(size) - 2.0 * margin;
    let scale = available / span;
    // Centre the shorter side.
    let pad = [(available - (hi[0] - lo[0]) * scale) / 2.0, (available - (hi[1] - lo[1]) * scale) / 2.0];
    let to_pixel = |p: &[f64; 2]| -> (f64, f64) {
        (margin + pad[0] + (p[0] - lo[0]) * scale, f64::from(size) - margin - pad[1] - (p[1] - lo[1]) * scale)
    };
    let mut image = image::RgbImage::from_pixel(size, size, image::Rgb([255, 255, 255]));
    for (points, colour) in [(&gt, [0u8, 0, 0]), (&est, [220u8, 30, 30])] {
        for pair in points.windows(2) {
            draw_line(&mut image, to_pixel(&pair[0]), to_pixel(&pair[1]), colour);
        }
    }
    image.save_with_format(png, image::ImageFormat::Png).with_context(|| format!("writing {}", png.display()))?;
    Ok(())
}

/// A one-pixel line from `a` to `b` (sampled at half-pixel steps).
fn draw_line(image: &mut image::RgbImage, a: (f64, f64), b: (f64, f64), colour: [u8; 3]) {
    let steps = (2.0 * (b.0 - a.0).abs().max((b.1 - a.1).abs())).ceil().max(1.0) as usize;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let (x, y) = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
        if x >= 0.0 && y >= 0.0 && (x as u32) < image.width() && (y as u32) < image.height() {
            image.put_pixel(x as u32, y as u32, image::Rgb(colour));
        }
    }
}
