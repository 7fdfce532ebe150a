//! Arbitrary bytes as CDR of a message type chosen by the first byte:
//! decode, convert, re-encode — no panic, stable round trip.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_bags::fuzz::cdr_decode(data));
