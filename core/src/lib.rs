//! `epc-core`: everything epc shares that needs no native library.
//!
//! - [`data`]: loaders for MNIST, Fashion-MNIST, CIFAR-10 and the embedded 8x8
//!   digits, with checksums, optional mirror download and a seeded validation split;
//! - [`sequence`]: the seeded sampler of class-ordered image sequences (SPEC section 2);
//! - [`arch`]: each architecture's parameters, states and populations (docs/NETWORKS.md);
//! - [`config`]: the run configuration, resolved and recorded with every artifact;
//! - [`contract`]: names and rules of the ONNX step-model interface (`step-v1`, `step-v2`);
//! - [`layout`]: a step model's states and populations (receptive fields, lesionable state);
//! - [`run`]: the run folder, its file names and its typed files (the one owner of its layout);
//! - [`config::vocabulary`]: every setting, defined once (flags, plans, grouping keys);
//! - [`fsutil`]: atomic writes (temp file, then rename).
//!
//! Like every epc library it prints nothing: notes (a download starting, say) go to the
//! [`log`] facade, and the command line decides what to show.

pub mod arch;
pub mod clock;
pub mod config;
pub mod contract;
pub mod data;
pub mod error;
pub mod fsutil;
pub mod interrupt;
pub mod layout;
pub mod motion;
pub mod run;
pub mod sequence;

pub use error::{Error, Result};

/// The toolkit version recorded in every artifact.
pub const TOOLKIT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Number of classes every supported data set has (and the sampler assumes).
pub const NUM_CLASSES: usize = 10;
