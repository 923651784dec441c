// proctap's build.rs stamps these into the binary; the fuzz library includes the same modules.
fn main() {
    for var in ["REVISION", "RUSTC", "BRANCH", "BUILD_DATE", "BUILD_USER"] {
        println!("cargo:rustc-env=PROCTAP_{var}=fuzz");
    }
}
