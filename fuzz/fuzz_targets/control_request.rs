//! `cargo +nightly fuzz run control_request`: see docs/fuzzing.md and fuzz/harness/mod.rs.
#![no_main]

#[allow(dead_code)] // each target uses one function of the harness
#[path = "../harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::control_request(data));
