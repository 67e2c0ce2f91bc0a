//! A process-wide tally of the steps every [`StepModel`](super::StepModel) runs, by shape, so
//! that a benchmark can time the same matrix products alone (the analysis's GEMM floor,
//! `benches/epc/analysis.rs`) and say what share of it the analysis reaches.
//!
//! One session run of a step model on `rows` sequences counts one [`StepShape`]. For the
//! paper's network (step-v1, `h` and the units the same size) a step is one product of the
//! `[rows, n_state]` state with the `[n_state, n_units]` recurrent weights, and that is the
//! product the floor times; other architectures do more per step, so for them the tally is a
//! count of steps, not of products. Padded rows (a model with a fixed batch size) are counted:
//! the runtime computes them. Counting costs one uncontended lock per step.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The shape of one step: `rows` sequences of a model with `n_state` state entries and
/// `n_units` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepShape {
    /// Sequences sent in the run (padding included).
    pub rows: usize,
    /// State entries per sequence (all state tensors together).
    pub n_state: usize,
    /// Units per sequence.
    pub n_units: usize,
}

impl StepShape {
    /// Floating-point operations of the step's recurrent product,
    /// `2 * rows * n_state * n_units` (a multiply and an add per weight and row).
    pub fn flops(&self) -> f64 {
        2.0 * self.rows as f64 * self.n_state as f64 * self.n_units as f64
    }
}

static TALLY: Mutex<BTreeMap<StepShape, u64>> = Mutex::new(BTreeMap::new());

/// Counts one step of `shape`.
pub(crate) fn record(shape: StepShape) {
    // A poisoned tally (a panic elsewhere while it was held) still counts: the map is whole.
    let mut t = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    *t.entry(shape).or_insert(0) += 1;
}

/// Empties the tally.
pub fn reset() {
    TALLY.lock().unwrap_or_else(|e| e.into_inner()).clear();
}

/// The steps counted since the last [`reset`] (or since the process began), by shape,
/// ascending, each with its count.
pub fn snapshot() -> Vec<(StepShape, u64)> {
    let t = TALLY.lock().unwrap_or_else(|e| e.into_inner());
    t.iter().map(|(s, n)| (*s, *n)).collect()
}

/// The floating-point operations of every step in `tally` ([`StepShape::flops`] times its
/// count).
pub fn total_flops(tally: &[(StepShape, u64)]) -> f64 {
    tally.iter().map(|(s, n)| s.flops() * *n as f64).sum()
}
