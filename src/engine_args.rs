//! Options shared by the commands that run ONNX models (`dump`, `analyze`).

use clap::Args;
use epc_analyzer::{EngineOptions, ExecutionProvider};

/// How ONNX Runtime runs the models.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Execution provider: auto (CUDA, then CoreML, then CPU, falling back with a one-line
    /// note), cpu, cuda or coreml. Naming one explicitly makes its failure an error.
    #[arg(long, default_value = "auto")]
    ep: ExecutionProvider,
    /// Intra-op threads for ONNX Runtime (0: one per core)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Deterministic CPU compute (same numbers on every run)
    #[arg(long)]
    deterministic: bool,
    /// Sequences per inference call
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
}

impl EngineArgs {
    /// The engine options these flags describe.
    pub fn options(&self, ep_given: bool) -> EngineOptions {
        EngineOptions {
            ep: self.ep,
            ep_explicit: ep_given && self.ep != ExecutionProvider::Auto,
            threads: self.threads,
            deterministic: self.deterministic,
            batch_size: self.batch_size.max(1),
        }
    }
}

/// True when `--ep` was typed on the command line (not just defaulted).
pub fn ep_given() -> bool {
    std::env::args().any(|a| a == "--ep" || a.starts_with("--ep="))
}
