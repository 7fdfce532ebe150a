//! cairn's CDR against rosbags (PyPI), the oracle nobody here wrote: for
//! every message type, a value with awkward contents (odd-length and
//! non-ASCII strings, empty and non-empty sequences, negative numbers) is
//!
//! * encoded by cairn byte-for-byte as rosbags' `serialize_cdr` encodes it,
//!   little- and big-endian;
//! * decoded by cairn from rosbags' bytes (both byte orders) to the same value;
//! * read by rosbags from cairn's bytes to the same value;
//! * described by a `ros2msg` definition that rosbags parses into its own
//!   definition of every type involved.
//!
//! `visualization_msgs/Marker` (and `MarkerArray`) is also checked against
//! the other distribution's definition (`humble/…` trials), whichever
//! feature this build has. One oracle run (`bags/tests/oracle/rosbags_cdr.py`)
//! serves all these `rosbags_cdr/*` trials; they are reported as ignored
//! when the venv lacks rosbags, unless `CAIRN_REQUIRE_ORACLES=1`. The `cdr_corrupt/*` trials need no
//! oracle: every truncation of every sample must be an error, and seeded
//! random byte corruptions must decode or fail, never panic.

#[path = "rosbags_cdr/samples.rs"]
mod samples;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use cairn_bags::cdr::{self, Endianness};
use cairn_bags::msg::RosMessage;
use cairn_bags::msg::visualization_msgs::{MARKER_MSG_HUMBLE, MARKER_MSG_JAZZY};
use cairn_e2e::{Oracle, oracles_required, repo_root, scratch_dir};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};

/// Decodes bytes as the case's type and compares them with its value.
type Check = Box<dyn Fn(&[u8]) -> Result<(), String> + Send + Sync>;

/// One sample message, encoded by cairn.
struct Case {
    /// Unique name: the type name, prefixed by the distribution for cases
    /// checked against the other distribution.
    key: String,
    /// `humble` or `jazzy`: the rosbags typestore to compare with.
    distro: &'static str,
    type_name: &'static str,
    value: Value,
    le: Vec<u8>,
    be: Vec<u8>,
    definition: String,
    decodes_to_value: Check,
}

/// A case for `msg` (panics on encode errors: samples are always encodable).
fn case<T: RosMessage + Send + Sync + 'static>(msg: T) -> Case {
    let le = cdr::encode_as(&msg, Endianness::Little).expect("sample encodes");
    let be = cdr::encode_as(&msg, Endianness::Big).expect("sample encodes");
    let value = serde_json::to_value(&msg).expect("sample is JSON");
    let decodes_to_value: Check = Box::new(move |bytes| match cdr::decode::<T>(bytes) {
        Ok(read) if read == msg => Ok(()),
        Ok(read) => Err(format!("decoded\n{read:?}\nexpected\n{msg:?}")),
        Err(e) => Err(e.to_string()),
    });
    let key = T::TYPE_NAME.to_string();
    Case {
        key,
        distro: distro(),
        type_name: T::TYPE_NAME,
        value,
        le,
        be,
        definition: T::definition(),
        decodes_to_value,
    }
}

impl Case {
    /// The same message, checked against the other distribution's Marker
    /// definition (the field layout is shared; the text differs).
    fn for_other_distro(mut self) -> Case {
        let (ours, theirs, other) = match self.distro {
            "humble" => (MARKER_MSG_HUMBLE, MARKER_MSG_JAZZY, "jazzy"),
            _ => (MARKER_MSG_JAZZY, MARKER_MSG_HUMBLE, "humble"),
        };
        self.definition = self.definition.replace(ours, theirs);
        self.distro = other;
        self.key = format!("{other}/{}", self.type_name);
        self
    }
}

fn distro() -> &'static str {
    if cfg!(feature = "humble") { "humble" } else { "jazzy" }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("bad hex from the oracle"))
        .map(|r| r.map_err(String::from))
        .collect()
}

/// Runs the oracle once over every case: its result per type name.
fn run_oracle(cases: &[Arc<Case>], dir: &Path) -> Result<HashMap<String, Value>, String> {
    let input = dir.join("cases.json");
    let output = dir.join("rosbags.json");
    let cases_json: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({"key": c.key, "distro": c.distro, "type": c.type_name, "value": c.value, "cairn_le": hex(&c.le), "cairn_be": hex(&c.be),
                   "definition": c.definition})
        })
        .collect();
    std::fs::write(&input, json!({ "cases": cases_json }).to_string()).map_err(|e| e.to_string())?;
    let python = Oracle::python()?;
    let script = repo_root().join("bags/tests/oracle/rosbags_cdr.py");
    python.run([script.as_os_str(), input.as_os_str(), output.as_os_str()]).map_err(|e| format!("{e:#}"))?;
    let text = std::fs::read_to_string(&output).map_err(|e| e.to_string())?;
    let results: Vec<Value> = serde_json::from_str(&text).map_err(|e| format!("oracle output: {e}"))?;
    Ok(results.into_iter().filter_map(|r| Some((r["key"].as_str()?.to_string(), r))).collect())
}

/// The checks of one type against rosbags' result for it.
fn compare(case: &Case, rosbags: &Value) -> Result<(), Failed> {
    if let Some(error) = rosbags.get("error") {
        return Err(format!("rosbags failed on the sample: {error}").into());
    }
    for (order, ours) in [("le", &case.le), ("be", &case.be)] {
        let theirs = unhex(rosbags[order].as_str().unwrap_or_default())?;
        if &theirs != ours {
            let at = theirs.iter().zip(ours.iter()).position(|(a, b)| a != b).unwrap_or(theirs.len().min(ours.len()));
            return Err(format!(
                "{order}: cairn wrote {} bytes, rosbags {}; first difference at byte {at}\ncairn:   {}\nrosbags: {}",
                ours.len(),
                theirs.len(),
                hex(ours),
                hex(&theirs)
            )
            .into());
        }
        (case.decodes_to_value)(&theirs).map_err(|e| format!("cairn decoding rosbags' {order} bytes: {e}"))?;
    }
    for key in ["reads_cairn", "definition"] {
        if let Some(problem) = rosbags[key].as_str() {
            return Err(format!("{key}: {problem}").into());
        }
    }
    Ok(())
}

/// Round trips, every truncation fails, and corruptions never panic.
fn corrupt_bytes_are_handled(case: &Case) -> Result<(), Failed> {
    (case.decodes_to_value)(&case.le).map_err(|e| format!("little-endian round trip: {e}"))?;
    (case.decodes_to_value)(&case.be).map_err(|e| format!("big-endian round trip: {e}"))?;
    for len in 0..case.le.len() {
        if (case.decodes_to_value)(&case.le[..len]).is_ok() {
            return Err(format!("a {len}-byte prefix of {} bytes decoded", case.le.len()).into());
        }
    }
    // xorshift64, seeded per case: reproducible corruptions of 1–4 bytes
    // (a length field among them now and then becomes huge).
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ case.le.len() as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..500 {
        let mut bytes = case.le.clone();
        for _ in 0..1 + next() % 4 {
            let at = next() as usize % bytes.len();
            bytes[at] = next() as u8;
        }
        let _ = (case.decodes_to_value)(&bytes);
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let cases: Vec<Arc<Case>> = samples::all().into_iter().map(Arc::new).collect();
    let missing = match Oracle::python() {
        Ok(python) => python.run(["-c", "import rosbags"]).err().map(|e| format!("rosbags not in the venv: {e}")),
        Err(reason) => Some(reason),
    }
    .filter(|_| !oracles_required());
    let scratch = scratch_dir("rosbags_cdr").unwrap_or_else(|_| std::env::temp_dir());
    let results: Arc<Result<HashMap<String, Value>, String>> = Arc::new(match &missing {
        Some(reason) => {
            eprintln!("skipping rosbags_cdr oracle trials: {reason}");
            Err(reason.clone())
        }
        None => run_oracle(&cases, &scratch),
    });
    let mut trials = Vec::new();
    for case in &cases {
        let (c, r) = (Arc::clone(case), Arc::clone(&results));
        trials.push(
            Trial::test(format!("rosbags_cdr/{}", case.key), move || match r.as_ref() {
                Ok(all) => compare(&c, all.get(&c.key).ok_or("no oracle result for this case")?),
                Err(e) => Err(format!("oracle run failed: {e}").into()),
            })
            .with_ignored_flag(missing.is_some()),
        );
        if case.distro == distro() {
            let c = Arc::clone(case);
            trials.push(Trial::test(format!("cdr_corrupt/{}", case.key), move || corrupt_bytes_are_handled(&c)));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    let _ = std::fs::remove_dir_all(&scratch);
    conclusion.exit();
}
