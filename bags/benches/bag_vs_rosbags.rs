//! `cairn bag info` and a full decode of a ~1 GB MCAP bag of 640×480 rgb8
//! images, against rosbags (PyPI) on the same bag, same machine, same run.
//!
//! ```text
//! cargo build --release -p cairn-nodes
//! cargo bench -p cairn-bags --bench bag_vs_rosbags   # CAIRN_BENCH_MB=1024 sets the size
//! ```
//!
//! The bag is written once under target/bench-data/ (zstd chunks, as cairn
//! writes bags). `info` is timed as whole processes (`cairn bag info --json`
//! vs rosbags' Reader opening the bag and counting); `decode` deserialises
//! every message (cairn in-process; rosbags as a process, its interpreter
//! start-up included — under half a second).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use cairn_bags::cdr;
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::builtin_interfaces::Time;
use cairn_bags::msg::sensor_msgs::Image;
use cairn_bags::msg::std_msgs::Header;
use cairn_bags::storage::{Bag, BagWriter, Connection};
use cairn_e2e::{Oracle, repo_root};

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

fn write_bag(dir: &Path, megabytes: u64) -> Result<()> {
    let frames = megabytes * 1024 * 1024 / u64::from(WIDTH * HEIGHT * 3);
    let mut writer = BagWriter::create(dir)?;
    let connection = writer.add_connection(Connection {
        topic: "/camera/rgb/image_color".into(),
        type_name: Image::TYPE_NAME.into(),
        definition: Image::definition(),
        serialization_format: "cdr".into(),
        offered_qos_profiles: String::new(),
    })?;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for k in 0..frames {
        // A gradient with sensor-like noise: compresses about as badly as a camera image.
        let mut data = Vec::with_capacity((WIDTH * HEIGHT * 3) as usize);
        for v in 0..HEIGHT {
            for u in 0..WIDTH {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let noise = (state & 15) as u8;
                data.extend_from_slice(&[(u / 3) as u8 ^ noise, (v / 2) as u8, (k as u8).wrapping_add(noise)]);
            }
        }
        let nanos = 1_700_000_000_000_000_000 + k * 33_333_333;
        let image = Image {
            header: Header { stamp: Time::from_nanos(nanos)?, frame_id: "camera_rgb_optical_frame".into() },
            height: HEIGHT,
            width: WIDTH,
            encoding: "rgb8".into(),
            is_bigendian: 0,
            step: WIDTH * 3,
            data,
        };
        writer.write(connection, nanos, &cdr::encode(&image)?)?;
    }
    writer.finish()?;
    Ok(())
}

fn rosbags(mode: &str, bag: &Path) -> Result<(f64, u64)> {
    let python = Oracle::python().map_err(anyhow::Error::msg)?;
    let script = repo_root().join("bags/tests/oracle/rosbags_decode.py");
    let start = Instant::now();
    let out = python.run([script.as_os_str(), mode.as_ref(), bag.as_os_str()])?;
    let wall = start.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_str(&out)?;
    Ok((wall, v["messages"].as_u64().unwrap_or(0)))
}

fn main() -> Result<()> {
    let megabytes: u64 = std::env::var("CAIRN_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let dir: PathBuf = repo_root().join(format!("target/bench-data/images_{megabytes}mb"));
    if !dir.join("metadata.yaml").is_file() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.parent().context("parent")?)?;
        eprintln!("writing {megabytes} MB of images to {} …", dir.display());
        write_bag(&dir, megabytes)?;
    }
    let size: u64 = std::fs::read_dir(&dir)?.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    let cairn =
        std::env::var_os("CAIRN_BIN").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target/release/cairn"));
    if !cairn.is_file() {
        bail!("no {}: run `cargo build --release -p cairn-nodes` first (or set CAIRN_BIN)", cairn.display());
    }

    // bag info, whole processes.
    let start = Instant::now();
    let out = Command::new(&cairn).args(["bag", "info", "--json"]).arg(&dir).output()?;
    let cairn_info = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("cairn bag info failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (rosbags_info, rosbags_count) = rosbags("info", &dir)?;

    // Full decode.
    let start = Instant::now();
    let bag = Bag::open(&dir)?;
    let mut decoded = 0u64;
    let mut pixels = 0u64;
    for message in bag.messages(&[])? {
        let image: Image = cdr::decode(&message?.data)?;
        pixels += image.data.len() as u64;
        decoded += 1;
    }
    let cairn_decode = start.elapsed().as_secs_f64();
    let (rosbags_decode, rosbags_decoded) = rosbags("decode", &dir)?;
    if decoded != rosbags_decoded || decoded != rosbags_count {
        bail!("cairn decoded {decoded} messages, rosbags {rosbags_decoded} (info {rosbags_count})");
    }

    let mb = size as f64 / 1e6;
    println!(
        "bag_vs_rosbags: {decoded} rgb8 {WIDTH}x{HEIGHT} images, {mb:.0} MB on disk (zstd chunks), {:.0} MB of pixels",
        pixels as f64 / 1e6
    );
    println!(
        "  bag info     cairn {:>8.3} s   rosbags {:>8.3} s   ratio {:.1}x",
        cairn_info,
        rosbags_info,
        rosbags_info / cairn_info
    );
    println!(
        "  full decode  cairn {:>8.3} s ({:.0} MB/s)   rosbags {:>8.3} s ({:.0} MB/s)   ratio {:.1}x",
        cairn_decode,
        mb / cairn_decode,
        rosbags_decode,
        mb / rosbags_decode,
        rosbags_decode / cairn_decode
    );
    Ok(())
}
