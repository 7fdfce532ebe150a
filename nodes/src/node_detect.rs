//! `cairn node detect [--params FILE] [--model DIR] [--save DIR]`: the CMT
//! detection node on ROS 2.
//!
//! It subscribes to N cameras (Image + CameraInfo), a PointCloud2, /tf_static
//! (or reads a calibration file) and /tf, synchronises them
//! ([`crate::ros::detect_sync`]), runs CMT on each set exactly as `cairn
//! detect` does on a sample set, and publishes `vision_msgs/Detection3DArray`
//! and a `visualization_msgs/MarkerArray`, stamped like the set. When the
//! LiDAR goes silent it detects from the cameras alone (and says so once);
//! a silent camera is masked. When it falls behind it processes the newest
//! set and counts the others as skipped. SIGINT or SIGTERM stops it; it
//! prints a summary (with the receive → publish latency) and, with
//! `--save DIR`, writes it to `DIR/summary.txt`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cairn_perception::cmt::Cmt;
use clap::Args;

use crate::ros::dds::{self, DetectPublishers, Received, RosNode};
use crate::ros::detect_params::{DetectParams, NODE_NAME};
use crate::ros::detect_pipeline::{DetectInput, DetectPipeline, Set};

/// Arguments of `cairn node detect`.
#[derive(Debug, Args)]
pub struct NodeDetectArgs {
    /// ROS 2 parameter file (as config/detect.yaml); missing ones default.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// CMT checkpoint folder (cmt.json + cmt.safetensors); overrides the
    /// `model` parameter.
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// On shutdown, write summary.txt here.
    #[arg(long, value_name = "DIR")]
    pub save: Option<PathBuf>,
}

/// What the loop counted besides the pipeline's own records.
#[derive(Debug, Default)]
struct RunStats {
    /// Sweeps and images received.
    clouds: usize,
    images: usize,
    /// Seconds from the last message of each processed set to its publication.
    latencies: Vec<f64>,
}

/// Runs the node until SIGINT/SIGTERM; returns its summary.
pub fn run(args: &NodeDetectArgs) -> Result<String> {
    let mut params = DetectParams::read(args.params.as_deref())?;
    if let Some(model) = &args.model {
        params.model = model.display().to_string();
    }
    if params.model.is_empty() {
        bail!("no model: give --model DIR or the `model` parameter");
    }
    let network =
        Cmt::load(Path::new(&params.model)).with_context(|| format!("loading the network {}", params.model))?;
    eprintln!("[{NODE_NAME}] parameters (ros2-client, ROS 2 {}):", ros2_client::COMPILED_ROS_DISTRO);
    for line in params.log_lines()? {
        eprintln!("[{NODE_NAME}]   {line}");
    }
    let mut pipeline = DetectPipeline::new(params.clone(), network)?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let mut ros = RosNode::new(&params.node.namespace, &params.node.name)?;
    let publishers = DetectPublishers::new(&mut ros, &params)?;
    let (sender, receiver) = mpsc::channel();
    let epoch = Instant::now();
    let receiving = dds::receive_detect(&mut ros, &params, sender, Arc::clone(&stop), epoch)?;
    eprintln!("[{NODE_NAME}] running as {}; SIGINT or SIGTERM stops it", ros.node.fully_qualified_name());
    let mut stats = RunStats::default();
    spin(&mut pipeline, &receiver, &publishers, &stop, &mut stats, epoch);
    stop.store(true, Ordering::Relaxed);
    let _ = receiving.join();
    drop(publishers);
    ros.shutdown();
    let summary = stats.summary(&pipeline);
    if let Some(dir) = &args.save {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let file = dir.join("summary.txt");
        std::fs::write(&file, &summary).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(summary)
}

/// The node's loop: take in messages, process the newest ready set,
/// publish; until `stop`.
fn spin(
    pipeline: &mut DetectPipeline,
    receiver: &Receiver<Received<(f64, DetectInput)>>,
    publishers: &DetectPublishers,
    stop: &AtomicBool,
    stats: &mut RunStats,
    epoch: Instant,
) {
    while !stop.load(Ordering::Relaxed) {
        match receiver.recv_timeout(Duration::from_millis(20)) {
            Ok(first) => {
                for received in std::iter::once(first).chain(receiver.try_iter()) {
                    match received {
                        Received::Message((at, input)) => {
                            stats.clouds += usize::from(matches!(input, DetectInput::Points(_)));
                            stats.images += usize::from(matches!(input, DetectInput::Image(..)));
                            pipeline.push(input, at);
                        }
                        Received::Bad(cause, detail) => pipeline.problems.report(cause, &detail),
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        // Sets wait for late cameras by time, so they are decided on every turn.
        let now = epoch.elapsed().as_secs_f64();
        let mut ready: Vec<Set> = std::iter::from_fn(|| pipeline.next_set(now)).collect();
        let Some(set) = ready.pop() else { continue };
        for _ in ready {
            pipeline.skip();
        }
        if let Some(outputs) = pipeline.process(&set) {
            if let Err(error) = publishers.publish(outputs) {
                pipeline.problems.report("publishing failed", &format!("{error:#}"));
            }
            stats.latencies.push(epoch.elapsed().as_secs_f64() - set.last_received);
        }
    }
}

impl RunStats {
    /// Counts, drops by cause and latency percentiles.
    fn summary(&self, pipeline: &DetectPipeline) -> String {
        let [fusion, camera] = pipeline.processed;
        let mut text = format!(
            "{} point clouds and {} images received, {} sets detected ({fusion} camera + LiDAR, {camera} cameras alone)\n",
            self.clouds,
            self.images,
            fusion + camera
        );
        for (cause, count) in pipeline.problems.counts() {
            text.push_str(&format!("  dropped or failed: {count} × {cause}\n"));
        }
        if pipeline.overflowed() > 0 {
            text.push_str(&format!("  {} messages overflowed the sync queues\n", pipeline.overflowed()));
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        if let (Some(p50), Some(p99)) = (crate::node::percentile(&sorted, 0.5), crate::node::percentile(&sorted, 0.99))
        {
            text.push_str(&format!(
                "latency last message received → detections published: p50 {:.1} ms, p99 {:.1} ms (over {} sets)\n",
                1e3 * p50,
                1e3 * p99,
                sorted.len()
            ));
        }
        text
    }
}
