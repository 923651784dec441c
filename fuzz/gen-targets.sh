#!/bin/sh
# Writes one cargo-fuzz target per parser named in src/parsers.rs (ALL) and their [[bin]]
# entries in fuzz/Cargo.toml. Run by `make fuzz-targets`; a unit test checks none is missing.
set -eu
cd "$(dirname "$0")"
names=$(sed -n 's/^    ("\([a-z0-9_]*\)",.*/\1/p' ../src/parsers.rs)
rm -f fuzz_targets/*.rs
sed -i '/^# targets: written by gen-targets.sh/,$d' Cargo.toml
echo "# targets: written by gen-targets.sh" >> Cargo.toml
for n in $names; do
	cat > "fuzz_targets/$n.rs" <<RS
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| proctap_fuzz::run("$n", data));
RS
	printf '\n[[bin]]\nname = "%s"\npath = "fuzz_targets/%s.rs"\ntest = false\ndoc = false\nbench = false\n' "$n" "$n" >> Cargo.toml
done
echo "$(echo $names | wc -w) fuzz targets"
