//! `cairn train bench --checkpoint`: a run killed with SIGKILL mid-training
//! and started again with the same arguments ends with exactly the weights
//! of an uninterrupted run.

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ARGS: [&str; 17] = [
    "train",
    "bench",
    "--model",
    "mlp",
    "--layers",
    "12",
    "--hidden",
    "64",
    "--device-mem",
    "256KiB",
    "--microbatches",
    "4",
    "--schedule",
    "harmony",
    "--steps",
    "16",
    "--json",
];

fn checksum(stdout: &[u8]) -> (String, u64) {
    let value: serde_json::Value = serde_json::from_slice(stdout).expect("stdout is JSON");
    (value["weights_fnv1a"].as_str().expect("a checksum").to_string(), value["first_step"].as_u64().expect("a step"))
}

#[test]
fn resume_after_kill_9_matches_an_uninterrupted_run() {
    let cairn = env!("CARGO_BIN_EXE_cairn");
    let straight = Command::new(cairn).args(ARGS).output().expect("the cairn binary runs");
    assert!(straight.status.success(), "{}", String::from_utf8_lossy(&straight.stderr));
    let (expected, _) = checksum(&straight.stdout);

    let dir = std::env::temp_dir().join(format!("cairn-train-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("run.safetensors");
    let _ = std::fs::remove_file(&path);
    let checkpoint = path.display().to_string();
    let mut args: Vec<&str> = ARGS.to_vec();
    args.extend(["--checkpoint", &checkpoint]);

    let mut child = Command::new(cairn).args(&args).stdout(Stdio::null()).spawn().expect("the cairn binary starts");
    let start = Instant::now();
    while !path.exists() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL is delivered"); // std's kill is SIGKILL on Unix
    let status = child.wait().expect("the child is reaped");
    assert!(!status.success(), "the run finished before it could be killed; make it longer");

    let resumed = Command::new(cairn).args(&args).output().expect("the cairn binary runs");
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let (found, first_step) = checksum(&resumed.stdout);
    assert!(first_step > 0 && first_step < 16, "resumed at step {first_step}");
    assert_eq!(found, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
