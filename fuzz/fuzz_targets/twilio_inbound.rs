//! libFuzzer target: a socket's worth of frames through FrameGuard,
//! parse_inbound, decode_payload and parse_server_frame. The driver is shared
//! with tests/twilio_fuzz_corpus.rs so the seed corpus runs in `cargo test`.
#![no_main]

#[path = "twilio_inbound_driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| driver::run(data));
