//! A client's request head, as `temps proxy` reads it (see `src/proxy/fuzz.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| temps::proxy::fuzz::request(data));
