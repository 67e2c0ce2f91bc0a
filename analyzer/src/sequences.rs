//! The sequences the analyses run on (SPEC section 6), drawn from the test split with the
//! shared sampler, so a network is analysed on the kind of input it was trained on.

use crate::{Error, Result};
use epc_core::data::Images;
use epc_core::sequence::{Batch, Sequence, SequenceConfig, SequenceSampler};
use ndarray::{Array2, Array3};

/// Frames per analysed sequence.
pub const STEPS: usize = 10;
/// 0-based frame index replaced in the error-unit test.
pub const DISTRACTOR_AT: usize = 8;

/// What a sequence set is: its role, the sampler settings and seed, and what was drawn.
/// Recorded in `summary.json` and in dumps, so every number can be traced to its sequences.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SetInfo {
    /// Its role (`test`, `distractor`, `deterministic`).
    pub name: String,
    /// The sampler settings.
    pub config: SequenceConfig,
    /// The sampler seed.
    pub seed: u64,
    /// Epochs of the sampler drawn (0, 1, ...).
    pub epochs: u64,
    /// Sequences drawn.
    pub sequences: usize,
}

/// Sequences as arrays: `x` `[steps, seqs, dim]`, `labels` `[seqs, steps]`.
#[derive(Debug, Clone)]
pub struct SeqSet {
    /// Frames `[steps, seqs, dim]`.
    pub x: Array3<f32>,
    /// Class of every frame `[seqs, steps]`.
    pub labels: Array2<u8>,
    /// How it was drawn.
    pub info: SetInfo,
}

/// Fewest test sequences the per-class statistics are computed on: a small test split (the
/// 360 digits give 33 sequences an epoch, about 3 per class) is drawn for several epochs,
/// each a fresh draw of start classes and exemplars, until there are this many.
pub const MIN_SEQUENCES: usize = 400;

/// Most epochs drawn to reach [`MIN_SEQUENCES`].
pub const MAX_EPOCHS: u64 = 20;

/// The sequences the analyses use and the number of epochs drawn: epochs 0, 1, ... of `seed`
/// until [`MIN_SEQUENCES`] are drawn (one epoch when exemplars are not shuffled, since every
/// epoch would be the same).
pub fn draw_sequences(
    images: &Images,
    cfg: SequenceConfig,
    seed: u64,
) -> Result<(Vec<Sequence>, u64)> {
    let epochs = if cfg.shuffle { MAX_EPOCHS } else { 1 };
    let sampler = SequenceSampler::new(images, cfg, seed)?;
    let mut seqs = Vec::new();
    let mut drawn = 0;
    for e in 0..epochs {
        seqs.extend(sampler.epoch(e));
        drawn = e + 1;
        if seqs.len() >= MIN_SEQUENCES {
            break;
        }
    }
    Ok((seqs, drawn))
}

/// The sequences of [`draw_sequences`] as arrays, recorded as set `name`; an error when
/// there is none.
pub fn sequence_set(images: &Images, name: &str, cfg: SequenceConfig, seed: u64) -> Result<SeqSet> {
    let (seqs, epochs) = draw_sequences(images, cfg.clone(), seed)?;
    if seqs.is_empty() {
        return Err(Error::Input("the test split yields no sequence".into()));
    }
    let b = Batch::from_sequences(images, &seqs);
    let x = Array3::from_shape_vec((b.steps, b.batch, b.dim), b.x).expect("batch layout");
    let labels = Array2::from_shape_vec((b.batch, b.steps), b.labels).expect("batch layout");
    Ok(SeqSet {
        x,
        labels,
        info: SetInfo {
            name: name.into(),
            config: cfg,
            seed,
            epochs,
            sequences: seqs.len(),
        },
    })
}

/// The settings of the test set: the defaults (ascending order, random start class) at
/// [`STEPS`] frames.
pub fn test_config() -> SequenceConfig {
    SequenceConfig {
        length: STEPS,
        ..SequenceConfig::default()
    }
}
