//! The normative bounds (analyzer/src/analysis/bounds.rs): the transition probabilities
//! against the sampler's draws, the predictors against the class medians and an independent
//! numpy computation (tests/reference/bounds_reference.py), the moving stream's curves on a
//! hand-computed case, and the predictors' speed on MNIST-sized data.

mod common;

use common::python;
use epc_analyzer::analysis::{
    bound_curve, median_images, moving_bound_curves, stream_predictors, successor_probabilities,
};
use epc_analyzer::sequences::{frames, labels, test_set, Stream};
use epc_analyzer::stats::lower_median_in_place;
use epc_core::data::{digits, ImageShape, Images};
use epc_core::motion::{Motion, Track};
use epc_core::sequence::{ClassOrder, Sequence, SequenceSampler};
use epc_core::NUM_CLASSES;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markov(bits: f64) -> Stream {
    Stream {
        order: ClassOrder::Markov,
        entropy: Some(bits),
        ..Stream::default()
    }
}

fn successors(k: usize) -> Stream {
    Stream {
        order: ClassOrder::Successors,
        successors: Some(k),
        ..Stream::default()
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn rows_sum_to_one() {
    let mut streams = vec![Stream::default()];
    for order in [ClassOrder::Random, ClassOrder::Permutation] {
        streams.push(Stream {
            order,
            order_seed: 7,
            ..Stream::default()
        });
    }
    streams.extend([0.0, 0.5, 1.0, 2.0, 3.3].map(markov));
    streams.extend([1, 2, 3, 7, 10].map(successors));
    for s in &streams {
        for row in successor_probabilities(s) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{s:?}");
            assert!(row.iter().all(|&p| p >= 0.0), "{s:?}");
        }
    }
    let permutation = successor_probabilities(&streams[2]);
    for (i, row) in permutation.iter().enumerate() {
        assert_eq!(row[streams[2].cycle().class_at(i, 1)], 1.0);
    }
}

fn images(width: usize, pixels: Vec<f32>, labels: Vec<u8>) -> Images {
    let shape = ImageShape {
        channels: 1,
        height: 1,
        width,
    };
    Images {
        shape,
        pixels,
        labels,
    }
}

/// Expected |X - v| for pixel `p` under the mixture `probs` (class weights renormalised over
/// the classes present, each image of class j weighing probs[j] / n_j).
fn expected_error(im: &Images, probs: &[f64; 10], p: usize, v: f64) -> f64 {
    let counts = im.class_counts();
    let total: f64 = (0..10).filter(|&j| counts[j] > 0).map(|j| probs[j]).sum();
    (0..im.len())
        .map(|k| {
            let j = im.labels[k] as usize;
            probs[j] / total / counts[j] as f64 * (f64::from(im.image(k)[p]) - v).abs()
        })
        .sum()
}

/// Per row and pixel: the predictor minimises the expected absolute error (a scan over every
/// value of the pixel) and is the smallest minimiser. Small sets (sorted) and large ones
/// (counted on the values' bits down to the last digit), unequal classes, class 9 empty.
#[test]
fn predictors_are_the_smallest_minimisers_of_the_expected_error() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let levels = [0.0f32, 0.25, 0.5, 0.75, 1.0, 0.3];
    for size in [|j: usize| 1 + j * 5 % 7, |j: usize| 40 + j * 37 % 150] {
        let labels: Vec<u8> = (0..9u8).flat_map(|j| vec![j; size(j as usize)]).collect();
        // Pixel 0: the class / 8 (exact ties between classes); 1, 2: a few levels; 3: any
        // value in [-1, 1); 4: values within 1e-4 of 0.5 (they share their top 13 bits).
        let pixels = labels
            .iter()
            .flat_map(|&j| {
                [
                    f32::from(j) / 8.0,
                    levels[rng.gen_range(0..6)],
                    levels[rng.gen_range(0..3)],
                    rng.gen_range(-1.0..1.0),
                    0.5 + rng.gen_range(0.0..1e-4),
                ]
            })
            .collect();
        let im = images(5, pixels, labels);
        let mut probs = successor_probabilities(&markov(1.0));
        for row in probs.iter_mut().skip(5) {
            row.iter_mut().for_each(|p| *p = rng.gen_range(0.0..1.0));
        }
        // CDF exactly one half at class 1's value 1/8: every v in [1/8, 3/8] is optimal.
        probs[9] = [0.0; 10];
        (probs[9][1], probs[9][3]) = (0.5, 0.5);
        let pred = stream_predictors(&im, &probs);
        assert_eq!(pred[9][0], 0.125);
        for (row, pred) in probs.iter().zip(&pred) {
            for (p, &got) in pred.iter().enumerate() {
                let mut cands: Vec<f64> =
                    (0..im.len()).map(|k| f64::from(im.image(k)[p])).collect();
                cands.sort_by(f64::total_cmp);
                cands.dedup();
                let errs: Vec<f64> = cands
                    .iter()
                    .map(|&v| expected_error(&im, row, p, v))
                    .collect();
                let best = errs.iter().copied().fold(f64::INFINITY, f64::min);
                let smallest = cands[errs.iter().position(|&e| e <= best + 1e-12).unwrap()];
                let got = f64::from(got);
                let e = expected_error(&im, row, p, got);
                assert!((e - best).abs() <= 1e-9, "{row:?} pixel {p}: {e} vs {best}");
                assert_eq!(got, smallest, "{row:?} pixel {p}");
            }
        }
    }
}

/// All the weight on one class: its lower median (`torch.median`'s), bit for bit, on values
/// of every kind: zeros, a few levels, signed, tiny.
#[test]
fn one_class_gives_its_lower_median_bit_for_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let labels: Vec<u8> = (0..3000).map(|_| rng.gen_range(0..10)).collect();
    let pixels = (0..labels.len() * 5)
        .map(|k| match k % 5 {
            0 => 0.0,
            1 => f32::from(rng.gen_range(0u8..4)) / 3.0,
            2 => rng.gen_range(-1e3..1e3),
            3 => rng.gen_range(0.0..1e-30),
            _ => rng.gen_range(0.0..1.0),
        })
        .collect();
    let im = images(5, pixels, labels);
    let pred = stream_predictors(&im, &successor_probabilities(&Stream::default()));
    for (i, row) in pred.iter().enumerate() {
        let c = (i + 1) % 10;
        for (p, &got) in row.iter().enumerate() {
            let mut col: Vec<f32> = (0..im.len())
                .filter(|&k| im.labels[k] as usize == c)
                .map(|k| im.image(k)[p])
                .collect();
            let want = lower_median_in_place(&mut col);
            assert_eq!(got.to_bits(), want.to_bits(), "class {c} pixel {p}");
        }
    }
}

/// A class without images is dropped and the rest renormalised; a row with no weight left
/// takes the whole split's lower median; no images at all: NaN.
#[test]
fn missing_classes_are_dropped() {
    let im = images(1, vec![0.0, 1.0, 2.0, 3.0, 4.0], vec![0, 0, 1, 1, 1]);
    let mut probs = [[0.0; 10]; 10];
    (probs[0][0], probs[0][5]) = (0.2, 0.8); // all on class 0: lower median 0
    (probs[1][1], probs[1][7]) = (0.2, 0.8); // all on class 1: 3
    probs[2][9] = 1.0; // nothing left: the whole split's lower median, 2
    let pred = stream_predictors(&im, &probs);
    assert_eq!([pred[0][0], pred[1][0], pred[2][0]], [0.0, 3.0, 2.0]);
    let none = stream_predictors(&images(1, vec![], vec![]), &probs);
    assert!(none.iter().all(|p| p[0].is_nan()));
}

#[test]
fn markov_and_successor_probabilities_match_the_samplers_transition_frequencies() {
    for stream in [markov(1.0), successors(3)] {
        transition_frequencies_match(&stream);
    }
    // Ten successors is the random control; one is the ascending stream.
    let uniform = successor_probabilities(&Stream {
        order: ClassOrder::Random,
        ..Stream::default()
    });
    assert_eq!(successor_probabilities(&successors(10)), uniform);
    assert_eq!(
        successor_probabilities(&successors(1)),
        successor_probabilities(&Stream::default())
    );
}

fn transition_frequencies_match(stream: &Stream) {
    let (train, _) = digits::embedded();
    let probs = successor_probabilities(stream);
    let sampler = SequenceSampler::new(&train, stream.test_config(), 9).unwrap();
    let mut counts = [[0u64; NUM_CLASSES]; NUM_CLASSES];
    for e in 0..300 {
        for s in sampler.epoch(e) {
            for w in s.labels.windows(2) {
                counts[w[0] as usize][w[1] as usize] += 1;
            }
        }
    }
    for (i, (row, p)) in counts.iter().zip(&probs).enumerate() {
        let n = row.iter().sum::<u64>() as f64;
        assert!(n > 10_000.0, "{n} transitions from {i}");
        for (j, (&c, &pij)) in row.iter().zip(p).enumerate() {
            // Five binomial standard errors.
            let tol = 5.0 * (pij * (1.0 - pij) / n).sqrt();
            let f = c as f64 / n;
            assert!((f - pij).abs() <= tol, "{i}->{j}: {f} vs {pij} (+-{tol})");
        }
    }
}

#[test]
fn deterministic_streams_predict_the_successors_class_median() {
    let (train, _) = digits::embedded();
    let (_, medians) = median_images(&train);
    for stream in [
        Stream::default(),
        Stream {
            order: ClassOrder::Permutation,
            order_seed: 3,
            ..Stream::default()
        },
    ] {
        let pred = stream_predictors(&train, &successor_probabilities(&stream));
        let cycle = stream.cycle();
        for (i, p) in pred.iter().enumerate() {
            let want = &medians[cycle.class_at(i, 1)];
            let (a, b): (Vec<u32>, Vec<u32>) = (
                p.iter().map(|v| v.to_bits()).collect(),
                want.iter().map(|v| v.to_bits()).collect(),
            );
            assert_eq!(a, b, "{stream:?}: class {i}");
        }
    }
}

#[test]
fn predictors_and_curves_match_an_independent_numpy_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, test) = digits::embedded();
    let (prior, _) = median_images(&train);
    let streams = [
        ("markov", markov(1.0)),
        ("successors", successors(3)),
        (
            "random",
            Stream {
                order: ClassOrder::Random,
                ..Stream::default()
            },
        ),
    ];
    let mut sets = serde_json::Map::new();
    let mut ours = Vec::new();
    for (name, stream) in &streams {
        let spec = test_set(&test, 4, stream).unwrap();
        let probs = successor_probabilities(stream);
        let pred = stream_predictors(&train, &probs);
        let x = frames(&test, &spec.seqs, 10);
        let curve = bound_curve(x.view(), labels(&spec.seqs).view(), &prior, &pred);
        let idx: Vec<_> = spec.seqs.iter().map(|s| s.frames.clone()).collect();
        sets.insert(
            name.to_string(),
            json!({"order": format!("{:?}", stream.order).to_lowercase(), "entropy": stream.entropy,
                "successors": stream.successors, "sequences": idx}),
        );
        ours.push((name, probs, pred, curve));
    }
    let sets_path = tmp.path().join("sets.json");
    std::fs::write(&sets_path, json!({ "streams": sets }).to_string()).unwrap();
    let out_path = tmp.path().join("bounds.json");
    let script = repo().join("analyzer/tests/reference/bounds_reference.py");
    let o = std::process::Command::new(python())
        .arg(&script)
        .arg(repo().join("core/assets/digits.csv.gz"))
        .arg(&sets_path)
        .arg(&out_path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); source scripts/env.sh",
                python().display()
            )
        });
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let close = |got: &[f64], want: &[f64], tol: f64, what: &str| {
        assert_eq!(got.len(), want.len(), "{what}");
        for (k, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol, "{what}[{k}]: {g} vs {w}");
        }
    };
    let prior64: Vec<f64> = prior.iter().map(|&v| f64::from(v)).collect();
    close(&prior64, &floats(&r["dataset_median"]), 0.0, "prior");
    for (name, probs, pred, curve) in ours {
        let want = &r[*name];
        for i in 0..NUM_CLASSES {
            close(
                &probs[i],
                &floats(&want["probs"][i]),
                1e-12,
                &format!("{name} P[{i}]"),
            );
            let p: Vec<f64> = pred[i].iter().map(|&v| f64::from(v)).collect();
            close(
                &p,
                &floats(&want["predictors"][i]),
                1e-6,
                &format!("{name} predictor {i}"),
            );
        }
        close(
            &curve,
            &floats(&want["curve"]),
            1e-6,
            &format!("{name} curve"),
        );
        // Digits are mostly blank: a sane range for a mean absolute error.
        assert!(
            curve[1..].iter().all(|&c| c > 0.0 && c < 0.5),
            "{name}: {curve:?}"
        );
    }
}

/// One pixel per image, one sequence on a 2x4 canvas: every value worked out by hand.
#[test]
fn moving_bounds_of_a_hand_computed_sequence() {
    let one = ImageShape {
        channels: 1,
        height: 1,
        width: 1,
    };
    let images = Images {
        shape: one,
        pixels: vec![1.0, 0.5, 1.0, 0.5, 1.0],
        labels: vec![0, 1, 2, 0, 1],
    };
    let seq = Sequence {
        frames: vec![0, 1, 2, 3, 4],
        labels: vec![0, 1, 2, 0, 1],
        track: Some(Track {
            canvas: ImageShape {
                channels: 1,
                height: 2,
                width: 4,
            },
            positions: vec![[0, 1], [0, 2], [0, 3], [1, 3], [1, 2]],
        }),
    };
    let mut pred = vec![vec![0.0f32]; NUM_CLASSES];
    (pred[0][0], pred[1][0], pred[2][0]) = (0.25, 0.75, 0.5);
    let b = moving_bound_curves(&images, &[seq], &[0.5], &pred);
    // Per step, a hit costs |v - q|, a miss v + q, a blank canvas v; over 8 pixels.
    // t=2: persistence at (0,2) misses, extrapolation (0,3) hits; t=3: extrapolation (0,4)
    // clamps to (0,3), a miss; t=4: extrapolation (2,3) clamps to (1,3), a miss.
    assert_eq!(b.oracle, [0.0625, 0.03125, 0.03125, 0.0, 0.09375]);
    assert_eq!(b.persistence, [0.125, 0.09375, 0.21875, 0.125, 0.15625]);
    assert_eq!(b.extrapolation, [0.125, 0.09375, 0.03125, 0.125, 0.15625]);
}

#[test]
fn knowing_where_the_digit_is_beats_persistence_on_a_bouncing_stream() {
    let (train, test) = digits::embedded();
    let motion = Motion {
        canvas: 16,
        max_speed: 1,
        teleport: false,
    };
    let stream = Stream {
        motion: Some(motion),
        ..Stream::default()
    };
    let (prior, _) = median_images(&train);
    let pred = stream_predictors(&train, &successor_probabilities(&stream));
    let spec = test_set(&test, 1, &stream).unwrap();
    let b = moving_bound_curves(&test, &spec.seqs, &prior, &pred);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "oracle {:.4} extrapolation {:.4} persistence {:.4}",
        mean(&b.oracle),
        mean(&b.extrapolation),
        mean(&b.persistence)
    );
    assert!(mean(&b.oracle) <= mean(&b.persistence), "{b:?}");
    assert!(mean(&b.extrapolation) <= mean(&b.persistence), "{b:?}");
    // Without motion the three agree from the second step on.
    let still = test_set(&test, 1, &Stream::default()).unwrap();
    let s = moving_bound_curves(&test, &still.seqs, &prior, &pred);
    let x = frames(&test, &still.seqs, 10);
    let c = bound_curve(x.view(), labels(&still.seqs).view(), &prior, &pred);
    assert_eq!(s.oracle, c);
    assert_eq!(s.persistence[1..], c[1..]);
    assert_eq!(s.extrapolation[1..], c[1..]);
}

/// Synthetic MNIST-sized data (60,000 images of 784 pixels): continuous values (nothing
/// quantized) and MNIST-like ones (mostly zeros, 256 levels). Prints the time, asserts none.
#[test]
fn predictor_time_on_mnist_sized_data() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let shape = ImageShape {
        channels: 1,
        height: 28,
        width: 28,
    };
    let labels: Vec<u8> = (0..60_000).map(|_| rng.gen_range(0..10)).collect();
    let n = labels.len() * shape.len();
    let probs = successor_probabilities(&markov(1.0));
    for (what, pixels) in [
        (
            "continuous",
            (0..n).map(|_| rng.gen::<f32>()).collect::<Vec<_>>(),
        ),
        (
            "mnist-like",
            (0..n)
                .map(|_| match rng.gen_range(0..5) {
                    0 => f32::from(rng.gen::<u8>()) / 255.0,
                    _ => 0.0,
                })
                .collect(),
        ),
    ] {
        let images = Images {
            shape,
            pixels,
            labels: labels.clone(),
        };
        let t = std::time::Instant::now();
        let pred = stream_predictors(&images, &probs);
        println!(
            "stream_predictors, 60000 x 784 {what}: {:.3} s",
            t.elapsed().as_secs_f64()
        );
        assert_eq!(pred.len(), NUM_CLASSES);
        assert!(pred
            .iter()
            .all(|p| p.len() == 784 && p.iter().all(|v| v.is_finite())));
    }
}
