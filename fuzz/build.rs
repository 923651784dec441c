// proctap's build.rs stamps these into the binary; the fuzz library includes the same modules.
fn main() {
    println!("cargo:rustc-env=PROCTAP_REVISION=fuzz");
    println!("cargo:rustc-env=PROCTAP_RUSTC=fuzz");
}
