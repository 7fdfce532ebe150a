//! Writes a rosbag2 directory as `ros2 bag record -s mcap` (or `-s
//! sqlite3`) does: `DIR/metadata.yaml` (version 9) and `DIR/<name>_0.mcap`
//! (or `DIR/<name>_0.db3`).

use std::path::{Path, PathBuf};

use super::mcap_file::McapWriter;
use super::metadata::{
    FileInformation, Metadata, Nanoseconds, NanosecondsSinceEpoch, TopicMetadata, TopicWithMessageCount,
};
use super::sqlite::SqliteWriter;
use super::{Connection, StorageKind};
use crate::{Error, Result};

/// The ROS distribution named in written metadata.
#[cfg(feature = "humble")]
const ROS_DISTRO: &str = "humble";
#[cfg(not(feature = "humble"))]
const ROS_DISTRO: &str = "jazzy";

/// A bag being written. Call [`BagWriter::finish`] to complete it; a bag
/// that is dropped unfinished keeps its MCAP data but has no metadata.yaml
/// (readers still open it, as they would a recorder killed mid-run).
pub struct BagWriter {
    dir: PathBuf,
    file_name: String,
    data: DataFile,
    connections: Vec<Connection>,
    counts: Vec<u64>,
    range: Option<(u64, u64)>,
}

/// The data file being written.
enum DataFile {
    Mcap(Box<McapWriter>),
    Sqlite(SqliteWriter),
}

impl BagWriter {
    /// Creates the MCAP bag directory `dir`, which must not exist yet (or be
    /// an empty directory), like `ros2 bag record -o`.
    pub fn create(dir: &Path) -> Result<Self> {
        Self::create_as(dir, StorageKind::Mcap)
    }

    /// [`BagWriter::create`] with the storage format `kind`.
    pub fn create_as(dir: &Path, kind: StorageKind) -> Result<Self> {
        if dir.exists() {
            let empty = dir.is_dir() && std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.next().is_none();
            if !empty {
                return Err(Error::Unsupported(format!("{} already exists: choose another --out", dir.display())));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let stem = dir.file_name().and_then(|n| n.to_str()).filter(|n| !n.is_empty()).unwrap_or("bag");
        let (file_name, data) = match kind {
            StorageKind::Mcap => {
                let name = format!("{stem}_0.mcap");
                let file = McapWriter::create(&dir.join(&name))?;
                (name, DataFile::Mcap(Box::new(file)))
            }
            StorageKind::Sqlite3 => {
                let name = format!("{stem}_0.db3");
                let file = SqliteWriter::create(&dir.join(&name), ROS_DISTRO)?;
                (name, DataFile::Sqlite(file))
            }
        };
        Ok(Self { dir: dir.to_path_buf(), file_name, data, connections: Vec::new(), counts: Vec::new(), range: None })
    }

    /// Adds (or finds) the connection for `topic` with `type_name`;
    /// returns the index to pass to [`BagWriter::write`].
    pub fn add_connection(&mut self, connection: Connection) -> Result<usize> {
        if let Some(i) =
            self.connections.iter().position(|c| c.topic == connection.topic && c.type_name == connection.type_name)
        {
            return Ok(i);
        }
        let index = match &mut self.data {
            DataFile::Mcap(file) => file.add_connection(&connection)?,
            DataFile::Sqlite(file) => file.add_connection(&connection)?,
        };
        self.connections.push(connection);
        self.counts.push(0);
        Ok(index)
    }

    /// Appends one CDR-serialised message received at `log_time` (ns).
    pub fn write(&mut self, connection: usize, log_time: u64, data: &[u8]) -> Result<()> {
        match &mut self.data {
            DataFile::Mcap(file) => file.write(connection, log_time, data)?,
            DataFile::Sqlite(file) => file.write(connection, log_time, data)?,
        }
        if let Some(count) = self.counts.get_mut(connection) {
            *count += 1;
        }
        self.range = Some(match self.range {
            None => (log_time, log_time),
            Some((a, b)) => (a.min(log_time), b.max(log_time)),
        });
        Ok(())
    }

    /// Finishes the data file and writes `metadata.yaml`; returns the bag
    /// directory.
    pub fn finish(self) -> Result<PathBuf> {
        let kind = match &self.data {
            DataFile::Mcap(_) => StorageKind::Mcap,
            DataFile::Sqlite(_) => StorageKind::Sqlite3,
        };
        let (start, end) = self.range.unwrap_or((0, 0));
        let total: u64 = self.counts.iter().sum();
        let duration = Nanoseconds { nanoseconds: end - start };
        let starting_time = NanosecondsSinceEpoch { nanoseconds_since_epoch: start };
        let topics = self
            .connections
            .iter()
            .zip(&self.counts)
            .map(|(c, &message_count)| TopicWithMessageCount {
                message_count,
                topic_metadata: TopicMetadata {
                    name: c.topic.clone(),
                    type_name: c.type_name.clone(),
                    serialization_format: c.serialization_format.clone(),
                    offered_qos_profiles: serde_norway::Value::String(c.offered_qos_profiles.clone()),
                    type_description_hash: String::new(),
                },
            })
            .collect();
        let metadata = Metadata {
            version: 9,
            storage_identifier: kind.identifier().into(),
            relative_file_paths: vec![self.file_name.clone()],
            duration,
            starting_time,
            message_count: total,
            topics_with_message_count: topics,
            compression_format: String::new(),
            compression_mode: String::new(),
            files: vec![FileInformation {
                path: self.file_name.clone(),
                starting_time,
                duration,
                message_count: total,
            }],
            custom_data: None,
            ros_distro: ROS_DISTRO.into(),
        };
        let text = metadata.write(&self.dir)?;
        match self.data {
            DataFile::Mcap(file) => file.finish()?,
            DataFile::Sqlite(file) => file.finish(&text)?,
        }
        Ok(self.dir)
    }
}
