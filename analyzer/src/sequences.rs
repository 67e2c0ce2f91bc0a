//! The sequences the analyses run on (docs/SPEC.md, section 6), drawn from the test split
//! with the shared sampler, so a network is analysed on the kind of input it was trained on.
//!
//! - the **test set**: the stream's class order from random start classes, as many sequences
//!   as the rarest class has images (at least [`MIN_SEQUENCES`]), the images of each class in
//!   one seeded order shared by every stream ([`test_set`]); energy curves, lesions and
//!   reference curves;
//! - the **ordered sets**: for each start class s, every sequence starting at s with exemplars
//!   in data-set order, over the whole test split (as many as the rarest class has images);
//!   the set starting at c + 1 ends on class c: the prediction rule at the last step (the
//!   published `compute_preact_stats`, which draws unshuffled);
//!
//! "c + 1" reads "the class after c on the model's predictable path" ([`Stream`]): for the
//! published ascending stream it is c + 1.
//! - the **shuffled sets**: for each start class s, the same with exemplars shuffled (a seed of
//!   their own), as the published code draws every other analysis set: the set starting at
//!   c + 2 shows c at index 8 (the "normal" group of the error-unit test), the set starting at
//!   d - k shows digit d after k frames (Fig 4B, Fig 4C), the set starting at 0 runs through
//!   0..9 (Fig 2C);
//! - the **distractor sets**: for each class c, the sequences starting at c + 2 with their frame
//!   at index 8 replaced by an exemplar of a random other class, exemplars shuffled with a seed
//!   of their own, one epoch;
//! - the **unexpected sets** (the stimulus-matched error test): for each class c, the shuffled
//!   set that shows c at index 8, with its frame at index 7 (c's predecessor on the path)
//!   replaced by an exemplar of a random other class: the same images of c at index 8, once
//!   expected (the shuffled set) and once unexpected.
//!
//! Sequences are kept as image indices ([`SeqSpec`]) and turned into frames a chunk at a time
//! ([`frames`]), so memory does not grow with the size of the sets.

use crate::sequence_files::GivenSets;
pub use crate::stream::Stream;
use crate::{Error, Result};
use epc_core::data::Images;
use epc_core::sequence::{Batch, Sequence, SequenceConfig, SequenceSampler};
use epc_core::NUM_CLASSES;
use ndarray::{Array2, Array3};
use rand::seq::SliceRandom;

/// Frames per analysed sequence.
pub const STEPS: usize = 10;
/// 0-based frame index replaced in the error-unit test.
pub const DISTRACTOR_AT: usize = 8;

/// Fewest test sequences the energy curves are computed on: a small test split (the 360
/// digits give 33 sequences an epoch) reuses its images to reach this many.
pub const MIN_SEQUENCES: usize = 400;

/// Salt of the distractor sets' seed: they are drawn independently of everything else.
const DISTRACTOR_SALT: u64 = 0xd157_7ac7;
/// Salt of the shuffled sets' seed.
const SHUFFLED_SALT: u64 = 0x0a7f_5e75;
/// Salt of the seed of the test set's per-class image pools.
const TEST_POOL_SALT: u64 = 0x7e57_9001;
/// Salt of the seed of the unexpected sets' replaced frames.
const UNEXPECTED_SALT: u64 = 0x5eed_0e7e;

/// What a sequence set is: its role, the sampler settings and seed, and what was drawn.
/// Recorded in `summary.json` and in dumps, so every number can be traced to its sequences.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SetInfo {
    /// Its role (`test`, `ordered-start-0`, ..., `shuffled-start-0`, ..., `distractor-0`, ...).
    pub name: String,
    /// The sampler settings.
    #[schemars(with = "serde_json::Value")]
    pub config: SequenceConfig,
    /// The sampler seed.
    pub seed: u64,
    /// Epochs of the sampler drawn (0, 1, ...).
    pub epochs: u64,
    /// Sequences drawn.
    pub sequences: usize,
    /// The index file the set was read from instead of drawn (`epc analyze
    /// --sequence-sets`); absent for a drawn set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A sequence set as image indices, with how it was drawn.
#[derive(Debug, Clone)]
pub struct SeqSpec {
    /// The sequences.
    pub seqs: Vec<Sequence>,
    /// How they were drawn.
    pub info: SetInfo,
}

impl SeqSpec {
    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }
}

/// The set `name`: one epoch of the sampler of `cfg` and `seed`; an error when it is empty.
pub fn sequence_spec(
    images: &Images,
    name: &str,
    cfg: SequenceConfig,
    seed: u64,
) -> Result<SeqSpec> {
    let seqs = SequenceSampler::new(images, cfg.clone(), seed)?.epoch(0);
    let epochs = 1;
    if seqs.is_empty() {
        return Err(Error::Input(format!(
            "the test split yields no sequence for the {name} set"
        )));
    }
    Ok(SeqSpec {
        info: SetInfo {
            name: name.into(),
            config: cfg,
            seed,
            epochs,
            sequences: seqs.len(),
            file: None,
        },
        seqs,
    })
}

/// The test set (see the module docs): `n` sequences of `stream`, `n` the number of
/// sequences an epoch of the ascending stream gives (the count of the rarest class: 892 on
/// MNIST), at least [`MIN_SEQUENCES`]. Every stream takes the same images: the k-th frame of
/// class c, in sequence order, is image `k mod len` of class c's pool, a seeded shuffle of the
/// split's images of c that does not depend on the stream. So models trained on different
/// streams are analysed on the same images (all of them once per class where the class counts
/// allow; a stream that shows a class more often wraps around its pool).
pub fn test_set(images: &Images, seed: u64, stream: &Stream) -> Result<SeqSpec> {
    use rand::SeedableRng;
    let by_class = images.indices_by_class();
    if let Some(c) = by_class.iter().position(Vec::is_empty) {
        return Err(Error::Input(format!(
            "the test split has no image of class {c}; sequences need all ten classes"
        )));
    }
    let rarest = by_class.iter().map(Vec::len).min().unwrap_or(0);
    let n = rarest.max(MIN_SEQUENCES);
    // The stream's classes (and tracks) from its own sampler, run over label-only stand-ins
    // with enough of every class that none runs out before `n` sequences.
    let stand_in = Images {
        shape: images.shape,
        pixels: Vec::new(),
        labels: (0..NUM_CLASSES as u8)
            .flat_map(|c| std::iter::repeat_n(c, n * STEPS))
            .collect(),
    };
    let cfg = stream.test_config();
    let mut seqs = SequenceSampler::new(&stand_in, cfg.clone(), seed)?.epoch(0);
    seqs.truncate(n);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ TEST_POOL_SALT);
    let pools: Vec<Vec<usize>> = by_class
        .into_iter()
        .map(|mut p| {
            p.shuffle(&mut rng);
            p
        })
        .collect();
    let mut next = [0usize; NUM_CLASSES];
    for s in &mut seqs {
        for (f, &l) in s.frames.iter_mut().zip(&s.labels) {
            let c = l as usize;
            *f = pools[c][next[c] % pools[c].len()];
            next[c] += 1;
        }
    }
    Ok(SeqSpec {
        info: SetInfo {
            name: "test".into(),
            config: cfg,
            seed,
            epochs: 1,
            sequences: seqs.len(),
            file: None,
        },
        seqs,
    })
}

/// Exactly `epochs` epochs (0, 1, ...) of the test sampler with `seed`.
pub fn draw_epochs(images: &Images, seed: u64, epochs: u64, stream: &Stream) -> Result<SeqSpec> {
    let sampler = SequenceSampler::new(images, stream.test_config(), seed)?;
    let seqs: Vec<Sequence> = (0..epochs).flat_map(|e| sampler.epoch(e)).collect();
    if seqs.is_empty() {
        return Err(Error::Input(format!(
            "{epochs} epochs of the test split yield no sequence"
        )));
    }
    Ok(SeqSpec {
        info: SetInfo {
            name: format!("test-{epochs}-epochs"),
            config: stream.test_config(),
            seed,
            epochs,
            sequences: seqs.len(),
            file: None,
        },
        seqs,
    })
}

/// The ordered set starting at `start` (see the module docs).
pub fn class_set(images: &Images, start: usize, seed: u64, stream: &Stream) -> Result<SeqSpec> {
    let cfg = SequenceConfig {
        start_class: Some(start as u8),
        shuffle: false,
        ..stream.path_config()
    };
    sequence_spec(images, &format!("ordered-start-{start}"), cfg, seed)
}

/// The shuffled set starting at `start` (see the module docs).
pub fn shuffled_set(images: &Images, start: usize, seed: u64, stream: &Stream) -> Result<SeqSpec> {
    let cfg = SequenceConfig {
        start_class: Some(start as u8),
        ..stream.path_config()
    };
    let seed = seed ^ SHUFFLED_SALT ^ start as u64;
    sequence_spec(images, &format!("shuffled-start-{start}"), cfg, seed)
}

/// The distractor set of class `class`: sequences starting where the path shows `class` at
/// index [`DISTRACTOR_AT`], that frame replaced (see the module docs).
pub fn distractor_set(
    images: &Images,
    class: usize,
    seed: u64,
    stream: &Stream,
) -> Result<SeqSpec> {
    let cfg = SequenceConfig {
        start_class: Some(stream.cycle().start_for(class, DISTRACTOR_AT) as u8),
        distractor_at: Some(DISTRACTOR_AT),
        ..stream.path_config()
    };
    let seed = seed ^ DISTRACTOR_SALT ^ class as u64;
    sequence_spec(images, &format!("distractor-{class}"), cfg, seed)
}

/// The unexpected set of class `class` (see the module docs): `shuffled` is the shuffled set
/// that shows `class` at index [`DISTRACTOR_AT`]; each sequence keeps every frame but the one
/// before, which becomes a seeded random exemplar of a class other than `class`'s predecessor
/// on `stream`'s path. Frames after index 8 are kept (the test reads index 8 only).
pub fn unexpected_set(
    images: &Images,
    shuffled: &SeqSpec,
    class: usize,
    seed: u64,
    stream: &Stream,
) -> Result<SeqSpec> {
    use rand::{Rng, SeedableRng};
    let at = DISTRACTOR_AT - 1;
    let expected = stream.cycle().previous(class);
    let by_class = images.indices_by_class();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ UNEXPECTED_SALT ^ class as u64);
    let seqs: Vec<Sequence> = shuffled
        .seqs
        .iter()
        .map(|s| {
            let mut s = s.clone();
            debug_assert_eq!(s.labels[DISTRACTOR_AT] as usize, class);
            let other =
                (expected + rng.gen_range(1..epc_core::NUM_CLASSES)) % epc_core::NUM_CLASSES;
            let pool = &by_class[other];
            s.frames[at] = pool[rng.gen_range(0..pool.len())];
            s.labels[at] = other as u8;
            s
        })
        .collect();
    if seqs.is_empty() {
        return Err(Error::Input(format!(
            "the test split yields no sequence for the unexpected-{class} set"
        )));
    }
    Ok(SeqSpec {
        info: SetInfo {
            name: format!("unexpected-{class}"),
            config: shuffled.info.config.clone(),
            seed: seed ^ UNEXPECTED_SALT ^ class as u64,
            epochs: shuffled.info.epochs,
            sequences: seqs.len(),
            file: None,
        },
        seqs,
    })
}

/// The sequence sets of an analysis, drawn once from the test split along one stream: the
/// test set (energy, lesions, references) and, per class, the ordered sets (the prediction
/// rule), the shuffled sets (the error tests, the drives), the distractor sets (the published
/// error test) and the unexpected sets (the stimulus-matched error test: the same images as
/// the shuffled set showing the class at the distractor's index). `epc analyze` and
/// `epc dump` take their sets from here, so a dump shows exactly what the analysis saw.
#[derive(Debug, Clone)]
pub struct AnalysisSets {
    /// The test set.
    pub test: SeqSpec,
    /// The ordered sets, by start class.
    pub class: Vec<SeqSpec>,
    /// The shuffled sets, by start class.
    pub shuffled: Vec<SeqSpec>,
    /// The distractor sets, by the class expected at the distractor's index.
    pub distractor: Vec<SeqSpec>,
    /// The unexpected sets, by the class shown at the distractor's index.
    pub unexpected: Vec<SeqSpec>,
}

impl AnalysisSets {
    /// Draws every set of `stream` from `images` with `seed`.
    pub fn draw(images: &Images, seed: u64, stream: &Stream) -> Result<Self> {
        Self::draw_given(images, seed, stream, GivenSets::default())
    }

    /// Takes the sets `given` holds and draws the others as [`AnalysisSets::draw`] does; the
    /// unexpected sets are made from the shuffled sets in use, given or drawn.
    pub(crate) fn draw_given(
        images: &Images,
        seed: u64,
        stream: &Stream,
        given: GivenSets,
    ) -> Result<Self> {
        let GivenSets {
            test,
            class,
            shuffled,
            distractor,
        } = given;
        let test = match test {
            Some(t) => t,
            None => test_set(images, seed, stream)?,
        };
        let per_class = |given: [Option<SeqSpec>; NUM_CLASSES],
                         draw: &dyn Fn(usize) -> Result<SeqSpec>|
         -> Result<Vec<SeqSpec>> {
            given
                .into_iter()
                .enumerate()
                .map(|(i, g)| g.map_or_else(|| draw(i), Ok))
                .collect()
        };
        let class = per_class(class, &|s| class_set(images, s, seed, stream))?;
        let shuffled = per_class(shuffled, &|s| shuffled_set(images, s, seed, stream))?;
        let distractor = per_class(distractor, &|c| distractor_set(images, c, seed, stream))?;
        let cycle = stream.cycle();
        let unexpected = (0..NUM_CLASSES)
            .map(|c| {
                let shown = &shuffled[cycle.start_for(c, DISTRACTOR_AT)];
                unexpected_set(images, shown, c, seed, stream)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            test,
            class,
            shuffled,
            distractor,
            unexpected,
        })
    }

    /// How every set was drawn, in the summary's order (test, ordered, shuffled, distractor,
    /// unexpected).
    pub fn infos(&self) -> Vec<SetInfo> {
        std::iter::once(&self.test)
            .chain(&self.class)
            .chain(&self.shuffled)
            .chain(&self.distractor)
            .chain(&self.unexpected)
            .map(|s| s.info.clone())
            .collect()
    }

    /// The sets of the published analysis, in `epc dump --sequences published` order: the
    /// ordered, the shuffled and the distractor sets.
    pub fn published(&self) -> Vec<SeqSpec> {
        self.class
            .iter()
            .chain(&self.shuffled)
            .chain(&self.distractor)
            .cloned()
            .collect()
    }
}

/// The first `steps` frames of `seqs` as one `[steps, seqs, dim]` array.
pub fn frames(images: &Images, seqs: &[Sequence], steps: usize) -> Array3<f32> {
    let cut: Vec<Sequence> = seqs.iter().map(|s| s.prefix(steps)).collect();
    let b = Batch::from_sequences(images, &cut);
    Array3::from_shape_vec((steps, cut.len(), b.dim), b.x).expect("batch layout")
}

/// The labels of `seqs` as one `[seqs, steps]` array.
pub fn labels(seqs: &[Sequence]) -> Array2<u8> {
    let steps = seqs.first().map_or(0, |s| s.labels.len());
    Array2::from_shape_vec(
        (seqs.len(), steps),
        seqs.iter().flat_map(|s| s.labels.iter().copied()).collect(),
    )
    .expect("every sequence has the same length")
}
