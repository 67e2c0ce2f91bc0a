//! The analyses of SPEC.md sections 5 and 6 as functions of arrays (no I/O, no ONNX).
//!
//! Arrays are time-major like the engine's: `[steps, seqs, units]`; labels are `[seqs, steps]`.

mod bounds;
mod energy;
mod lesions;
mod readout;
mod units;

pub use bounds::*;
pub use energy::*;
pub use lesions::*;
pub use readout::*;
pub use units::*;
