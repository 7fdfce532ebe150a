//! rosbag2 storage written and read by cairn: round trips, log-time order
//! across files, sqlite3, and bad input (truncated, corrupt, missing).

#![allow(clippy::unwrap_used)] // test helpers

use std::path::{Path, PathBuf};

use cairn_bags::Error;
use cairn_bags::storage::{Bag, BagWriter, Connection, StorageKind};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-bags-storage-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn connection(topic: &str, type_name: &str) -> Connection {
    Connection {
        topic: topic.into(),
        type_name: type_name.into(),
        definition: "string data\n".into(),
        serialization_format: "cdr".into(),
        offered_qos_profiles: String::new(),
    }
}

/// CDR of std_msgs/String with `text` (header, length incl. NUL, bytes, NUL).
fn string_cdr(text: &str) -> Vec<u8> {
    let mut out = vec![0, 1, 0, 0];
    out.extend(((text.len() + 1) as u32).to_le_bytes());
    out.extend(text.as_bytes());
    out.push(0);
    out
}

/// Writes `n` messages on /a and n/2 on /b, interleaved, 1 ms apart.
fn write_bag(dir: &Path, n: u64) -> PathBuf {
    let mut writer = BagWriter::create(dir).unwrap();
    let a = writer.add_connection(connection("/a", "std_msgs/msg/String")).unwrap();
    let b = writer.add_connection(connection("/b", "std_msgs/msg/String")).unwrap();
    for i in 0..n {
        writer.write(a, 1_000_000_000 + i * 1_000_000, &string_cdr(&format!("a{i}"))).unwrap();
        if i % 2 == 0 {
            writer.write(b, 1_000_000_000 + i * 1_000_000 + 500, &string_cdr(&format!("b{i}"))).unwrap();
        }
    }
    writer.finish().unwrap()
}

#[test]
fn written_bag_reads_back_in_log_time_order() {
    let dir = write_bag(&scratch("roundtrip"), 100);
    assert!(dir.join("metadata.yaml").is_file());
    let bag = Bag::open(&dir).unwrap();
    let info = bag.info();
    assert_eq!(info.storage, StorageKind::Mcap);
    assert_eq!(info.message_count, 150);
    assert_eq!((info.topics[0].name.as_str(), info.topics[0].count), ("/a", 100));
    assert_eq!((info.topics[1].name.as_str(), info.topics[1].count), ("/b", 50));
    assert_eq!(info.start_ns, 1_000_000_000);
    assert_eq!(info.duration_ns(), 99 * 1_000_000);
    let messages: Vec<_> = bag.messages(&[]).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(messages.len(), 150);
    assert!(messages.windows(2).all(|w| w[0].log_time <= w[1].log_time));
    assert_eq!(messages[1].data, string_cdr("b0"));
    let only_b: Vec<_> = bag.messages(&["/b"]).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(only_b.len(), 50);
    assert!(only_b.iter().all(|m| bag.connections[m.connection].topic == "/b"));
    // The bare .mcap opens too, with the same content.
    let bare = Bag::open(&bag.files[0]).unwrap();
    assert_eq!(bare.info().message_count, 150);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn writer_refuses_an_existing_bag() {
    let dir = write_bag(&scratch("exists"), 2);
    let err = BagWriter::create(&dir).err().unwrap().to_string();
    assert!(err.contains("already exists"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn truncated_mcap_is_an_error_after_the_intact_messages() {
    let dir = write_bag(&scratch("truncated"), 20_000);
    let file = Bag::open(&dir).unwrap().files[0].clone();
    let bytes = std::fs::read(&file).unwrap();
    let cut = dir.join("cut.mcap");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let err = Bag::open(&cut).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("cut.mcap"), "{err}");
    // Streaming yields every intact message, then the error.
    let mut intact = 0;
    let mut failure = None;
    for m in Bag::open_recover(&cut).unwrap().messages(&[]).unwrap() {
        match m {
            Ok(_) => intact += 1,
            Err(e) => failure = Some(e),
        }
    }
    assert!(intact > 10_000 && intact < 30_000, "{intact}");
    assert!(failure.is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn garbage_and_missing_inputs_are_clear_errors() {
    let dir = scratch("garbage");
    std::fs::create_dir_all(&dir).unwrap();
    let junk: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    std::fs::write(dir.join("junk.mcap"), &junk).unwrap();
    std::fs::write(dir.join("junk.db3"), &junk).unwrap();
    for name in ["junk.mcap", "junk.db3"] {
        let err = Bag::open(&dir.join(name)).unwrap_err();
        assert!(matches!(err, Error::Corrupt { .. }) && err.to_string().contains(name), "{err}");
    }
    let err = Bag::open(&dir.join("nope.mcap")).unwrap_err().to_string();
    assert!(err.contains("nope.mcap"), "{err}");
    std::fs::write(dir.join("notes.txt"), "hello").unwrap();
    let err = Bag::open(&dir.join("notes.txt")).unwrap_err().to_string();
    assert!(err.contains("not a rosbag2 directory"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sqlite3_bag_reads_in_timestamp_order() {
    let dir = scratch("sqlite");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("b_0.db3");
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch(
        "CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
             serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
         CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,
             timestamp INTEGER NOT NULL, data BLOB NOT NULL);
         INSERT INTO topics VALUES (1, '/x', 'std_msgs/msg/String', 'cdr', ''), (2, '/y', 'std_msgs/msg/String', 'cdr', '');",
    )
    .unwrap();
    for (topic, t, text) in [(1, 30, "x30"), (2, 10, "y10"), (1, 20, "x20")] {
        db.execute(
            "INSERT INTO messages(topic_id, timestamp, data) VALUES (?1, ?2, ?3)",
            rusqlite::params![topic, t, string_cdr(text)],
        )
        .unwrap();
    }
    drop(db);
    let bag = Bag::open(&path).unwrap();
    assert_eq!(bag.info().storage, StorageKind::Sqlite3);
    assert_eq!((bag.info().message_count, bag.info().start_ns, bag.info().end_ns), (3, 10, 30));
    let times: Vec<u64> = bag.messages(&[]).unwrap().map(|m| m.unwrap().log_time).collect();
    assert_eq!(times, vec![10, 20, 30]);
    let xs = bag.messages(&["/x"]).unwrap().count();
    assert_eq!(xs, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a bare MCAP with the given options (the mcap crate is Foxglove's
/// reference writer), 500 messages on one channel.
fn write_variant(path: &Path, options: mcap::WriteOptions) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut writer = options.profile("ros2").create(file).unwrap();
    let schema = writer.add_schema("std_msgs/msg/String", "ros2msg", b"string data\n").unwrap();
    let channel = writer.add_channel(schema, "/v", "cdr", &Default::default()).unwrap();
    for i in 0..500u64 {
        let header = mcap::records::MessageHeader {
            channel_id: channel,
            sequence: i as u32,
            log_time: 10 + i,
            publish_time: 10 + i,
        };
        writer.write_to_known_channel(&header, &string_cdr(&format!("v{i}"))).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn mcap_variants_read_alike() {
    let dir = scratch("variants");
    std::fs::create_dir_all(&dir).unwrap();
    let variants = [
        ("zstd", mcap::WriteOptions::new().compression(Some(mcap::Compression::Zstd)).chunk_size(Some(2048))),
        ("lz4", mcap::WriteOptions::new().compression(Some(mcap::Compression::Lz4)).chunk_size(Some(2048))),
        ("plain", mcap::WriteOptions::new().compression(None)),
        ("unchunked", mcap::WriteOptions::new().use_chunks(false)),
        (
            "no_summary",
            mcap::WriteOptions::new().emit_summary_records(false).emit_summary_offsets(false).emit_statistics(false),
        ),
    ];
    for (name, options) in variants {
        let path = dir.join(format!("{name}.mcap"));
        write_variant(&path, options);
        let bag = Bag::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((bag.info().message_count, bag.info().start_ns, bag.info().end_ns), (500, 10, 509), "{name}");
        let messages: Vec<_> = bag.messages(&[]).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(messages.len(), 500, "{name}");
        assert_eq!(messages[499].data, string_cdr("v499"), "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Regression (found by the mcap_file fuzzer): a record whose length field
/// claims ~7e17 bytes made the reader try to allocate it and abort.
#[test]
fn huge_record_length_is_an_error_not_an_abort() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcap_huge_record_length.mcap");
    let err = Bag::open(&path).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let bag = Bag::open_recover(&path).unwrap();
    assert!(!bag.problems.is_empty());
}

/// Regression (found by replaying the fuzz corpus in a debug build): a record
/// longer than its uncompressed chunk underflowed a counter inside mcap 0.26
/// and panicked. It must be an error (or a clean read), never a panic.
#[test]
fn record_longer_than_its_chunk_does_not_panic() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mcap_chunk_underflow.mcap");
    if let Ok(bag) = Bag::open_recover(&path) {
        for message in bag.messages(&[]).unwrap() {
            if message.is_err() {
                break;
            }
        }
    }
}
