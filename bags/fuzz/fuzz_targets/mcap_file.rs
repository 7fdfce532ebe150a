//! Arbitrary bytes as an MCAP bag file: open, summarise, stream — no panic.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_bags::fuzz::mcap_file(data));
