//! Rebuilds when ORT_DYLIB_PATH changes: the engine remembers it as its default library.
fn main() {
    println!("cargo:rerun-if-env-changed=ORT_DYLIB_PATH");
}
