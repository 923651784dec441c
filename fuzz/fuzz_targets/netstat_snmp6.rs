#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proctap_fuzz::run("netstat_snmp6", data));
