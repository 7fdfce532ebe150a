//! `cairn replay BAG` in-process runs the node's own code path and writes a
//! trajectory byte-identical to `cairn slam BAG`; both take their topics
//! from the parameter file; bad invocations give one clear error line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cairn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cairn")).args(args).output().expect("the cairn binary runs")
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

fn ok(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn in_process_replay_is_byte_identical_to_cairn_slam() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-replay", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sim = dir.join("sim");
    ok(&cairn(&["sim", "rgbd", "--out", &s(&sim), "--frames", "20", "--laps", "0.1", "--seed", "3"]));
    let bag = dir.join("bag");
    ok(&cairn(&["bag", "from-tum", &s(&sim), "--out", &s(&bag)]));
    let (offline, replayed) = (dir.join("slam.tum"), dir.join("replay.tum"));
    ok(&cairn(&["slam", &s(&bag), "--out", &s(&offline)]));
    let stdout = ok(&cairn(&["replay", &s(&bag), "--out", &s(&replayed)]));
    assert!(stdout.contains("20 frames"), "{stdout}");
    let (a, b) = (std::fs::read(&offline).expect("slam output"), std::fs::read(&replayed).expect("replay output"));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "replay and slam trajectories differ");
    assert_eq!(String::from_utf8_lossy(&b).lines().filter(|l| !l.starts_with('#')).count(), 20);
    assert!(dir.join("replay.tum.log").is_file());

    // Topics come from --params; a missing one names what the bag has.
    let params = dir.join("params.yaml");
    std::fs::write(&params, "cairn_slam:\n  ros__parameters:\n    topics.rgb: /nope\n").expect("params");
    let run = cairn(&["replay", &s(&bag), "--out", &s(&replayed), "--params", &s(&params)]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success() && stderr.contains("no topic /nope") && stderr.contains("/camera/depth/image"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // `cairn slam` reads its bag topics from the same file (a flag wins).
    let run = cairn(&["slam", &s(&bag), "--out", &s(&offline), "--config", &s(&params)]);
    assert!(!run.status.success() && String::from_utf8_lossy(&run.stderr).contains("no topic /nope"));
    let run = cairn(&[
        "slam",
        &s(&bag),
        "--out",
        &s(&offline),
        "--config",
        &s(&params),
        "--rgb-topic",
        "/camera/rgb/image_color",
    ]);
    ok(&run);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_needs_out_or_publish_and_a_valid_rate() {
    let run = cairn(&["replay", "some.bag"]);
    assert_eq!(run.status.code(), Some(2), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--out"));
    let run = cairn(&["replay", "some.bag", "--publish", "--rate", "fast"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("not a positive number or `max`"));
    let run = cairn(&["replay", "missing.bag", "--out", "x.tum"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("missing.bag"));
}

/// Regression: the node's pipeline ran without loop closure while
/// `cairn slam` defaulted to it, so replay and slam differed on any sequence
/// that revisits a place. Both now close the same loops.
#[test]
fn replay_closes_the_same_loops_as_cairn_slam() {
    let dir: PathBuf = std::env::temp_dir().join(format!("cairn-cli-{}-replay-loops", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sim = dir.join("sim");
    ok(&cairn(&["sim", "rgbd", "--out", &s(&sim), "--path", "loop", "--laps", "2", "--frames", "300", "--seed", "1"]));
    let bag = dir.join("bag");
    ok(&cairn(&["bag", "from-tum", &s(&sim), "--out", &s(&bag)]));
    let (offline, replayed) = (dir.join("slam.tum"), dir.join("replay.tum"));
    let summary = ok(&cairn(&["slam", &s(&bag), "--out", &s(&offline)]));
    let accepted: usize = summary
        .lines()
        .find_map(|line| {
            line.strip_prefix("loops: ")?.split(" loops accepted").next()?.rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or(0);
    assert!(accepted > 0, "the sequence should close loops:\n{summary}");
    ok(&cairn(&["replay", &s(&bag), "--out", &s(&replayed)]));
    let (a, b) = (std::fs::read(&offline).expect("slam output"), std::fs::read(&replayed).expect("replay output"));
    assert!(a == b, "replay and slam trajectories differ with {accepted} loops");
    let _ = std::fs::remove_dir_all(&dir);
}
