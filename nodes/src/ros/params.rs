//! The ROS 2 node's own parameters — topics, frame ids, node name — read
//! from the same ROS 2 parameter file as the SLAM parameters
//! (`config/slam.yaml`: `topics.*`, `frames.*`, `node.*` under
//! `cairn_slam: ros__parameters:`), with the rules of
//! [`cairn_slam::params`]: missing ones default, unknown names and wrong
//! types are errors naming the parameter.

use std::path::Path;

use anyhow::{Context, Result};
use cairn_slam::SlamConfig;
use cairn_slam::params::{apply_parameters, is_node_group, node_parameters, parameter_leaves};
use serde::{Deserialize, Serialize};

/// Everything `cairn node slam` reads from its parameter file.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// The SLAM parameters (`edges.*`, `tracking.*`, …).
    pub slam: SlamConfig,
    /// The node's own parameters.
    pub node: NodeParams,
}

impl NodeConfig {
    /// Reads a ROS 2 parameter file; `None` gives every default.
    pub fn read(file: Option<&Path>) -> Result<Self> {
        let Some(file) = file else {
            return Ok(NodeConfig { slam: SlamConfig::default(), node: NodeParams::default() });
        };
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        Self::from_yaml(&text).with_context(|| format!("in {}", file.display()))
    }

    /// Parses ROS 2 parameter-file text.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let slam = SlamConfig::from_ros_params(text)?;
        let ours = node_parameters(text)?.into_iter().filter(|(name, _)| is_node_group(name)).collect();
        let node: NodeParams = apply_parameters(&NodeParams::default(), ours)?;
        node.validate()?;
        Ok(NodeConfig { slam, node })
    }
}

/// The node's parameter groups (the dotted names are `topics.rgb`, …).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeParams {
    /// Topic names.
    pub topics: TopicParams,
    /// Frame ids of the published poses and transforms.
    pub frames: FrameParams,
    /// Node identity and input synchronisation.
    pub node: NodeSettings,
}

/// Topics the node subscribes to and publishes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TopicParams {
    /// Colour images (sensor_msgs/Image: rgb8, bgr8 or mono8). Default
    /// /camera/rgb/image_color (TUM's bags).
    pub rgb: String,
    /// Depth images registered to the colour camera (32FC1 metres or 16UC1
    /// millimetres). Default /camera/depth/image (TUM's bags).
    pub depth: String,
    /// The colour camera's sensor_msgs/CameraInfo. Default
    /// /camera/rgb/camera_info (TUM's bags).
    pub camera_info: String,
    /// Output nav_msgs/Odometry (odom ← camera, stamped like the image).
    /// Default /slam/odometry.
    pub odometry: String,
    /// Output nav_msgs/Path of the keyframe poses in the map frame, on every
    /// new keyframe. Default /slam/path.
    pub path: String,
    /// Output visualization_msgs/MarkerArray of the loop-closure edges, on
    /// every new keyframe. Default /slam/loop_markers.
    pub loop_markers: String,
    /// Output tf2_msgs/TFMessage with map → odom → camera. Default /tf.
    pub tf: String,
}

impl Default for TopicParams {
    fn default() -> Self {
        TopicParams {
            rgb: "/camera/rgb/image_color".into(),
            depth: "/camera/depth/image".into(),
            camera_info: "/camera/rgb/camera_info".into(),
            odometry: "/slam/odometry".into(),
            path: "/slam/path".into(),
            loop_markers: "/slam/loop_markers".into(),
            tf: "/tf".into(),
        }
    }
}

/// Frame ids (REP-105).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameParams {
    /// The global frame; map → odom is the pose-graph correction (identity
    /// until a loop closes). Default map.
    pub map: String,
    /// The continuous odometry frame of the tracker. Default odom.
    pub odom: String,
    /// The colour camera's optical frame. Default camera.
    pub camera: String,
}

impl Default for FrameParams {
    fn default() -> Self {
        FrameParams { map: "map".into(), odom: "odom".into(), camera: "camera".into() }
    }
}

/// Node identity and how inputs are paired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeSettings {
    /// The node name other ROS 2 tools see. Default cairn_slam.
    pub name: String,
    /// The node's namespace (absolute). Default /.
    pub namespace: String,
    /// Most seconds between the stamps of a colour image and the depth image
    /// paired with it (approximate time synchronisation). Default 0.02 (the
    /// TUM benchmark's association).
    pub sync_tolerance_s: f64,
    /// Colour images that may wait for their depth image (or for the first
    /// CameraInfo) before the oldest is dropped. Default 30.
    pub queue_size: usize,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings { name: "cairn_slam".into(), namespace: "/".into(), sync_tolerance_s: 0.02, queue_size: 30 }
    }
}

impl NodeParams {
    /// Checks values that serde cannot: names, tolerance, queue.
    pub fn validate(&self) -> Result<()> {
        let topics = &self.topics;
        for (name, topic) in [
            ("topics.rgb", &topics.rgb),
            ("topics.depth", &topics.depth),
            ("topics.camera_info", &topics.camera_info),
            ("topics.odometry", &topics.odometry),
            ("topics.path", &topics.path),
            ("topics.loop_markers", &topics.loop_markers),
            ("topics.tf", &topics.tf),
        ] {
            anyhow::ensure!(!topic.trim_matches('/').is_empty(), "parameter '{name}' must name a topic");
        }
        for (name, frame) in [("frames.map", &self.frames.map), ("frames.odom", &self.frames.odom)] {
            anyhow::ensure!(!frame.is_empty(), "parameter '{name}' must not be empty");
        }
        anyhow::ensure!(!self.frames.camera.is_empty(), "parameter 'frames.camera' must not be empty");
        anyhow::ensure!(!self.node.name.is_empty(), "parameter 'node.name' must not be empty");
        anyhow::ensure!(self.node.namespace.starts_with('/'), "parameter 'node.namespace' must start with '/'");
        let tolerance = self.node.sync_tolerance_s;
        anyhow::ensure!(tolerance.is_finite() && tolerance >= 0.0, "parameter 'node.sync_tolerance_s' must be ≥ 0");
        anyhow::ensure!(self.node.queue_size > 0, "parameter 'node.queue_size' must be at least 1");
        Ok(())
    }

    /// One `name: value` line per parameter, for the start-up log.
    pub fn log_lines(&self) -> Result<Vec<String>> {
        Ok(parameter_leaves(self)?
            .into_iter()
            .map(|(name, value)| format!("{name}: {}", serde_norway::to_string(&value).unwrap_or_default().trim()))
            .collect())
    }

    /// Every dotted parameter name, in field order.
    pub fn names() -> Result<Vec<String>> {
        Ok(parameter_leaves(&NodeParams::default())?.into_iter().map(|(name, _)| name).collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn topic_defaults_are_tums_bag_topics() {
        let topics = TopicParams::default();
        assert_eq!(topics.rgb, cairn_bags::dataset::tum_topics::RGB);
        assert_eq!(topics.depth, cairn_bags::dataset::tum_topics::DEPTH);
        assert_eq!(topics.camera_info, cairn_bags::dataset::tum_topics::CAMERA_INFO);
        assert_eq!(NodeSettings::default().sync_tolerance_s, cairn_core::tum::MAX_DIFFERENCE);
    }

    #[test]
    fn node_and_slam_parameters_share_one_file() {
        let yaml = "cairn_slam:\n  ros__parameters:\n    topics.rgb: /cam/rgb\n    frames:\n      camera: cam\n    \
                    node.queue_size: 4\n    tracking.max_points: 1000\n";
        let config = NodeConfig::from_yaml(yaml).unwrap();
        assert_eq!(config.node.topics.rgb, "/cam/rgb");
        assert_eq!(config.node.frames.camera, "cam");
        assert_eq!(config.node.node.queue_size, 4);
        assert_eq!(config.node.topics.depth, TopicParams::default().depth);
        assert_eq!(config.slam.tracking.max_points, 1000);
    }

    #[test]
    fn bad_node_parameters_are_named() {
        let err = |yaml: &str| format!("{:#}", NodeConfig::from_yaml(yaml).unwrap_err());
        let message = err("cairn_slam:\n  ros__parameters:\n    topics.rbg: /x\n");
        assert!(message.contains("'topics.rbg'") && message.contains("topics.rgb"), "{message}");
        let message = err("cairn_slam:\n  ros__parameters:\n    node.queue_size: many\n");
        assert!(message.contains("'node.queue_size'"), "{message}");
        let message = err("cairn_slam:\n  ros__parameters:\n    node.namespace: robot\n");
        assert!(message.contains("'node.namespace'"), "{message}");
        assert!(NodeParams::default().log_lines().unwrap().contains(&"topics.odometry: /slam/odometry".to_string()));
    }
}
