//! `cairn node slam` on real DDS, in a loopback-only network namespace
//! (`scripts/loopback`; ../shared/DESIGN.md, NETWORK SAFETY):
//!
//! - a Cyclone DDS peer (tests/oracle/ros2_peer.py, PyPI `cyclonedds`)
//!   publishes a synthetic RGB-D sequence with CameraInfo; it must see the
//!   node on `ros_discovery_info`, receive one Odometry and one
//!   odom → camera transform per processed frame, and the se3 ATE of the
//!   received poses must be ≤ 1.5× that of the offline `cairn slam` run;
//! - `cairn replay --publish --clock` drives the node the same way;
//! - `cairn launch launch/slam.launch.yaml` runs node + replay, and one
//!   SIGINT to the launcher stops the node cleanly (status 0, `--save`
//!   written).
//!
//! These check the DDS side, so the node and the offline run both go without
//! loop closure (`--loop none`): with it, each keyframe costs ~0.2 s of CPU
//! (FPFH over the keyframe cloud) and the node skips the frames that arrive
//! meanwhile on a 2-core machine. That the node's pipeline closes the same
//! loops as `cairn slam` is checked in-process by replay_cli.rs.
//!
//! The node is stopped with SIGTERM in one trial and SIGINT in the other; it
//! must exit with status 0 and leave its `--save` summary and trajectory.
//!
//! The peer trial is ignored when the venv lacks cyclonedds or rosbags,
//! unless CAIRN_REQUIRE_ORACLES=1. Without `unshare` both fail loudly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow, ensure};
use cairn_e2e::{Oracle, cyclonedds_peer_missing, oracles_required, repo_root, scratch_dir, trial};
use libtest_mimic::Arguments;

/// Frames of the synthetic sequence: 0.4 of the generated loop (≈ the
/// per-frame motion of the demo's 300-frame laps).
const FRAMES: usize = 60;
/// The acceptance bound: ATE over DDS ≤ this × the offline ATE.
const ATE_RATIO: f64 = 1.5;

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// Runs the cairn binary; its stdout, or an error with its stderr.
fn cairn(args: &[&str]) -> Result<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output()?;
    ensure!(output.status.success(), "cairn {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The SE(3)-aligned ATE RMSE of `estimate` against `groundtruth`.
fn ate(groundtruth: &Path, estimate: &Path) -> Result<f64> {
    let json = cairn(&["eval", "ate", "--gt", &s(groundtruth), "--est", &s(estimate), "--json"])?;
    let value: serde_json::Value = serde_json::from_str(&json)?;
    value["rmse"].as_f64().ok_or_else(|| anyhow!("no rmse in {json}"))
}

/// The rendered sequence, its bag and the offline run's ATE, made once.
struct Fixture {
    dir: PathBuf,
    bag: PathBuf,
    groundtruth: PathBuf,
    offline_ate: f64,
}

fn fixture() -> Result<&'static Fixture, String> {
    static FIXTURE: OnceLock<Result<Fixture, String>> = OnceLock::new();
    FIXTURE.get_or_init(|| make_fixture().map_err(|e| format!("{e:#}"))).as_ref().map_err(Clone::clone)
}

fn make_fixture() -> Result<Fixture> {
    let dir = scratch_dir("ros2_dds")?;
    let sim = dir.join("sim");
    let _ = std::fs::remove_dir_all(&sim);
    cairn(&["sim", "rgbd", "--out", &s(&sim), "--path", "loop", "--laps", "0.4", "--frames", &FRAMES.to_string()])?;
    let bag = dir.join("bag");
    let _ = std::fs::remove_dir_all(&bag);
    cairn(&["bag", "from-tum", &s(&sim), "--out", &s(&bag)])?;
    let offline = dir.join("offline.tum");
    cairn(&["slam", &s(&bag), "--out", &s(&offline), "--loop", "none"])?;
    let groundtruth = sim.join("groundtruth.txt");
    let offline_ate = ate(&groundtruth, &offline)?;
    println!("offline cairn slam: ATE {offline_ate:.4} m over {FRAMES} frames");
    Ok(Fixture { dir, bag, groundtruth, offline_ate })
}

/// Runs a bash script in a loopback-only namespace, with `$CAIRN` set;
/// fails loudly when the namespace cannot be made.
fn in_loopback(script: &str) -> Result<String> {
    let output = Command::new(repo_root().join("scripts/loopback"))
        .args(["timeout", "150", "bash", "-euo", "pipefail", "-c", script])
        .env("CAIRN", env!("CARGO_BIN_EXE_cairn"))
        .output()
        .context("running scripts/loopback")?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(output.status.success(), "loopback scenario failed ({}): {stderr}", output.status);
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Starts the node with `--save $dir/node`, runs `publisher`, then stops the
/// node with `signal` (INT or TERM) and waits for its clean exit (status 0;
/// the script fails otherwise).
fn node_script(dir: &Path, publisher: &str, signal: &str) -> String {
    format!(
        "dir={dir}\n\"$CAIRN\" node slam --loop none --save \"$dir/node\" > \"$dir/node.out\" 2> \"$dir/node.err\" &\n\
         node=$!\n{publisher}\nkill -{signal} $node\nwait $node\n",
        dir = s(dir)
    )
}

/// The node's summary line counts: (colour images received, frames processed).
fn node_counts(dir: &Path) -> Result<(usize, usize)> {
    let summary = std::fs::read_to_string(dir.join("node/summary.txt")).context("the node's --save summary")?;
    let words: Vec<&str> = summary.split_whitespace().collect();
    let number = |after: &str| -> Result<usize> {
        let at = words.iter().position(|w| *w == after).ok_or_else(|| anyhow!("no '{after}' in {summary}"))?;
        Ok(words[at.checked_sub(1).ok_or_else(|| anyhow!("summary starts with {after}"))?].parse()?)
    };
    Ok((number("colour")?, number("frames")?))
}

fn cyclonedds_peer_drives_node_slam() -> Result<()> {
    let fixture = fixture().map_err(|e| anyhow!(e))?;
    let dir = fixture.dir.join("peer");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let python = Oracle::python().map_err(|e| anyhow!(e))?;
    let received = dir.join("received.tum");
    let peer = format!(
        "{} {} --bag {} --hz 10 --odometry-out {}",
        s(&python.program),
        s(&repo_root().join("tests/oracle/ros2_peer.py")),
        s(&fixture.bag),
        s(&received)
    );
    let stdout = in_loopback(&node_script(&dir, &peer, "TERM"))?;
    let report: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .with_context(|| format!("peer output: {stdout}"))?;
    println!("cyclonedds peer: {report}");
    let (received_images, processed) = node_counts(&dir)?;
    ensure!(report["frames"] == FRAMES, "the peer published {} frames", report["frames"]);
    ensure!(report["writers_matched"] == true, "the node's image readers never matched the peer's writers");
    let nodes = report["nodes"].as_array().map(Vec::len).unwrap_or(0);
    ensure!(report["nodes"].to_string().contains("/cairn_slam\""), "node not on ros_discovery_info ({nodes} seen)");
    ensure!(received_images == FRAMES, "the node received {received_images} of {FRAMES} colour images");
    ensure!(processed >= FRAMES * 9 / 10, "the node processed only {processed} of {FRAMES} frames");
    ensure!(report["odometry"] == processed, "{} odometry messages for {processed} frames", report["odometry"]);
    ensure!(report["tf_transforms"] == 2 * processed, "{} transforms for {processed} frames", report["tf_transforms"]);
    let online_ate = ate(&fixture.groundtruth, &received)?;
    println!("received odometry: ATE {online_ate:.4} m (offline {:.4} m)", fixture.offline_ate);
    ensure!(online_ate <= ATE_RATIO * fixture.offline_ate, "ATE over DDS {online_ate:.4} m > {ATE_RATIO} × offline");
    Ok(())
}

fn replay_publish_drives_node_slam() -> Result<()> {
    let fixture = fixture().map_err(|e| anyhow!(e))?;
    let dir = fixture.dir.join("replay");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let replay =
        format!("\"$CAIRN\" replay {} --publish --clock --rate 0.5 --wait 20 > \"$dir/replay.out\"", s(&fixture.bag));
    in_loopback(&node_script(&dir, &replay, "INT"))?;
    let (received_images, processed) = node_counts(&dir)?;
    println!("replay --publish: node received {received_images}, processed {processed} of {FRAMES} frames");
    ensure!(processed >= FRAMES * 9 / 10, "the node processed only {processed} of {FRAMES} frames");
    let online_ate = ate(&fixture.groundtruth, &dir.join("node/trajectory.tum"))?;
    println!("replay --publish → node: ATE {online_ate:.4} m (offline {:.4} m)", fixture.offline_ate);
    ensure!(online_ate <= ATE_RATIO * fixture.offline_ate, "ATE {online_ate:.4} m > {ATE_RATIO} × offline");
    Ok(())
}

fn launch_file_runs_node_and_replay() -> Result<()> {
    let fixture = fixture().map_err(|e| anyhow!(e))?;
    let dir = fixture.dir.join("launch");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let launch_file = repo_root().join("launch/slam.launch.yaml");
    // Wait for the replay to finish, then Ctrl-C the launcher alone.
    let script = format!(
        "dir={dir}\n\"$CAIRN\" launch {file} bag:={bag} save:=\"$dir/node\" rate:=0.5 loop:=none > \"$dir/launch.out\" 2>&1 &\n\
         launcher=$!\n\
         for i in $(seq 1200); do grep -q '^\\[launch\\] \\[replay\\] exited' \"$dir/launch.out\" && break; sleep 0.1; done\n\
         sleep 1\nkill -INT $launcher\nwait $launcher\n",
        dir = s(&dir),
        file = s(&launch_file),
        bag = s(&fixture.bag)
    );
    let result = in_loopback(&script);
    let log = std::fs::read_to_string(dir.join("launch.out")).unwrap_or_default();
    result.with_context(|| format!("cairn launch output:\n{log}"))?;
    ensure!(log.contains("[launch] [replay] exited: exit status: 0"), "the replay did not finish cleanly:\n{log}");
    ensure!(log.contains("[launch] [slam] exited: exit status: 0"), "the node did not stop cleanly:\n{log}");
    ensure!(log.contains("launch stopped by signal"), "no clean stop:\n{log}");
    ensure!(log.lines().any(|l| l.starts_with("[slam] ")), "no prefixed node output:\n{log}");
    let (_, processed) = node_counts(&dir)?;
    ensure!(processed >= FRAMES * 9 / 10, "the node processed only {processed} of {FRAMES} frames");
    let online_ate = ate(&fixture.groundtruth, &dir.join("node/trajectory.tum"))?;
    println!("cairn launch (node + replay): processed {processed} of {FRAMES}, ATE {online_ate:.4} m");
    ensure!(online_ate <= ATE_RATIO * fixture.offline_ate, "ATE {online_ate:.4} m > {ATE_RATIO} × offline");
    Ok(())
}

fn main() {
    let mut args = Arguments::from_args();
    // DDS scenarios one at a time: they time frames on a shared CPU.
    args.test_threads = Some(1);
    let missing = cyclonedds_peer_missing().filter(|_| !oracles_required());
    if let Some(reason) = &missing {
        eprintln!("ignoring the cyclonedds peer trial: {reason}");
    }
    let trials = vec![
        trial("ros2_dds/cyclonedds_peer_drives_node_slam", cyclonedds_peer_drives_node_slam)
            .with_ignored_flag(missing.is_some()),
        trial("ros2_dds/replay_publish_drives_node_slam", replay_publish_drives_node_slam),
        trial("ros2_dds/launch_file_runs_node_and_replay", launch_file_runs_node_and_replay),
    ];
    let conclusion = libtest_mimic::run(&args, trials);
    // The rendered sequence and its bag weigh ~80 MB: kept only to debug a failure.
    if let Ok(dir) = scratch_dir("ros2_dds") {
        if conclusion.has_failed() {
            eprintln!("scratch files kept in {}", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    conclusion.exit();
}
