//! Gives the `epc` binary (and the workspace tests) a run path to libtorch when the
//! `train` feature links it; without the feature nothing is linked.
fn main() {
    if std::env::var_os("CARGO_FEATURE_TRAIN").is_some() {
        if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
            println!("cargo:rustc-link-arg=-Wl,-rpath={lib}");
        }
        // Without --no-as-needed the linker drops libtorch_cuda and CUDA is never seen.
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
