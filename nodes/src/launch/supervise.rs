//! Runs resolved launch processes: prefixes their output lines with the
//! process name, restarts the ones marked `respawn`, and on SIGINT/SIGTERM
//! stops them the way `ros2 launch` does — SIGINT, SIGTERM after
//! `sigterm_timeout`, SIGKILL after `sigkill_timeout`.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A process to start, with substitutions resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSpec {
    /// Name used to prefix its output lines.
    pub name: String,
    /// Program and arguments (`cairn` means this binary).
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Start it again whenever it exits (until the launch is stopped).
    pub respawn: bool,
    /// Seconds to wait before a restart.
    pub respawn_delay_s: f64,
    /// Seconds between SIGINT and SIGTERM when stopping.
    pub sigterm_timeout_s: f64,
    /// Seconds between SIGTERM and SIGKILL when stopping.
    pub sigkill_timeout_s: f64,
}

impl ProcessSpec {
    /// The command line, quoted as a shell would need it.
    pub fn command_line(&self) -> String {
        shlex::try_join(self.argv.iter().map(String::as_str)).unwrap_or_else(|_| self.argv.join(" "))
    }
}

impl fmt::Display for ProcessSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let env = if env.is_empty() { String::new() } else { env.join(" ") + " " };
        write!(f, "[{}] {env}{}", self.name, self.command_line())?;
        if self.respawn {
            write!(f, "  (respawn after {} s)", self.respawn_delay_s)?;
        }
        Ok(())
    }
}

/// Where output lines go (stdout by default; a buffer in tests).
pub type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// How to supervise.
pub struct Options {
    /// Set to stop everything (signal handlers set it too).
    pub stop: Arc<AtomicBool>,
    /// Install SIGINT/SIGTERM handlers that set `stop`.
    pub handle_signals: bool,
    /// Where prefixed output lines go.
    pub sink: Sink,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(false)),
            handle_signals: true,
            sink: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
        }
    }
}

/// How each process ended.
#[derive(Debug)]
pub struct Report {
    /// Per process: name, restarts, last exit status.
    pub processes: Vec<(String, u32, Option<ExitStatus>)>,
    /// Whether the launch was stopped by a signal (or `Options::stop`).
    pub stopped: bool,
    /// Processes that failed while the launch was running (not respawned).
    pub failures: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "launch {}", if self.stopped { "stopped by signal" } else { "finished" })?;
        for (name, restarts, status) in &self.processes {
            let status = status.map_or("never exited".to_string(), |s| s.to_string());
            writeln!(f, "  {name}: {status}, {restarts} restart(s)")?;
        }
        Ok(())
    }
}

struct Slot {
    spec: ProcessSpec,
    child: Option<Child>,
    readers: Vec<JoinHandle<()>>,
    restarts: u32,
    respawn_at: Option<Instant>,
    last_exit: Option<ExitStatus>,
}

/// Starts every process and supervises them until all have exited (and none
/// will respawn) or `options.stop` is set. Fails if a process cannot be
/// started; a process that exits non-zero is listed in `Report::failures`.
pub fn run(specs: Vec<ProcessSpec>, options: Options) -> Result<Report> {
    let signals = if options.handle_signals { register(&options.stop)? } else { Vec::new() };
    let mut slots: Vec<Slot> = unique_names(specs)
        .into_iter()
        .map(|spec| Slot { spec, child: None, readers: Vec::new(), restarts: 0, respawn_at: None, last_exit: None })
        .collect();
    let mut started = Ok(());
    for slot in &mut slots {
        started = start(slot, &options.sink);
        if started.is_err() {
            break;
        }
    }
    let mut failures = Vec::new();
    if started.is_ok() {
        supervise(&mut slots, &options, &mut failures);
    }
    let stopped = options.stop.load(Ordering::SeqCst);
    shutdown(&mut slots, &options.sink);
    for id in signals {
        signal_hook::low_level::unregister(id);
    }
    started?;
    let processes = slots.iter().map(|s| (s.spec.name.clone(), s.restarts, s.last_exit)).collect();
    Ok(Report { processes, stopped, failures })
}

fn register(stop: &Arc<AtomicBool>) -> Result<Vec<signal_hook::SigId>> {
    [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM]
        .into_iter()
        .map(|signal| signal_hook::flag::register(signal, Arc::clone(stop)).context("installing a signal handler"))
        .collect()
}

/// Gives processes with the same name distinct prefixes (`name`, `name-2`, …).
pub fn unique_names(mut specs: Vec<ProcessSpec>) -> Vec<ProcessSpec> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for spec in &mut specs {
        let count = seen.entry(spec.name.clone()).or_default();
        *count += 1;
        if *count > 1 {
            spec.name = format!("{}-{count}", spec.name);
        }
    }
    specs
}

fn say(sink: &Sink, line: &str) {
    if let Ok(mut out) = sink.lock() {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn start(slot: &mut Slot, sink: &Sink) -> Result<()> {
    let spec = &slot.spec;
    let program = match spec.argv[0].as_str() {
        "cairn" => std::env::current_exe().context("finding the cairn binary")?,
        other => other.into(),
    };
    let mut child = Command::new(&program)
        .args(&spec.argv[1..])
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting [{}] `{}`", spec.name, spec.argv[0]))?;
    say(sink, &format!("[launch] [{}] started, pid {}: {}", spec.name, child.id(), spec.command_line()));
    let out = child.stdout.take().map(|s| prefix_lines(s, &spec.name, sink));
    let err = child.stderr.take().map(|s| prefix_lines(s, &spec.name, sink));
    slot.readers = out.into_iter().chain(err).collect();
    slot.child = Some(child);
    Ok(())
}

fn prefix_lines(stream: impl Read + Send + 'static, name: &str, sink: &Sink) -> JoinHandle<()> {
    let (name, sink) = (name.to_owned(), Arc::clone(sink));
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            say(&sink, &format!("[{name}] {}", text.trim_end_matches(['\n', '\r'])));
            line.clear();
        }
    })
}

/// Polls until everything has exited for good or a stop is requested.
fn supervise(slots: &mut [Slot], options: &Options, failures: &mut Vec<String>) {
    while !options.stop.load(Ordering::SeqCst) {
        for slot in slots.iter_mut() {
            reap(slot, &options.sink, failures);
            if slot.respawn_at.is_some_and(|at| Instant::now() >= at) {
                slot.respawn_at = None;
                slot.restarts += 1;
                if let Err(error) = start(slot, &options.sink) {
                    say(&options.sink, &format!("[launch] [{}] could not respawn: {error:#}", slot.spec.name));
                    failures.push(slot.spec.name.clone());
                }
            }
        }
        if slots.iter().all(|s| s.child.is_none() && s.respawn_at.is_none()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Collects an exited child; schedules a respawn or records a failure.
fn reap(slot: &mut Slot, sink: &Sink, failures: &mut Vec<String>) {
    let Some(child) = slot.child.as_mut() else { return };
    let status = match child.try_wait() {
        Ok(Some(status)) => status,
        Ok(None) => return,
        Err(error) => {
            say(sink, &format!("[launch] [{}] cannot be waited for: {error}", slot.spec.name));
            return;
        }
    };
    slot.child = None;
    for reader in slot.readers.drain(..) {
        let _ = reader.join();
    }
    slot.last_exit = Some(status);
    say(sink, &format!("[launch] [{}] exited: {status}", slot.spec.name));
    if slot.spec.respawn {
        slot.respawn_at = Some(Instant::now() + Duration::from_secs_f64(slot.spec.respawn_delay_s));
    } else if !status.success() {
        failures.push(slot.spec.name.clone());
    }
}

/// SIGINT to every live process; each escalates on its own clock: SIGTERM
/// after its `sigterm_timeout`, SIGKILL after a further `sigkill_timeout`.
/// Waits for all.
fn shutdown(slots: &mut [Slot], sink: &Sink) {
    // Per slot: the next signal to send and when.
    let mut next: Vec<(Option<Signal>, Instant)> = Vec::with_capacity(slots.len());
    for slot in slots.iter_mut() {
        slot.respawn_at = None;
        if let Some(child) = &slot.child {
            signal(child, Signal::SIGINT);
        }
        next.push((Some(Signal::SIGTERM), Instant::now() + seconds(slot.spec.sigterm_timeout_s)));
    }
    let mut ignored = Vec::new();
    while slots.iter().any(|s| s.child.is_some()) {
        for (slot, (pending, at)) in slots.iter_mut().zip(next.iter_mut()) {
            reap(slot, sink, &mut ignored);
            slot.respawn_at = None;
            let Some(child) = slot.child.as_mut() else { continue };
            if Instant::now() < *at {
                continue;
            }
            match pending.take() {
                Some(sig) => {
                    signal(child, sig);
                    *at = Instant::now() + seconds(slot.spec.sigkill_timeout_s);
                }
                None => {
                    say(sink, &format!("[launch] [{}] did not stop: SIGKILL", slot.spec.name));
                    let _ = child.kill();
                    let _ = child.wait();
                    reap(slot, sink, &mut ignored);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn signal(child: &Child, signal: Signal) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // The process may have exited since the last poll: nothing to do then.
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

/// Checks that a launch ended well: an error naming the processes that failed.
pub fn check(report: &Report) -> Result<()> {
    if !report.failures.is_empty() {
        bail!("process(es) failed: {}\n{report}", report.failures.join(", "));
    }
    Ok(())
}
