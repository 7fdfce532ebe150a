//! rosbag2 storage against rosbags (PyPI), the oracle nobody here wrote:
//! bags rosbags writes (MCAP and sqlite3) read back in cairn with every
//! message byte-identical, and bags cairn writes open in rosbags with every
//! message intact (deserialised by rosbags) and the same metadata.
//!
//! Trials are reported as ignored (skipped) when the venv lacks rosbags,
//! unless `CAIRN_REQUIRE_ORACLES=1`.

use std::path::{Path, PathBuf};

use cairn_bags::storage::{Bag, BagWriter};
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn oracle(args: &[&str]) -> Result<Value, Failed> {
    let python = Oracle::python().map_err(Failed::from)?;
    let script = repo_root().join("bags/tests/oracle/rosbags_bags.py");
    let mut all = vec![script.display().to_string()];
    all.extend(args.iter().map(|s| s.to_string()));
    let out = python.run(&all).map_err(|e| Failed::from(format!("{e:#}")))?;
    serde_json::from_str(&out).map_err(|e| Failed::from(format!("oracle output: {e}")))
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// cairn's view of a bag in the oracle's JSON shape.
fn cairn_messages(bag: &Path) -> Result<Vec<Value>, Failed> {
    let bag = Bag::open(bag).map_err(|e| Failed::from(e.to_string()))?;
    let mut out = Vec::new();
    for message in bag.messages(&[]).map_err(|e| Failed::from(e.to_string()))? {
        let message = message.map_err(|e| Failed::from(e.to_string()))?;
        let c = &bag.connections[message.connection];
        out.push(serde_json::json!({
            "topic": c.topic, "type": c.type_name, "timestamp": message.log_time, "sha256": sha256_hex(&message.data),
        }));
    }
    Ok(out)
}

fn rosbags_bag_reads_in_cairn(dir: PathBuf, storage: &'static str) -> Result<(), Failed> {
    let _ = std::fs::remove_dir_all(&dir);
    let written = oracle(&["write", &dir.display().to_string(), storage])?;
    let expected = written["messages"].as_array().cloned().unwrap_or_default();
    let got = cairn_messages(&dir)?;
    if got != expected {
        return Err(format!(
            "cairn read {} messages, rosbags wrote {}; first difference: {:?}",
            got.len(),
            expected.len(),
            got.iter().zip(&expected).find(|(a, b)| a != b)
        )
        .into());
    }
    let info = Bag::open(&dir).map_err(|e| Failed::from(e.to_string()))?.info().clone();
    if info.message_count != written["count"].as_u64().unwrap_or(0) || Some(info.start_ns) != written["start"].as_u64()
    {
        return Err(format!("info disagrees: {info:?} vs {written}").into());
    }
    Ok(())
}

fn cairn_bag_reads_in_rosbags(dir: PathBuf) -> Result<(), Failed> {
    let _ = std::fs::remove_dir_all(&dir);
    // Copy the rosbags-written MCAP bag through cairn's writer.
    let source = dir.with_extension("source");
    let _ = std::fs::remove_dir_all(&source);
    oracle(&["write", &source.display().to_string(), "mcap"])?;
    let bag = Bag::open(&source).map_err(|e| Failed::from(e.to_string()))?;
    let mut writer = BagWriter::create(&dir).map_err(|e| Failed::from(e.to_string()))?;
    let mut ids = Vec::new();
    for c in &bag.connections {
        ids.push(writer.add_connection(c.clone()).map_err(|e| Failed::from(e.to_string()))?);
    }
    for message in bag.messages(&[]).map_err(|e| Failed::from(e.to_string()))? {
        let m = message.map_err(|e| Failed::from(e.to_string()))?;
        writer.write(ids[m.connection], m.log_time, &m.data).map_err(|e| Failed::from(e.to_string()))?;
    }
    writer.finish().map_err(|e| Failed::from(e.to_string()))?;
    let read = oracle(&["read", &dir.display().to_string()])?;
    let expected = cairn_messages(&source)?;
    if read["messages"].as_array() != Some(&expected) {
        return Err(format!("rosbags read {} from cairn's bag, expected {}", read["count"], expected.len()).into());
    }
    if read["metadata_count"] != read["count"] || read["metadata_start"] != read["start"] {
        return Err(format!("metadata.yaml disagrees with the data: {read}").into());
    }
    Ok(())
}

/// A ROS 1 bag shaped like TUM RGB-D's, converted by `rosbags-convert` as
/// the README documents, reads in cairn with /tf typed tf2_msgs/msg/TFMessage.
fn converted_ros1_bag_reads_in_cairn(dir: PathBuf) -> Result<(), Failed> {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| Failed::from(e.to_string()))?;
    let ros1 = dir.join("tum_like.bag");
    let written = oracle(&["write-ros1", &ros1.display().to_string()])?;
    let converted = dir.join("tum_like");
    let convert = Oracle::find("rosbags-convert").map_err(Failed::from)?;
    convert
        .run([
            "--src".as_ref(),
            ros1.as_os_str(),
            "--dst".as_ref(),
            converted.as_os_str(),
            "--dst-storage".as_ref(),
            "mcap".as_ref(),
        ])
        .map_err(|e| Failed::from(format!("{e:#}")))?;
    let bag = Bag::open(&converted).map_err(|e| Failed::from(e.to_string()))?;
    let tf = bag.info().topics.iter().find(|t| t.name == "/tf").ok_or("no /tf topic")?;
    if tf.type_name != "tf2_msgs/msg/TFMessage" || tf.count != 30 {
        return Err(format!("/tf converted as {} × {}", tf.type_name, tf.count).into());
    }
    if bag.info().message_count != written["count"].as_u64().unwrap_or(0) {
        return Err(format!("{} messages, rosbags wrote {}", bag.info().message_count, written["count"]).into());
    }
    let streamed = bag.messages(&[]).map_err(|e| Failed::from(e.to_string()))?.filter(Result::is_ok).count();
    if streamed != 40 {
        return Err(format!("streamed {streamed} of 40 messages").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let scratch = scratch_dir("rosbags_storage").unwrap_or_else(|_| std::env::temp_dir());
    let missing = match Oracle::python() {
        Ok(python) => python.run(["-c", "import rosbags"]).err().map(|e| format!("rosbags not in the venv: {e}")),
        Err(reason) => Some(reason),
    }
    .filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("skipping rosbags_storage: {reason}");
    }
    let (mcap, sqlite, back) =
        (scratch.join("rosbags_mcap"), scratch.join("rosbags_sqlite"), scratch.join("cairn_mcap"));
    let ros1 = scratch.join("ros1");
    let trials = vec![
        Trial::test("rosbags_storage/rosbags_mcap_reads_in_cairn", move || rosbags_bag_reads_in_cairn(mcap, "mcap")),
        Trial::test("rosbags_storage/rosbags_sqlite3_reads_in_cairn", move || {
            rosbags_bag_reads_in_cairn(sqlite, "sqlite3")
        }),
        Trial::test("rosbags_storage/cairn_mcap_reads_in_rosbags", move || cairn_bag_reads_in_rosbags(back)),
        Trial::test("rosbags_storage/converted_ros1_bag_reads_in_cairn", move || {
            converted_ros1_bag_reads_in_cairn(ros1)
        }),
    ];
    let trials = trials.into_iter().map(|t| t.with_ignored_flag(missing.is_some())).collect();
    let conclusion = libtest_mimic::run(&args, trials);
    let _ = std::fs::remove_dir_all(&scratch);
    conclusion.exit();
}
