//! The engine against a plain-Rust forward pass, size resolution, and contract errors.
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

mod common;

use common::*;
use epc_analyzer::{EngineOptions, Error, ExecutionProvider, StepModel};

fn cpu() -> EngineOptions {
    EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        batch_size: 7,
        ..EngineOptions::default()
    }
}

fn max_diff(a: &ndarray::Array3<f32>, b: &ndarray::Array3<f32>) -> f32 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_reference_forward_with_and_without_mask() {
    let dir = tempfile::tempdir().unwrap();
    let n = 12;
    let w = random_w(n, n, 0.5, 1);
    let path = helper_model(dir.path(), "m.onnx", &w, "ok");
    let mut model = StepModel::load(&path, &cpu()).unwrap();
    assert_eq!((model.n_in(), model.n_state(), model.n_units()), (n, n, n));
    assert!(model.has_act());
    assert_eq!(model.provider(), ExecutionProvider::Cpu);
    assert_eq!(model.recurrent_weights().unwrap(), &w);
    assert_eq!(
        model.metadata().get("epc.contract").map(String::as_str),
        Some("step-v1")
    );
    assert_eq!(
        model.metadata().get("epc.seed").map(String::as_str),
        Some("3")
    );

    // 23 sequences in batches of 7: three full batches and a partial one.
    let x = random_x(10, 23, n, 2);
    let acts = model.run(x.view(), None).unwrap();
    let reference = reference_forward(&x, &w, None);
    assert!(
        max_diff(&acts.preact, &reference) < 1e-5,
        "{}",
        max_diff(&acts.preact, &reference)
    );
    assert!(max_diff(&acts.act, &reference.mapv(|v| v.max(0.0))) < 1e-5);
    // Step 1 equals the frame (h_0 = 0).
    assert!(
        max_diff(
            &acts.preact.slice(ndarray::s![0..1, .., ..]).to_owned(),
            &x.slice(ndarray::s![0..1, .., ..]).to_owned()
        ) == 0.0
    );

    // The same frames in a non-standard layout (each step's rows not contiguous) take the
    // gathering path and give the same numbers as the directly handed-over standard layout.
    let mut seq_major = ndarray::Array3::<f32>::zeros((23, 10, n));
    seq_major.assign(&x.view().permuted_axes([1, 0, 2]));
    let strided = seq_major.view().permuted_axes([1, 0, 2]);
    assert!(strided.as_slice().is_none());
    let acts_strided = model.run(strided, None).unwrap();
    assert_eq!(max_diff(&acts_strided.preact, &acts.preact), 0.0);
    assert_eq!(max_diff(&acts_strided.act, &acts.act), 0.0);

    let mut mask = vec![1.0f32; n];
    for i in [0, 3, 4, 11] {
        mask[i] = 0.0;
    }
    let lesioned = model.run(x.view(), Some(&mask)).unwrap();
    let reference_l = reference_forward(&x, &w, Some(&mask));
    assert!(max_diff(&lesioned.preact, &reference_l) < 1e-5);
    assert!(
        max_diff(&lesioned.preact, &reference) > 1e-3,
        "the mask must change the result"
    );
}

#[test]
fn torch_export_with_symbolic_sizes_and_no_act() {
    let dir = tempfile::tempdir().unwrap();
    let n = 9;
    let w = random_w(n, n, 0.4, 5);
    let path = torch_model(dir.path(), "t.onnx", &w);
    let mut model = StepModel::load(
        &path,
        &EngineOptions {
            batch_size: 4,
            ..cpu()
        },
    )
    .unwrap();
    assert_eq!((model.n_in(), model.n_state(), model.n_units()), (n, n, n));
    assert!(!model.has_act());
    assert_eq!(
        model
            .recurrent_weights()
            .expect("W read from the torch file"),
        &w
    );
    let x = random_x(10, 6, n, 9);
    let acts = model.run(x.view(), None).unwrap();
    assert!(max_diff(&acts.preact, &reference_forward(&x, &w, None)) < 1e-5);
}

#[test]
fn rectangular_units_without_act() {
    // n_state = n_units required without act; with act, preact may differ in size from h.
    let dir = tempfile::tempdir().unwrap();
    let w = random_w(6, 6, 0.3, 4);
    let path = helper_model(dir.path(), "noact.onnx", &w, "no_act");
    let mut model = StepModel::load(&path, &cpu()).unwrap();
    assert!(!model.has_act());
    let x = random_x(3, 5, 6, 1);
    let acts = model.run(x.view(), None).unwrap();
    assert!(
        max_diff(
            &acts.act,
            &reference_forward(&x, &w, None).mapv(|v| v.max(0.0))
        ) < 1e-5
    );
}

#[test]
fn contract_errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let w = random_w(4, 4, 0.3, 4);
    let check = |path: &std::path::Path, needle: &str| {
        let err = StepModel::load(path, &cpu()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains(needle), "{msg} lacks {needle:?}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert!(
            matches!(err, Error::Model { .. } | Error::Io { .. }),
            "{err:?}"
        );
    };
    check(
        &helper_model(dir.path(), "noh.onnx", &w, "no_h"),
        "missing input `h`",
    );
    check(
        &helper_model(dir.path(), "inth.onnx", &w, "int_h"),
        "input `h` is an int64 tensor; the step-v1 contract needs a float32 tensor",
    );
    check(
        &helper_model(dir.path(), "seq.onnx", &w, "sequence"),
        "sequence-v1",
    );
    let text = dir.path().join("notes.onnx");
    std::fs::write(&text, "this is a text file, not a model\n").unwrap();
    check(&text, "not an ONNX model");
    check(&dir.path().join("missing.onnx"), "No such file");

    // Wrong frame size and mask size at run time.
    let mut model =
        StepModel::load(&helper_model(dir.path(), "ok.onnx", &w, "ok"), &cpu()).unwrap();
    let err = model
        .run(random_x(2, 2, 5, 1).view(), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("frames have 5 values but the model takes 4"),
        "{err}"
    );
    let err = model
        .run(random_x(2, 2, 4, 1).view(), Some(&[1.0; 3]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lesion mask has 3 entries"), "{err}");
}

#[test]
fn provider_choices() {
    assert_eq!(
        "cuda".parse::<ExecutionProvider>().unwrap(),
        ExecutionProvider::Cuda
    );
    assert_eq!(
        "CoreML".parse::<ExecutionProvider>().unwrap(),
        ExecutionProvider::CoreMl
    );
    assert!("tpu".parse::<ExecutionProvider>().is_err());
    for ep in ExecutionProvider::ALL {
        assert_eq!(ep.to_string().parse::<ExecutionProvider>().unwrap(), ep);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = helper_model(dir.path(), "m.onnx", &random_w(4, 4, 0.3, 1), "ok");
    // Auto always ends on a provider that works.
    let auto = StepModel::load(
        &path,
        &EngineOptions {
            ep: ExecutionProvider::Auto,
            ..cpu()
        },
    )
    .unwrap();
    assert!(matches!(
        auto.provider(),
        ExecutionProvider::Cpu | ExecutionProvider::Cuda | ExecutionProvider::CoreMl
    ));
    // CoreML named explicitly on Linux cannot start: an error, not a silent fall-back.
    if !cfg!(target_os = "macos") {
        let err = StepModel::load(
            &path,
            &EngineOptions {
                ep: ExecutionProvider::CoreMl,
                ep_explicit: true,
                ..cpu()
            },
        )
        .unwrap_err();
        assert!(matches!(err, Error::Provider { .. }), "{err}");
        // Not explicit: falls back to CPU.
        let m = StepModel::load(
            &path,
            &EngineOptions {
                ep: ExecutionProvider::CoreMl,
                ep_explicit: false,
                ..cpu()
            },
        )
        .unwrap();
        assert_eq!(m.provider(), ExecutionProvider::Cpu);
    }
}
