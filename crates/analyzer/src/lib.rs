//! `epc-analyzer`: runs step-v1 ONNX models through ONNX Runtime and reproduces the analyses of
//! Ali et al. (2022): energy curves, prediction and error units, the unit taxonomy, lesions,
//! internal and postsynaptic drive, with figures and a report.
//!
//! - [`engine`]: loading and checking a step model, execution providers, batched runs;
//! - [`stats`]: median, MAD, mean/variance, Welch z, bootstrap CIs;
//! - [`analysis`]: the analyses as functions of arrays;
//! - [`report`]: [`report::analyze`] (everything, written atomically to a folder) and
//!   [`report::run_test_sequences`] (activations for `epc dump`).

pub mod analysis;
pub mod engine;
mod error;
mod figures;
mod onnx_proto;
pub mod report;
pub mod stats;

pub use engine::{Activations, EngineOptions, ExecutionProvider, StepModel};
pub use error::{Error, Result};
pub use report::{analyze, run_test_sequences, AnalysisOptions, Lesion, Summary, TestRun};
