//! `cairn bag …`: inspect, export and convert rosbag2 bags (directories,
//! `.mcap`, `.db3`), and convert dataset folders (TUM RGB-D, sample sets)
//! to and from bags.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use cairn_bags::cdr;
use cairn_bags::dataset::{self, ToTumOptions};
use cairn_bags::msg::geometry_msgs::{PoseStamped, PoseWithCovarianceStamped};
use cairn_bags::msg::nav_msgs::Odometry;
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::storage::{Bag, BagInfo, StorageKind};
use cairn_core::Trajectory;
use cairn_core::trajectory::TrajectoryFormat;
use cairn_core::transform::Rigid3;
use clap::{Args, Subcommand};

use crate::progress;

/// The `bag` subcommands.
#[derive(Debug, Subcommand)]
pub enum BagCommand {
    /// Storage, duration, start/end and messages per topic (like `ros2 bag info`).
    Info(InfoArgs),
    /// Write a pose topic as a TUM trajectory (Odometry, PoseStamped,
    /// PoseWithCovarianceStamped, or a TFMessage edge with --frame/--child-frame).
    Export(ExportArgs),
    /// Convert a TUM RGB-D folder into a bag with TUM's topics
    /// (/camera/rgb/image_color, /camera/depth/image, /camera/rgb/camera_info,
    /// ground truth on /tf as world → kinect).
    FromTum(FromTumArgs),
    /// Write a bag's colour and depth image topics as a TUM RGB-D folder
    /// (depth PNGs ×5000; calib.yaml from camera_info; groundtruth.txt from /tf).
    ToTum(ToTumArgs),
    /// Convert a multi-modal sample set (DIR/sample_info.json) into a bag
    /// (/CAM_*/image_raw rgb8, /CAM_*/camera_info, /LIDAR_TOP, /tf_static,
    /// /tf, /LIDAR_TOP/gt_boxes), MCAP or sqlite3.
    FromSamples(FromSamplesArgs),
}

/// Arguments of `cairn bag from-tum`.
#[derive(Debug, Args)]
pub struct FromTumArgs {
    /// TUM RGB-D folder (rgb.txt, depth.txt, rgb/, depth/, optional groundtruth.txt).
    dir: PathBuf,
    /// Output bag directory (must not exist).
    #[arg(long, value_name = "BAG")]
    out: PathBuf,
    /// Camera calibration (ROS camera_info YAML); default: DIR/calib.yaml, else
    /// fr1/fr2/fr3 from the folder name.
    #[arg(long, value_name = "FILE")]
    calib: Option<PathBuf>,
}

/// Arguments of `cairn bag to-tum`.
#[derive(Debug, Args)]
pub struct ToTumArgs {
    /// A rosbag2 directory, or a bare .mcap or .db3 file.
    bag: PathBuf,
    /// Output folder (must not hold a sequence).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Colour image topic.
    #[arg(long, value_name = "TOPIC", default_value = dataset::tum_topics::RGB)]
    rgb: String,
    /// Depth image topic (16UC1 millimetres or 32FC1 metres).
    #[arg(long, value_name = "TOPIC", default_value = dataset::tum_topics::DEPTH)]
    depth: String,
    /// Camera info topic written as calib.yaml (skipped when absent).
    #[arg(long, value_name = "TOPIC", default_value = dataset::tum_topics::CAMERA_INFO)]
    camera_info: String,
    /// Parent frame of the /tf edge written as groundtruth.txt.
    #[arg(long, value_name = "PARENT", default_value = dataset::tum_topics::WORLD_FRAME)]
    frame: String,
    /// Child frame of the /tf edge written as groundtruth.txt.
    #[arg(long, value_name = "CHILD", default_value = dataset::tum_topics::CAMERA_FRAME)]
    child_frame: String,
    /// Write everything before a truncated or corrupt part of the bag (and
    /// say what is broken) instead of failing.
    #[arg(long)]
    recover: bool,
}

/// Arguments of `cairn bag from-samples`.
#[derive(Debug, Args)]
pub struct FromSamplesArgs {
    /// Sample set folder (sample_info.json and the files it names).
    dir: PathBuf,
    /// Output bag directory (must not exist).
    #[arg(long, value_name = "BAG")]
    out: PathBuf,
    /// Storage format of the bag.
    #[arg(long, value_enum, default_value_t = StorageArg::Mcap)]
    format: StorageArg,
}

/// rosbag2 storage formats cairn writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageArg {
    /// One `.mcap` file (rosbag2's default since Iron).
    Mcap,
    /// One `.db3` sqlite3 file.
    Sqlite3,
}

/// Arguments of `cairn bag export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A rosbag2 directory, or a bare .mcap or .db3 file.
    bag: PathBuf,
    /// The topic to export.
    #[arg(long)]
    topic: String,
    /// Output format (TUM: `timestamp tx ty tz qx qy qz qw`, stamps from the
    /// message headers).
    #[arg(long, default_value = "tum", value_parser = ["tum"])]
    format: String,
    /// Output file.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// TFMessage topics: the parent frame of the exported edge.
    #[arg(long, value_name = "PARENT")]
    frame: Option<String>,
    /// TFMessage topics: the child frame of the exported edge.
    #[arg(long, value_name = "CHILD")]
    child_frame: Option<String>,
    /// Export every pose before a truncated or corrupt part of the bag (and
    /// say what is broken) instead of failing.
    #[arg(long)]
    recover: bool,
}

/// Arguments of `cairn bag info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A rosbag2 directory, or a bare .mcap or .db3 file.
    bag: PathBuf,
    /// Print one JSON object: storage, duration_ns, start_ns, end_ns,
    /// message_count, topics [{name, type, count}].
    #[arg(long)]
    json: bool,
    /// Report the intact part of a truncated or corrupt bag (and what is
    /// broken, on stderr) instead of failing.
    #[arg(long)]
    recover: bool,
}

/// Runs one `bag` subcommand and returns what it prints.
pub fn run(command: &BagCommand) -> Result<String> {
    match command {
        BagCommand::Info(args) => info(args),
        BagCommand::Export(args) => export(args),
        BagCommand::FromTum(args) => from_tum(args),
        BagCommand::ToTum(args) => to_tum(args),
        BagCommand::FromSamples(args) => from_samples(args),
    }
}

/// `(stamp in seconds, parent_from_child)` poses of one message.
fn poses_of(type_name: &str, data: &[u8], edge: Option<(&str, &str)>) -> Result<Vec<(f64, Rigid3)>> {
    Ok(match type_name {
        "nav_msgs/msg/Odometry" => {
            let m: Odometry = cdr::decode(data)?;
            vec![(m.header.stamp.as_secs_f64(), m.pose.pose.to_rigid()?)]
        }
        "geometry_msgs/msg/PoseStamped" => {
            let m: PoseStamped = cdr::decode(data)?;
            vec![(m.header.stamp.as_secs_f64(), m.pose.to_rigid()?)]
        }
        "geometry_msgs/msg/PoseWithCovarianceStamped" => {
            let m: PoseWithCovarianceStamped = cdr::decode(data)?;
            vec![(m.header.stamp.as_secs_f64(), m.pose.pose.to_rigid()?)]
        }
        // TUM's ROS 1 `tf/tfMessage` has the same layout once converted.
        "tf2_msgs/msg/TFMessage" | "tf/msg/tfMessage" => {
            let Some((parent, child)) = edge else {
                bail!("a TFMessage topic needs --frame PARENT --child-frame CHILD")
            };
            cdr::decode::<TFMessage>(data)?.edge_poses(parent, child)?
        }
        other => bail!(
            "{other} is not a pose type: export supports nav_msgs/msg/Odometry, geometry_msgs/msg/PoseStamped, \
             geometry_msgs/msg/PoseWithCovarianceStamped and tf2_msgs/msg/TFMessage"
        ),
    })
}

fn from_tum(args: &FromTumArgs) -> Result<String> {
    let bar = progress::bar(format!("{} → bag", args.dir.display()), "messages");
    let summary = dataset::tum_to_bag(&args.dir, args.calib.as_deref(), &args.out, &mut progress::callback(&bar))
        .with_context(|| format!("converting {}", args.dir.display()))?;
    bar.finish_and_clear();
    Ok(format!("wrote {}:\n{}", summary.out.display(), summary.describe()))
}

fn to_tum(args: &ToTumArgs) -> Result<String> {
    let options = ToTumOptions {
        rgb_topic: args.rgb.clone(),
        depth_topic: args.depth.clone(),
        camera_info_topic: args.camera_info.clone(),
        groundtruth_edge: (args.frame.clone(), args.child_frame.clone()),
        recover: args.recover,
    };
    let bar = progress::bar(format!("{} → TUM", args.bag.display()), "messages");
    let summary = dataset::bag_to_tum(&args.bag, &options, &args.out, &mut progress::callback(&bar))
        .with_context(|| format!("converting {}", args.bag.display()))
        .context(if args.recover { "" } else { "rerun with --recover to keep the intact part" })?;
    bar.finish_and_clear();
    if let Some(problem) = &summary.problem {
        eprintln!("warning: {problem}; wrote the messages before it");
    }
    Ok(format!("wrote {}:\n{}", summary.out.display(), summary.describe()))
}

fn from_samples(args: &FromSamplesArgs) -> Result<String> {
    let bar = progress::bar(format!("{} → bag", args.dir.display()), "samples");
    let kind = match args.format {
        StorageArg::Mcap => StorageKind::Mcap,
        StorageArg::Sqlite3 => StorageKind::Sqlite3,
    };
    let summary = dataset::samples_to_bag_as(&args.dir, &args.out, kind, &mut progress::callback(&bar))
        .with_context(|| format!("converting {}", args.dir.display()))?;
    bar.finish_and_clear();
    Ok(format!("wrote {}:\n{}", summary.out.display(), summary.describe()))
}

fn export(args: &ExportArgs) -> Result<String> {
    let spinner = progress::spinner(format!("reading {}", args.bag.display()));
    let bag = if args.recover { Bag::open_recover(&args.bag) } else { Bag::open(&args.bag) };
    spinner.finish_and_clear();
    let bag = bag
        .with_context(|| format!("opening {}", args.bag.display()))
        .context("rerun with --recover to export the intact part")?;
    for problem in &bag.problems {
        eprintln!("warning: {problem}; exporting the poses before it");
    }
    let Some(index) = bag.connection_index(&args.topic) else {
        let topics: Vec<&str> = bag.connections.iter().map(|c| c.topic.as_str()).collect();
        bail!("no topic {} in {} (topics: {})", args.topic, args.bag.display(), topics.join(", "));
    };
    let type_name = bag.connections[index].type_name.clone();
    let edge = args.frame.as_deref().zip(args.child_frame.as_deref());
    let (mut stamps, mut poses) = (Vec::new(), Vec::new());
    let bar = progress::bar(format!("exporting {}", args.topic), "messages");
    bar.set_length(bag.info().topics.iter().find(|t| t.name == args.topic).map_or(0, |t| t.count));
    for (n, message) in bag.messages(&[args.topic.as_str()])?.enumerate() {
        bar.set_position(n as u64);
        let message = match message {
            Ok(message) => message,
            Err(e) if args.recover => {
                eprintln!("warning: {e}; exporting the {} poses before it", poses.len());
                break;
            }
            Err(e) => return Err(e).context("rerun with --recover to export the intact part"),
        };
        let found = poses_of(&type_name, &message.data, edge)
            .with_context(|| format!("message {n} on {} ({type_name})", args.topic))?;
        for (stamp, pose) in found {
            stamps.push(stamp);
            poses.push(pose);
        }
    }
    bar.finish_and_clear();
    if poses.is_empty() {
        bail!("no poses on {} ({type_name}); for TF check --frame/--child-frame", args.topic);
    }
    let trajectory = Trajectory::with_stamps(args.topic.clone(), stamps, poses)?;
    trajectory.write(&args.out, TrajectoryFormat::Tum)?;
    Ok(format!("wrote {} poses of {} to {}\n", trajectory.len(), args.topic, args.out.display()))
}

fn info(args: &InfoArgs) -> Result<String> {
    // Opening reads the summary, or scans a bag that has none (long for a
    // big bag whose recorder was killed).
    let spinner = progress::spinner(format!("reading {}", args.bag.display()));
    let bag = if args.recover { Bag::open_recover(&args.bag) } else { Bag::open(&args.bag) };
    spinner.finish_and_clear();
    let bag = bag
        .with_context(|| format!("opening {}", args.bag.display()))
        .context("rerun with --recover to report the intact part")?;
    for problem in &bag.problems {
        eprintln!("warning: {problem}; counting the messages before it");
    }
    let info = bag.info();
    Ok(if args.json { format!("{}\n", json(info)) } else { pretty(info) })
}

fn json(info: &BagInfo) -> serde_json::Value {
    let topics: Vec<_> = info
        .topics
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "type": t.type_name, "count": t.count}))
        .collect();
    serde_json::json!({
        "storage": info.storage.identifier(), "duration_ns": info.duration_ns(),
        "start_ns": info.start_ns, "end_ns": info.end_ns,
        "message_count": info.message_count, "topics": topics,
    })
}

fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

fn pretty(info: &BagInfo) -> String {
    let files: Vec<String> = info.files.iter().map(|f| f.display().to_string()).collect();
    let size: u64 = info.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut out = format!(
        "Files:             {}\nBag size:          {:.1} MiB\nStorage id:        {}\nDuration:          {}s\n\
         Start:             {} s\nEnd:               {} s\nMessages:          {}\nTopic information:",
        files.join("\n                   "),
        size as f64 / (1024.0 * 1024.0),
        info.storage.identifier(),
        seconds(info.duration_ns()),
        seconds(info.start_ns),
        seconds(info.end_ns),
        info.message_count,
    );
    for (i, t) in info.topics.iter().enumerate() {
        let indent = if i == 0 { " " } else { "\n                   " };
        out.push_str(&format!("{indent}Topic: {} | Type: {} | Count: {}", t.name, t.type_name, t.count));
    }
    out.push('\n');
    out
}
