//! The node on the wire: a ROS 2 node through ros2-client (RustDDS), its
//! subscriptions (sensor-data QoS: best effort, keep last) and its
//! publishers (reliable). Creating the node through ros2-client's
//! [`Context`] announces it on `ros_discovery_info`, so ROS 2 tools list
//! it; message types are cairn-bags' serde structs (wire names
//! `pkg::msg::dds_::Type_`, topics `rt/...`).
//!
//! NETWORK SAFETY (../shared/DESIGN.md): DDS discovery multicasts on every
//! interface; tests and benches run this inside a loopback-only network
//! namespace.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::nav_msgs::{Odometry, Path};
use cairn_bags::msg::sensor_msgs::{CameraInfo, Image, PointCloud2};
use cairn_bags::msg::tf2_msgs::TFMessage;
use cairn_bags::msg::vision_msgs::Detection3DArray;
use cairn_bags::msg::visualization_msgs::MarkerArray;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Context, MessageTypeName, Name, Node, NodeName, NodeOptions, Publisher, QosProfile, Subscription};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::detect_params::DetectParams;
use super::detect_pipeline::{DetectInput, DetectOutputs};
use super::outputs::Outputs;
use super::params::{NodeParams, TopicParams};
use super::pipeline::Input;

/// Depth of the sensor subscriptions' keep-last history (ROS 2's sensor
/// data profile uses 5).
pub const SENSOR_QUEUE: usize = 5;
/// Depth of the reliable outputs' history.
pub const OUTPUT_QUEUE: usize = 100;

/// ROS 2's sensor-data QoS: best effort, volatile, keep last [`SENSOR_QUEUE`].
pub fn sensor_qos() -> QosProfile {
    QosProfile::subscription_default().history(History::KeepLast { depth: SENSOR_QUEUE })
}

/// Reliable, volatile, keep last [`OUTPUT_QUEUE`] (a full send window
/// blocks the publisher rather than losing a message).
pub fn output_qos() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::Block)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: OUTPUT_QUEUE })
}

/// Reliable, transient local, keep last [`OUTPUT_QUEUE`]: `/tf_static`
/// (a latched topic: late joiners get what was sent).
pub fn latched_qos() -> QosProfile {
    output_qos().durability(Durability::TransientLocal)
}

/// `package/msg/Type` → ros2-client's type name.
fn type_name<M: RosMessage>() -> MessageTypeName {
    let mut parts = M::TYPE_NAME.split('/');
    let package = parts.next().unwrap_or_default();
    let name = parts.next_back().unwrap_or_default();
    MessageTypeName::new(package, name)
}

/// A ROS 2 node on DDS with a spinner thread (graph, parameter services).
pub struct RosNode {
    /// The ros2-client node.
    pub node: Node,
    spinner: Option<JoinHandle<()>>,
    /// Keeps the DDS participant alive as long as the node.
    _context: Context,
}

impl RosNode {
    /// Joins the DDS domain (ROS_DOMAIN_ID, default 0) as node
    /// `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Result<Self> {
        let context = Context::new().context("starting DDS (ros2-client)")?;
        let node_name = NodeName::new(namespace, name).with_context(|| format!("node name {namespace} {name}"))?;
        let mut node = context.new_node(node_name, NodeOptions::new()).context("creating the ROS 2 node")?;
        let spinner = node.spinner().context("starting the node's spinner")?;
        let spinner = std::thread::Builder::new()
            .name("ros2-spinner".into())
            .spawn(move || {
                if let Err(error) = futures::executor::block_on(spinner.spin()) {
                    eprintln!("[cairn] warning: ROS 2 spinner stopped: {error}");
                }
            })
            .context("starting the spinner thread")?;
        Ok(RosNode { node, spinner: Some(spinner), _context: context })
    }

    /// A publisher of `M` on `topic` (resolved against the namespace).
    pub fn publisher<M: RosMessage>(&mut self, topic: &str, qos: QosProfile) -> Result<Publisher<M>> {
        let name = Name::parse(topic).with_context(|| format!("topic name {topic}"))?;
        let dds_topic = self.node.create_topic(&name, type_name::<M>(), &qos)?;
        self.node.create_publisher(&dds_topic, Some(qos)).with_context(|| format!("publishing {topic}"))
    }

    /// A subscription to `M` on `topic`.
    pub fn subscription<M: RosMessage + 'static>(&mut self, topic: &str, qos: QosProfile) -> Result<Subscription<M>> {
        let name = Name::parse(topic).with_context(|| format!("topic name {topic}"))?;
        let dds_topic = self.node.create_topic(&name, type_name::<M>(), &qos)?;
        self.node.create_subscription(&dds_topic, Some(qos)).with_context(|| format!("subscribing to {topic}"))
    }

    /// Leaves the DDS domain: the node is dropped (its spinner ends) and the
    /// participant says goodbye to its peers.
    pub fn shutdown(mut self) {
        let spinner = self.spinner.take();
        drop(self);
        // The spinner ends with its node; a second is plenty, and a stuck
        // one must not keep the process from exiting.
        if let Some(spinner) = spinner {
            let waited = std::time::Instant::now();
            while !spinner.is_finished() && waited.elapsed() < Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if spinner.is_finished() {
                let _ = spinner.join();
            }
        }
    }
}

/// What the receiving thread hands the node's loop.
pub enum Received<I = Input> {
    /// A decoded message.
    Message(I),
    /// A sample that could not be decoded (cause, detail).
    Bad(&'static str, String),
}

/// Subscribes to the node's inputs and forwards every sample to `sender`
/// from a thread that polls the readers until `stop` is set.
pub fn receive(
    ros: &mut RosNode,
    topics: &TopicParams,
    sender: Sender<Received>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>> {
    let rgb = ros.subscription::<Image>(&topics.rgb, sensor_qos())?;
    let depth = ros.subscription::<Image>(&topics.depth, sensor_qos())?;
    // Best effort too: a best-effort reader matches reliable and
    // best-effort camera drivers alike (a reliable one would ignore the latter).
    let info = ros.subscription::<CameraInfo>(&topics.camera_info, sensor_qos())?;
    let thread = std::thread::Builder::new().name("ros2-receive".into()).spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let got = drain(&rgb, &sender, &Input::Rgb, "undecodable colour image")
                + drain(&depth, &sender, &Input::Depth, "undecodable depth image")
                + drain(&info, &sender, &|info| Input::CameraInfo(Box::new(info)), "undecodable camera_info");
            if got == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })?;
    Ok(thread)
}

/// Forwards every sample waiting on `subscription`; returns how many.
pub fn drain<M: DeserializeOwned + 'static, I>(
    subscription: &Subscription<M>,
    sender: &Sender<Received<I>>,
    wrap: &dyn Fn(M) -> I,
    cause: &'static str,
) -> usize {
    let mut count = 0;
    loop {
        let item = match subscription.take() {
            Ok(Some((message, _))) => Received::Message(wrap(message)),
            Ok(None) => return count,
            Err(error) => Received::Bad(cause, error.to_string()),
        };
        count += 1;
        if sender.send(item).is_err() {
            return count;
        }
    }
}

/// The node's publishers.
pub struct OutputPublishers {
    odometry: Publisher<Odometry>,
    tf: Publisher<TFMessage>,
    path: Publisher<Path>,
    loop_markers: Publisher<MarkerArray>,
}

impl OutputPublishers {
    /// Advertises the outputs on the parameters' topics.
    pub fn new(ros: &mut RosNode, params: &NodeParams) -> Result<Self> {
        let topics = &params.topics;
        Ok(OutputPublishers {
            odometry: ros.publisher(&topics.odometry, output_qos())?,
            tf: ros.publisher(&topics.tf, output_qos())?,
            path: ros.publisher(&topics.path, output_qos())?,
            loop_markers: ros.publisher(&topics.loop_markers, output_qos())?,
        })
    }

    /// Publishes one frame's outputs; returns the first failure.
    pub fn publish(&self, outputs: Outputs) -> Result<()> {
        send(&self.tf, outputs.tf)?;
        send(&self.odometry, outputs.odometry)?;
        if let Some(path) = outputs.path {
            send(&self.path, path)?;
        }
        if let Some(markers) = outputs.loop_markers {
            send(&self.loop_markers, markers)?;
        }
        Ok(())
    }
}

/// Publishes one message; the error names its type.
pub fn send<M: RosMessage + Serialize>(publisher: &Publisher<M>, message: M) -> Result<()> {
    publisher.publish(message).map_err(|e| anyhow::anyhow!("publishing {}: {e}", M::TYPE_NAME))
}

/// Subscribes to the detector's inputs — each camera's image and
/// CameraInfo, the LiDAR sweeps, /tf and /tf_static — and forwards every
/// sample to `sender` with its receive time (seconds since `epoch`).
pub fn receive_detect(
    ros: &mut RosNode,
    params: &DetectParams,
    sender: Sender<Received<(f64, DetectInput)>>,
    stop: Arc<AtomicBool>,
    epoch: Instant,
) -> Result<JoinHandle<()>> {
    let topics = &params.topics;
    let mut images = Vec::new();
    let mut infos = Vec::new();
    for camera in &params.cameras {
        images.push(ros.subscription::<Image>(&DetectParams::camera_topic(&topics.image, camera), sensor_qos())?);
        let info_topic = DetectParams::camera_topic(&topics.camera_info, camera);
        infos.push(ros.subscription::<CameraInfo>(&info_topic, sensor_qos())?);
    }
    let points = ros.subscription::<PointCloud2>(&topics.points, sensor_qos())?;
    let tf = ros.subscription::<TFMessage>(&topics.tf, output_qos())?;
    let tf_static = ros.subscription::<TFMessage>(&topics.tf_static, latched_qos())?;
    let thread = std::thread::Builder::new().name("ros2-receive".into()).spawn(move || {
        let now = || epoch.elapsed().as_secs_f64();
        while !stop.load(Ordering::Relaxed) {
            let mut got = drain(&points, &sender, &|m| (now(), DetectInput::Points(m)), "undecodable point cloud")
                + drain(&tf, &sender, &|m| (now(), DetectInput::Tf(m)), "undecodable /tf")
                + drain(&tf_static, &sender, &|m| (now(), DetectInput::TfStatic(m)), "undecodable /tf_static");
            for (k, (image, info)) in images.iter().zip(&infos).enumerate() {
                got += drain(
                    info,
                    &sender,
                    &|m| (now(), DetectInput::CameraInfo(k, Box::new(m))),
                    "undecodable camera_info",
                ) + drain(image, &sender, &|m| (now(), DetectInput::Image(k, m)), "undecodable image");
            }
            if got == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })?;
    Ok(thread)
}

/// The detector's publishers.
pub struct DetectPublishers {
    detections: Publisher<Detection3DArray>,
    markers: Publisher<MarkerArray>,
}

impl DetectPublishers {
    /// Advertises the outputs on the parameters' topics.
    pub fn new(ros: &mut RosNode, params: &DetectParams) -> Result<Self> {
        Ok(DetectPublishers {
            detections: ros.publisher(&params.topics.detections, output_qos())?,
            markers: ros.publisher(&params.topics.markers, output_qos())?,
        })
    }

    /// Publishes one set's outputs; returns the first failure.
    pub fn publish(&self, outputs: DetectOutputs) -> Result<()> {
        send(&self.detections, outputs.detections)?;
        send(&self.markers, outputs.markers)
    }
}
