//! rosbag2's `metadata.yaml`: what `ros2 bag record` writes beside the data
//! files, and what `ros2 bag info` reads. Versions 4–9 are read (fields
//! missing in older versions default); version 9 is written.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The file's single top-level key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetadataFile {
    /// The bag's metadata.
    pub rosbag2_bagfile_information: Metadata,
}

/// `rosbag2_bagfile_information`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// Metadata format version (9 for Jazzy).
    pub version: u32,
    /// `mcap` or `sqlite3`.
    pub storage_identifier: String,
    /// Data files, relative to the bag directory, in recording order.
    pub relative_file_paths: Vec<String>,
    /// Time between the first and the last message.
    pub duration: Nanoseconds,
    /// Log time of the first message.
    pub starting_time: NanosecondsSinceEpoch,
    /// Messages in the whole bag.
    pub message_count: u64,
    /// One entry per topic.
    pub topics_with_message_count: Vec<TopicWithMessageCount>,
    /// File-level compression (`zstd`) or empty.
    #[serde(default)]
    pub compression_format: String,
    /// `FILE`, `MESSAGE` or empty.
    #[serde(default)]
    pub compression_mode: String,
    /// Per-file statistics (version ≥ 5).
    #[serde(default)]
    pub files: Vec<FileInformation>,
    /// Free-form key/values (version ≥ 6).
    #[serde(default)]
    pub custom_data: Option<std::collections::BTreeMap<String, String>>,
    /// The ROS distribution that wrote the bag (version ≥ 7).
    #[serde(default)]
    pub ros_distro: String,
}

/// A duration in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Nanoseconds {
    /// Nanoseconds.
    pub nanoseconds: u64,
}

/// A time in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct NanosecondsSinceEpoch {
    /// Nanoseconds since 1970-01-01.
    pub nanoseconds_since_epoch: u64,
}

/// One topic and how many messages it has.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicWithMessageCount {
    /// Messages on this topic.
    pub message_count: u64,
    /// The topic.
    pub topic_metadata: TopicMetadata,
}

/// A topic as rosbag2 describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicMetadata {
    /// Topic name, e.g. `/camera/rgb/image_color`.
    pub name: String,
    /// ROS type, e.g. `sensor_msgs/msg/Image`.
    #[serde(rename = "type")]
    pub type_name: String,
    /// `cdr`.
    pub serialization_format: String,
    /// QoS profiles: a YAML string (version ≤ 8) or a list (version 9).
    #[serde(default)]
    pub offered_qos_profiles: serde_norway::Value,
    /// REP-2011 type hash (`RIHS01_…`), empty when unknown (version ≥ 8).
    #[serde(default)]
    pub type_description_hash: String,
}

/// Statistics of one data file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileInformation {
    /// File name relative to the bag directory.
    pub path: String,
    /// Log time of its first message.
    pub starting_time: NanosecondsSinceEpoch,
    /// Time between its first and last message.
    pub duration: Nanoseconds,
    /// Messages in the file.
    pub message_count: u64,
}

impl Metadata {
    /// Reads `dir/metadata.yaml`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("metadata.yaml");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let file: MetadataFile = serde_norway::from_str(&text)
            .map_err(|e| Error::Corrupt { path: path.clone(), message: format!("not rosbag2 metadata: {e}") })?;
        let metadata = file.rosbag2_bagfile_information;
        if metadata.relative_file_paths.is_empty() {
            return Err(Error::Corrupt { path, message: "relative_file_paths is empty".into() });
        }
        Ok(metadata)
    }

    /// Writes `dir/metadata.yaml`; returns its text.
    pub fn write(&self, dir: &Path) -> Result<String> {
        let path = dir.join("metadata.yaml");
        let text = serde_norway::to_string(&MetadataFile { rosbag2_bagfile_information: self.clone() })
            .map_err(|e| Error::Corrupt { path: path.clone(), message: e.to_string() })?;
        std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROSBAGS_V9: &str = r#"rosbag2_bagfile_information:
  compression_format: ''
  compression_mode: ''
  custom_data: null
  duration:
    nanoseconds: 20
  files:
  - duration:
      nanoseconds: 20
    message_count: 3
    path: rbtest.mcap
    starting_time:
      nanoseconds_since_epoch: 1000
  message_count: 3
  relative_file_paths:
  - rbtest.mcap
  ros_distro: rosbags
  starting_time:
    nanoseconds_since_epoch: 1000
  storage_identifier: mcap
  topics_with_message_count:
  - message_count: 3
    topic_metadata:
      name: /chatter
      offered_qos_profiles: []
      serialization_format: cdr
      type: std_msgs/msg/String
      type_description_hash:
        RIHS01_df668c740482bbd48fb39d76a70dfd4bd59db1288021743503259e948f6b1a18
  version: 9
"#;

    const ROS2_V4: &str = "rosbag2_bagfile_information:\n  version: 4\n  storage_identifier: sqlite3\n  relative_file_paths:\n    - b_0.db3\n  duration:\n    nanoseconds: 5\n  starting_time:\n    nanoseconds_since_epoch: 7\n  message_count: 1\n  topics_with_message_count:\n    - topic_metadata:\n        name: /x\n        type: std_msgs/msg/String\n        serialization_format: cdr\n        offered_qos_profiles: \"- history: 3\\n  depth: 0\\n\"\n      message_count: 1\n  compression_format: \"\"\n  compression_mode: \"\"\n";

    #[test]
    fn reads_rosbags_v9_and_ros2_v4() {
        let v9: MetadataFile = serde_norway::from_str(ROSBAGS_V9).unwrap();
        let m = v9.rosbag2_bagfile_information;
        assert_eq!((m.version, m.message_count, m.files.len()), (9, 3, 1));
        assert!(m.topics_with_message_count[0].topic_metadata.type_description_hash.starts_with("RIHS01_"));
        let v4: MetadataFile = serde_norway::from_str(ROS2_V4).unwrap();
        let m = v4.rosbag2_bagfile_information;
        assert_eq!((m.version, m.storage_identifier.as_str()), (4, "sqlite3"));
        assert!(m.files.is_empty() && m.ros_distro.is_empty());
    }

    #[test]
    fn write_read_round_trip_and_errors() {
        let dir = std::env::temp_dir().join(format!("cairn-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let m = serde_norway::from_str::<MetadataFile>(ROSBAGS_V9).unwrap().rosbag2_bagfile_information;
        m.write(&dir).unwrap();
        assert_eq!(Metadata::read(&dir).unwrap(), m);
        std::fs::write(dir.join("metadata.yaml"), "rosbag2_bagfile_information: 3\n").unwrap();
        let err = Metadata::read(&dir).unwrap_err().to_string();
        assert!(err.contains("metadata.yaml") && err.contains("not rosbag2 metadata"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
