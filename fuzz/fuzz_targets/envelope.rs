#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kesrs_core::internal::fuzzing::envelope(data));
