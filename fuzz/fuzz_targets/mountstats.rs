#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proctap_fuzz::run("mountstats", data));
