//! Derived models in the engine: a model loaded from memory is the model loaded from its file,
//! the shuffled control runs and differs from the original, a zeroed `W` leaves the frames
//! themselves as the preactivation, and a model without an untrained sibling has none.

use epc_analyzer::engine::Derive;
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use epc_core::data::digits;
use epc_exporter::onnx::ModelFile;
use ndarray::Array3;
use std::path::{Path, PathBuf};

fn committed_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/models/digits-l1pre.onnx")
}

fn cpu() -> EngineOptions {
    EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        deterministic: true,
        batch_size: 16,
        ..EngineOptions::default()
    }
}

/// Sequences of the embedded test digits in the order 0, 1, ..., 9: `[10, seqs, 64]`, sequence
/// `s` taking the `s`-th image of each class.
fn digit_frames(seqs: usize) -> Array3<f32> {
    let (_, test) = digits::embedded();
    let by_class = test.indices_by_class();
    Array3::from_shape_fn((10, seqs, test.dim()), |(t, s, p)| {
        test.image(by_class[t][s])[p]
    })
}

fn bits(a: &Array3<f32>) -> Vec<u32> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn a_model_from_memory_is_the_model_from_its_file() {
    let path = committed_model();
    let bytes = std::fs::read(&path).unwrap();
    let label = Path::new("runs/x/seed-0/model.onnx#copy");
    let mut file = StepModel::load(&path, &cpu()).unwrap();
    let mut mem = StepModel::load_bytes(label, &bytes, &cpu()).unwrap();
    assert_eq!(mem.path(), label);
    assert_eq!(mem.sha256(), file.sha256());
    assert_eq!(mem.version(), file.version());
    assert_eq!(mem.layout(), file.layout());
    assert_eq!(mem.metadata(), file.metadata());
    assert_eq!(mem.recurrent_weights(), file.recurrent_weights());
    assert_eq!(mem.notes(), file.notes());
    assert!(mem.paper_shaped());
    let x = digit_frames(12);
    let (a, b) = (
        file.run(x.view(), None).unwrap(),
        mem.run(x.view(), None).unwrap(),
    );
    assert_eq!(bits(&a.preact), bits(&b.preact));
    assert_eq!(bits(&a.act), bits(&b.act));

    // Bytes that are no model: one line naming the label.
    let e = StepModel::load_bytes(label, b"not a model", &cpu())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("runs/x/seed-0/model.onnx#copy: not an ONNX model") && !e.contains('\n'),
        "{e}"
    );
}

#[test]
fn the_shuffled_control_runs_and_differs_from_the_original() {
    let path = committed_model();
    let file = ModelFile::read(&path).unwrap();
    let (bytes, permuted) = file.shuffled_bytes(5).unwrap();
    assert!(permuted >= 1);
    let label = Path::new("model.onnx#shuffled");
    let mut shuffled = StepModel::load_bytes(label, &bytes, &cpu()).unwrap();
    assert_eq!(shuffled.sha256(), epc_core::data::fetch::sha256_hex(&bytes));
    let mut original = StepModel::load(&path, &cpu()).unwrap();
    assert_ne!(shuffled.sha256(), original.sha256());
    assert_eq!(shuffled.metadata(), original.metadata());
    assert_eq!(shuffled.layout(), original.layout());

    // W: the same values, elsewhere.
    let (w0, w1) = (
        original.recurrent_weights().unwrap(),
        shuffled.recurrent_weights().unwrap(),
    );
    let sorted = |w: &ndarray::Array2<f32>| {
        let mut v: Vec<f32> = w.iter().copied().collect();
        v.sort_by(f32::total_cmp);
        v
    };
    assert_eq!(sorted(w0), sorted(w1));
    assert!(w0.iter().zip(w1).filter(|(a, b)| a != b).count() > w0.len() / 2);

    // The activity differs from the second step on (the first is the frame: h_0 = 0).
    let x = digit_frames(12);
    let (a, b) = (
        original.run(x.view(), None).unwrap(),
        shuffled.run(x.view(), None).unwrap(),
    );
    let step = |arr: &Array3<f32>, t: usize| arr.index_axis(ndarray::Axis(0), t).to_owned();
    assert_eq!(step(&a.preact, 0), step(&b.preact, 0));
    let diff: f32 = a
        .preact
        .iter()
        .zip(b.preact.iter())
        .map(|(p, q)| (p - q).abs())
        .sum::<f32>()
        / a.preact.len() as f32;
    assert!(diff > 1e-3, "mean |difference| {diff}");

    // The one-line form gives the same model under its own label.
    let d = StepModel::derive(&path, Derive::Shuffled { seed: 5 }, &cpu()).unwrap();
    assert_eq!(d.sha256(), shuffled.sha256());
    let mut label = path.as_os_str().to_owned();
    label.push("#shuffled-5");
    assert_eq!(d.path(), Path::new(&label));
    let other = StepModel::derive(&path, Derive::Shuffled { seed: 6 }, &cpu()).unwrap();
    assert_ne!(other.sha256(), d.sha256());
}

#[test]
fn zero_recurrent_weights_leave_the_frames_as_the_preactivation() {
    let path = committed_model();
    let zeros = vec![0.0f32; 64 * 64];
    let how = Derive::Initializer {
        name: "W",
        data: &zeros,
    };
    let mut m = StepModel::derive(&path, how, &cpu()).unwrap();
    assert!(m
        .path()
        .to_string_lossy()
        .ends_with("digits-l1pre.onnx#replaced-W"));
    assert!(m.recurrent_weights().unwrap().iter().all(|&v| v == 0.0));
    let x = digit_frames(20);
    let acts = m.run(x.view(), None).unwrap();
    // preact = h W + x = x, exactly, at every step; act = relu(x) = x (pixels are >= 0).
    assert_eq!(bits(&acts.preact), bits(&x));
    assert_eq!(bits(&acts.act), bits(&x.mapv(|v| v.max(0.0))));

    // A derivation the model does not allow: one line naming the file.
    let e = StepModel::derive(
        &path,
        Derive::Initializer {
            name: "W",
            data: &zeros[..10],
        },
        &cpu(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(&path.display().to_string()) && e.contains("10 were given"),
        "{e}"
    );
}

#[test]
fn a_model_without_an_untrained_sibling_has_none() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = tmp.path().join("seed-0");
    std::fs::create_dir_all(&inst).unwrap();
    let model = inst.join("model.onnx");
    std::fs::copy(committed_model(), &model).unwrap();
    assert!(StepModel::untrained(&model, &cpu()).unwrap().is_none());
    // With one beside it (here a shuffled stand-in), it is loaded from there.
    let bytes = ModelFile::read(&model)
        .unwrap()
        .shuffled_bytes(1)
        .unwrap()
        .0;
    std::fs::write(inst.join("model.untrained.onnx"), &bytes).unwrap();
    let u = StepModel::untrained(&model, &cpu()).unwrap().unwrap();
    assert_eq!(u.path(), inst.join("model.untrained.onnx"));
    assert_eq!(u.sha256(), epc_core::data::fetch::sha256_hex(&bytes));
}
