#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proctap_fuzz::run("bonding_names", data));
