//! `cairn replay BAG`: a bag through the nodes.
//!
//! Without `--publish` the camera topics go in-process, in bag order,
//! through the SLAM node's own code ([`SlamPipeline`]), every synchronised
//! pair processed: deterministic, and the trajectory written to `--out` is
//! byte-identical to `cairn slam BAG --out …`. With `--publish` the bag's
//! topics (Image, CameraInfo, PointCloud2, /tf, /tf_static; `--topics`
//! picks some) go out on DDS like `ros2 bag play`, spaced as recorded
//! (`--rate`), for a running `cairn node slam` or `cairn node detect`;
//! stamps are shifted to the wall clock (spacing kept) unless `--clock`,
//! which keeps bag time and publishes it on `/clock`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use cairn_bags::cdr;
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::rosgraph_msgs::Clock;
use cairn_bags::msg::sensor_msgs::{CameraInfo, Image, PointCloud2};
use cairn_bags::msg::std_msgs::Header;
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::storage::Bag;
use clap::Args;
use ros2_client::Publisher;

use crate::ros::dds::{RosNode, latched_qos, output_qos, send, sensor_qos};
use crate::ros::params::{NodeConfig, TopicParams};
use crate::ros::pipeline::{Input, SlamPipeline};
use crate::slam::LoopArg;
use crate::viz::{Recorder, VizArgs};

/// Arguments of `cairn replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// rosbag2 bag (directory, .mcap or .db3) with the node's input topics.
    #[arg(value_name = "BAG")]
    pub bag: PathBuf,
    /// In-process: the estimated trajectory (TUM format; a per-frame log
    /// goes to OUT.log).
    #[arg(long, value_name = "FILE", required_unless_present = "publish")]
    pub out: Option<PathBuf>,
    /// ROS 2 parameter file (topics.*, SLAM parameters), as `cairn node slam --params`.
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Publish on DDS instead of running SLAM in-process.
    #[arg(long, conflicts_with = "out")]
    pub publish: bool,
    /// --publish: playback speed (1.0 = as recorded) or `max` (no pauses).
    #[arg(long, default_value = "1.0", value_parser = parse_rate)]
    pub rate: Rate,
    /// --publish: keep bag time in the stamps and publish it on /clock.
    #[arg(long, requires = "publish")]
    pub clock: bool,
    /// --publish: start over at the end, until SIGINT/SIGTERM.
    #[arg(long = "loop", requires = "publish")]
    pub repeat: bool,
    /// --publish: wait up to this many seconds for a subscriber on every
    /// sensor topic (images, camera_info, point clouds) first.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS", requires = "publish")]
    pub wait: f64,
    /// --publish: play only these topics (comma-separated; default every
    /// topic of a played type: Image, CameraInfo, PointCloud2, TFMessage).
    #[arg(long, value_delimiter = ',', value_name = "TOPICS", requires = "publish")]
    pub topics: Vec<String>,
    /// In-process: loop closure, as `cairn slam --loop` (`fpfh` or `none`);
    /// named so because `--loop` repeats the bag, as in `ros2 bag play`.
    #[arg(long, value_enum, default_value_t = LoopArg::Fpfh, conflicts_with = "publish")]
    pub loop_closure: LoopArg,
    /// In-process: `--rrd FILE` / `--connect URL`, rerun visualisation of
    /// the run (with --publish, give them to `cairn node slam` instead).
    #[command(flatten)]
    pub viz: VizArgs,
}

/// Playback speed: a factor of the recorded pace, or `None` for no pauses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub Option<f64>);

/// `max` → no pauses, a positive number → that factor.
fn parse_rate(text: &str) -> Result<Rate, String> {
    if text == "max" {
        return Ok(Rate(None));
    }
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(Rate(Some(rate))),
        _ => Err(format!("'{text}' is not a positive number or `max`")),
    }
}

/// Runs `cairn replay` and returns its summary.
pub fn run(args: &ReplayArgs) -> Result<String> {
    let config = NodeConfig::read(args.params.as_deref())?;
    let bag = Bag::open(&args.bag).with_context(|| format!("opening {}", args.bag.display()))?;
    let topics = &config.node.topics;
    for topic in [&topics.rgb, &topics.depth, &topics.camera_info].into_iter().filter(|_| !args.publish) {
        if bag.connection_index(topic).is_none() {
            let available: Vec<&str> = bag.connections.iter().map(|c| c.topic.as_str()).collect();
            bail!(
                "no topic {topic} in {} (it has: {}); set topics.* in --params",
                args.bag.display(),
                available.join(", ")
            );
        }
    }
    if args.publish && args.viz.any() {
        bail!("--rrd/--connect record the in-process replay; with --publish, pass them to `cairn node slam`");
    }
    match &args.out {
        Some(out) if !args.publish => {
            let recorder = Recorder::open(&args.viz, "cairn_replay")?;
            in_process(&bag, config, out, args.loop_closure, recorder)
        }
        _ => publish(&bag, args),
    }
}

/// A bag message on one of the node's input topics, decoded.
fn decode(topics: &TopicParams, topic: &str, data: &[u8]) -> Result<Input> {
    Ok(if topic == topics.camera_info {
        Input::CameraInfo(Box::new(cdr::decode::<CameraInfo>(data)?))
    } else if topic == topics.rgb {
        Input::Rgb(cdr::decode::<Image>(data)?)
    } else {
        Input::Depth(cdr::decode::<Image>(data)?)
    })
}

/// Feeds every message on `topics`' camera topics, in bag order, through
/// `pipeline` and processes every pair (none is skipped), then ends its loop
/// closure ([`SlamPipeline::finish`]). `rate`: keep the recorded spacing
/// scaled by it, as a camera would deliver them (`None`: no pauses).
pub fn feed(bag: &Bag, topics: &TopicParams, pipeline: &mut SlamPipeline, rate: Option<f64>) -> Result<()> {
    let bar = crate::progress::bar(format!("replaying {}", bag.path.display()), "messages");
    let (start, mut first_log) = (Instant::now(), None);
    for message in bag.messages(&[topics.rgb.as_str(), topics.depth.as_str(), topics.camera_info.as_str()])? {
        let message = message?;
        if let Some(rate) = rate {
            let since_first = message.log_time.saturating_sub(*first_log.get_or_insert(message.log_time));
            let due = start + Duration::from_secs_f64(since_first as f64 * 1e-9 / rate);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let topic = &bag.connections[message.connection].topic;
        match decode(topics, topic, &message.data) {
            Ok(input) => pipeline.push(input),
            Err(error) => pipeline.problems.report("undecodable message", &format!("{topic}: {error:#}")),
        }
        while let Some((rgb, depth)) = pipeline.next_pair(false) {
            pipeline.process(&rgb, &depth);
        }
        bar.inc(1);
    }
    while let Some((rgb, depth)) = pipeline.next_pair(true) {
        pipeline.process(&rgb, &depth);
    }
    pipeline.finish();
    bar.finish_and_clear();
    Ok(())
}

/// Every message, in bag order, through the node's pipeline.
fn in_process(
    bag: &Bag,
    config: NodeConfig,
    out: &std::path::Path,
    loop_closure: LoopArg,
    recorder: Recorder,
) -> Result<String> {
    let topics = config.node.topics.clone();
    let mut pipeline =
        SlamPipeline::new(config.node, config.slam).with_loop_closure(loop_closure).with_recorder(recorder);
    feed(bag, &topics, &mut pipeline, None)?;
    pipeline.finish_recording();
    if pipeline.frames.is_empty() {
        return Err(anyhow!("no frame of {} could be processed", bag.path.display()));
    }
    crate::slam::write_trajectory(out, &pipeline.trajectory())?;
    crate::slam::write_frame_log(&PathBuf::from(format!("{}.log", out.display())), &pipeline.frames)?;
    let mut text = format!("{} frames → {}\n", pipeline.frames.len(), out.display());
    for (cause, count) in pipeline.problems.counts() {
        text.push_str(&format!("  dropped or failed: {count} × {cause}\n"));
    }
    Ok(text)
}

/// Seconds since the Unix epoch.
fn wall_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// A DDS publisher of one bag topic, by message type.
enum TopicPublisher {
    Image(Publisher<Image>),
    CameraInfo(Publisher<CameraInfo>),
    Points(Publisher<PointCloud2>),
    Tf(Publisher<TFMessage>),
}

impl TopicPublisher {
    /// A publisher for `topic` of `type_name`, with the QoS its producer
    /// would use: sensor data (best effort) for images and clouds, reliable
    /// for camera_info and /tf, latched for /tf_static. `None`: not played.
    fn new(ros: &mut RosNode, topic: &str, type_name: &str) -> Result<Option<Self>> {
        Ok(Some(match type_name {
            t if t == Image::TYPE_NAME => TopicPublisher::Image(ros.publisher(topic, sensor_qos())?),
            t if t == CameraInfo::TYPE_NAME => TopicPublisher::CameraInfo(ros.publisher(topic, output_qos())?),
            t if t == PointCloud2::TYPE_NAME => TopicPublisher::Points(ros.publisher(topic, sensor_qos())?),
            t if t == TFMessage::TYPE_NAME && topic == "/tf_static" => {
                TopicPublisher::Tf(ros.publisher(topic, latched_qos())?)
            }
            t if t == TFMessage::TYPE_NAME => TopicPublisher::Tf(ros.publisher(topic, output_qos())?),
            _ => return Ok(None),
        }))
    }

    /// Sensor topics: `--wait` waits for a subscriber on each.
    fn is_sensor(&self) -> bool {
        !matches!(self, TopicPublisher::Tf(_))
    }

    fn subscribers(&self, ros: &RosNode) -> usize {
        match self {
            TopicPublisher::Image(p) => p.get_subscription_count(&ros.node),
            TopicPublisher::CameraInfo(p) => p.get_subscription_count(&ros.node),
            TopicPublisher::Points(p) => p.get_subscription_count(&ros.node),
            TopicPublisher::Tf(p) => p.get_subscription_count(&ros.node),
        }
    }

    /// Decodes `data`, moves its stamps by `restamp` (old stamp → new), and
    /// publishes it; returns the message's first stamp as recorded.
    fn publish(&self, data: &[u8], restamp: &mut dyn FnMut(Time) -> Result<Time>) -> Result<Option<Time>> {
        fn header(h: &mut Header, restamp: &mut dyn FnMut(Time) -> Result<Time>) -> Result<Time> {
            let recorded = h.stamp;
            h.stamp = restamp(recorded)?;
            Ok(recorded)
        }
        Ok(match self {
            TopicPublisher::Image(p) => {
                let mut m: Image = cdr::decode(data)?;
                let recorded = header(&mut m.header, restamp)?;
                send(p, m)?;
                Some(recorded)
            }
            TopicPublisher::CameraInfo(p) => {
                let mut m: CameraInfo = cdr::decode(data)?;
                let recorded = header(&mut m.header, restamp)?;
                send(p, m)?;
                Some(recorded)
            }
            TopicPublisher::Points(p) => {
                let mut m: PointCloud2 = cdr::decode(data)?;
                let recorded = header(&mut m.header, restamp)?;
                send(p, m)?;
                Some(recorded)
            }
            TopicPublisher::Tf(p) => {
                let mut m: TFMessage = cdr::decode(data)?;
                let mut first = None;
                for t in &mut m.transforms {
                    first.get_or_insert(header(&mut t.header, restamp)?);
                }
                send(p, m)?;
                first
            }
        })
    }
}

/// The replay's DDS publishers, by bag connection.
struct Player {
    topics: Vec<Option<TopicPublisher>>,
    /// With `--clock`: bag time on `/clock`, and stamps left as recorded.
    clock: Option<Publisher<Clock>>,
}

/// The topics `--topics` names (all when empty); an unknown one is an error
/// listing the bag's.
fn chosen_topics(bag: &Bag, wanted: &[String]) -> Result<Vec<bool>> {
    for topic in wanted {
        if bag.connection_index(topic).is_none() {
            let available: Vec<&str> = bag.connections.iter().map(|c| c.topic.as_str()).collect();
            bail!("no topic {topic} in {} (it has: {})", bag.path.display(), available.join(", "));
        }
    }
    Ok(bag.connections.iter().map(|c| wanted.is_empty() || wanted.contains(&c.topic)).collect())
}

/// Publishes the bag's topics with their recorded spacing.
fn publish(bag: &Bag, args: &ReplayArgs) -> Result<String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let chosen = chosen_topics(bag, &args.topics)?;
    let mut ros = RosNode::new("/", "cairn_replay")?;
    let mut topics = Vec::with_capacity(bag.connections.len());
    let mut skipped = Vec::new();
    for (connection, chosen) in bag.connections.iter().zip(chosen) {
        let publisher =
            if chosen { TopicPublisher::new(&mut ros, &connection.topic, &connection.type_name)? } else { None };
        if chosen && publisher.is_none() {
            skipped.push(format!("{} ({})", connection.topic, connection.type_name));
        }
        topics.push(publisher);
    }
    let player = Player { topics, clock: args.clock.then(|| ros.publisher("/clock", output_qos())).transpose()? };
    let waited = Instant::now();
    let unmatched = |player: &Player| player.topics.iter().flatten().any(|p| p.is_sensor() && p.subscribers(&ros) == 0);
    while unmatched(&player) && waited.elapsed().as_secs_f64() < args.wait {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut published, mut passes) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        published += player.pass(bag, args.rate.0, &stop)?;
        passes += 1;
        if !args.repeat {
            break;
        }
    }
    // Give reliable samples (camera_info, /tf, /clock) time to be acknowledged.
    std::thread::sleep(Duration::from_millis(200));
    drop(player);
    ros.shutdown();
    let mut text = format!("published {published} messages from {} ({passes} passes)\n", bag.path.display());
    if !skipped.is_empty() {
        text.push_str(&format!("  not played (type not supported): {}\n", skipped.join(", ")));
    }
    Ok(text)
}

impl Player {
    /// One pass over the bag: sleeps to keep the recorded spacing (scaled by
    /// `rate`; `None`: no pauses), restamps, publishes. Returns the count.
    fn pass(&self, bag: &Bag, rate: Option<f64>, stop: &AtomicBool) -> Result<usize> {
        let start = Instant::now();
        let wall_start = wall_now();
        let (mut first_log, mut first_stamp) = (None, None);
        let mut published = 0;
        for message in bag.messages(&[])? {
            let message = message?;
            let Some(Some(publisher)) = self.topics.get(message.connection) else { continue };
            if let Some(rate) = rate {
                let since_first = message.log_time.saturating_sub(*first_log.get_or_insert(message.log_time));
                let due = start + Duration::from_secs_f64(since_first as f64 * 1e-9 / rate);
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let topic = &bag.connections[message.connection].topic;
            let recorded = match &self.clock {
                // Bag time: stamps as recorded.
                Some(_) => publisher.publish(&message.data, &mut |t| Ok(t)),
                // Wall clock, spacing kept: the first stamp becomes now.
                None => publisher.publish(&message.data, &mut |t| {
                    let bag_stamp = t.as_secs_f64();
                    Ok(Time::from_secs_f64(wall_start + bag_stamp - *first_stamp.get_or_insert(bag_stamp))?)
                }),
            }
            .with_context(|| format!("{topic} in {}", bag.path.display()))?;
            if let (Some(clock), Some(stamp)) = (&self.clock, recorded) {
                send(clock, Clock { clock: stamp })?;
            }
            published += 1;
        }
        Ok(published)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_positive_numbers_or_max() {
        assert_eq!(parse_rate("max"), Ok(Rate(None)));
        assert_eq!(parse_rate("0.5"), Ok(Rate(Some(0.5))));
        assert!(parse_rate("0").is_err() && parse_rate("fast").is_err() && parse_rate("inf").is_err());
    }
}
