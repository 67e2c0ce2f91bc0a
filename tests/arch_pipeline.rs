//! Every architecture end to end on the embedded digits: `epc train --arch` trains it and
//! exports step-v2, ONNX Runtime runs the exported model as libtorch runs the trained
//! parameters (to 1e-5 per step), `epc check-model` accepts it and `epc analyze` analyses it
//! per population without being told what it is.

mod common;

use common::*;
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use epc_core::arch::ArchSpec;
use epc_core::run::InstanceDir;
use ndarray::Array3;
use std::path::Path;

/// `--arch` and its size flags, the populations its model declares, and its unit count.
const ARCHS: [(&str, &[&str], &[&str], usize); 5] = [
    ("rnn-latent", &["--latent", "8"], &["input", "latent"], 72),
    (
        "hierarchical",
        &["--units", "10", "--layers", "2"],
        &["sensory", "layer1", "layer2"],
        84,
    ),
    ("dale", &[], &["units"], 64),
    ("lstm-err", &["--units", "12"], &["error", "lstm"], 76),
    ("gru-err", &["--units", "12"], &["error", "gru"], 76),
];

fn train(arch: &str, flags: &[&str], out: &Path) {
    let mut args = vec![
        "train", "--arch", arch, "--epochs", "30", "--seeds", "0,1", "--device", "cpu", "--plain",
        "--lr", "1e-3", "--out",
    ];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(flags);
    run_ok(&args);
}

/// Random frames `[steps, seqs, n]` in [0, 1).
fn random_frames(steps: usize, seqs: usize, n: usize, seed: u64) -> Array3<f32> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Array3::from_shape_fn((steps, seqs, n), |_| rng.gen_range(0.0..1.0))
}

fn max_diff(a: &Array3<f32>, b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn every_architecture_trains_exports_matches_libtorch_and_is_analysed() {
    let tmp = tempfile::tempdir().unwrap();
    for (arch, flags, pops, units) in ARCHS {
        let run = tmp.path().join(arch);
        train(arch, flags, &run);
        let inst = InstanceDir::new(run.join("seed-0"));
        let cfg = inst.read_config().unwrap();
        assert_eq!(cfg.model.architecture.name(), arch);
        let spec = ArchSpec::of(&cfg).unwrap();
        assert_eq!(spec.n_units(), units, "{arch}");

        // Parity: the exported model under ONNX Runtime against libtorch on the trained
        // parameters, 4 steps of 5 random sequences from zero states.
        let params = epc_exporter::read_params_safetensors(&inst.weights(), &spec).unwrap();
        let opts = EngineOptions {
            ep: ExecutionProvider::Cpu,
            ..EngineOptions::default()
        };
        let mut model = StepModel::load(&inst.step_model(), &opts).unwrap();
        assert_eq!((model.n_in(), model.n_units()), (64, units), "{arch}");
        let x = random_frames(4, 5, 64, 9);
        let got = model.run(x.view(), None).unwrap();
        let (pre, act) = epc_trainer::net::run_host(&spec, &params, x.as_slice().unwrap(), 4);
        let (dp, da) = (max_diff(&got.preact, &pre), max_diff(&got.act, &act));
        assert!(dp < 1e-5 && da < 1e-5, "{arch}: preact {dp}, act {da}");

        run_ok(&["check-model", inst.step_model().to_str().unwrap()]);

        // Analysed as it is: its populations, and the pixel population's first step is the
        // frame itself (zero state), so its energy equals the input reference there.
        let report = tmp.path().join(format!("{arch}-report"));
        run_ok(&[
            "analyze",
            "--model",
            run.to_str().unwrap(),
            "--out",
            report.to_str().unwrap(),
        ]);
        let s = read_json(&report.join("summary.json"));
        let input = s["reference"]["input"][0].as_f64().unwrap();
        for model in ["seed-0", "seed-1"] {
            let pixel = if pops.len() == 1 {
                // One population (dale): the headline is that population; no breakdown.
                assert!(s["populations"].is_null(), "{arch}");
                &s["energy"]["pre"][model]
            } else {
                let rep = &s["populations"][model];
                let names: Vec<&str> = rep["populations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names, pops, "{arch}");
                &rep["populations"][0]["energy"]["pre"]
            };
            let a = pixel[0].as_f64().unwrap();
            assert!((a - input).abs() < 1e-6, "{arch} {model}: {a} vs {input}");
        }
    }
}

/// Flags that do not fit the architecture, and a resume that changes it, fail with one line.
#[test]
fn architecture_flags_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r");
    let o = run(&["train", "--latent", "8", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&o, "--latent does not apply to the rnn architecture");
    let o = run(&[
        "train",
        "--arch",
        "dale",
        "--units",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "dale architecture has one unit per pixel");
    let o = run(&["train", "--resume", out.to_str().unwrap(), "--arch", "dale"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--arch"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused start leaves no run folder");
}
