//! The ONNX interface that every analysable model follows ("step model", versions 1 and 2;
//! docs/CONTRACT.md). Version 2's unit layout is [`crate::layout`].
//!
//! A step model maps `(x, h)` to `(preact, h_next[, act])`:
//! - input `x`: float32 `[batch, n_in]`, the frame;
//! - input `h`: float32 `[batch, n_state]`, the state (zeros at the first step);
//! - output `preact`: float32 `[batch, n_units]`, the preactivation `a_t`;
//! - output `h_next`: float32 `[batch, n_state]`, the next state;
//! - optional output `act`: float32 `[batch, n_units]`, the activity (defaults to `h_next`);
//! - optional initializer `W` `[n_state, n_units]`: the recurrent weights, where there are any;
//! - metadata `epc.contract = step-v1` and the `epc.*` properties below.
//!
//! Lesions are applied by the caller by zeroing entries of `h` before a step.
//! The whole-sequence variant (`sequence-v1`) takes `x` `[steps, batch, n_in]` and returns
//! `preact` and `act` `[steps, batch, n_units]`.

/// Name of the frame input.
pub const INPUT_X: &str = "x";
/// Name of the state input.
pub const INPUT_H: &str = "h";
/// Name of the preactivation output.
pub const OUTPUT_PREACT: &str = "preact";
/// Name of the next-state output.
pub const OUTPUT_H_NEXT: &str = "h_next";
/// Name of the optional activity output.
pub const OUTPUT_ACT: &str = "act";
/// Suffix of a step-v2 state tensor's output (`h` -> `h_next`).
pub const NEXT_SUFFIX: &str = "_next";
/// Name of the optional step-v2 input-drive output.
pub const OUTPUT_DRIVE_IN: &str = "drive_in";
/// Name of the optional step-v2 recurrent-drive output.
pub const OUTPUT_DRIVE_REC: &str = "drive_rec";
/// Name of the optional step-v2 synaptic-transmission output.
pub const OUTPUT_TRANSMISSION: &str = "transmission";
/// Name of the recurrent-weight initializer.
pub const INITIALIZER_W: &str = "W";

/// Metadata key holding the contract name.
pub const META_CONTRACT: &str = "epc.contract";
/// The step contract's value of [`META_CONTRACT`].
pub const STEP_V1: &str = "step-v1";
/// The step contract version 2 (named state tensors, populations; docs/CONTRACT.md).
pub const STEP_V2: &str = "step-v2";
/// Metadata key (step-v2): the state tensors as JSON.
pub const META_STATES: &str = "epc.states";
/// Metadata key (step-v2): the populations as JSON.
pub const META_POPULATIONS: &str = "epc.populations";
/// Metadata key (step-v2, optional): the populations the headline energy averages over.
pub const META_ENERGY: &str = "epc.energy";
/// The whole-sequence contract's value of [`META_CONTRACT`].
pub const SEQUENCE_V1: &str = "sequence-v1";
/// Metadata key: the training loss.
pub const META_LOSS: &str = "epc.loss";
/// Metadata key: the run's seed.
pub const META_SEED: &str = "epc.seed";
/// Metadata key: the data set name.
pub const META_DATASET: &str = "epc.dataset";
/// Metadata key: the architecture name.
pub const META_ARCHITECTURE: &str = "epc.architecture";
/// Metadata key: the number of epochs trained.
pub const META_EPOCHS: &str = "epc.epochs_trained";
/// Metadata key: the full resolved run config as JSON.
pub const META_CONFIG: &str = "epc.config";
/// Metadata key: the toolkit version that wrote the model.
pub const META_TOOLKIT: &str = "epc.toolkit_version";
/// Metadata key: `"true"` on the untrained network of a run (its initial weights, exported
/// beside the trained model as [`crate::run::InstanceDir::untrained_model`]); absent otherwise.
pub const META_UNTRAINED: &str = "epc.untrained";

/// ONNX opset the exporter writes.
pub const OPSET: i64 = 17;
/// ONNX IR version the exporter writes.
pub const IR_VERSION: i64 = 8;

/// The data set a model's metadata names (`epc.dataset`), if it names a known one.
pub fn dataset_of(
    metadata: &std::collections::BTreeMap<String, String>,
) -> Option<crate::data::DatasetKind> {
    metadata
        .get(META_DATASET)
        .and_then(|d| crate::data::DatasetKind::from_name(d))
}
