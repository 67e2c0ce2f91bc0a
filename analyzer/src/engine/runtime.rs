//! Loading the ONNX Runtime library once per process (`ort`'s `load-dynamic`).

use crate::error::one_line;
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// The library file the environment was loaded from.
static LIBRARY: OnceLock<PathBuf> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library on first use from
/// `ORT_DYLIB_PATH` at run time, else the one the binary was built against (scripts/env.sh
/// sets it at build time), else the system's `libonnxruntime`. Public for tools that run
/// sessions of their own beside step models in one process (ONNX Runtime allows one
/// environment per process): the benchmarks' GEMM floor.
pub fn environment() -> Result<&'static ort::environment::Environment> {
    ENVIRONMENT
        .get_or_init(|| {
            let built_with =
                option_env!("ORT_DYLIB_PATH").filter(|p| !p.is_empty() && Path::new(p).is_file());
            let lib: PathBuf = match std::env::var_os("ORT_DYLIB_PATH") {
                Some(p) if !p.is_empty() => p.into(),
                _ if built_with.is_some() => built_with.unwrap_or_default().into(),
                _ => format!(
                    "{}onnxruntime{}",
                    std::env::consts::DLL_PREFIX,
                    std::env::consts::DLL_SUFFIX
                )
                .into(),
            };
            let _ = LIBRARY.set(lib.clone());
            let builder = ort::init_from(&lib).map_err(|e| {
                format!(
                    "cannot load the library {} ({e}); set ORT_DYLIB_PATH (source scripts/env.sh)",
                    lib.display()
                )
            })?;
            builder
                .with_name("epc")
                .build()
                .map_err(|e| one_line(e.to_string()))
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// The loaded ONNX Runtime library: its file name (which carries the version in the PyPI and
/// release builds, e.g. `libonnxruntime.so.1.32.0`) and its build information.
pub fn runtime_version() -> Result<String> {
    environment()?;
    let file = LIBRARY
        .get()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let build = ort::info().split(',').next().unwrap_or_default().trim();
    Ok(format!("{file} ({build})"))
}
