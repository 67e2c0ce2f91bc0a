//! Helpers shared by the trainer's integration tests.

use epc_core::config::RunConfig;
use epc_trainer::train::{RunOptions, TrainRequest};
use std::path::Path;

/// A request to train `seeds` with `cfg` into `out`, with the default run options.
pub fn request(cfg: &RunConfig, seeds: &[u64], out: &Path) -> TrainRequest {
    TrainRequest {
        config: cfg.clone(),
        seeds: seeds.to_vec(),
        out: out.to_path_buf(),
        options: RunOptions::default(),
    }
}
