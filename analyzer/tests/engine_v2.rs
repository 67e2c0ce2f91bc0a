//! The engine on step-v2 models: two state tensors passed on step to step, the optional
//! outputs, and lesion masks over the concatenated state, against a plain-Rust forward pass of
//! the committed fixture `testdata/contract-v2/valid.onnx` (its weights read from the file).
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

mod common;

use common::random_x;
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use epc_exporter::onnx::{Initializer, ModelFile};
use ndarray::Array3;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/contract-v2")
        .join(name)
}

/// `[rows, cols]` row-major weights of initializer `name`.
fn weights(file: &ModelFile, name: &str) -> (Vec<f32>, usize) {
    match file.initializer_f32(name) {
        Initializer::Tensor(t) => (t.data, t.dims[1]),
        other => panic!("{name}: {other:?}"),
    }
}

/// `v [n]` times `w [n, cols]`.
fn vecmat(v: &[f64], w: &(Vec<f32>, usize)) -> Vec<f64> {
    let cols = w.1;
    (0..cols)
        .map(|j| {
            v.iter()
                .enumerate()
                .map(|(i, &x)| x * f64::from(w.0[i * cols + j]))
                .sum()
        })
        .collect()
}

/// The fixture's equations (testdata/contract-v2/make_fixtures.py): returns preact, act,
/// drive_in, drive_rec, transmission, each `[steps, seqs, 6]`; `mask` over `[h (4), g (2)]`.
fn reference(x: &Array3<f32>, mask: Option<&[f32]>) -> [Array3<f64>; 5] {
    let file = ModelFile::read(&fixture("valid.onnx")).unwrap();
    let (whh, wgh, whg, wgg) = (
        weights(&file, "W_hh"),
        weights(&file, "W_gh"),
        weights(&file, "W_hg"),
        weights(&file, "W_gg"),
    );
    let (steps, seqs, _) = x.dim();
    let mut out: [Array3<f64>; 5] = std::array::from_fn(|_| Array3::zeros((steps, seqs, 6)));
    for s in 0..seqs {
        let (mut h, mut g) = (vec![0.0f64; 4], vec![0.0f64; 2]);
        for t in 0..steps {
            if let Some(m) = mask {
                for i in 0..4 {
                    h[i] *= f64::from(m[i]);
                }
                for i in 0..2 {
                    g[i] *= f64::from(m[4 + i]);
                }
            }
            let (rh, rg) = (vecmat(&h, &whh), vecmat(&g, &wgh));
            let rec1: Vec<f64> = (0..4).map(|i| rh[i] + rg[i]).collect();
            let a1: Vec<f64> = (0..4).map(|i| f64::from(x[[t, s, i]]) + rec1[i]).collect();
            let h1: Vec<f64> = a1.iter().map(|v| v.max(0.0)).collect();
            let in2 = vecmat(&h1, &whg);
            let rec2 = vecmat(&g, &wgg);
            let a2: Vec<f64> = (0..2).map(|i| in2[i] + rec2[i]).collect();
            let g1: Vec<f64> = a2.iter().map(|v| v.tanh()).collect();
            let act: Vec<f64> = h1.iter().chain(&g1).copied().collect();
            // transmission_j = sum_i act_i |Wfull_ij|, Wfull = [[W_hh, W_hg], [W_gh, W_gg]].
            let wfull = |i: usize, j: usize| -> f64 {
                let w = match (i < 4, j < 4) {
                    (true, true) => whh.0[i * 4 + j],
                    (true, false) => whg.0[i * 2 + j - 4],
                    (false, true) => wgh.0[(i - 4) * 4 + j],
                    (false, false) => wgg.0[(i - 4) * 2 + j - 4],
                };
                f64::from(w.abs())
            };
            for u in 0..6 {
                out[0][[t, s, u]] = if u < 4 { a1[u] } else { a2[u - 4] };
                out[1][[t, s, u]] = act[u];
                out[2][[t, s, u]] = if u < 4 {
                    f64::from(x[[t, s, u]])
                } else {
                    in2[u - 4]
                };
                out[3][[t, s, u]] = if u < 4 { rec1[u] } else { rec2[u - 4] };
                out[4][[t, s, u]] = (0..6).map(|i| act[i] * wfull(i, u)).sum();
            }
            h = h1;
            g = g1;
        }
    }
    out
}

fn max_diff(a: &Array3<f32>, b: &Array3<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(&x, &y)| (f64::from(x) - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn two_state_tensors_and_every_output_match_the_equations() {
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        batch_size: 3, // 7 sequences: chunks of 3, 3 and 1 (two prepared output sizes)
        ..EngineOptions::default()
    };
    let mut model = StepModel::load(&fixture("valid.onnx"), &opts).unwrap();
    assert_eq!((model.n_in(), model.n_units(), model.n_state()), (4, 6, 6));
    assert_eq!(
        model.optional_outputs(),
        ["drive_in", "drive_rec", "transmission"]
    );
    assert!(!model.paper_shaped());
    let x = random_x(5, 7, 4, 11);
    let acts = model.run(x.view(), None).unwrap();
    let want = reference(&x, None);
    assert!(max_diff(&acts.preact, &want[0]) < 1e-5);
    assert!(max_diff(&acts.act, &want[1]) < 1e-5);
    assert!(max_diff(acts.drive_in.as_ref().unwrap(), &want[2]) < 1e-5);
    assert!(max_diff(acts.drive_rec.as_ref().unwrap(), &want[3]) < 1e-5);
    assert!(max_diff(acts.transmission.as_ref().unwrap(), &want[4]) < 1e-5);

    // Lesion unit 1 (owns h[1]) and unit 5 (owns g[1]): the mask the layout builds.
    let mask = model.layout().lesion_mask(&[1, 5]);
    assert_eq!(mask, [1.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
    let lesioned = model.run(x.view(), Some(&mask)).unwrap();
    let want = reference(&x, Some(&mask));
    assert!(max_diff(&lesioned.preact, &want[0]) < 1e-5);
    assert!(max_diff(&lesioned.act, &want[1]) < 1e-5);
    // The lesion changes the run (it is not a no-op on these weights).
    assert!(max_diff(&lesioned.preact, &reference(&x, None)[0]) > 1e-3);

    // run_into reuses the caller's arrays and gives the same numbers.
    let mut out = epc_analyzer::Activations::empty();
    model.run_into(x.view(), None, &mut out).unwrap();
    assert_eq!(out, acts);
    let before = out.preact.as_ptr();
    model.run_into(x.view(), None, &mut out).unwrap();
    assert_eq!(out.preact.as_ptr(), before, "storage reused");
}

#[test]
fn a_fixed_batch_model_is_padded() {
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        batch_size: 64,
        ..EngineOptions::default()
    };
    let mut model = StepModel::load(&fixture("valid_fixed_batch.onnx"), &opts).unwrap();
    let x = random_x(4, 5, 4, 3);
    let acts = model.run(x.view(), None).unwrap();
    assert!(max_diff(&acts.preact, &reference(&x, None)[0]) < 1e-5);
}
