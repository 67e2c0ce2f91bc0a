//! Normative bounds: what the best predictor of a stream's next frame could achieve on the
//! same sequences, so that a network's energy saving can be reported as a share of what is
//! attainable.
//!
//! The predictor knows the class order's transition probabilities and the training split,
//! but not the frame it predicts: for previous class i its guess for a pixel is the constant
//! with the smallest expected absolute error under the mixture of the next classes' pixel
//! distributions, the mixture's weighted lower median ([`stream_predictors`]). The bound is
//! then mean |x_t - guess| per step ([`bound_curve`]); on the moving-digit stream the guess
//! is also placed on the canvas, where the frame is, was, or is extrapolated to be
//! ([`moving_bound_curves`]).

use crate::sequences::{frames, Stream};
use epc_core::data::{ImageShape, Images};
use epc_core::motion::Track;
use epc_core::sequence::{frame_dim, markov_successor_probability, ClassOrder, Sequence};
use epc_core::NUM_CLASSES;
use ndarray::{ArrayView2, ArrayView3, Axis};

/// Slack of the median's test `CDF(v) >= 0.5`: [`stream_predictors`] accepts `v` when its
/// mixture CDF, computed in f64 with the weights summing to 1, is at least `0.5 - CDF_SLACK`,
/// so that a CDF of exactly one half (a tie between two minimisers) is not lost to rounding
/// and the lower of the two is taken.
pub const CDF_SLACK: f64 = 1e-12;

/// P(next class = j | previous class = i) as `result[i][j]`, exactly as
/// `SequenceSampler::epoch` draws classes for `stream`'s order: ascending: i + 1 (mod 10);
/// permutation: the successor on `stream.cycle()`; markov: i + 1 with
/// `markov_successor_probability(entropy)` (1 without an entropy, as the sampler), each other
/// class with the rest / 9; k successors: i + 1, ..., i + k with 1/k each; random: 1/10 each.
/// Every row sums to 1 (up to rounding).
pub fn successor_probabilities(stream: &Stream) -> [[f64; NUM_CLASSES]; NUM_CLASSES] {
    let cycle = stream.cycle();
    let stay = stream.entropy.map_or(1.0, markov_successor_probability);
    let mut p = [[0.0; NUM_CLASSES]; NUM_CLASSES];
    for (i, row) in p.iter_mut().enumerate() {
        match stream.order {
            ClassOrder::Ascending => row[(i + 1) % NUM_CLASSES] = 1.0,
            ClassOrder::Permutation => row[cycle.class_at(i, 1)] = 1.0,
            ClassOrder::Random => row.fill(1.0 / NUM_CLASSES as f64),
            ClassOrder::Markov => {
                row.fill((1.0 - stay) / (NUM_CLASSES - 1) as f64);
                row[(i + 1) % NUM_CLASSES] = stay;
            }
            ClassOrder::Successors => {
                let k = stream.successors.unwrap_or(1);
                for j in 1..=k {
                    row[(i + j) % NUM_CLASSES] = 1.0 / k as f64;
                }
            }
        }
    }
    p
}

/// The L1-optimal constant prediction of the next frame for each previous class i (10
/// images of `train.dim()` values): per pixel, the weighted *lower* median of the mixture
/// sum_j `probs[i][j]` x (the pixel's empirical distribution over the training images of
/// class j), i.e. the smallest value v with mixture CDF(v) >= 0.5 (see [`CDF_SLACK`]). Each
/// image of class j weighs `probs[i][j] / n_j`; classes without images are dropped and the
/// weights renormalised (a row left with no weight takes the whole split's lower median). With
/// all the weight on one class this is that class's lower median, bit for bit
/// ([`super::median_images`]: element (n - 1) / 2 of the sorted values, in IEEE total order).
/// An empty `train` gives NaN. Panics unless `probs` is finite and non-negative.
///
/// Cost: one pass to count per class and a few passes over shrinking candidate sets (a radix
/// selection on the values' bits, shared by the ten weightings); nothing assumes the pixel
/// values are quantized.
pub fn stream_predictors(
    train: &Images,
    probs: &[[f64; NUM_CLASSES]; NUM_CLASSES],
) -> Vec<Vec<f32>> {
    assert!(
        probs.iter().flatten().all(|p| p.is_finite() && *p >= 0.0),
        "transition probabilities must be finite and non-negative"
    );
    let (n, d) = (train.len(), train.dim());
    let mut out = vec![vec![f32::NAN; d]; NUM_CLASSES];
    if n == 0 {
        return out;
    }
    let counts = train.class_counts();
    // Per image weight of class j for previous class i, normalised to a total of 1.
    let mut w = [[0.0f64; NUM_CLASSES]; NUM_CLASSES];
    for (wi, pi) in w.iter_mut().zip(probs) {
        let present = |j: &usize| counts[*j] > 0;
        let total: f64 = (0..NUM_CLASSES).filter(present).map(|j| pi[j]).sum();
        for j in (0..NUM_CLASSES).filter(present) {
            wi[j] = match total > 0.0 {
                true => pi[j] / total / counts[j] as f64,
                false => 1.0 / n as f64,
            };
        }
    }
    // Pixel-major keys, a block of pixels at a time, transposed in tiles of 16 images (16
    // rows read at once, each pixel's 16 keys written as one cache line).
    const BLOCK: usize = 64;
    let mut cols = vec![0u32; BLOCK.min(d) * n];
    let mut hist = Vec::new();
    for p0 in (0..d).step_by(BLOCK) {
        let b = BLOCK.min(d - p0);
        for i0 in (0..n).step_by(16) {
            let rows: Vec<&[f32]> = (i0..n.min(i0 + 16))
                .map(|i| &train.image(i)[p0..p0 + b])
                .collect();
            for k in 0..b {
                for (t, r) in rows.iter().enumerate() {
                    cols[k * n + i0 + t] = key(r[k]);
                }
            }
        }
        for k in 0..b {
            let targets: Vec<(usize, f64)> = (0..NUM_CLASSES).map(|i| (i, 0.0)).collect();
            let mut keys = [0u32; NUM_CLASSES];
            let col = &cols[k * n..(k + 1) * n];
            select(col, &train.labels, 0, &targets, &w, &mut keys, &mut hist);
            for (o, &key) in out.iter_mut().zip(&keys) {
                o[p0 + k] = value(key);
            }
        }
    }
    out
}

/// `v`'s bits as an unsigned key in IEEE total order (`f32::total_cmp`).
fn key(v: f32) -> u32 {
    let b = v.to_bits();
    if b >> 31 == 1 {
        !b
    } else {
        b | 1 << 31
    }
}

/// The inverse of [`key`].
fn value(k: u32) -> f32 {
    f32::from_bits(if k >> 31 == 1 { k & !(1 << 31) } else { !k })
}

/// Radix digits from the top: (shift, bits).
const LEVELS: [(u32, u32); 3] = [(21, 11), (10, 11), (0, 10)];

/// Candidate sets at most this large are sorted rather than counted.
const SMALL: usize = 64;

/// Weighted radix selection. `keys` holds the candidates (sharing the digits above level
/// `level`), `class` their classes; each target `(i, below)` seeks the smallest key whose CDF
/// under the per-class weights `w[i]` reaches one half, `below` being the weight of everything
/// smaller than the candidates. Writes the keys found to `out[i]`.
#[allow(clippy::too_many_arguments)]
fn select(
    keys: &[u32],
    class: &[u8],
    level: usize,
    targets: &[(usize, f64)],
    w: &[[f64; NUM_CLASSES]; NUM_CLASSES],
    out: &mut [u32; NUM_CLASSES],
    hist: &mut Vec<u32>,
) {
    let half = 0.5 - CDF_SLACK;
    if level == LEVELS.len() || keys.len() <= SMALL {
        let mut pairs: Vec<(u32, u8)> = keys.iter().copied().zip(class.iter().copied()).collect();
        pairs.sort_unstable();
        for &(i, mut cdf) in targets {
            // Where rounding keeps the CDF below one half: the last weighed value.
            let mut found = pairs[pairs.len() - 1].0;
            for &(k, c) in pairs.iter().filter(|p| w[i][p.1 as usize] > 0.0) {
                (cdf, found) = (cdf + w[i][c as usize], k);
                if cdf >= half {
                    break;
                }
            }
            out[i] = found;
        }
        return;
    }
    let (shift, bits) = LEVELS[level];
    let bins = 1usize << bits;
    let digit = |k: u32| (k >> shift) as usize & (bins - 1);
    // Counts per digit and class, made cumulative: row d counts the digits <= d.
    hist.clear();
    hist.resize(bins * NUM_CLASSES, 0);
    for (&k, &c) in keys.iter().zip(class) {
        hist[digit(k) * NUM_CLASSES + c as usize] += 1;
    }
    for e in NUM_CLASSES..hist.len() {
        hist[e] += hist[e - NUM_CLASSES];
    }
    let row = |d: usize| &hist[d * NUM_CLASSES..(d + 1) * NUM_CLASSES];
    let cdf = |i: usize, below: f64, d: usize| -> f64 {
        let mass: f64 = w[i]
            .iter()
            .zip(row(d))
            .map(|(&w, &c)| w * f64::from(c))
            .sum();
        below + mass
    };
    // Per target, the first digit whose CDF reaches one half (rounding aside: the last
    // weighed digit), by bisection on the monotone CDF.
    let mut chosen: Vec<(usize, usize, f64, usize)> = targets
        .iter()
        .map(|&(i, below)| {
            let reach = half.min(cdf(i, below, bins - 1));
            let (mut lo, mut hi) = (0, bins - 1);
            while lo < hi {
                let mid = (lo + hi) / 2;
                match cdf(i, below, mid) >= reach {
                    true => hi = mid,
                    false => lo = mid + 1,
                }
            }
            let total = |d: usize| row(d).iter().sum::<u32>() as usize;
            match lo {
                0 => (0, i, below, total(0)),
                _ => (lo, i, cdf(i, below, lo - 1), total(lo) - total(lo - 1)),
            }
        })
        .collect();
    chosen.sort_by_key(|c| c.0);
    for group in chosen.chunk_by(|a, b| a.0 == b.0) {
        let (d, size) = (group[0].0, group[0].3);
        // Branch-free compaction of the digit's `size` candidates (one slot of slack).
        let (mut sub, mut sub_class) = (vec![0u32; size + 1], vec![0u8; size + 1]);
        let mut j = 0;
        for (&k, &c) in keys.iter().zip(class) {
            (sub[j], sub_class[j]) = (k, c);
            j += usize::from(digit(k) == d);
        }
        sub.truncate(size);
        sub_class.truncate(size);
        if sub.iter().all(|&k| k == sub[0]) {
            // One value left (the zeros of a digit's border): it is the answer.
            group.iter().for_each(|&(_, i, ..)| out[i] = sub[0]);
            continue;
        }
        let targets: Vec<(usize, f64)> = group.iter().map(|&(_, i, b, _)| (i, b)).collect();
        select(&sub, &sub_class, level + 1, &targets, w, out, hist);
    }
}

/// The bound of a static stream: per step t, the mean over sequences and pixels of
/// |x_t - `predictors`[label_{t-1}]|, and at t = 0 (no previous class) of |x_0 -
/// `static_prior`|. `x` is `[steps, seqs, dim]`, `labels` `[seqs, steps]`, `predictors` the
/// ten images of [`stream_predictors`]. Sums run per row in f32, then in f64 across rows.
/// Panics if the shapes disagree.
pub fn bound_curve(
    x: ArrayView3<f32>,
    labels: ArrayView2<u8>,
    static_prior: &[f32],
    predictors: &[Vec<f32>],
) -> Vec<f64> {
    let (steps, seqs, d) = x.dim();
    let mut sums = vec![0.0; steps];
    add_abs_diff(x, &mut sums, |s, t| match t {
        0 => static_prior,
        _ => &predictors[labels[[s, t - 1]] as usize],
    });
    let count = (seqs * d).max(1) as f64;
    sums.iter().map(|s| s / count).collect()
}

/// Adds sum_s sum_pixels |x[t, s] - pred(s, t)| to `sums[t]` (f32 per row, f64 across rows).
fn add_abs_diff<'r>(
    x: ArrayView3<f32>,
    sums: &mut [f64],
    pred: impl Fn(usize, usize) -> &'r [f32],
) {
    for (t, sum) in sums.iter_mut().enumerate() {
        for (s, row) in x.index_axis(Axis(0), t).rows().into_iter().enumerate() {
            let p = pred(s, t);
            assert_eq!(p.len(), row.len(), "a prediction of another frame size");
            let r: f32 = row.iter().zip(p).map(|(&v, &m)| (v - m).abs()).sum();
            *sum += f64::from(r);
        }
    }
}

/// The bounds of the moving-digit stream, each per step a mean over sequences and canvas
/// pixels of |frame - prediction|. The predicted image of frame t is `predictors`[label_{t-1}]
/// (t >= 1) or the static prior (t = 0), pasted on a blank canvas where each field says.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct MovingBounds {
    /// At frame t's true position (the class is the only unknown).
    pub oracle: Vec<f64>,
    /// At frame t-1's position (t = 0: a blank canvas, nothing is known).
    pub persistence: Vec<f64>,
    /// At p_{t-1} + (p_{t-1} - p_{t-2}) per axis, clamped to [0, canvas - image side] (t = 1:
    /// as persistence; t = 0: blank).
    pub extrapolation: Vec<f64>,
}

/// Where a prediction is placed.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Oracle,
    Persistence,
    Extrapolation,
}

/// [`MovingBounds`] of `seqs` (one sampler's draw, all of the same length) on the frames
/// [`crate::sequences::frames`] builds from `images`. A sequence without a track (a static
/// stream) is its own canvas: its three curves are [`bound_curve`]'s, but persistence and
/// extrapolation predict a blank frame at t = 0. Panics if `static_prior` or a predictor is not
/// of `images.dim()` values.
pub fn moving_bound_curves(
    images: &Images,
    seqs: &[Sequence],
    static_prior: &[f32],
    predictors: &[Vec<f32>],
) -> MovingBounds {
    const CHUNK: usize = 128;
    let steps = seqs.first().map_or(0, |s| s.frames.len());
    // The guesses as images: the ten predictors, the prior, a blank.
    let guesses = Images {
        shape: images.shape,
        pixels: predictors[..NUM_CLASSES]
            .iter()
            .flatten()
            .chain(static_prior)
            .copied()
            .chain(std::iter::repeat_n(0.0, images.dim()))
            .collect(),
        labels: (0..NUM_CLASSES + 2)
            .map(|c| (c % NUM_CLASSES) as u8)
            .collect(),
    };
    assert_eq!(guesses.pixels.len(), (NUM_CLASSES + 2) * images.dim());
    let places = [Place::Oracle, Place::Persistence, Place::Extrapolation];
    let mut sums = places.map(|_| vec![0.0; steps]);
    for chunk in seqs.chunks(CHUNK) {
        let x = frames(images, chunk, steps);
        for (sum, &place) in sums.iter_mut().zip(&places) {
            let guessed: Vec<Sequence> = chunk
                .iter()
                .map(|s| guess(s, images.shape, place))
                .collect();
            let g = frames(&guesses, &guessed, steps);
            add_abs_diff(x.view(), sum, |s, t| {
                g.index_axis(Axis(0), t)
                    .index_axis_move(Axis(0), s)
                    .to_slice()
                    .expect("standard layout")
            });
        }
    }
    let count = (seqs.len() * frame_dim(images, seqs)).max(1) as f64;
    let [oracle, persistence, extrapolation] = sums.map(|s| s.iter().map(|v| v / count).collect());
    MovingBounds {
        oracle,
        persistence,
        extrapolation,
    }
}

/// The sequence of guessed frames for `seq` (images of the guess set of
/// [`moving_bound_curves`]: 0..9 the predictors, 10 the prior, 11 blank).
fn guess(seq: &Sequence, image: ImageShape, place: Place) -> Sequence {
    let steps = seq.frames.len();
    let frames = (0..steps)
        .map(|t| match t {
            0 if place == Place::Oracle => NUM_CLASSES,
            0 => NUM_CLASSES + 1,
            _ => seq.labels[t - 1] as usize,
        })
        .collect();
    let track = seq.track.as_ref().map(|tr| {
        let span = [
            tr.canvas.height - image.height,
            tr.canvas.width - image.width,
        ];
        let p = &tr.positions;
        let at = |t: usize| match (place, t) {
            (Place::Oracle, _) | (_, 0) => p[t],
            (Place::Persistence, _) | (Place::Extrapolation, 1) => p[t - 1],
            (Place::Extrapolation, _) => std::array::from_fn(|a| {
                let x = 2 * i64::from(p[t - 1][a]) - i64::from(p[t - 2][a]);
                x.clamp(0, span[a] as i64) as u16
            }),
        };
        Track {
            canvas: tr.canvas,
            positions: (0..steps).map(at).collect(),
        }
    });
    Sequence {
        frames,
        labels: seq.labels.clone(),
        track,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_total_order() {
        let v = [
            f32::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-40,
            0.5,
            f32::INFINITY,
            f32::NAN,
        ];
        for (a, b) in v.iter().zip(&v[1..]) {
            assert!(key(*a) < key(*b), "{a} {b}");
        }
        for x in v {
            assert_eq!(value(key(x)).to_bits(), x.to_bits());
        }
    }
}
