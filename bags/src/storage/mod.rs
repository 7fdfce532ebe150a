//! rosbag2 storage: a bag is a directory (`metadata.yaml` + data files) as
//! `ros2 bag record` writes it, or a bare `.mcap` / `.db3` file.
//!
//! [`Bag::open`] finds the data files and their topics; [`Bag::messages`]
//! streams serialised messages in log-time order across files (each file is
//! read in its own order and the files are merged); [`BagWriter`] writes a
//! rosbag2 directory with one MCAP file.

pub mod mcap_file;
pub mod metadata;
pub mod sqlite;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Error, Result};
use metadata::Metadata;

/// A topic stream in a bag: what rosbag2 calls a topic's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection {
    /// Topic name, e.g. `/camera/rgb/image_color`.
    pub topic: String,
    /// ROS type, e.g. `sensor_msgs/msg/Image`.
    pub type_name: String,
    /// Full `ros2msg` definition (empty when the file has none).
    pub definition: String,
    /// `cdr` for ROS 2.
    pub serialization_format: String,
    /// QoS profiles as rosbag2 stores them (YAML text).
    pub offered_qos_profiles: String,
}

/// One serialised message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// Index into [`Bag::connections`].
    pub connection: usize,
    /// Receive time, nanoseconds since the epoch.
    pub log_time: u64,
    /// CDR bytes with their encapsulation header.
    pub data: Vec<u8>,
}

/// The storage format of a bag's data files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    /// `.mcap` files.
    Mcap,
    /// `.db3` files.
    Sqlite3,
}

impl StorageKind {
    /// rosbag2's storage identifier.
    pub fn identifier(self) -> &'static str {
        match self {
            StorageKind::Mcap => "mcap",
            StorageKind::Sqlite3 => "sqlite3",
        }
    }

    fn from_path(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("mcap") => Some(StorageKind::Mcap),
            Some("db3") => Some(StorageKind::Sqlite3),
            _ => None,
        }
    }
}

/// True when `path` is something [`Bag::open`] reads: a rosbag2 directory
/// (with `metadata.yaml`, or only `.mcap` / `.db3` files, as a recorder
/// killed mid-run leaves it) or a bare `.mcap` / `.db3` file.
pub fn is_bag(path: &Path) -> bool {
    if path.is_dir() {
        return path.join("metadata.yaml").is_file()
            || std::fs::read_dir(path)
                .map(|entries| entries.filter_map(|e| e.ok()).any(|e| StorageKind::from_path(&e.path()).is_some()))
                .unwrap_or(false);
    }
    path.is_file() && StorageKind::from_path(path).is_some()
}

/// Topic statistics, as `ros2 bag info` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// ROS type.
    pub type_name: String,
    /// Messages on the topic.
    pub count: u64,
}

/// What `cairn bag info` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagInfo {
    /// Storage identifier (`mcap`, `sqlite3`).
    pub storage: StorageKind,
    /// The data files.
    pub files: Vec<PathBuf>,
    /// Log time of the first message (ns since the epoch).
    pub start_ns: u64,
    /// Log time of the last message.
    pub end_ns: u64,
    /// Total messages.
    pub message_count: u64,
    /// Per topic, in name order.
    pub topics: Vec<TopicInfo>,
}

impl BagInfo {
    /// `end − start` in nanoseconds.
    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }
}

/// An open bag.
#[derive(Debug)]
pub struct Bag {
    /// The path the user gave.
    pub path: PathBuf,
    /// Storage of the data files.
    pub storage: StorageKind,
    /// Data files in recording order.
    pub files: Vec<PathBuf>,
    /// `metadata.yaml`, for directory bags that have one.
    pub metadata: Option<Metadata>,
    /// Topics, unique by (topic, type), across all files.
    pub connections: Vec<Connection>,
    /// What was found broken when opened with [`Bag::open_recover`].
    pub problems: Vec<Error>,
    info: BagInfo,
}

impl Bag {
    /// Opens a rosbag2 directory, a bare `.mcap` or a bare `.db3`, and reads
    /// its topics and statistics (from MCAP summaries where present; a file
    /// without one is scanned). A corrupt file is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, false)
    }

    /// Like [`Bag::open`], but a truncated or corrupt MCAP file is not an
    /// error: its intact part counts, and the damage is listed in
    /// [`Bag::problems`] (and surfaces again when streaming messages).
    pub fn open_recover(path: &Path) -> Result<Self> {
        Self::open_with(path, true)
    }

    fn open_with(path: &Path, recover: bool) -> Result<Self> {
        let (storage, files, metadata) = locate(path)?;
        let mut problems = Vec::new();
        let mut connections: Vec<Connection> = Vec::new();
        let mut counts: BTreeMap<usize, u64> = BTreeMap::new();
        let mut range: Option<(u64, u64)> = None;
        for file in &files {
            let (file_connections, file_counts, file_range, problem) = file_statistics(storage, file)?;
            if let Some(problem) = problem {
                if !recover {
                    return Err(problem);
                }
                problems.push(problem);
            }
            for (connection, count) in file_connections.into_iter().zip(file_counts) {
                let index = intern(&mut connections, connection);
                *counts.entry(index).or_default() += count;
            }
            range = match (range, file_range) {
                (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                (r, None) | (None, r) => r,
            };
        }
        let mut topics: Vec<TopicInfo> = connections
            .iter()
            .enumerate()
            .map(|(i, c)| TopicInfo {
                name: c.topic.clone(),
                type_name: c.type_name.clone(),
                count: counts.get(&i).copied().unwrap_or(0),
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        let (start_ns, end_ns) = range.unwrap_or((0, 0));
        let message_count = topics.iter().map(|t| t.count).sum();
        let info = BagInfo { storage, files: files.clone(), start_ns, end_ns, message_count, topics };
        Ok(Self { path: path.to_path_buf(), storage, files, metadata, connections, problems, info })
    }

    /// Storage, duration, counts per topic.
    pub fn info(&self) -> &BagInfo {
        &self.info
    }

    /// Index of the connection on `topic`, if any.
    pub fn connection_index(&self, topic: &str) -> Option<usize> {
        self.connections.iter().position(|c| c.topic == topic)
    }

    /// Streams the messages of `topics` (all topics if empty) in log-time
    /// order. A corrupt file yields an error after its intact messages.
    pub fn messages(&self, topics: &[&str]) -> Result<Messages> {
        let wanted = |c: &Connection| topics.is_empty() || topics.contains(&c.topic.as_str());
        let mut streams: Vec<Stream> = Vec::new();
        for file in &self.files {
            let stream: Stream = match self.storage {
                StorageKind::Mcap => {
                    let known: Vec<Connection> = self.connections.clone();
                    let selected: Vec<bool> = known.iter().map(wanted).collect();
                    let resolve = Arc::new(move |c: &Connection| {
                        let i = known.iter().position(|k| k.topic == c.topic && k.type_name == c.type_name)?;
                        selected[i].then_some(i)
                    });
                    prefetch(Box::new(mcap_file::McapMessages::open(file, resolve)?))
                }
                StorageKind::Sqlite3 => {
                    let route = sqlite::topics(file)?
                        .into_iter()
                        .filter_map(|(id, c)| {
                            let i = self
                                .connections
                                .iter()
                                .position(|k| k.topic == c.topic && k.type_name == c.type_name)?;
                            wanted(&self.connections[i]).then_some((id, i))
                        })
                        .collect();
                    Box::new(sqlite::SqliteMessages::open(file, route)?)
                }
            };
            streams.push(stream);
        }
        Ok(Messages { heads: streams.into_iter().map(|s| s.peekable()).collect() })
    }
}

type Stream = Box<dyn Iterator<Item = Result<RawMessage>> + Send>;

/// Messages a prefetching reader may hold ready (bounded memory: a few
/// messages per file).
const PREFETCH: usize = 8;

/// Runs `stream` on its own thread, handing messages over a bounded
/// channel: reading and decompressing the file overlaps with the
/// consumer's decoding.
fn prefetch(stream: Stream) -> Stream {
    Box::new(Threaded::spawn(PREFETCH, move |sender| {
        for item in stream {
            if sender.send(item).is_err() {
                break; // the consumer is gone
            }
        }
    }))
}

/// Messages produced on a thread of their own. Dropping the stream stops
/// the thread and waits for it, so no reader outlives its stream (nor the
/// process's last use of the bag).
pub(crate) struct Threaded {
    receiver: Option<std::sync::mpsc::Receiver<Result<RawMessage>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Threaded {
    /// Starts `produce` on a new thread with a channel of `capacity` messages.
    pub(crate) fn spawn(
        capacity: usize,
        produce: impl FnOnce(std::sync::mpsc::SyncSender<Result<RawMessage>>) + Send + 'static,
    ) -> Self {
        let (sender, receiver) = std::sync::mpsc::sync_channel(capacity);
        let thread = std::thread::spawn(move || produce(sender));
        Threaded { receiver: Some(receiver), thread: Some(thread) }
    }
}

impl Iterator for Threaded {
    type Item = Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        self.receiver.as_ref()?.recv().ok()
    }
}

impl Drop for Threaded {
    fn drop(&mut self) {
        // Closing the channel first makes the producer's next send fail.
        drop(self.receiver.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Messages merged across data files by log time.
pub struct Messages {
    heads: Vec<std::iter::Peekable<Stream>>,
}

impl Iterator for Messages {
    type Item = Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut best: Option<(usize, u64)> = None;
        for (i, head) in self.heads.iter_mut().enumerate() {
            match head.peek() {
                Some(Err(_)) => return head.next(), // report errors as soon as they surface
                Some(Ok(m)) if best.is_none_or(|(_, t)| m.log_time < t) => best = Some((i, m.log_time)),
                _ => {}
            }
        }
        best.and_then(|(i, _)| self.heads[i].next())
    }
}

fn intern(connections: &mut Vec<Connection>, connection: Connection) -> usize {
    match connections.iter().position(|c| c.topic == connection.topic && c.type_name == connection.type_name) {
        Some(i) => {
            if connections[i].definition.is_empty() {
                connections[i].definition = connection.definition;
            }
            i
        }
        None => {
            connections.push(connection);
            connections.len() - 1
        }
    }
}

/// Per-file connections, their message counts (same order), time range, and
/// the corruption that stopped a scan early.
type FileStatistics = (Vec<Connection>, Vec<u64>, Option<(u64, u64)>, Option<Error>);

fn file_statistics(storage: StorageKind, file: &Path) -> Result<FileStatistics> {
    match storage {
        StorageKind::Mcap => {
            let (summary, problem) = match mcap_file::read_summary(file)? {
                Some(summary) if !summary.counts.is_empty() || summary.connections.is_empty() => (summary, None),
                _ => mcap_file::scan(file)?,
            };
            let counts =
                summary.connections.iter().map(|c| summary.counts.get(&c.topic).copied().unwrap_or(0)).collect();
            Ok((summary.connections, counts, summary.time_range, problem))
        }
        StorageKind::Sqlite3 => {
            let topics = sqlite::topics(file)?;
            let (per_topic, range) = sqlite::statistics(file)?;
            let counts =
                topics.iter().map(|(id, _)| per_topic.iter().find(|(t, _)| t == id).map_or(0, |(_, n)| *n)).collect();
            Ok((topics.into_iter().map(|(_, c)| c).collect(), counts, range, None))
        }
    }
}

/// The storage kind, data files and metadata of the bag at `path`.
fn locate(path: &Path) -> Result<(StorageKind, Vec<PathBuf>, Option<Metadata>)> {
    if path.is_dir() {
        if path.join("metadata.yaml").is_file() {
            let metadata = Metadata::read(path)?;
            let files: Vec<PathBuf> = metadata.relative_file_paths.iter().map(|f| path.join(f)).collect();
            let storage = match metadata.storage_identifier.as_str() {
                "mcap" => StorageKind::Mcap,
                "sqlite3" => StorageKind::Sqlite3,
                other => {
                    return Err(Error::Unsupported(format!(
                        "{}: storage {other:?} is not supported (mcap, sqlite3)",
                        path.display()
                    )));
                }
            };
            if let Some(missing) = files.iter().find(|f| !f.is_file()) {
                return Err(Error::Corrupt {
                    path: missing.clone(),
                    message: "listed in metadata.yaml but missing".into(),
                });
            }
            if !metadata.compression_mode.is_empty() && metadata.compression_mode != "NONE" {
                return Err(Error::Unsupported(format!(
                    "{}: rosbag2 {} compression ({}) is not supported; decompress with `ros2 bag convert`",
                    path.display(),
                    metadata.compression_mode,
                    metadata.compression_format
                )));
            }
            return Ok((storage, files, Some(metadata)));
        }
        // No metadata.yaml (e.g. a recorder killed before writing it): use
        // the data files in name order.
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| StorageKind::from_path(p).is_some())
            .collect();
        files.sort();
        let Some(storage) = files.first().and_then(|f| StorageKind::from_path(f)) else {
            return Err(Error::Unsupported(format!("{}: no metadata.yaml and no .mcap or .db3 file", path.display())));
        };
        files.retain(|f| StorageKind::from_path(f) == Some(storage));
        return Ok((storage, files, None));
    }
    if !path.exists() {
        return Err(Error::io(path, std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
    match StorageKind::from_path(path) {
        Some(storage) => Ok((storage, vec![path.to_path_buf()], None)),
        None => Err(Error::Unsupported(format!("{}: not a rosbag2 directory, .mcap or .db3 file", path.display()))),
    }
}

pub use writer::BagWriter;
mod writer;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Regression (found by the mcap_file fuzzer's leak check): a reader
    /// thread must not outlive its stream. Dropping a half-read stream stops
    /// the producer and waits for it.
    #[test]
    fn dropping_a_threaded_stream_stops_and_joins_its_thread() {
        let finished = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&finished);
        let mut stream = Threaded::spawn(1, move |sender| {
            for i in 0..1_000_000u64 {
                let message = RawMessage { connection: 0, log_time: i, data: Vec::new() };
                if sender.send(Ok(message)).is_err() {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(true, Ordering::SeqCst);
        });
        assert_eq!(stream.next().and_then(Result::ok).map(|m| m.log_time), Some(0));
        drop(stream);
        assert!(finished.load(Ordering::SeqCst), "the producer thread was still running after drop");
    }

    /// A directory a killed recorder left (data files, no metadata.yaml)
    /// is a bag, as `Bag::open` reads it; a TUM folder or a stray file is not.
    #[test]
    fn is_bag_accepts_what_bag_open_reads() {
        let dir = std::env::temp_dir().join(format!("cairn-is-bag-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("killed")).unwrap();
        std::fs::create_dir_all(dir.join("tum")).unwrap();
        std::fs::write(dir.join("killed/run_0.mcap"), b"").unwrap();
        std::fs::write(dir.join("tum/rgb.txt"), b"").unwrap();
        std::fs::write(dir.join("x.db3"), b"").unwrap();
        std::fs::write(dir.join("x.txt"), b"").unwrap();
        assert!(is_bag(&dir.join("killed")));
        assert!(is_bag(&dir.join("x.db3")));
        assert!(!is_bag(&dir.join("tum")));
        assert!(!is_bag(&dir.join("x.txt")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
