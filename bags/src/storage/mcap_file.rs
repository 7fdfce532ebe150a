//! MCAP data files as rosbag2 writes them: profile `ros2`, schemas encoded
//! `ros2msg`, messages encoded `cdr`.
//!
//! Reading streams the file (bounded memory, any size), handles chunked,
//! zstd/lz4-compressed and summary-less files, and reports a truncated or
//! corrupt file as an error after every intact message before it. The
//! summary section, when present, gives topics and counts without a scan.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mcap::records::{Record, op};
use mcap::sans_io::LinearReaderOptions;

use super::{Connection, RawMessage};
use crate::{Error, Result};

/// Topics and statistics of one MCAP file.
#[derive(Debug, Clone, Default)]
pub struct McapSummary {
    /// One entry per channel, in channel-id order.
    pub connections: Vec<Connection>,
    /// Messages per channel topic.
    pub counts: BTreeMap<String, u64>,
    /// Log time of the first and last message (ns), if any.
    pub time_range: Option<(u64, u64)>,
}

fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Corrupt { path: path.to_path_buf(), message: message.to_string() }
}

fn connection_from(channel: &mcap::Channel<'_>) -> Connection {
    let (type_name, definition) = match &channel.schema {
        Some(schema) => (schema.name.clone(), String::from_utf8_lossy(&schema.data).into_owned()),
        None => (String::new(), String::new()),
    };
    Connection {
        topic: channel.topic.clone(),
        type_name,
        definition,
        serialization_format: channel.message_encoding.clone(),
        offered_qos_profiles: channel.metadata.get("offered_qos_profiles").cloned().unwrap_or_default(),
    }
}

/// Reads the footer and summary section, if the file has them. `Ok(None)`
/// means "no usable summary" (e.g. a truncated file): scan instead.
pub fn read_summary(path: &Path) -> Result<Option<McapSummary>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    // Footer record (1 + 8 + 20 bytes) + closing magic (8 bytes).
    const TAIL: u64 = 29 + 8;
    if len < 8 + TAIL {
        return Ok(None);
    }
    let mut tail = [0u8; TAIL as usize];
    file.seek(SeekFrom::Start(len - TAIL)).and_then(|_| file.read_exact(&mut tail)).map_err(|e| Error::io(path, e))?;
    if &tail[29..] != mcap::MAGIC || tail[0] != op::FOOTER {
        return Ok(None);
    }
    let Ok(Record::Footer(footer)) = mcap::parse_record(op::FOOTER, &tail[9..29]) else { return Ok(None) };
    if footer.summary_start == 0 || footer.summary_start >= len - TAIL {
        return Ok(None);
    }
    let mut section = vec![0u8; (len - TAIL - footer.summary_start) as usize];
    file.seek(SeekFrom::Start(footer.summary_start))
        .and_then(|_| file.read_exact(&mut section))
        .map_err(|e| Error::io(path, e))?;
    parse_summary(path, &section).map(Some)
}

fn parse_summary(path: &Path, mut section: &[u8]) -> Result<McapSummary> {
    let mut schemas: HashMap<u16, (String, String)> = HashMap::new();
    let mut channels: BTreeMap<u16, Connection> = BTreeMap::new();
    let mut statistics = None;
    while !section.is_empty() {
        if section.len() < 9 {
            return Err(corrupt(path, "summary section ends inside a record header"));
        }
        let opcode = section[0];
        let body_len = u64::from_le_bytes(section[1..9].try_into().map_err(|_| corrupt(path, "bad length"))?);
        let body_end = usize::try_from(body_len).ok().and_then(|l| l.checked_add(9)).filter(|&e| e <= section.len());
        let Some(body_end) = body_end else {
            return Err(corrupt(path, "summary record runs past the summary section"));
        };
        let body = &section[9..body_end];
        match mcap::parse_record(opcode, body).map_err(|e| corrupt(path, format!("summary: {e}")))? {
            Record::Schema { header, data } => {
                schemas.insert(header.id, (header.name, String::from_utf8_lossy(&data).into_owned()));
            }
            Record::Channel(channel) => {
                let (type_name, definition) = schemas.get(&channel.schema_id).cloned().unwrap_or_default();
                let offered_qos_profiles = channel.metadata.get("offered_qos_profiles").cloned().unwrap_or_default();
                let connection = Connection {
                    topic: channel.topic,
                    type_name,
                    definition,
                    serialization_format: channel.message_encoding,
                    offered_qos_profiles,
                };
                channels.insert(channel.id, connection);
            }
            Record::Statistics(stats) => statistics = Some(stats),
            _ => {}
        }
        section = &section[body_end..];
    }
    let mut summary = McapSummary::default();
    if let Some(stats) = statistics {
        for (id, count) in &stats.channel_message_counts {
            if let Some(c) = channels.get(id) {
                *summary.counts.entry(c.topic.clone()).or_default() += count;
            }
        }
        if stats.message_count > 0 {
            summary.time_range = Some((stats.message_start_time, stats.message_end_time));
        }
    }
    summary.connections = channels.into_values().collect();
    Ok(summary)
}

/// Maps a file's channel to the index of its bag connection (`None`: skip).
pub type Resolve = Arc<dyn Fn(&Connection) -> Option<usize> + Send + Sync>;

/// A streaming reader of one MCAP file's messages, in file order.
pub struct McapMessages {
    path: PathBuf,
    reader: mcap::io::MessageReader<BufReader<File>>,
    /// Channel id → index into the bag's connection list (filled lazily).
    route: HashMap<u16, Option<usize>>,
    resolve: Resolve,
    delivered: u64,
    failed: bool,
}

impl McapMessages {
    /// Opens `path`; `resolve` maps a channel to the index of its
    /// connection in the bag (or `None` to skip the channel's messages).
    pub fn open(path: &Path, resolve: Resolve) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        // A truncated file has no closing magic: don't require it, so the
        // error names the broken record instead. A corrupt length field must
        // not make the reader allocate exabytes: no record (or decompressed
        // chunk) may exceed 4× the file, within [64 MiB, 4 GiB].
        let limit = len.saturating_mul(4).clamp(64 << 20, 4 << 30);
        let options = LinearReaderOptions::default()
            .with_skip_end_magic(true)
            .with_record_length_limit(usize::try_from(limit).unwrap_or(usize::MAX));
        let reader = mcap::io::MessageReader::new_with_options(BufReader::with_capacity(1 << 20, file), options);
        Ok(Self { path: path.to_path_buf(), reader, route: HashMap::new(), resolve, delivered: 0, failed: false })
    }
}

impl Iterator for McapMessages {
    type Item = Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            // Safety net: the mcap crate can panic on some corrupt files
            // (e.g. an integer underflow in 0.26's uncompressed-chunk path,
            // found by fuzzing). A corrupt bag must be an error, never a crash.
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.reader.next()));
            let Ok(next) = next else {
                self.failed = true;
                let what = format!("corrupt MCAP record (reader panicked; after {} intact messages)", self.delivered);
                return Some(Err(corrupt(&self.path, what)));
            };
            let message = match next? {
                Ok(message) => message,
                Err(e) => {
                    self.failed = true;
                    let what = format!("{e} (after {} intact messages)", self.delivered);
                    return Some(Err(corrupt(&self.path, what)));
                }
            };
            let resolve = &self.resolve;
            let route =
                *self.route.entry(message.channel.id).or_insert_with(|| resolve(&connection_from(&message.channel)));
            if let Some(connection) = route {
                self.delivered += 1;
                return Some(Ok(RawMessage {
                    connection,
                    log_time: message.log_time,
                    data: message.data.into_owned(),
                }));
            }
        }
    }
}

/// Scans a whole MCAP file for its topics and statistics (for files without
/// a usable summary). Stops at the first corrupt record and returns what it
/// found before it, with the error.
pub fn scan(path: &Path) -> Result<(McapSummary, Option<Error>)> {
    let seen: Arc<std::sync::Mutex<Vec<Connection>>> = Arc::default();
    let collect = Arc::clone(&seen);
    let resolve = Arc::new(move |c: &Connection| {
        let mut list = collect.lock().ok()?;
        list.push(c.clone());
        Some(list.len() - 1)
    });
    let mut summary = McapSummary::default();
    let mut counts = Vec::new();
    let mut failure = None;
    for message in McapMessages::open(path, resolve)? {
        let message = match message {
            Ok(message) => message,
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        if counts.len() <= message.connection {
            counts.resize(message.connection + 1, 0u64);
        }
        counts[message.connection] += 1;
        summary.time_range = Some(match summary.time_range {
            None => (message.log_time, message.log_time),
            Some((a, b)) => (a.min(message.log_time), b.max(message.log_time)),
        });
    }
    summary.connections = seen.lock().map(|l| l.clone()).unwrap_or_default();
    for (i, c) in summary.connections.iter().enumerate() {
        *summary.counts.entry(c.topic.clone()).or_default() += counts.get(i).copied().unwrap_or(0);
    }
    Ok((summary, failure))
}

/// Writes one MCAP data file of a rosbag2 bag.
pub struct McapWriter {
    path: PathBuf,
    writer: mcap::Writer<BufWriter<File>>,
    channels: Vec<u16>,
    sequences: Vec<u32>,
}

impl McapWriter {
    /// Creates `path` (zstd-compressed chunks, `ros2` profile).
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let writer = mcap::WriteOptions::new()
            .profile("ros2")
            .library(concat!("cairn-bags-", env!("CARGO_PKG_VERSION")))
            .compression(Some(mcap::Compression::Zstd))
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(|e| corrupt(path, e))?;
        Ok(Self { path: path.to_path_buf(), writer, channels: Vec::new(), sequences: Vec::new() })
    }

    /// Registers a connection; returns its index for [`McapWriter::write`].
    pub fn add_connection(&mut self, connection: &Connection) -> Result<usize> {
        let schema = self
            .writer
            .add_schema(&connection.type_name, "ros2msg", connection.definition.as_bytes())
            .map_err(|e| corrupt(&self.path, e))?;
        let metadata = BTreeMap::from([("offered_qos_profiles".to_owned(), connection.offered_qos_profiles.clone())]);
        let channel = self
            .writer
            .add_channel(schema, &connection.topic, &connection.serialization_format, &metadata)
            .map_err(|e| corrupt(&self.path, e))?;
        self.channels.push(channel);
        self.sequences.push(0);
        Ok(self.channels.len() - 1)
    }

    /// Appends one serialised message.
    pub fn write(&mut self, connection: usize, log_time: u64, data: &[u8]) -> Result<()> {
        let (Some(&channel_id), Some(sequence)) = (self.channels.get(connection), self.sequences.get_mut(connection))
        else {
            return Err(Error::Unsupported(format!(
                "connection {connection} was not added to {}",
                self.path.display()
            )));
        };
        *sequence = sequence.wrapping_add(1);
        let header = mcap::records::MessageHeader { channel_id, sequence: *sequence, log_time, publish_time: log_time };
        self.writer.write_to_known_channel(&header, data).map_err(|e| corrupt(&self.path, e))
    }

    /// Writes the summary and footer and flushes the file.
    pub fn finish(mut self) -> Result<()> {
        self.writer.finish().map_err(|e| corrupt(&self.path, e))?;
        Ok(())
    }
}
