//! The detection node's parameters (`cairn node detect --params FILE`,
//! `config/detect.yaml`): the model, the cameras, topics, frames, the input
//! synchronisation and the sensor timeouts, under `cairn_detect:
//! ros__parameters:` with the rules of [`cairn_slam::params`] (missing ones
//! default, unknown names and wrong types are errors naming the parameter).

use std::path::Path;

use anyhow::{Context, Result};
use cairn_core::samples::NUSCENES_CAMERAS;
use cairn_slam::params::{apply_parameters, parameter_leaves, parameters_of_node};
use serde::{Deserialize, Serialize};

/// The node name the parameters belong to.
pub const NODE_NAME: &str = "cairn_detect";

/// Everything `cairn node detect` reads from its parameter file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectParams {
    /// CMT checkpoint folder (cmt.json + cmt.safetensors, as `cairn train
    /// cmt --out` writes it); `--model` overrides it. A relative path is
    /// relative to the working directory. Default empty (give one).
    pub model: String,
    /// Optional calibration instead of /tf_static: a sample set
    /// (`sample_info.json` or its folder) whose first sample's rig —
    /// `cam2img`, `cam2ego`, `lidar2ego` — is used for every frame. Empty
    /// (default): extrinsics from /tf_static, intrinsics from CameraInfo.
    pub calibration: String,
    /// Camera names, each with `topics.image` and `topics.camera_info`
    /// (`{camera}` replaced by the name). The network sees them in its own
    /// order (nuScenes'); a camera it does not know is an error. Default
    /// the six nuScenes cameras.
    pub cameras: Vec<String>,
    /// Boxes with a lower score are not published. Default 0.3.
    pub score_threshold: f64,
    /// Frame of the published boxes: `frames.ego` (default) or
    /// `frames.map` (then map ← ego comes from /tf at the set's stamp).
    pub output_frame: String,
    /// Topic names.
    pub topics: DetectTopics,
    /// Frame ids.
    pub frames: DetectFrames,
    /// Node identity, synchronisation and timeouts.
    pub node: DetectSettings,
}

impl Default for DetectParams {
    fn default() -> Self {
        DetectParams {
            model: String::new(),
            calibration: String::new(),
            cameras: NUSCENES_CAMERAS.iter().map(|c| (*c).to_owned()).collect(),
            score_threshold: 0.3,
            output_frame: "base_link".into(),
            topics: DetectTopics::default(),
            frames: DetectFrames::default(),
            node: DetectSettings::default(),
        }
    }
}

/// Topics the node subscribes to and publishes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectTopics {
    /// Each camera's sensor_msgs/Image (rgb8, bgr8 or mono8), `{camera}`
    /// replaced by its name. Default /{camera}/image_raw (`cairn bag
    /// from-samples`).
    pub image: String,
    /// Each camera's sensor_msgs/CameraInfo. Default /{camera}/camera_info.
    pub camera_info: String,
    /// The LiDAR's sensor_msgs/PointCloud2 (x, y, z, optional intensity; in
    /// the LiDAR frame). Default /LIDAR_TOP.
    pub points: String,
    /// Static transforms (ego ← LiDAR, ego ← cameras). Default /tf_static.
    pub tf_static: String,
    /// Transforms (map ← ego, for output_frame map). Default /tf.
    pub tf: String,
    /// Output vision_msgs/Detection3DArray. Default /detections.
    pub detections: String,
    /// Output visualization_msgs/MarkerArray (a box per detection). Default
    /// /detection_markers.
    pub markers: String,
}

impl Default for DetectTopics {
    fn default() -> Self {
        DetectTopics {
            image: "/{camera}/image_raw".into(),
            camera_info: "/{camera}/camera_info".into(),
            points: "/LIDAR_TOP".into(),
            tf_static: "/tf_static".into(),
            tf: "/tf".into(),
            detections: "/detections".into(),
            markers: "/detection_markers".into(),
        }
    }
}

/// Frame ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectFrames {
    /// The robot's body frame (REP-105 base_link). Default base_link.
    pub ego: String,
    /// The global frame of map ← ego on /tf. Default world (`cairn bag
    /// from-samples`).
    pub map: String,
    /// The LiDAR frame when no cloud has named it yet (camera-only start).
    /// Default LIDAR_TOP.
    pub lidar: String,
}

impl Default for DetectFrames {
    fn default() -> Self {
        DetectFrames { ego: "base_link".into(), map: "world".into(), lidar: "LIDAR_TOP".into() }
    }
}

/// Node identity, how inputs are paired and when a sensor counts as gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectSettings {
    /// The node name other ROS 2 tools see. Default cairn_detect.
    pub name: String,
    /// The node's namespace (absolute). Default /.
    pub namespace: String,
    /// Most seconds between the reference stamp (the LiDAR's, or the first
    /// live camera's without LiDAR) and a camera image of the same set.
    /// Default 0.05.
    pub sync_slop: f64,
    /// Seconds without a PointCloud2 (while images arrive) before the node
    /// detects from the cameras alone. Default 1.0.
    pub lidar_timeout: f64,
    /// Seconds without an image from a camera before sets go without it
    /// (its tokens masked). Default 1.0.
    pub camera_timeout: f64,
    /// Messages kept per input while they wait to be synchronised. Default 10.
    pub queue_size: usize,
}

impl Default for DetectSettings {
    fn default() -> Self {
        DetectSettings {
            name: NODE_NAME.into(),
            namespace: "/".into(),
            sync_slop: 0.05,
            lidar_timeout: 1.0,
            camera_timeout: 1.0,
            queue_size: 10,
        }
    }
}

impl DetectParams {
    /// Reads a ROS 2 parameter file; `None` gives every default.
    pub fn read(file: Option<&Path>) -> Result<Self> {
        let Some(file) = file else { return Ok(DetectParams::default()) };
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        Self::from_yaml(&text).with_context(|| format!("in {}", file.display()))
    }

    /// Parses ROS 2 parameter-file text (the `cairn_detect` entry).
    pub fn from_yaml(text: &str) -> Result<Self> {
        let params: DetectParams = apply_parameters(&DetectParams::default(), parameters_of_node(text, NODE_NAME)?)?;
        params.validate()?;
        Ok(params)
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<()> {
        anyhow::ensure!(!self.cameras.is_empty(), "parameter 'cameras' must name at least one camera");
        for camera in &self.cameras {
            anyhow::ensure!(
                NUSCENES_CAMERAS.contains(&camera.as_str()),
                "parameter 'cameras': {camera} is not one of the network's cameras ({})",
                NUSCENES_CAMERAS.join(", ")
            );
        }
        anyhow::ensure!(
            self.output_frame == self.frames.ego || self.output_frame == self.frames.map,
            "parameter 'output_frame' must be frames.ego ({}) or frames.map ({})",
            self.frames.ego,
            self.frames.map
        );
        let t = &self.topics;
        for (name, topic) in [
            ("topics.image", &t.image),
            ("topics.camera_info", &t.camera_info),
            ("topics.points", &t.points),
            ("topics.tf_static", &t.tf_static),
            ("topics.tf", &t.tf),
            ("topics.detections", &t.detections),
            ("topics.markers", &t.markers),
        ] {
            anyhow::ensure!(!topic.trim_matches('/').is_empty(), "parameter '{name}' must name a topic");
        }
        let n = &self.node;
        anyhow::ensure!(!n.name.is_empty(), "parameter 'node.name' must not be empty");
        anyhow::ensure!(n.namespace.starts_with('/'), "parameter 'node.namespace' must start with '/'");
        for (name, value) in [
            ("node.sync_slop", n.sync_slop),
            ("node.lidar_timeout", n.lidar_timeout),
            ("node.camera_timeout", n.camera_timeout),
        ] {
            anyhow::ensure!(value.is_finite() && value >= 0.0, "parameter '{name}' must be ≥ 0");
        }
        anyhow::ensure!(n.queue_size > 0, "parameter 'node.queue_size' must be at least 1");
        anyhow::ensure!(self.score_threshold.is_finite(), "parameter 'score_threshold' must be a number");
        Ok(())
    }

    /// A camera's topic from a `{camera}` pattern.
    pub fn camera_topic(pattern: &str, camera: &str) -> String {
        pattern.replace("{camera}", camera)
    }

    /// One `name: value` line per parameter, for the start-up log.
    pub fn log_lines(&self) -> Result<Vec<String>> {
        Ok(parameter_leaves(self)?
            .into_iter()
            .map(|(name, value)| {
                let shown = match &value {
                    serde_norway::Value::Sequence(items) => {
                        let items: Vec<String> = items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
                        format!("[{}]", items.join(", "))
                    }
                    other => serde_norway::to_string(other).unwrap_or_default().trim().to_owned(),
                };
                format!("{name}: {shown}")
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn the_config_file_is_every_default_but_the_threshold_and_model() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/detect.yaml");
        let params = DetectParams::read(Some(&file)).unwrap();
        let defaults = DetectParams { model: params.model.clone(), ..DetectParams::default() };
        assert_eq!(params, defaults);
        assert_eq!(params.score_threshold, 0.3);
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = |yaml: &str| format!("{:#}", DetectParams::from_yaml(yaml).unwrap_err());
        let message = err("cairn_detect:\n  ros__parameters:\n    topics.point: /x\n");
        assert!(message.contains("'topics.point'") && message.contains("topics.points"), "{message}");
        let message = err("cairn_detect:\n  ros__parameters:\n    cameras: [CAM_FRONT, CAM_TOP]\n");
        assert!(message.contains("CAM_TOP"), "{message}");
        let message = err("cairn_detect:\n  ros__parameters:\n    cameras: [1, 2]\n");
        assert!(message.contains("'cameras'"), "{message}");
        let message = err("cairn_detect:\n  ros__parameters:\n    output_frame: odom\n");
        assert!(message.contains("'output_frame'"), "{message}");
        let yaml = "cairn_detect:\n  ros__parameters:\n    cameras: [CAM_BACK]\n    node.lidar_timeout: 2\n";
        let params = DetectParams::from_yaml(yaml).unwrap();
        assert_eq!((params.cameras, params.node.lidar_timeout), (vec!["CAM_BACK".to_string()], 2.0));
        assert_eq!(DetectParams::camera_topic("/{camera}/image_raw", "CAM_BACK"), "/CAM_BACK/image_raw");
    }
}
