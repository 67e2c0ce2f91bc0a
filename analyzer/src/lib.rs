//! `epc-analyzer`: runs step-v1 and step-v2 ONNX models through ONNX Runtime and reproduces the analyses of
//! Ali et al. (2022): energy curves, prediction and error units, the unit taxonomy, lesions,
//! internal and postsynaptic drive, with figures and a report; and writes activation dumps.
//!
//! - [`engine`]: loading and checking a step model, execution providers, batched runs;
//! - [`stats`]: median, MAD, mean/variance, Welch z, bootstrap CIs;
//! - [`analysis`]: the analyses as functions of arrays;
//! - [`sequences`]: the sequence sets the analyses run on;
//! - [`analyze()`]: everything, computed ([`Summary`]) then written atomically to a folder
//!   (`report`: JSON, CSV, figures, Markdown);
//! - [`dump()`]: a model's activations on the analysis sequences, as an HDF5 file;
//!   [`dump_arrays()`]: the same, in memory.
//!
//! The crate prints nothing; what it notices goes into the summary's notes or
//! [`StepModel::notes`].

mod aggregate;
pub mod analysis;
mod analyze;
pub mod controls;
pub mod dump;
mod dump_arrays;
pub mod engine;
mod error;
mod groups;
pub mod intervals;
mod lesion_units;
mod options;
mod pipeline;
mod plot;
mod report;
pub mod sequence_files;
pub mod sequences;
pub mod stats;
mod stream;
pub mod summary;

pub use analyze::{analyze, analyze_data};
pub use dump::{dump, DumpOptions, DumpOutcome, DumpSequences};
pub use dump_arrays::{dump_arrays, DumpArrays};
pub use engine::{Activations, EngineOptions, ExecutionProvider, StepModel};
pub use error::{Error, Result};
pub use options::{group_value, AnalysisOptions, Baselines, GroupBy, Lesion};
pub use pipeline::NullOptions;
pub use summary::Summary;
