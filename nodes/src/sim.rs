//! `cairn sim …`: render synthetic sensor data with ground truth (`rgbd`:
//! TUM RGB-D folders; `drive`: multi-modal street samples).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_core::trajectory::TrajectoryFormat;
use cairn_sim::drive::{DriveOptions, write_drives};
use cairn_sim::rig::Rig;
use cairn_sim::{CameraPath, PathShape, RgbdCamera, Scene, SceneKind, SequenceOptions, render_rgbd_sequence};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

/// The `sim` subcommands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Render an RGB-D sequence as a TUM RGB-D folder (rgb/, depth/, rgb.txt,
    /// depth.txt, groundtruth.txt, calib.yaml).
    Rgbd(RgbdArgs),
    /// Drive down a synthetic street and write multi-modal samples (LiDAR
    /// .pcd.bin, six camera PNGs, 3D boxes) as an mmdet3d sample_info.json set.
    Drive(DriveArgs),
}

/// Arguments of `cairn sim drive`.
#[derive(Debug, Args)]
pub struct DriveArgs {
    /// Output folder (created; must not hold a sample set already).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of samples, 0.5 s apart (nuScenes keyframes).
    #[arg(long)]
    samples: usize,
    /// Street seed: same seed, same street, same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Streets to drive, seeds SEED, SEED+1, …, with SAMPLES samples each,
    /// into one set (a training or evaluation set from one command).
    #[arg(long, default_value_t = 1)]
    streets: usize,
    /// LiDAR range noise and dropout.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    noise: Switch,
    /// Image size relative to the rig's 1600×900 (intrinsics scale along).
    #[arg(long, default_value_t = 1.0)]
    image_scale: f64,
    /// Sensor rig JSON (default: the built-in calib/nuscenes_rig.json).
    #[arg(long, value_name = "FILE")]
    rig: Option<PathBuf>,
}

/// Arguments of `cairn sim rgbd`.
#[derive(Debug, Args)]
pub struct RgbdArgs {
    /// Output folder (created; must not hold a sequence already).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Scene to render.
    #[arg(long, default_value = "office")]
    scene: String,
    /// Scene seed: same seed, same scene, same bytes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Drive the camera with a recorded TUM or KITTI trajectory (re-anchored
    /// into the scene, resampled at 30 Hz).
    #[arg(long, value_name = "FILE", conflicts_with = "path")]
    trajectory: Option<PathBuf>,
    /// Format of `--trajectory`.
    #[arg(long, value_enum, default_value_t = FormatArg::Tum)]
    format: FormatArg,
    /// A generated path that revisits places (for loop closure).
    #[arg(long, value_enum)]
    path: Option<PathArg>,
    /// Laps of the generated path.
    #[arg(long, default_value_t = 1.0)]
    laps: f64,
    /// Frames to render (default: the whole recording; 300 for generated paths).
    #[arg(long)]
    frames: Option<usize>,
    /// Kinect-like depth noise and holes, and RGB noise.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    noise: Switch,
    /// Camera calibration (ROS camera_info YAML).
    #[arg(long, value_name = "FILE")]
    calib: Option<PathBuf>,
}

/// Trajectory file format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// `timestamp tx ty tz qx qy qz qw`
    Tum,
    /// 3×4 row-major poses, read as 10 Hz (KITTI's rate)
    Kitti,
}

/// Generated camera paths.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PathArg {
    /// laps around the room, looking inwards
    Loop,
    /// a figure eight through the room
    Figure8,
    /// laps of a rounded rectangle near the walls, looking ahead (a corridor patrol)
    Corridor,
}

/// On/off switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// enabled
    On,
    /// disabled
    Off,
}

/// Runs one `sim` subcommand and returns what it prints.
pub fn run(command: &SimCommand) -> Result<String> {
    match command {
        SimCommand::Rgbd(args) => rgbd(args),
        SimCommand::Drive(args) => drive(args),
    }
}

fn drive(args: &DriveArgs) -> Result<String> {
    if args.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let rig = match &args.rig {
        Some(file) => Rig::from_json_file(file)?,
        None => Rig::nuscenes()?,
    };
    let options = DriveOptions {
        samples: args.samples,
        seed: args.seed,
        noise: args.noise == Switch::On,
        image_scale: args.image_scale,
        ..Default::default()
    };
    let bar = ProgressBar::new((args.samples * args.streets.max(1)) as u64).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} samples [{elapsed_precise} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(match args.streets {
        1 => format!("driving street (seed {})", args.seed),
        n => format!("driving {n} streets (seeds {}–{})", args.seed, args.seed + n as u64 - 1),
    });
    if args.streets == 0 {
        bail!("--streets must be at least 1");
    }
    let set = write_drives(&options, args.streets, &rig, &args.out, |p| bar.set_position(p.done as u64))
        .with_context(|| format!("writing samples into {}", args.out.display()))?;
    bar.finish_and_clear();
    let boxes: usize = set.data_list.iter().map(|s| s.instances.len()).sum();
    Ok(format!(
        "wrote {} samples ({} cameras, LiDAR, {boxes} boxes) to {}\n",
        set.data_list.len(),
        rig.cameras.len(),
        args.out.display()
    ))
}

fn rgbd(args: &RgbdArgs) -> Result<String> {
    let kind: SceneKind = args.scene.parse()?;
    let path = match (&args.trajectory, args.path) {
        (Some(file), _) => CameraPath::Recorded {
            path: file.clone(),
            format: match args.format {
                FormatArg::Tum => TrajectoryFormat::Tum,
                FormatArg::Kitti => TrajectoryFormat::Kitti,
            },
        },
        (None, shape) => {
            if !(args.laps > 0.0 && args.laps.is_finite()) {
                bail!("--laps must be positive, got {}", args.laps);
            }
            let shape = match shape.unwrap_or(PathArg::Loop) {
                PathArg::Loop => PathShape::Loop,
                PathArg::Figure8 => PathShape::Figure8,
                PathArg::Corridor => PathShape::Corridor,
            };
            CameraPath::Generated { shape, laps: args.laps }
        }
    };
    let camera = match &args.calib {
        Some(file) => RgbdCamera::from_yaml_file(file)?,
        None => RgbdCamera::tum_fr1()?,
    };
    let scene = Scene::generate(kind, args.seed);
    let options = SequenceOptions { frames: args.frames, noise: args.noise == Switch::On, noise_seed: args.seed, path };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} frames [{elapsed_precise} < {eta}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(format!("rendering {kind} (seed {})", args.seed));
    let trajectory = render_rgbd_sequence(&scene, &camera, &options, &args.out, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })
    .with_context(|| format!("rendering into {}", args.out.display()))?;
    bar.finish_and_clear();
    Ok(format!("wrote {} RGB-D frames with ground truth to {}\n", trajectory.len(), args.out.display()))
}
