//! `cairn launch` end to end: prefixed output, respawn, SIGINT forwarded
//! with SIGTERM/SIGKILL escalation, and failures reported.
#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cairn-launch-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Starts `cairn launch FILE`, collecting its stdout lines as they come.
fn launch(file: &PathBuf) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .arg("launch")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (stdout, sink) = (child.stdout.take().unwrap(), Arc::clone(&lines));
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, lines)
}

fn wait_for(lines: &Arc<Mutex<Vec<String>>>, what: impl Fn(&[String]) -> bool, seconds: u64) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !what(&lines.lock().unwrap()) {
        assert!(Instant::now() < deadline, "timed out; output so far:\n{}", lines.lock().unwrap().join("\n"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(lines: &[String], text: &str) -> usize {
    lines.iter().filter(|line| line.contains(text)).count()
}

#[test]
fn sigint_stops_everything_with_escalation_and_respawn_works() {
    let file = temp_file(
        "stop.launch.yaml",
        r#"launch:
- arg: {name: delay, default: "0.1"}
- executable:
    cmd: sh -c 'trap "echo got-int; exit 0" INT; echo ready; while true; do sleep 0.05; done'
    name: polite
- executable:
    cmd: sh -c 'echo run; exit 3'
    name: flaky
    respawn: true
    respawn_delay: $(var delay)
- executable:
    cmd: sh -c 'trap "" INT TERM; echo stubborn; while true; do sleep 0.05; done'
    name: stubborn
    sigterm_timeout: "0.3"
    sigkill_timeout: 0.3
"#,
    );
    let (mut child, lines) = launch(&file);
    wait_for(&lines, |l| count(l, "[polite] ready") == 1 && count(l, "[stubborn] stubborn") == 1, 20);
    wait_for(&lines, |l| count(l, "[flaky] run") >= 3, 20);
    let start = Instant::now();
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    let took = start.elapsed();
    std::thread::sleep(Duration::from_millis(100)); // the reader thread drains the pipe
    let lines = lines.lock().unwrap();
    let text = lines.join("\n");
    assert!(status.success(), "launch exited {status}:\n{text}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}:\n{text}");
    assert_eq!(count(&lines, "[polite] got-int"), 1, "{text}");
    assert_eq!(count(&lines, "[launch] [stubborn] did not stop: SIGKILL"), 1, "{text}");
    assert!(text.contains("stopped by signal"), "{text}");
    let restarts = lines.iter().find(|l| l.trim_start().starts_with("flaky:")).unwrap();
    assert!(!restarts.contains(" 0 restart"), "{text}");
}

#[test]
fn a_failing_process_fails_the_launch_by_name() {
    let file = temp_file(
        "fail.launch.yaml",
        "launch:\n- executable: {cmd: sh -c 'echo bye; exit 4', name: quitter}\n- executable: {cmd: 'true', name: fine}\n",
    );
    let (mut child, lines) = launch(&file);
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("failed: quitter"), "{stderr}");
    wait_for(&lines, |l| count(l, "[quitter] bye") == 1, 5);
}

#[test]
fn a_missing_program_is_a_clear_error() {
    let file = temp_file("missing.launch.yaml", "launch:\n- executable: {cmd: cairn-no-such-program --x}\n");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn")).arg("launch").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr.contains("starting [cairn-no-such-program]"), "{stderr}");
}
