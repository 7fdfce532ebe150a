//! Entry points of the fuzz targets (`bags/fuzz`, cargo-fuzz) and of the
//! corpus replay test that runs in CI on stable Rust: each takes arbitrary
//! bytes and must return without panicking, whatever they hold.

use std::path::PathBuf;

use crate::storage::Bag;

/// A per-process, per-thread scratch file with the given extension.
fn scratch(extension: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id()).replace(|c: char| !c.is_ascii_alphanumeric(), "");
    std::env::temp_dir().join(format!("cairn-fuzz-{}-{thread}.{extension}", std::process::id()))
}

/// Opens `data` as a bag file with `extension` and streams every message.
fn bag_bytes(data: &[u8], extension: &str) {
    let path = scratch(extension);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(bag) = Bag::open_recover(&path) {
        let _ = bag.info();
        if let Ok(messages) = bag.messages(&[]) {
            for message in messages {
                if message.is_err() {
                    break;
                }
            }
        }
    }
    // sqlite leaves -wal/-shm companions beside a WAL-mode database.
    for suffix in ["", "-wal", "-shm"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        let _ = std::fs::remove_file(companion);
    }
}

/// Fuzz target: arbitrary bytes as an MCAP file.
pub fn mcap_file(data: &[u8]) {
    bag_bytes(data, "mcap");
}

/// Fuzz target: arbitrary bytes as a rosbag2 sqlite3 file.
pub fn sqlite_file(data: &[u8]) {
    bag_bytes(data, "db3");
}
