//! Replays the committed fuzz corpus (bags/fuzz/corpus/<target>/*) through
//! the same entry points the cargo-fuzz targets call, on stable Rust: every
//! input must be handled without a panic. `cargo +nightly fuzz run <target>`
//! (README, developer section) grows the corpus.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs: Vec<_> =
        std::fs::read_dir(&dir).expect("corpus folder exists").map(|e| e.expect("entry").path()).collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "empty corpus in {}", dir.display());
    for input in &inputs {
        let data = std::fs::read(input).expect("corpus file is readable");
        // A panic here names the input through the test's failure output.
        eprintln!("replaying {}", input.display());
        run(&data);
    }
}

#[test]
fn mcap_file_corpus_replays_without_panic() {
    replay("mcap_file", cairn_bags::fuzz::mcap_file);
}

#[test]
fn sqlite_file_corpus_replays_without_panic() {
    replay("sqlite_file", cairn_bags::fuzz::sqlite_file);
}

#[test]
fn cdr_decode_corpus_replays_without_panic() {
    replay("cdr_decode", cairn_bags::fuzz::cdr_decode);
}
