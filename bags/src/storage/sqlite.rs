//! rosbag2 sqlite3 data files (`.db3`): the `topics` and `messages` tables
//! (and `message_definitions` since Iron), read in log-time order.

use std::path::Path;
use std::sync::mpsc::SyncSender;

use rusqlite::{Connection as Db, OpenFlags};

use super::{Connection, RawMessage};
use crate::{Error, Result};

fn corrupt(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::Corrupt { path: path.to_path_buf(), message: message.to_string() }
}

fn open(path: &Path) -> Result<Db> {
    let db = Db::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| corrupt(path, format!("cannot open as sqlite3: {e}")))?;
    // Fails here (not later) when the file is not a database at all.
    db.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
        .map_err(|e| corrupt(path, format!("not a sqlite3 database: {e}")))?;
    Ok(db)
}

/// The file's topics (with their sqlite topic ids) and message definitions.
pub fn topics(path: &Path) -> Result<Vec<(i64, Connection)>> {
    let db = open(path)?;
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('topics')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| corrupt(path, e))?;
    if columns.is_empty() {
        return Err(corrupt(path, "no `topics` table: not a rosbag2 sqlite3 file"));
    }
    let qos = if columns.iter().any(|c| c == "offered_qos_profiles") { "offered_qos_profiles" } else { "''" };
    let query = format!("SELECT id, name, type, serialization_format, {qos} FROM topics ORDER BY id");
    let mut topics: Vec<(i64, Connection)> = db
        .prepare(&query)
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    Connection {
                        topic: r.get(1)?,
                        type_name: r.get(2)?,
                        definition: String::new(),
                        serialization_format: r.get(3)?,
                        offered_qos_profiles: r.get(4)?,
                    },
                ))
            })?
            .collect()
        })
        .map_err(|e| corrupt(path, e))?;
    // Since Iron: message definitions live in their own table.
    let definitions: Vec<(String, String)> = db
        .prepare("SELECT topic_type, encoded_message_definition FROM message_definitions WHERE encoding = 'ros2msg'")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .unwrap_or_default();
    for (_, connection) in &mut topics {
        if let Some((_, text)) = definitions.iter().find(|(t, _)| *t == connection.type_name) {
            connection.definition = text.clone();
        }
    }
    Ok(topics)
}

/// `(topic id, message count)` pairs.
pub type TopicCounts = Vec<(i64, u64)>;

/// Messages per topic id, and the first/last log time.
pub fn statistics(path: &Path) -> Result<(TopicCounts, Option<(u64, u64)>)> {
    let db = open(path)?;
    let counts = db
        .prepare("SELECT topic_id, count(*) FROM messages GROUP BY topic_id")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64)))?.collect())
        .map_err(|e| corrupt(path, e))?;
    let range: (Option<i64>, Option<i64>) = db
        .query_row("SELECT min(timestamp), max(timestamp) FROM messages", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| corrupt(path, e))?;
    let range = match range {
        (Some(a), Some(b)) => Some((a.max(0) as u64, b.max(0) as u64)),
        _ => None,
    };
    Ok((counts, range))
}

/// Streams a `.db3` file's messages in `(timestamp, id)` order. A reader
/// thread owns the database and hands rows over a bounded channel, so memory
/// stays small for any file size; dropping the stream stops the thread.
pub struct SqliteMessages {
    rows: super::Threaded,
}

impl SqliteMessages {
    /// Opens `path`; `route` maps a sqlite topic id to the bag's connection
    /// index (`None`: skip that topic).
    pub fn open(path: &Path, route: Vec<(i64, usize)>) -> Result<Self> {
        let db = open(path)?;
        let path = path.to_path_buf();
        Ok(Self { rows: super::Threaded::spawn(256, move |sender| stream(&db, &path, &route, &sender)) })
    }
}

fn stream(db: &Db, path: &Path, route: &[(i64, usize)], sender: &SyncSender<Result<RawMessage>>) {
    let result = (|| -> rusqlite::Result<()> {
        let mut statement = db.prepare("SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, id")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let topic_id: i64 = row.get(0)?;
            let Some(&(_, connection)) = route.iter().find(|(id, _)| *id == topic_id) else { continue };
            let log_time = row.get::<_, i64>(1)?.max(0) as u64;
            let message = RawMessage { connection, log_time, data: row.get(2)? };
            if sender.send(Ok(message)).is_err() {
                return Ok(()); // the reader was dropped: stop quietly
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = sender.send(Err(corrupt(path, e)));
    }
}

impl Iterator for SqliteMessages {
    type Item = Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

/// rosbag2's sqlite3 schema version 4 (Iron and later: message definitions
/// in their own table), as `ros2 bag record -s sqlite3` creates it.
const SCHEMA: &str = "
    CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
    CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
    CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
        serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL, type_description_hash TEXT NOT NULL);
    CREATE TABLE message_definitions(id INTEGER PRIMARY KEY, topic_type TEXT NOT NULL, encoding TEXT NOT NULL,
        encoded_message_definition TEXT NOT NULL, type_description_hash TEXT NOT NULL);
    CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL,
        data BLOB NOT NULL);
    CREATE INDEX timestamp_idx ON messages (timestamp ASC);
";

/// Writes a `.db3` data file (schema 4) in one transaction, committed by
/// [`SqliteWriter::finish`].
pub struct SqliteWriter {
    path: std::path::PathBuf,
    db: Db,
    types: Vec<String>,
    topics: usize,
}

impl SqliteWriter {
    /// Creates `path` with rosbag2's tables; `distro` goes into `schema`.
    pub fn create(path: &Path, distro: &str) -> Result<Self> {
        let db = Db::open(path).map_err(|e| corrupt(path, format!("cannot create: {e}")))?;
        db.execute_batch(SCHEMA).map_err(|e| corrupt(path, e))?;
        db.execute("INSERT INTO schema(schema_version, ros_distro) VALUES (4, ?1)", [distro])
            .map_err(|e| corrupt(path, e))?;
        db.execute_batch("BEGIN").map_err(|e| corrupt(path, e))?;
        Ok(SqliteWriter { path: path.to_path_buf(), db, types: Vec::new(), topics: 0 })
    }

    /// Registers a topic (and its type's definition, once); returns its
    /// index for [`SqliteWriter::write`].
    pub fn add_connection(&mut self, connection: &Connection) -> Result<usize> {
        let path = &self.path;
        if !self.types.contains(&connection.type_name) {
            self.db
                .execute(
                    "INSERT INTO message_definitions (topic_type, encoding, encoded_message_definition, \
                     type_description_hash) VALUES (?1, 'ros2msg', ?2, '')",
                    [&connection.type_name, &connection.definition],
                )
                .map_err(|e| corrupt(path, e))?;
            self.types.push(connection.type_name.clone());
        }
        let id = self.topics as i64 + 1;
        self.db
            .execute(
                "INSERT INTO topics VALUES (?1, ?2, ?3, ?4, ?5, '')",
                rusqlite::params![
                    id,
                    connection.topic,
                    connection.type_name,
                    connection.serialization_format,
                    connection.offered_qos_profiles
                ],
            )
            .map_err(|e| corrupt(path, e))?;
        self.topics += 1;
        Ok(self.topics - 1)
    }

    /// Appends one message of topic `connection` received at `log_time` (ns).
    pub fn write(&mut self, connection: usize, log_time: u64, data: &[u8]) -> Result<()> {
        let stamp = i64::try_from(log_time).map_err(|_| corrupt(&self.path, format!("log time {log_time} ns")))?;
        self.db
            .execute(
                "INSERT INTO messages (topic_id, timestamp, data) VALUES (?1, ?2, ?3)",
                rusqlite::params![connection as i64 + 1, stamp, data],
            )
            .map_err(|e| corrupt(&self.path, e))?;
        Ok(())
    }

    /// Stores the bag's metadata.yaml text and commits.
    pub fn finish(self, metadata_yaml: &str) -> Result<()> {
        let path = &self.path;
        self.db
            .execute("INSERT INTO metadata(metadata_version, metadata) VALUES (9, ?1)", [metadata_yaml])
            .map_err(|e| corrupt(path, e))?;
        self.db.execute_batch("COMMIT").map_err(|e| corrupt(path, e))
    }
}
