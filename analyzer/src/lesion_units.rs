//! Which units a model's lesions silence, for the analysis and for `epc dump --lesion` alike
//! (one owner, so that a dump's lesion is the analysis's).

use crate::analysis;
use crate::engine::{StepModel, Version};

/// The seed of a model's random lesion: the analysis seed mixed with the model file's
/// SHA-256 (hex, [`StepModel::sha256`]), so that a model gets the same random units wherever it
/// stands in an analysis (alone, in a group, compared with other runs) and in
/// `epc dump --lesion random`.
pub(crate) fn lesion_seed(seed: u64, model_sha256: &str) -> u64 {
    let model_key = u64::from_str_radix(&model_sha256[..16], 16).expect("hex digest");
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ model_key
}

/// The units a model's lesions choose from and the two lesions themselves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LesionUnits {
    /// Units that own state (a step-v1 model's units when there are as many as state
    /// entries; a step-v2 model's state-owning populations), sorted; empty when none can be
    /// lesioned.
    pub lesionable: Vec<usize>,
    /// The prediction units that own state (what the prediction lesion silences).
    pub prediction: Vec<usize>,
    /// As many lesionable non-prediction units, drawn with [`lesion_seed`] (the random
    /// lesion).
    pub random: Vec<usize>,
}

impl LesionUnits {
    /// The lesions of `model` given its prediction units (any class) and the analysis seed.
    pub fn choose(model: &StepModel, prediction_units: &[usize], seed: u64) -> Self {
        let lesionable: Vec<usize> = if model.version() == Version::V1 {
            let n = model.n_units();
            if n == model.n_state() {
                (0..n).collect()
            } else {
                Vec::new()
            }
        } else {
            model.layout().lesionable_units()
        };
        let prediction: Vec<usize> = prediction_units
            .iter()
            .copied()
            .filter(|u| lesionable.binary_search(u).is_ok())
            .collect();
        let random = if lesionable.is_empty() {
            Vec::new()
        } else {
            analysis::random_units_from(
                &lesionable,
                prediction_units,
                prediction.len(),
                lesion_seed(seed, model.sha256()),
            )
        };
        Self {
            lesionable,
            prediction,
            random,
        }
    }
}
