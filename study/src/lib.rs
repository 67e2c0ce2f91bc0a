//! Studies: a plan file names a grid of training runs; a study folder holds one run folder per
//! cell of the grid, the config each cell trains from, the trainers' logs, the Slurm records
//! and the analysis. This crate owns all of it: the plan format and its expansion into cells
//! (each resolved through the config vocabulary straight to a typed config), the study
//! folder's layout and status, the local runner and the Slurm submitter. The command line
//! (`epc sweep`) only parses and calls it.
//!
//! A plan (TOML):
//!
//! ```toml
//! config = "../configs/fast-digits.toml"   # optional base config
//! seeds = [0, 1]                           # the instances of every cell (trained stacked)
//! data_dir = "/data/mnist"                 # optional, for every cell
//! # (relative paths are relative to the plan file)
//!
//! [grid]                                   # axes: settings (`lr` or `optim.lr`), each with its values
//! loss = ["l1-pre", "l1-post"]
//! lr = [1e-3, 1e-4]
//!
//! [set]                                    # settings shared by every cell (and `no-export`,
//! epochs = 40                              # `threads`, `batch-instances` for the trainer)
//!
//! [analyze]                                # optional: analyse every cell at the end
//! args = ["--no-figures"]                  # extra `epc analyze` flags
//! ```

mod error;
mod folder;
mod local;
mod plan;
mod slurm;

pub use error::{Error, Result};
pub use folder::{CellStatus, Finished, StudyDir};
pub use local::{run_cell, run_local, wait_forwarding_signals, Programs};
pub use plan::{AnalyzePlan, Cell, Plan, TrainerOptions};
pub use slurm::{resubmit, submit, SlurmJob, SlurmOptions};
