//! The references of a stream's test set: what the input alone, the static prior, the
//! stream's bound and the class oracle would spend (docs/STATISTICS.md), as curves over the
//! steps and, at the last step, per sequence (for intervals that resample sequences).

use super::weighted_mean;
use crate::analysis::{self, ReferenceCurves};
use crate::sequences::{frames, labels, SeqSpec, Stream, STEPS};
use epc_core::data::{Dataset, Images};
use epc_core::sequence::Sequence;
use epc_core::NUM_CLASSES;
use ndarray::{s, Axis};

/// Sequences per chunk.
const CHUNK: usize = 256;

/// Per test sequence, the references at the last step: mean |x - prediction| over the frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LastRefs {
    /// The input (no prediction).
    pub input: Vec<f64>,
    /// The static prior (the dataset median).
    pub static_prior: Vec<f64>,
    /// The stream's bound.
    pub bound: Vec<f64>,
}

/// What [`references`] computes.
pub(crate) struct References {
    pub curves: ReferenceCurves,
    pub last: LastRefs,
    /// Per-class pixel variance `[class][pixel]` (Fig 3B): of the test images, or of a
    /// moving stream's frames.
    pub class_var: Vec<Vec<f64>>,
}

/// The mean over the values of |a - b|, summed in f32 like the curves.
fn l1(a: &[f32], b: &[f32]) -> f64 {
    let s: f32 = a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum();
    f64::from(s) / a.len().max(1) as f64
}

/// The references of `test` (drawn from `data.test` along `stream`), with the median images
/// and the stream's predictors from the whole training split.
pub(crate) fn references(data: &Dataset, test: &SeqSpec, stream: &Stream) -> References {
    let images = &data.test;
    let (dataset_median, class_medians) = analysis::median_images(&data.train);
    let predictors =
        analysis::stream_predictors(&data.train, &analysis::successor_probabilities(stream));
    let shape = stream.frame_shape(images.shape);
    let last = STEPS - 1;
    let mut parts = Vec::new();
    let mut out = LastRefs::default();
    // A moving stream's references are the medians placed on each frame's track, and its
    // per-class variance runs over the frames; nothing of this is needed for a static one.
    let mut moving = stream.motion.map(|_| {
        (
            median_set(images, &dataset_median, &class_medians),
            analysis::ClassMoments::new(shape.len()),
        )
    });
    for chunk in test.seqs.chunks(CHUNK) {
        let x = frames(images, chunk, STEPS);
        let l = labels(chunk);
        let xl = x.index_axis(Axis(0), last);
        let r = match moving.as_mut() {
            None => {
                let mut r =
                    analysis::reference_curves(x.view(), l.view(), &dataset_median, &class_medians);
                r.bound = Some(analysis::bound_curve(
                    x.view(),
                    l.view(),
                    &dataset_median,
                    &predictors,
                ));
                for (s, row) in xl.rows().into_iter().enumerate() {
                    let row = row.to_slice().expect("standard layout");
                    out.static_prior.push(l1(row, &dataset_median));
                    let previous = l[[s, last - 1]] as usize;
                    out.bound.push(l1(row, &predictors[previous]));
                }
                r
            }
            Some((medians, var)) => {
                var.add_frames(x.view(), l.view());
                let dm = frames(medians, &showing(chunk, |_| NUM_CLASSES), STEPS);
                let cm = frames(medians, &showing(chunk, |class| class), STEPS);
                let mut r = analysis::reference_curves_against(x.view(), dm.view(), cm.view());
                let b = analysis::moving_bound_curves(images, chunk, &dataset_median, &predictors);
                r.bound = Some(b.oracle);
                r.persistence = Some(b.persistence);
                r.extrapolation = Some(b.extrapolation);
                for (s, row) in xl.rows().into_iter().enumerate() {
                    let row = row.to_slice().expect("standard layout");
                    let prior = dm.slice(s![last, s, ..]);
                    out.static_prior
                        .push(l1(row, prior.as_slice().expect("standard layout")));
                    let one = analysis::moving_bound_curves(
                        images,
                        &chunk[s..s + 1],
                        &dataset_median,
                        &predictors,
                    );
                    out.bound.push(one.oracle[last]);
                }
                r
            }
        };
        for row in xl.rows() {
            let s: f32 = row.iter().map(|v| v.abs()).sum();
            out.input.push(f64::from(s) / row.len().max(1) as f64);
        }
        parts.push((chunk.len(), r));
    }
    let opt = |f: fn(&ReferenceCurves) -> &Option<Vec<f64>>| {
        parts.iter().all(|(_, r)| f(r).is_some()).then(|| {
            let p: Vec<(usize, Vec<f64>)> = parts
                .iter()
                .map(|(n, r)| (*n, f(r).clone().expect("checked")))
                .collect();
            weighted_mean(&p, |v| v)
        })
    };
    let curves = ReferenceCurves {
        input: weighted_mean(&parts, |r| &r.input),
        dataset_median: weighted_mean(&parts, |r| &r.dataset_median),
        category_median: weighted_mean(&parts, |r| &r.category_median),
        bound: opt(|r| &r.bound),
        persistence: opt(|r| &r.persistence),
        extrapolation: opt(|r| &r.extrapolation),
    };
    References {
        curves,
        last: out,
        class_var: match moving {
            None => analysis::class_pixel_variance(images),
            Some((_, var)) => var.variance(),
        },
    }
}

/// The median images as a set of eleven: classes 0..9, then the whole split's (index
/// [`NUM_CLASSES`]), so that they can be drawn into frames like any image.
fn median_set(images: &Images, dataset: &[f32], by_class: &[Vec<f32>]) -> Images {
    Images {
        shape: images.shape,
        pixels: by_class.iter().flatten().chain(dataset).copied().collect(),
        labels: (0..=NUM_CLASSES).map(|c| (c % NUM_CLASSES) as u8).collect(),
    }
}

/// `seqs` with every frame's image replaced by median image `pick(class)` of [`median_set`],
/// on the same track.
fn showing(seqs: &[Sequence], pick: impl Fn(usize) -> usize) -> Vec<Sequence> {
    seqs.iter()
        .map(|s| Sequence {
            frames: s.labels.iter().map(|&c| pick(c as usize)).collect(),
            ..s.clone()
        })
        .collect()
}
