//! The seeded sampler of image sequences (SPEC.md section 2).
//!
//! A sequence runs through the classes in ascending order with wrap-around from a
//! start class; each frame is an exemplar of its class drawn without replacement
//! within an epoch. Every epoch's draw depends only on `(seed, epoch)`, so a resumed
//! run sees exactly the sequences an uninterrupted run would.

use crate::data::Images;
use crate::{Error, Result, NUM_CLASSES};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How classes follow each other inside a sequence.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
    Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum ClassOrder {
    /// c, c+1, ..., wrapping from 9 to 0 (the paper's predictable stream).
    #[default]
    Ascending,
    /// Each frame's class drawn uniformly at random: the control in which nothing is predictable.
    Random,
}

/// Settings of the sequences; every field has the paper's default.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequenceConfig {
    /// Frames per sequence (10).
    pub length: usize,
    /// Sequences per batch (32).
    pub batch_size: usize,
    /// Class order (ascending).
    pub order: ClassOrder,
    /// Fixed start class; `None` draws it uniformly for every sequence.
    pub start_class: Option<u8>,
    /// Shuffle exemplars each epoch; `false` takes them in data-set order (deterministic).
    pub shuffle: bool,
    /// Replace the frame at this 0-based index by an exemplar of a random other class.
    pub distractor_at: Option<usize>,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        Self {
            length: 10,
            batch_size: 32,
            order: ClassOrder::Ascending,
            start_class: None,
            shuffle: true,
            distractor_at: None,
        }
    }
}

impl SequenceConfig {
    /// Checks the settings for consistency.
    pub fn validate(&self) -> Result<()> {
        if self.length == 0 || self.batch_size == 0 {
            return Err(Error::Config(
                "sequence length and batch size must be positive".into(),
            ));
        }
        if let Some(c) = self.start_class.filter(|&c| c as usize >= NUM_CLASSES) {
            return Err(Error::Config(format!(
                "start class {c} is not a class 0..9"
            )));
        }
        if let Some(p) = self.distractor_at.filter(|&p| p >= self.length) {
            return Err(Error::Config(format!(
                "distractor index {p} is outside a sequence of length {}",
                self.length
            )));
        }
        Ok(())
    }
}

/// One sequence: the image index and the class label of every frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Index into the [`Images`] the sampler was built on, one per frame.
    pub frames: Vec<usize>,
    /// Class of each frame (after any distractor replacement).
    pub labels: Vec<u8>,
}

/// Draws the sequences of an epoch from one split.
#[derive(Debug, Clone)]
pub struct SequenceSampler {
    by_class: Vec<Vec<usize>>,
    cfg: SequenceConfig,
    seed: u64,
}

impl SequenceSampler {
    /// A sampler over `images` (which must hold all ten classes) with the given settings and seed.
    pub fn new(images: &Images, cfg: SequenceConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let by_class = images.indices_by_class();
        if let Some(c) = by_class.iter().position(|v| v.is_empty()) {
            return Err(Error::Config(format!(
                "the split has no image of class {c}; sequences need all ten classes"
            )));
        }
        Ok(Self {
            by_class,
            cfg,
            seed,
        })
    }

    /// The settings.
    pub fn config(&self) -> &SequenceConfig {
        &self.cfg
    }

    /// The sequences of epoch `epoch`: drawn until a class runs out of unused exemplars.
    pub fn epoch(&self, epoch: u64) -> Vec<Sequence> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(epoch);
        let mut pools = self.by_class.clone();
        if self.cfg.shuffle {
            for pool in &mut pools {
                pool.shuffle(&mut rng);
            }
        }
        let mut next = [0usize; NUM_CLASSES];
        let mut out = Vec::new();
        'draw: loop {
            let start = match self.cfg.start_class {
                Some(c) => c as usize,
                None => rng.gen_range(0..NUM_CLASSES),
            };
            let mut seq = Sequence {
                frames: Vec::with_capacity(self.cfg.length),
                labels: Vec::with_capacity(self.cfg.length),
            };
            for t in 0..self.cfg.length {
                let mut class = match self.cfg.order {
                    ClassOrder::Ascending => (start + t) % NUM_CLASSES,
                    ClassOrder::Random => rng.gen_range(0..NUM_CLASSES),
                };
                if self.cfg.distractor_at == Some(t) {
                    class = (class + rng.gen_range(1..NUM_CLASSES)) % NUM_CLASSES;
                }
                let Some(&img) = pools[class].get(next[class]) else {
                    break 'draw;
                };
                next[class] += 1;
                seq.frames.push(img);
                seq.labels.push(class as u8);
            }
            out.push(seq);
        }
        out
    }
}

/// Writes the frames of `seqs` time-major into `out`: frame `t` of sequence `b` goes to
/// `out[t * step_stride + b * dim..][..dim]` (`dim = images.dim()`). With `step_stride =
/// seqs.len() * dim` this is [`Batch::x`]'s `[steps, batch, dim]` layout; a larger stride
/// interleaves several batches step by step (the trainer's `[steps, instances, batch, dim]`).
/// Panics if `out` is too short.
pub fn write_frames(images: &Images, seqs: &[Sequence], out: &mut [f32], step_stride: usize) {
    let dim = images.dim();
    for (b, s) in seqs.iter().enumerate() {
        for (t, &img) in s.frames.iter().enumerate() {
            let at = t * step_stride + b * dim;
            out[at..at + dim].copy_from_slice(images.image(img));
        }
    }
}

/// A batch of sequences as one time-major array, ready for a model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Frames per sequence.
    pub steps: usize,
    /// Sequences in the batch.
    pub batch: usize,
    /// Values per frame.
    pub dim: usize,
    /// `[steps, batch, dim]` pixels, row-major.
    pub x: Vec<f32>,
    /// `[batch, steps]` class labels.
    pub labels: Vec<u8>,
}

impl Batch {
    /// Refills this batch in place from `seqs` (reusing its buffers: no allocation once warm).
    pub fn fill(&mut self, images: &Images, seqs: &[Sequence]) {
        let steps = seqs.first().map_or(0, |s| s.frames.len());
        let dim = images.dim();
        self.steps = steps;
        self.batch = seqs.len();
        self.dim = dim;
        self.x.resize(steps * seqs.len() * dim, 0.0);
        write_frames(images, seqs, &mut self.x, seqs.len() * dim);
        self.labels.clear();
        for s in seqs {
            self.labels.extend_from_slice(&s.labels);
        }
    }

    /// A new batch built from `seqs`.
    pub fn from_sequences(images: &Images, seqs: &[Sequence]) -> Self {
        let mut b = Batch::default();
        b.fill(images, seqs);
        b
    }

    /// The `[batch, dim]` frame at step `t`.
    pub fn step(&self, t: usize) -> &[f32] {
        let n = self.batch * self.dim;
        &self.x[t * n..(t + 1) * n]
    }
}
