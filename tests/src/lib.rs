//! End-to-end tests and benchmarks of the whole suite against external
//! oracles (evo, rosbags).
//!
//! # Brief overview
//! - [`repo_root`], [`shared_data`]: where fixtures and the shared real data
//!   live (`../shared/data`, or `CAIRN_SHARED_DATA`).
//! - [`Oracle`]: an external tool in the project's Python virtual
//!   environment (`.venv`, or `CAIRN_VENV`), e.g. evo's `evo_ape`.
//! - [`perturb`]: seeded, realistic corruptions of a ground-truth
//!   trajectory (noise, drift, scale, time offset, missing poses) to compare
//!   cairn and the oracles on.
//!
//! Tests that lack their data or oracle are reported as *ignored* by the
//! libtest-mimic harness (so the runner counts them as skipped), never as
//! passed. With `CAIRN_REQUIRE_ORACLES=1` (set by the test command) a missing
//! oracle is a failure instead, so CI cannot skip silently.

pub mod perturb;

use std::path::{Path, PathBuf};

/// The repository root (the parent of this crate's folder).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".."))
}

/// The shared data folder (`CAIRN_SHARED_DATA` or `<repo>/../shared/data`),
/// or `None` when it is absent (a user's fresh clone).
pub fn shared_data() -> Option<PathBuf> {
    let dir =
        std::env::var_os("CAIRN_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| repo_root().join("../shared/data"));
    dir.is_dir().then_some(dir)
}

/// A file below [`shared_data`], or the reason it cannot be used.
pub fn shared_file(relative: &str) -> Result<PathBuf, String> {
    let data = shared_data().ok_or("../shared/data is absent (set CAIRN_SHARED_DATA to its location)")?;
    let path = data.join(relative);
    if path.is_file() { Ok(path) } else { Err(format!("{} is missing", path.display())) }
}

/// The Python virtual environment the test command creates (`.venv`).
pub fn venv() -> PathBuf {
    std::env::var_os("CAIRN_VENV").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv"))
}

/// Whether a missing oracle must fail the run (`CAIRN_REQUIRE_ORACLES=1`).
pub fn oracles_required() -> bool {
    std::env::var("CAIRN_REQUIRE_ORACLES").is_ok_and(|v| v == "1")
}

/// An external command-line tool installed in the virtual environment.
#[derive(Debug, Clone)]
pub struct Oracle {
    /// Absolute path of the executable.
    pub program: PathBuf,
}

impl Oracle {
    /// Finds `name` in `<venv>/bin`, or explains why it is not there.
    pub fn find(name: &str) -> Result<Self, String> {
        let program = venv().join("bin").join(name);
        if program.is_file() {
            Ok(Self { program })
        } else {
            Err(format!("{} not found (run scripts/test, which installs the oracles)", program.display()))
        }
    }

    /// The venv's Python interpreter, to read oracle output files.
    pub fn python() -> Result<Self, String> {
        Self::find("python")
    }

    /// Runs the tool and returns its stdout, or an error with its stderr.
    pub fn run<I, S>(&self, args: I) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let output = std::process::Command::new(&self.program).args(args).output()?;
        if !output.status.success() {
            anyhow::bail!(
                "{} failed ({}): {}{}",
                self.program.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// A scratch directory under the target folder, unique to `label`.
pub fn scratch_dir(label: &str) -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("cairn-e2e-{}-{label}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A libtest-mimic trial of a test that returns an error (shown with its
/// whole context chain) instead of panicking.
pub fn trial(name: &str, test: fn() -> anyhow::Result<()>) -> libtest_mimic::Trial {
    libtest_mimic::Trial::test(name, move || test().map_err(|e| libtest_mimic::Failed::from(format!("{e:#}"))))
}

/// Why the Cyclone DDS ROS 2 peer (`tests/oracle/ros2_peer.py`) cannot run
/// here, if it cannot: the venv lacks cyclonedds or rosbags.
pub fn cyclonedds_peer_missing() -> Option<String> {
    let reason = match Oracle::python() {
        Ok(python) => python.run(["-c", "import cyclonedds, rosbags"]).err().map(|e| format!("{e:#}")),
        Err(reason) => Some(reason),
    }?;
    Some(format!("cyclonedds/rosbags not in the venv (scripts/test installs them): {reason}"))
}
