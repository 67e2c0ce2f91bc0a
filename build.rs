//! Gives `epc-train` (and the workspace's tests and benchmarks) a run path to libtorch when the
//! `train` feature links it. The `epc` binary gets none of this: it must not load libtorch.
fn main() {
    if std::env::var_os("CARGO_FEATURE_TRAIN").is_none() {
        return;
    }
    let mut args = Vec::new();
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        args.push(format!("-Wl,-rpath={lib}"));
    }
    // Without --no-as-needed the linker drops libtorch_cuda and CUDA is never seen.
    args.push("-Wl,--no-as-needed".into());
    args.push("-ltorch".into());
    for arg in &args {
        println!("cargo:rustc-link-arg-bin=epc-train={arg}");
        println!("cargo:rustc-link-arg-tests={arg}");
        println!("cargo:rustc-link-arg-benches={arg}");
    }
}
