//! Arbitrary bytes as a rosbag2 sqlite3 file: open, summarise, stream — no panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_bags::fuzz::sqlite_file(data));
