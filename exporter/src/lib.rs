//! `epc-exporter`: writes epc models as ONNX and activation dumps as HDF5.
//!
//! - [`onnx`]: the paper's RNN as an ONNX `step-v1` or `sequence-v1` model, and every
//!   architecture of docs/NETWORKS.md as a `step-v2` model (opset 17, IR 8), built with a
//!   small private graph builder over `onnx-protobuf`;
//!   [`onnx::ModelFile`] reads metadata and initializers back (the project's one ONNX reader);
//! - [`export_run`]: an instance folder of a run (config, weights, training summary; see
//!   [`epc_core::run`]) to its step or sequence model;
//! - [`write_weights_safetensors`] / [`read_weights_safetensors`]: the weight file format of
//!   the `rnn` (one tensor `W`); [`write_params_safetensors`] / [`read_params_safetensors`]: that
//!   of any architecture (one tensor per named parameter);
//! - [`tensors`]: every safetensors file of epc (weights, parameters, the trainer's
//!   checkpoints) is read and written there;
//! - [`h5`]: the HDF5 activation dump (schema in its module docs).
//!
//! This crate links neither libtorch nor ONNX Runtime. Every file it writes is written
//! atomically (temporary sibling, then rename).

mod error;
pub mod h5;
pub mod index_file;
pub mod onnx;
mod run;
pub mod tensors;

pub use error::{Error, Result};
pub use run::{
    export_run, export_run_as, export_untrained, read_params_safetensors, read_weights_safetensors,
    run_metadata, write_params_safetensors, write_weights_safetensors, ExportFormat,
    WEIGHTS_TENSOR,
};

pub use epc_core::clock::{utc_now, utc_timestamp};
