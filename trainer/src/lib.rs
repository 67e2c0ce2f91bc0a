//! `epc-trainer`: fits the energy-efficient RNN of Ali et al. (2022), its controls and the
//! other architectures of docs/NETWORKS.md with libtorch. The only crate of epc that links libtorch.
//!
//! Several instances (seeds) train together as one batched computation (stacked
//! `[K, N, N]` weights, batched matrix products, element-wise Adam), which gives the
//! same networks as separate runs. Every epoch writes an atomic checkpoint, so a
//! killed run resumes to the same result. The crate prints nothing: progress goes to a
//! [`TrainObserver`] and notes to the [`log`] facade.

pub mod adam;
pub mod checkpoint;
pub mod device;
pub mod error;
pub mod guard;
pub mod model;
pub mod net;
pub mod observe;
pub mod train;

pub use error::{Error, Result};
pub use observe::{Silent, TrainEvent, TrainObserver};
pub use train::{resume, train, InstanceOutcome, RunOptions, TrainRequest};
