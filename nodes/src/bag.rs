//! `cairn bag …`: inspect rosbag2 bags (directories, `.mcap`, `.db3`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_bags::storage::{Bag, BagInfo};
use clap::{Args, Subcommand};

/// The `bag` subcommands.
#[derive(Debug, Subcommand)]
pub enum BagCommand {
    /// Storage, duration, start/end and messages per topic (like `ros2 bag info`).
    Info(InfoArgs),
}

/// Arguments of `cairn bag info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A rosbag2 directory, or a bare .mcap or .db3 file.
    bag: PathBuf,
    /// Print one JSON object: storage, duration_ns, start_ns, end_ns,
    /// message_count, topics [{name, type, count}].
    #[arg(long)]
    json: bool,
    /// Report the intact part of a truncated or corrupt bag (and what is
    /// broken, on stderr) instead of failing.
    #[arg(long)]
    recover: bool,
}

/// Runs one `bag` subcommand and returns what it prints.
pub fn run(command: &BagCommand) -> Result<String> {
    match command {
        BagCommand::Info(args) => info(args),
    }
}

fn info(args: &InfoArgs) -> Result<String> {
    let bag = if args.recover { Bag::open_recover(&args.bag) } else { Bag::open(&args.bag) };
    let bag = bag
        .with_context(|| format!("opening {}", args.bag.display()))
        .context("rerun with --recover to report the intact part")?;
    for problem in &bag.problems {
        eprintln!("warning: {problem}; counting the messages before it");
    }
    let info = bag.info();
    Ok(if args.json { format!("{}\n", json(info)) } else { pretty(info) })
}

fn json(info: &BagInfo) -> serde_json::Value {
    let topics: Vec<_> = info
        .topics
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "type": t.type_name, "count": t.count}))
        .collect();
    serde_json::json!({
        "storage": info.storage.identifier(), "duration_ns": info.duration_ns(),
        "start_ns": info.start_ns, "end_ns": info.end_ns,
        "message_count": info.message_count, "topics": topics,
    })
}

fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

fn pretty(info: &BagInfo) -> String {
    let files: Vec<String> = info.files.iter().map(|f| f.display().to_string()).collect();
    let size: u64 = info.files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut out = format!(
        "Files:             {}\nBag size:          {:.1} MiB\nStorage id:        {}\nDuration:          {}s\n\
         Start:             {} s\nEnd:               {} s\nMessages:          {}\nTopic information:",
        files.join("\n                   "),
        size as f64 / (1024.0 * 1024.0),
        info.storage.identifier(),
        seconds(info.duration_ns()),
        seconds(info.start_ns),
        seconds(info.end_ns),
        info.message_count,
    );
    for (i, t) in info.topics.iter().enumerate() {
        let indent = if i == 0 { " " } else { "\n                   " };
        out.push_str(&format!("{indent}Topic: {} | Type: {} | Count: {}", t.name, t.type_name, t.count));
    }
    out.push('\n');
    out
}
