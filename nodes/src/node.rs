//! `cairn node slam [--params FILE] [--save DIR]`: the SLAM node on ROS 2.
//!
//! It subscribes to colour and depth `sensor_msgs/Image` and the colour
//! `CameraInfo` (sensor-data QoS), pairs the images by stamp, runs
//! [`cairn_slam::Slam`] and publishes `nav_msgs/Odometry`, `/tf`
//! (map → odom → camera, REP-105), the keyframe `nav_msgs/Path` and loop
//! markers, stamped like the source image ([`crate::ros`]). When it falls
//! behind the camera it processes the newest pair and counts the others as
//! skipped. SIGINT or SIGTERM stops it cleanly; it then prints a summary and,
//! with `--save DIR`, writes the trajectory, the per-frame log and the
//! summary there.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use cairn_bags::msg::sensor_msgs::Image;
use clap::{Args, Subcommand};

use crate::ros::dds::{self, OutputPublishers, Received, RosNode};
use crate::ros::params::NodeConfig;
use crate::ros::pipeline::{Input, SlamPipeline};
use crate::slam::LoopArg;
use crate::viz::{Recorder, VizArgs};

/// `cairn node …`: ROS 2 nodes.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// RGB-D SLAM on ROS 2 topics: images and camera_info in; odometry, tf
    /// (map → odom → camera), path and loop markers out.
    Slam(NodeSlamArgs),
    /// CMT 3D detection on ROS 2 topics: N cameras (Image + CameraInfo), a
    /// PointCloud2 and /tf_static in; vision_msgs/Detection3DArray and a
    /// MarkerArray out; from the cameras alone while the LiDAR is silent.
    Detect(crate::node_detect::NodeDetectArgs),
}

/// Arguments of `cairn node slam`.
#[derive(Debug, Args)]
pub struct NodeSlamArgs {
    /// ROS 2 parameter file (as config/slam.yaml): SLAM parameters plus
    /// topics.*, frames.* and node.*; missing ones default.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// On shutdown, write trajectory.tum, frames.log and summary.txt here.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
    /// Loop closure, as `cairn slam --loop`: `fpfh` (L3D pipeline with FPFH
    /// descriptors; loops move map → odom) or `none`. In the node it runs
    /// on a worker thread of its own (0.2–0.35 s per keyframe on a
    /// laptop-class CPU), so tracking keeps camera rate and loop edges
    /// arrive a few keyframes late. Off by default (scripts/node-load
    /// measures both).
    #[arg(long = "loop", value_enum, default_value_t = LoopArg::None)]
    pub loop_closure: LoopArg,
    /// `--rrd FILE` / `--connect URL`: rerun visualisation of every
    /// processed frame (logged on the tracking thread).
    #[command(flatten)]
    pub viz: VizArgs,
}

/// Runs a `cairn node` command until it is stopped.
pub fn run(command: &NodeCommand) -> Result<String> {
    match command {
        NodeCommand::Slam(args) => run_slam(args),
        NodeCommand::Detect(args) => crate::node_detect::run(args),
    }
}

fn run_slam(args: &NodeSlamArgs) -> Result<String> {
    let config = NodeConfig::read(args.params.as_deref())?;
    let params = &config.node;
    let recorder = Recorder::open(&args.viz, "cairn_node_slam")?;
    eprintln!("[cairn_slam] parameters (ros2-client, ROS 2 {}):", ros2_client::COMPILED_ROS_DISTRO);
    for line in params.log_lines()? {
        eprintln!("[cairn_slam]   {line}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let mut ros = RosNode::new(&params.node.namespace, &params.node.name)?;
    let publishers = OutputPublishers::new(&mut ros, params)?;
    let (sender, receiver) = mpsc::channel();
    let receiving = dds::receive(&mut ros, &params.topics, sender, Arc::clone(&stop))?;
    eprintln!("[cairn_slam] running as {}; SIGINT or SIGTERM stops it", ros.node.fully_qualified_name());
    let mut pipeline = SlamPipeline::new(params.clone(), config.slam.clone())
        .with_loop_closure(args.loop_closure)
        .with_background_loops(true)
        .with_recorder(recorder);
    let mut stats = RunStats::default();
    let outcome = spin(&mut pipeline, &receiver, &publishers, &stop, &mut stats);
    stop.store(true, Ordering::Relaxed);
    let _ = receiving.join();
    // Colour images still waiting for a later depth image are decided now.
    while let Some((rgb, depth)) = pipeline.next_pair(true) {
        publish_frame(&mut pipeline, &publishers, &mut stats, &rgb, &depth);
    }
    drop(publishers);
    ros.shutdown();
    pipeline.finish();
    pipeline.finish_recording();
    outcome?;
    let summary = stats.summary(&pipeline);
    if let Some(dir) = &args.save {
        save(dir, &pipeline, &summary)?;
    }
    Ok(summary)
}

/// A median stamp-to-publication delay beyond this (seconds) means the
/// stamps are not wall-clock time (bag or simulated time): no latency is
/// reported then.
const MAX_PLAUSIBLE_LATENCY_S: f64 = 10.0;

/// What the loop counted besides the pipeline's own records.
#[derive(Debug, Default)]
struct RunStats {
    /// Colour images received.
    colour: usize,
    /// Seconds from each processed image's stamp to its outputs' publication.
    latencies: Vec<f64>,
}

/// The node's loop: take in messages, process the newest ready pair,
/// publish; until `stop`.
fn spin(
    pipeline: &mut SlamPipeline,
    receiver: &Receiver<Received>,
    publishers: &OutputPublishers,
    stop: &AtomicBool,
    stats: &mut RunStats,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let first = match receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(received) => received,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        for received in std::iter::once(first).chain(receiver.try_iter()) {
            match received {
                Received::Message(input) => {
                    stats.colour += usize::from(matches!(input, Input::Rgb(_)));
                    pipeline.push(input);
                }
                Received::Bad(cause, detail) => pipeline.problems.report(cause, &detail),
            }
        }
        let mut ready: Vec<_> = std::iter::from_fn(|| pipeline.next_pair(false)).collect();
        let Some((rgb, depth)) = ready.pop() else { continue };
        for _ in ready {
            pipeline.skip();
        }
        publish_frame(pipeline, publishers, stats, &rgb, &depth);
    }
    Ok(())
}

/// Processes one pair and publishes its outputs, timing the latency.
fn publish_frame(
    pipeline: &mut SlamPipeline,
    publishers: &OutputPublishers,
    stats: &mut RunStats,
    rgb: &Image,
    depth: &Image,
) {
    if let Some(outputs) = pipeline.process(rgb, depth) {
        if let Err(error) = publishers.publish(outputs) {
            pipeline.problems.report("publishing failed", &format!("{error:#}"));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        stats.latencies.push(now - rgb.header.stamp.as_secs_f64());
    }
}

impl RunStats {
    /// Counts, drops by cause and latency percentiles.
    fn summary(&self, pipeline: &SlamPipeline) -> String {
        let frames = &pipeline.frames;
        let keyframes = frames.iter().filter(|f| f.tracking.new_keyframe).count();
        let lost = frames.iter().filter(|f| !f.tracking.tracking_state.is_tracked()).count();
        let mut text = format!(
            "{} colour images received, {} frames processed ({keyframes} keyframes, {lost} lost), {} dropped\n",
            self.colour,
            frames.len(),
            self.colour.saturating_sub(frames.len())
        );
        let (kept, dropped) = pipeline.loop_edges();
        if kept + dropped > 0 {
            text.push_str(&format!("  loop closures: {kept} edges in the pose graph, {dropped} dropped as outliers\n"));
        }
        for (cause, count) in pipeline.problems.counts() {
            text.push_str(&format!("  dropped or failed: {count} × {cause}\n"));
        }
        if pipeline.overflowed() > 0 {
            text.push_str(&format!("  {} colour images overflowed the sync queue\n", pipeline.overflowed()));
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        match (percentile(&sorted, 0.5), percentile(&sorted, 0.99)) {
            (Some(p50), Some(p99)) if (0.0..=MAX_PLAUSIBLE_LATENCY_S).contains(&p50) => text.push_str(&format!(
                "latency camera stamp → odometry published: p50 {:.1} ms, p99 {:.1} ms (over {} frames)\n",
                1e3 * p50,
                1e3 * p99,
                sorted.len()
            )),
            (Some(_), Some(_)) => {
                text.push_str("latency: not measured (the image stamps are not wall-clock time, e.g. bag time)\n")
            }
            _ => {}
        }
        text
    }
}

/// The `q` quantile of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    sorted.get(((q * sorted.len() as f64).ceil() as usize).saturating_sub(1).min(last)).copied()
}

/// `--save DIR`: the final trajectory, the per-frame log and the summary.
fn save(dir: &Path, pipeline: &SlamPipeline, summary: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    crate::slam::write_trajectory(&dir.join("trajectory.tum"), &pipeline.trajectory())?;
    crate::slam::write_frame_log(&dir.join("frames.log"), &pipeline.frames)?;
    let file = dir.join("summary.txt");
    std::fs::write(&file, summary).with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(50.0));
        assert_eq!(percentile(&values, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
