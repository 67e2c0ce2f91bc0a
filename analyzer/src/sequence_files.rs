//! Sequences given as files of image indices instead of drawn: one file for `epc dump
//! --sequences-file`, or a folder of files named after the analysis's sets for `epc analyze
//! --sequence-sets` (how the published code's own draws are analysed by epc, so the two
//! programs see identical sequences; docs/PUBLISHED_COMPARISON.md).
//!
//! A folder holds any of `test`, `ordered-start-S`, `shuffled-start-S` and `distractor-C`
//! (S, C = 0..9), each as `.npy`, `.csv` or `.h5` (read by
//! [`epc_exporter::index_file::read_index_file`]); the sets it does not hold are drawn as
//! usual. Each file is checked against its role: every sequence has at least
//! [`STEPS`] frames, and the per-class sets show the classes their role says (the ordered and
//! shuffled sets the path from S; the distractor set the path that shows C at index
//! [`DISTRACTOR_AT`], with another class there).

use crate::sequences::{SeqSpec, SetInfo, Stream, DISTRACTOR_AT, STEPS};
use crate::{Error, Result};
use epc_core::data::Images;
use epc_core::sequence::{ClassCycle, Sequence, SequenceConfig};
use epc_core::NUM_CLASSES;
use std::path::Path;

/// The sequences of one index file `[n, steps]` into `images`, as the set `name`; an error
/// naming the file and row for an index outside the split or an empty file.
pub fn file_sequences(path: &Path, name: &str, images: &Images) -> Result<SeqSpec> {
    let rows = epc_exporter::index_file::read_index_file(path)?;
    let seqs = rows
        .into_iter()
        .enumerate()
        .map(|(i, frames)| {
            if let Some(&bad) = frames.iter().find(|&&f| f >= images.len()) {
                return Err(Error::Input(format!(
                    "{}: row {}: index {bad} is outside the split of {} images",
                    path.display(),
                    i + 1,
                    images.len()
                )));
            }
            let labels = frames.iter().map(|&f| images.labels[f]).collect();
            Ok(Sequence {
                frames,
                labels,
                track: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let Some(first) = seqs.first() else {
        return Err(Error::Input(format!(
            "{}: the file holds no sequence",
            path.display()
        )));
    };
    let steps = first.frames.len();
    Ok(SeqSpec {
        info: SetInfo {
            name: name.into(),
            config: SequenceConfig {
                length: steps,
                ..Default::default()
            },
            seed: 0,
            epochs: 0,
            sequences: seqs.len(),
            file: Some(path.display().to_string()),
        },
        seqs,
    })
}

/// The role of a set file, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Test,
    Ordered(usize),
    Shuffled(usize),
    Distractor(usize),
}

impl Role {
    fn parse(stem: &str) -> Option<Self> {
        let class = |s: &str| s.parse::<usize>().ok().filter(|&c| c < NUM_CLASSES);
        if stem == "test" {
            return Some(Self::Test);
        }
        if let Some(s) = stem.strip_prefix("ordered-start-") {
            return class(s).map(Self::Ordered);
        }
        if let Some(s) = stem.strip_prefix("shuffled-start-") {
            return class(s).map(Self::Shuffled);
        }
        stem.strip_prefix("distractor-")
            .and_then(class)
            .map(Self::Distractor)
    }

    /// The class each step must show (`None`: any), for a sequence of `steps` frames.
    fn expected(self, cycle: &ClassCycle, steps: usize) -> Vec<Option<usize>> {
        match self {
            Self::Test => vec![None; steps],
            Self::Ordered(s) | Self::Shuffled(s) => {
                (0..steps).map(|k| Some(cycle.class_at(s, k))).collect()
            }
            Self::Distractor(c) => {
                let start = cycle.start_for(c, DISTRACTOR_AT);
                (0..steps)
                    .map(|k| (k != DISTRACTOR_AT).then(|| cycle.class_at(start, k)))
                    .collect()
            }
        }
    }
}

/// The sets a folder gives (see the module docs), by role.
#[derive(Debug, Default)]
pub(crate) struct GivenSets {
    pub test: Option<SeqSpec>,
    pub class: [Option<SeqSpec>; NUM_CLASSES],
    pub shuffled: [Option<SeqSpec>; NUM_CLASSES],
    pub distractor: [Option<SeqSpec>; NUM_CLASSES],
}

impl GivenSets {
    /// Reads every set file in `dir`; an error for a file whose name is no set's, a role given
    /// twice, a moving stream (an index file does not say where a digit sits) or a sequence
    /// that does not fit its role.
    pub fn read(dir: &Path, images: &Images, stream: &Stream) -> Result<Self> {
        if stream.motion.is_some() {
            return Err(Error::Input(format!(
                "{}: index files give images but not where they sit, and the model was trained on a moving stream ({})",
                dir.display(),
                stream.describe()
            )));
        }
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::Input(format!("{}: cannot list the folder: {e}", dir.display())))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        let cycle = stream.cycle();
        let mut given = Self::default();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(role) = Role::parse(&stem) else {
                return Err(Error::Input(format!(
                    "{}: not a set's name (test, ordered-start-S, shuffled-start-S or distractor-C, S and C 0..9)",
                    path.display()
                )));
            };
            let spec = file_sequences(&path, &stem, images)?;
            check_role(&path, &spec, role, &cycle)?;
            let slot = match role {
                Role::Test => &mut given.test,
                Role::Ordered(s) => &mut given.class[s],
                Role::Shuffled(s) => &mut given.shuffled[s],
                Role::Distractor(c) => &mut given.distractor[c],
            };
            if let Some(before) = slot.replace(spec) {
                return Err(Error::Input(format!(
                    "{}: the set {stem} is also given by {}",
                    path.display(),
                    before.info.file.unwrap_or_default()
                )));
            }
        }
        Ok(given)
    }
}

/// An error unless every sequence of `spec` has at least [`STEPS`] frames and shows the
/// classes `role` asks for.
fn check_role(path: &Path, spec: &SeqSpec, role: Role, cycle: &ClassCycle) -> Result<()> {
    let steps = spec.seqs[0].labels.len();
    if steps < STEPS {
        return Err(Error::Input(format!(
            "{}: sequences of {steps} frames; the analysis reads {STEPS}",
            path.display()
        )));
    }
    let want = role.expected(cycle, steps);
    for (i, s) in spec.seqs.iter().enumerate() {
        for (k, (&l, w)) in s.labels.iter().zip(&want).enumerate() {
            let l = l as usize;
            let bad = match (role, w) {
                (_, Some(w)) => l != *w,
                (Role::Distractor(c), None) => l == c,
                _ => false,
            };
            if bad {
                let what = match w {
                    Some(w) => format!("class {w}"),
                    None => "a class other than the path's".into(),
                };
                return Err(Error::Input(format!(
                    "{}: row {}, frame {k}: image {} is of class {l}, but this set shows {what} there",
                    path.display(),
                    i + 1,
                    s.frames[k]
                )));
            }
        }
    }
    Ok(())
}
