//! epc's benchmarks (issue 6), one criterion target with a module per subject:
//!
//! - [`train`]: training MNIST `l1-pre` (batch 32, sequences of 10) through the trainer's own
//!   code path, for K = 1 and K = 10 batched instances and 10 sequential K = 1 runs, and the
//!   GEMM-bound limit (the same batch's matrix products alone, on random data);
//! - [`arch`]: one MNIST-shaped training batch of each architecture on the autograd path
//!   (`benches/arch_pytorch.py` times the same networks in PyTorch; `scripts/bench_arch.sh`);
//! - [`inference`]: the step model through ONNX Runtime ([`epc_analyzer::StepModel::run`])
//!   and through tch (`model::forward` without gradients), and the whole-sequence (`Scan`)
//!   model through ONNX Runtime, for 1, 32 and 1,024 sequences of 10 steps;
//! - [`analysis`]: the full analysis (`report::analyze_data`, figures included) of one and of
//!   ten MNIST-sized networks, and the one-network analysis against its GEMM floor.
//!
//! Run: `cargo bench --bench epc -- [criterion args]` after `source scripts/env.sh`, or
//! `scripts/bench.sh`, which also writes `docs/BENCHMARKS.md`. MNIST comes from
//! `../shared/data/mnist` (`EPC_SHARED_DATA` overrides the `../shared/data` root).
//! `EPC_BENCH_DEVICE` (`cpu`, default; `cuda`; `auto`) picks the tch device of the
//! training and tch inference benchmarks; `EPC_BENCH_THREADS` the libtorch and ONNX Runtime
//! intra-op threads (0, default: the trainer's policy and ONNX Runtime's default).
//!
//! ONNX Runtime allows one environment per process and the analyzer owns it
//! (`epc_analyzer::engine::environment`, which the analysis floor's product sessions share).
//! The `Scan` benchmarks, written before that accessor existed, build their own environment
//! and so run in a child process: this binary runs itself again with `EPC_BENCH_SCAN_CHILD=1`
//! and the same arguments.
//! Everything is set up lazily inside the benchmark closures, so a filter that skips a
//! benchmark also skips its set-up (loading data, writing models).

use criterion::Criterion;
use std::path::PathBuf;

mod analysis;
mod arch;
mod inference;
mod train;

/// Environment variable that makes this binary run only the `Scan` benchmarks.
const SCAN_CHILD: &str = "EPC_BENCH_SCAN_CHILD";

/// The folder of a shared data set (`EPC_SHARED_DATA`, else `../shared/data`).
fn shared_data(name: &str) -> PathBuf {
    std::env::var_os("EPC_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
        .join(name)
}

/// Where criterion writes its results (and this bench its side facts).
fn criterion_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("CRITERION_HOME") {
        return p.into();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("criterion")
}

/// Records facts the report needs besides the timings (shapes, batches per epoch, versions)
/// in `<criterion dir>/epc-meta/<subject>.json`.
fn write_meta(subject: &str, value: serde_json::Value) {
    let dir = criterion_dir().join("epc-meta");
    let text = serde_json::to_string_pretty(&value).expect("JSON value serialises");
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join(format!("{subject}.json")), text))
    {
        eprintln!("epc bench: cannot write {}: {e}", dir.display());
    }
}

/// The tch device the benchmarks use (`EPC_BENCH_DEVICE`).
fn tch_device() -> tch::Device {
    let choice = match std::env::var("EPC_BENCH_DEVICE")
        .unwrap_or_default()
        .as_str()
    {
        "" | "cpu" => epc_core::config::DeviceChoice::Cpu,
        "cuda" | "gpu" => epc_core::config::DeviceChoice::Cuda,
        "auto" => epc_core::config::DeviceChoice::Auto,
        other => panic!("EPC_BENCH_DEVICE={other}: choose cpu, cuda or auto"),
    };
    epc_trainer::device::select(choice).expect("the benchmark device")
}

/// Waits for the device's queued work, so that a timer stopped afterwards covers it.
fn sync(dev: tch::Device) {
    if let tch::Device::Cuda(i) = dev {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Threads asked for with `EPC_BENCH_THREADS` (0 or unset: each library's own default).
fn requested_threads() -> usize {
    std::env::var("EPC_BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// libtorch threads as the trainer picks them for `units` units (or `EPC_BENCH_THREADS`).
fn configure_threads(units: usize) -> usize {
    epc_trainer::train::configure_threads(requested_threads(), units)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    if std::env::var_os(SCAN_CHILD).is_some() {
        inference::bench_scan(&mut c);
        c.final_summary();
        return;
    }
    train::bench(&mut c);
    arch::bench(&mut c);
    inference::bench(&mut c);
    analysis::bench(&mut c);
    c.final_summary();
    inference::run_scan_child();
}
