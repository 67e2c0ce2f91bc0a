//! The seeded sampler of image sequences (SPEC.md section 2).
//!
//! A sequence runs through the classes in ascending order with wrap-around from a
//! start class (or another [`ClassOrder`]); each frame is an exemplar of its class drawn
//! without replacement within an epoch. Every epoch's draw depends only on `(seed, epoch)`, so a resumed
//! run sees exactly the sequences an uninterrupted run would.

use crate::data::{ImageShape, Images};
use crate::motion::{place, Motion, Track};
use crate::{Error, Result, NUM_CLASSES};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How classes follow each other inside a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClassOrder {
    /// c, c+1, ..., wrapping from 9 to 0 (the paper's predictable stream).
    #[default]
    Ascending,
    /// Each frame's class drawn uniformly at random: the control in which nothing is predictable.
    Random,
    /// A fixed random cycle through the classes (seeded by `order_seed`): as predictable as
    /// ascending, without the classes' numeric order.
    Permutation,
    /// Markov transitions: the next class in ascending order with probability p, any other
    /// class otherwise, p chosen so that the conditional entropy is `entropy` bits (0: the
    /// ascending stream; log2(10) = 3.32: the random control).
    Markov,
    /// k equally likely successors: class c is followed by one of c+1, ..., c+k (mod 10),
    /// each with probability 1/k (`successors` = k). The conditional entropy is log2 k bits,
    /// reached by branching among k classes rather than by the Markov order's one likely
    /// successor and a uniform rest (1: the ascending stream; 10: the random control).
    Successors,
}

/// log2(10): the conditional entropy of the random order, in bits.
pub const MAX_ENTROPY_BITS: f64 = std::f64::consts::LOG2_10;

/// The conditional entropy (bits) of a Markov step that goes to the ascending successor with
/// probability `p` and to each of the 9 other classes with probability (1 - p) / 9.
pub fn markov_entropy(p: f64) -> f64 {
    let others = (1.0 - p) / (NUM_CLASSES - 1) as f64;
    let term = |q: f64| if q > 0.0 { -q * q.log2() } else { 0.0 };
    term(p) + (NUM_CLASSES - 1) as f64 * term(others)
}

/// The probability of the ascending successor that gives `bits` of conditional entropy
/// (in [0.1, 1]; the entropy falls monotonically over that range).
pub fn markov_successor_probability(bits: f64) -> f64 {
    let (mut lo, mut hi) = (1.0 / NUM_CLASSES as f64, 1.0);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if markov_entropy(mid) > bits {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The class cycle of [`ClassOrder::Permutation`] for `seed`: a seeded shuffle of 0..9.
pub fn class_permutation(seed: u64) -> [usize; NUM_CLASSES] {
    let mut perm: [usize; NUM_CLASSES] = std::array::from_fn(|i| i);
    perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    perm
}

/// The predictable path of a class order: the classes in the order its streams run through
/// them when every frame is followed by its most likely successor. That is the ascending cycle
/// for the ascending, markov and random orders (random has no predictable path; ascending is
/// the published analysis's choice), and the seeded cycle for the permutation order. The
/// analysis sets run along this path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCycle {
    cycle: [usize; NUM_CLASSES],
    place: [usize; NUM_CLASSES],
}

impl ClassCycle {
    /// The cycle of `cfg`'s order.
    pub fn of(cfg: &SequenceConfig) -> Self {
        let cycle = match cfg.order {
            ClassOrder::Permutation => class_permutation(cfg.order_seed),
            _ => std::array::from_fn(|i| i),
        };
        let mut place = [0usize; NUM_CLASSES];
        for (i, &c) in cycle.iter().enumerate() {
            place[c] = i;
        }
        Self { cycle, place }
    }

    /// The class `k` frames after `start` on the path.
    pub fn class_at(&self, start: usize, k: usize) -> usize {
        self.cycle[(self.place[start] + k) % NUM_CLASSES]
    }

    /// The start class whose path shows `class` after `k` frames.
    pub fn start_for(&self, class: usize, k: usize) -> usize {
        self.cycle[(self.place[class] + NUM_CLASSES * (k / NUM_CLASSES + 1) - k) % NUM_CLASSES]
    }

    /// The class before `class` on the path.
    pub fn previous(&self, class: usize) -> usize {
        self.start_for(class, 1)
    }

    /// True for the ascending cycle 0, 1, ..., 9.
    pub fn is_ascending(&self) -> bool {
        self.cycle.iter().enumerate().all(|(i, &c)| i == c)
    }
}

/// Settings of the sequences; every field has the paper's default.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Seed of the class cycle of the `permutation` order.
    pub order_seed: u64,
    /// Conditional entropy (bits) of the `markov` order, 0 to log2(10).
    pub entropy: Option<f64>,
    /// The number of equally likely successors of the `successors` order, 1 to 10 (written
    /// only when set, so that the other orders' configs read as before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successors: Option<usize>,
    /// The moving-digit stream: each frame pasted onto a larger canvas along a bouncing
    /// track ([`crate::motion`]); `None`: the frames are the images themselves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motion: Option<Motion>,
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
            order_seed: 0,
            entropy: None,
            successors: None,
            motion: None,
        }
    }
}

impl SequenceConfig {
    /// The shape of one frame for images of `image`: the motion's canvas, or the image.
    pub fn frame_shape(&self, image: ImageShape) -> ImageShape {
        self.motion.map_or(image, |m| m.frame_shape(image))
    }

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
        match (self.order, self.entropy) {
            (ClassOrder::Markov, None) => {
                return Err(Error::Config(
                    "the markov order needs an entropy in bits (0 to 3.32)".into(),
                ))
            }
            (ClassOrder::Markov, Some(h)) if !(0.0..=MAX_ENTROPY_BITS + 1e-9).contains(&h) => {
                return Err(Error::Config(format!(
                    "entropy {h} bits is outside 0 to log2(10) = 3.32"
                )))
            }
            (ClassOrder::Markov, _) | (_, None) => {}
            (order, Some(_)) => {
                return Err(Error::Config(format!(
                    "an entropy is a setting of the markov order, not of the {} order",
                    format!("{order:?}").to_lowercase()
                )))
            }
        }
        match (self.order, self.successors) {
            (ClassOrder::Successors, None) => {
                return Err(Error::Config(
                    "the successors order needs a number of successors (1 to 10)".into(),
                ))
            }
            (ClassOrder::Successors, Some(k)) if !(1..=NUM_CLASSES).contains(&k) => {
                return Err(Error::Config(format!("{k} successors is outside 1 to 10")))
            }
            (ClassOrder::Successors, _) | (_, None) => {}
            (order, Some(_)) => {
                return Err(Error::Config(format!(
                "a number of successors is a setting of the successors order, not of the {} order",
                format!("{order:?}").to_lowercase()
            )))
            }
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

/// One sequence: the image index and the class label of every frame, and where the frames
/// sit on the canvas of a moving stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    /// Index into the [`Images`] the sampler was built on, one per frame.
    pub frames: Vec<usize>,
    /// Class of each frame (after any distractor replacement).
    pub labels: Vec<u8>,
    /// The moving stream's track (one position per frame); `None`: the frames are the images.
    pub track: Option<Track>,
}

impl Sequence {
    /// The first `steps` frames of this sequence.
    pub fn prefix(&self, steps: usize) -> Sequence {
        Sequence {
            frames: self.frames[..steps].to_vec(),
            labels: self.labels[..steps].to_vec(),
            track: self.track.as_ref().map(|t| Track {
                canvas: t.canvas,
                positions: t.positions[..steps].to_vec(),
            }),
        }
    }

    /// The shape of this sequence's frames for images of `image`.
    pub fn frame_shape(&self, image: ImageShape) -> ImageShape {
        self.track.as_ref().map_or(image, |t| t.canvas)
    }
}

/// Draws the sequences of an epoch from one split.
#[derive(Debug, Clone)]
pub struct SequenceSampler {
    by_class: Vec<Vec<usize>>,
    image_shape: ImageShape,
    cfg: SequenceConfig,
    seed: u64,
}

impl SequenceSampler {
    /// A sampler over `images` (which must hold all ten classes) with the given settings and seed.
    pub fn new(images: &Images, cfg: SequenceConfig, seed: u64) -> Result<Self> {
        cfg.validate()?;
        if let Some(m) = &cfg.motion {
            m.check(images.shape)?;
        }
        let by_class = images.indices_by_class();
        if let Some(c) = by_class.iter().position(|v| v.is_empty()) {
            return Err(Error::Config(format!(
                "the split has no image of class {c}; sequences need all ten classes"
            )));
        }
        Ok(Self {
            by_class,
            image_shape: images.shape,
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
        let path = ClassCycle::of(&self.cfg);
        let stay = self.cfg.entropy.map_or(1.0, markov_successor_probability);
        'draw: loop {
            let start = match self.cfg.start_class {
                Some(c) => c as usize,
                None => rng.gen_range(0..NUM_CLASSES),
            };
            let mut seq = Sequence {
                frames: Vec::with_capacity(self.cfg.length),
                labels: Vec::with_capacity(self.cfg.length),
                track: None,
            };
            let mut prev = start;
            for t in 0..self.cfg.length {
                let mut class = match self.cfg.order {
                    ClassOrder::Ascending => (start + t) % NUM_CLASSES,
                    ClassOrder::Random => rng.gen_range(0..NUM_CLASSES),
                    ClassOrder::Permutation => path.class_at(start, t),
                    ClassOrder::Markov | ClassOrder::Successors if t == 0 => start,
                    ClassOrder::Successors => {
                        (prev + 1 + rng.gen_range(0..self.cfg.successors.unwrap_or(1)))
                            % NUM_CLASSES
                    }
                    ClassOrder::Markov => {
                        if rng.gen::<f64>() < stay {
                            (prev + 1) % NUM_CLASSES
                        } else {
                            (prev + 1 + rng.gen_range(1..NUM_CLASSES)) % NUM_CLASSES
                        }
                    }
                };
                prev = class;
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
            // Drawn after the classes, and only for a moving stream, so that the static
            // streams' draws are what they were before motion existed.
            seq.track = self
                .cfg
                .motion
                .map(|m| m.draw(self.image_shape, self.cfg.length, &mut rng));
            out.push(seq);
        }
        out
    }
}

/// Values per frame of `seqs` (all drawn by one sampler): the canvas of a moving stream, the
/// image size otherwise.
pub fn frame_dim(images: &Images, seqs: &[Sequence]) -> usize {
    seqs.first()
        .map_or(images.shape, |s| s.frame_shape(images.shape))
        .len()
}

/// Writes the frames of `seqs` time-major into `out`: frame `t` of sequence `b` goes to
/// `out[t * step_stride + b * dim..][..dim]` (`dim =` [`frame_dim`]). With `step_stride =
/// seqs.len() * dim` this is [`Batch::x`]'s `[steps, batch, dim]` layout; a larger stride
/// interleaves several batches step by step (the trainer's `[steps, instances, batch, dim]`).
/// A moving stream's image is pasted onto a blank canvas at its track's position.
/// Panics if `out` is too short.
pub fn write_frames(images: &Images, seqs: &[Sequence], out: &mut [f32], step_stride: usize) {
    let dim = frame_dim(images, seqs);
    for (b, s) in seqs.iter().enumerate() {
        for (t, &img) in s.frames.iter().enumerate() {
            let at = t * step_stride + b * dim;
            let frame = &mut out[at..at + dim];
            match &s.track {
                None => frame.copy_from_slice(images.image(img)),
                Some(track) => place(
                    images.image(img),
                    images.shape,
                    track.canvas,
                    track.positions[t],
                    frame,
                ),
            }
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
        let dim = frame_dim(images, seqs);
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
