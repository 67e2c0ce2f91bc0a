//! The stream a model was trained on, as the analysis reads it from the model's metadata:
//! its class order, entropy and motion, its predictable path and the settings of the sets
//! drawn from it.

use crate::sequences::STEPS;
use crate::{Error, Result};
use epc_core::data::ImageShape;
use epc_core::motion::Motion;
use epc_core::sequence::{ClassCycle, ClassOrder, SequenceConfig};

/// The class order a model was trained on (its recorded `sequence` config), which the
/// analysis follows: the test set is drawn from that stream (so the energy is measured on
/// what the network learned to predict), and the ordered, shuffled and distractor sets run
/// along its predictable path ([`ClassCycle`]: the seeded cycle of the permutation order,
/// ascending otherwise, as published).
#[derive(
    Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Stream {
    /// The class order.
    #[schemars(with = "String")]
    pub order: ClassOrder,
    /// Seed of the permutation order's cycle.
    pub order_seed: u64,
    /// Conditional entropy (bits) of the markov order.
    pub entropy: Option<f64>,
    /// The number of equally likely successors of the successors order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successors: Option<usize>,
    /// The moving-digit stream's canvas and speed; every analysis set moves the same way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>")]
    pub motion: Option<Motion>,
}

impl Stream {
    /// The stream of a model's metadata (`epc.config`'s `sequence` section): the ascending
    /// stream where the model records no config or no sequence section (a model from another
    /// framework), an error (the reason) where it records one that cannot be read, so that a
    /// model is never analysed on a stream it was not trained on.
    pub fn of_metadata(
        metadata: &std::collections::BTreeMap<String, String>,
    ) -> std::result::Result<Stream, String> {
        let seq = match metadata.get(epc_core::contract::META_CONFIG) {
            None => SequenceConfig::default(),
            Some(text) => {
                let cfg: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| format!("its epc.config is not JSON ({e})"))?;
                match cfg.get("sequence") {
                    None => SequenceConfig::default(),
                    Some(seq) => serde_json::from_value(seq.clone()).map_err(|e| {
                        format!("its epc.config has a sequence section epc cannot read ({e})")
                    })?,
                }
            }
        };
        Ok(Stream {
            order: seq.order,
            order_seed: seq.order_seed,
            entropy: seq.entropy,
            successors: seq.successors,
            motion: seq.motion,
        })
    }

    /// [`Stream::of_metadata`] of a loaded model; an unreadable config is an error naming it.
    pub fn of_model(model: &crate::engine::StepModel) -> Result<Stream> {
        Stream::of_metadata(model.metadata()).map_err(|why| Error::model(model.path(), why))
    }

    /// The shape of this stream's frames for images of `image`.
    pub fn frame_shape(&self, image: ImageShape) -> ImageShape {
        self.test_config().frame_shape(image)
    }

    /// In words: `ascending`, `permutation (seed 3)`, `markov (1.50 bits)`, `random`, with
    /// `, moving on a 40x40 canvas (speed <= 2)` for a moving stream.
    pub fn describe(&self) -> String {
        let order = match (self.order, self.entropy) {
            (ClassOrder::Ascending, _) => "ascending".into(),
            (ClassOrder::Random, _) => "random".into(),
            (ClassOrder::Permutation, _) => format!("permutation (seed {})", self.order_seed),
            (ClassOrder::Markov, h) => format!("markov ({:.2} bits)", h.unwrap_or(0.0)),
            (ClassOrder::Successors, _) => format!(
                "{} successors ({:.2} bits)",
                self.successors.unwrap_or(1),
                self.entropy_bits()
            ),
        };
        match self.motion {
            None => order,
            Some(m) if m.teleport => format!("{order}, teleporting on a {0}x{0} canvas", m.canvas),
            Some(m) => format!(
                "{order}, moving on a {0}x{0} canvas (speed <= {1})",
                m.canvas, m.max_speed
            ),
        }
    }

    /// The stream's conditional entropy in bits: 0 for the deterministic orders (ascending,
    /// permutation), log2(10) for random, the setting for markov, log2 k for k successors.
    pub fn entropy_bits(&self) -> f64 {
        match self.order {
            ClassOrder::Ascending | ClassOrder::Permutation => 0.0,
            ClassOrder::Random => epc_core::sequence::MAX_ENTROPY_BITS,
            ClassOrder::Markov => self.entropy.unwrap_or(0.0),
            ClassOrder::Successors => (self.successors.unwrap_or(1) as f64).log2(),
        }
    }

    /// The predictable path the analysis sets run along.
    pub fn cycle(&self) -> ClassCycle {
        ClassCycle::of(&self.path_config())
    }

    /// The settings of the test set: this stream at [`STEPS`] frames, random start classes.
    pub fn test_config(&self) -> SequenceConfig {
        SequenceConfig {
            length: STEPS,
            order: self.order,
            order_seed: self.order_seed,
            entropy: self.entropy,
            successors: self.successors,
            motion: self.motion,
            ..SequenceConfig::default()
        }
    }

    /// The settings of the sets along the predictable path.
    pub(crate) fn path_config(&self) -> SequenceConfig {
        let order = match self.order {
            ClassOrder::Permutation => ClassOrder::Permutation,
            _ => ClassOrder::Ascending,
        };
        SequenceConfig {
            length: STEPS,
            order,
            order_seed: self.order_seed,
            motion: self.motion,
            ..SequenceConfig::default()
        }
    }
}
