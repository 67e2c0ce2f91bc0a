//! The step-v2 exports of the architectures of docs/NETWORKS.md beyond the paper's rnn:
//! each model passes `epc check-model`, carries its layout, and computes, step after step in
//! ONNX Runtime, what a plain-Rust (f64) implementation of the documented equations computes;
//! the weights files of the architectures are checked against the config, and `epc export`
//! writes them as step-v2 (never sequence-v1).

mod arch_reference;
mod common;

use arch_reference::{dale_w, reference};
use common::*;
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::{Architecture, RunConfig};
use epc_core::data::DatasetKind;
use epc_core::run::InstanceDir;
use epc_exporter::onnx::{arch_step_v2_model_bytes, read_metadata, Initializer, ModelFile};
use epc_exporter::{
    export_run, export_run_as, read_params_safetensors, write_params_safetensors,
    write_weights_safetensors, ExportFormat,
};
use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::TensorRef;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

const BATCH: usize = 3;
const STEPS: usize = 3;
const N_IN: usize = 64;

/// The resolved digits config of `arch` with small sizes, and its spec.
fn config(arch: Architecture) -> (RunConfig, ArchSpec) {
    config_with(arch, |_| {})
}

/// [`config`] with `tweak` applied before resolving.
fn config_with(arch: Architecture, tweak: impl Fn(&mut RunConfig)) -> (RunConfig, ArchSpec) {
    let mut cfg = RunConfig::default();
    cfg.data.dataset = DatasetKind::Digits;
    cfg.seed = 7;
    cfg.model.architecture = arch;
    match arch {
        Architecture::RnnLatent => cfg.model.latent = Some(3),
        Architecture::Hierarchical => {
            cfg.model.units = 5;
            cfg.model.layers = Some(2);
        }
        Architecture::LstmErr | Architecture::GruErr => cfg.model.units = 5,
        _ => {}
    }
    tweak(&mut cfg);
    let cfg = cfg.resolve().unwrap();
    let spec = ArchSpec::of(&cfg).unwrap();
    assert_eq!(spec.n_in, N_IN);
    (cfg, spec)
}

/// Random parameters of `spec` (`U(-b, b)`, `b` the spec's bound, so that the signs of
/// `dale`'s magnitudes are exercised too).
fn draw(spec: &ArchSpec, seed: u64) -> Vec<NamedArray> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    spec.params
        .iter()
        .map(|p| NamedArray {
            name: p.name.clone(),
            shape: p.shape.clone(),
            data: (0..p.numel())
                .map(|_| rng.gen_range(-p.init_bound..p.init_bound))
                .collect(),
        })
        .collect()
}

/// The ONNX Runtime environment of this process (one per process).
fn ort_env() -> &'static Environment {
    static ENV: OnceLock<Environment> = OnceLock::new();
    ENV.get_or_init(|| {
        let lib = std::env::var("ORT_DYLIB_PATH")
            .ok()
            .filter(|p| !p.is_empty())
            .or(option_env!("ORT_DYLIB_PATH").map(String::from))
            .expect("ORT_DYLIB_PATH is not set (source scripts/env.sh)");
        ort::init_from(&lib)
            .unwrap()
            .with_name("arch_onnx")
            .build()
            .unwrap()
    })
}

/// `[BATCH, width]` float32 output `name` of a run, row-major.
fn output(outputs: &ort::session::SessionOutputs, name: &str, width: usize) -> Vec<f32> {
    let v = outputs
        .get(name)
        .unwrap_or_else(|| panic!("no output {name}"));
    let (shape, data) = v.try_extract_tensor::<f32>().unwrap();
    assert_eq!(&shape[..], &[BATCH as i64, width as i64], "{name}");
    data.to_vec()
}

fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}[{k}]: onnx {g}, reference {w}"
        );
    }
}

/// Exports `arch` with random parameters and checks the model: `epc check-model`, its
/// metadata and initializers, and three steps against the reference.
fn check_architecture(arch: Architecture) {
    check_spec(arch, config(arch).1);
}

fn check_spec(arch: Architecture, spec: ArchSpec) {
    let params = draw(&spec, 11);
    let caller = vec![("epc.seed".to_string(), "7".to_string())];
    let bytes = arch_step_v2_model_bytes(&spec, &params, &caller).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{}.onnx", arch.name()));
    std::fs::write(&path, &bytes).unwrap();

    // (a) The analyzer's check, as `epc check-model` runs it.
    let o = run_ok(&["check-model", path.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("ok: step-v2, n_in 64"), "{out}");

    // The layout and the parameters as written.
    let meta: BTreeMap<String, String> = read_metadata(&path).unwrap().into_iter().collect();
    let json = |key: &str| serde_json::from_str::<serde_json::Value>(&meta[key]).unwrap();
    assert_eq!(meta["epc.contract"], "step-v2");
    assert_eq!(
        json("epc.states"),
        serde_json::to_value(&spec.layout.states).unwrap()
    );
    assert_eq!(
        json("epc.populations"),
        serde_json::to_value(&spec.layout.populations).unwrap()
    );
    assert_eq!(
        json("epc.energy"),
        serde_json::to_value(&spec.layout.energy).unwrap()
    );
    assert_eq!(meta["epc.seed"], "7");
    let file = ModelFile::read(&path).unwrap();
    let stored = |name: &str| match file.initializer_f32(name) {
        Initializer::Tensor(t) => t,
        other => panic!("{name}: {other:?}"),
    };
    if arch == Architecture::Dale {
        let w = dale_w(&spec, &params);
        assert_eq!(stored("W").data, w.data);
        let f = spec.inhibitory;
        let inhibitory: Vec<usize> = (0..N_IN)
            .filter(|&i| ((i + 1) as f64 * f).floor() > (i as f64 * f).floor())
            .collect();
        assert_eq!(
            json("epc.dale.inhibitory"),
            serde_json::to_value(&inhibitory).unwrap()
        );
        assert_eq!(inhibitory.len(), 12);
    } else {
        for a in &params {
            let t = stored(&a.name);
            assert_eq!((&t.dims, &t.data), (&a.shape, &a.data), "{}", a.name);
        }
    }

    // (b) Three steps in ONNX Runtime from the zero state against the reference.
    let mut session = Session::builder(ort_env())
        .unwrap()
        .commit_from_memory(&bytes)
        .unwrap();
    let states = &spec.layout.states;
    let n_units = spec.n_units();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut onnx_state: Vec<Vec<f32>> = states.iter().map(|s| vec![0.0; BATCH * s.size]).collect();
    let mut ref_state: Vec<Vec<Vec<f64>>> = (0..BATCH)
        .map(|_| states.iter().map(|s| vec![0.0; s.size]).collect())
        .collect();
    let has_drives = matches!(
        arch,
        Architecture::RnnLatent | Architecture::Dale | Architecture::Hierarchical
    );
    for t in 0..STEPS {
        let x: Vec<f32> = (0..BATCH * N_IN).map(|_| rng.gen_range(0.0..1.0)).collect();
        let mut inputs: Vec<(&str, SessionInputValue)> = vec![(
            "x",
            TensorRef::from_array_view(([BATCH, N_IN], x.as_slice()))
                .unwrap()
                .into(),
        )];
        for (s, v) in states.iter().zip(&onnx_state) {
            inputs.push((
                s.name.as_str(),
                TensorRef::from_array_view(([BATCH, s.size], v.as_slice()))
                    .unwrap()
                    .into(),
            ));
        }
        let outputs = session.run(inputs).unwrap();
        let preact = output(&outputs, "preact", n_units);
        let act = output(&outputs, "act", n_units);
        let next: Vec<Vec<f32>> = states
            .iter()
            .map(|s| output(&outputs, &s.output(), s.size))
            .collect();
        let drives = has_drives.then(|| {
            (
                output(&outputs, "drive_in", n_units),
                output(&outputs, "drive_rec", n_units),
            )
        });
        assert_eq!(outputs.get("drive_in").is_some(), has_drives);
        // hierarchical, lstm-err and gru-err write their transmission (st); the rnn family's
        // comes from W.
        let has_transmission = matches!(
            arch,
            Architecture::Hierarchical | Architecture::LstmErr | Architecture::GruErr
        );
        assert_eq!(outputs.get("transmission").is_some(), has_transmission);
        let transmission = has_transmission.then(|| output(&outputs, "transmission", n_units));
        for b in 0..BATCH {
            let xb: Vec<f64> = x[b * N_IN..(b + 1) * N_IN]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            let want = reference(&spec, &params, &xb, &ref_state[b]);
            let row = |v: &[f32], w: usize| v[b * w..(b + 1) * w].to_vec();
            let at = |port: &str| format!("{} step {t} row {b} {port}", arch.name());
            assert_close(&at("preact"), &row(&preact, n_units), &want.preact);
            assert_close(&at("act"), &row(&act, n_units), &want.act);
            for ((s, got), w) in states.iter().zip(&next).zip(&want.next) {
                assert_close(&at(&s.output()), &row(got, s.size), w);
            }
            if let Some((din, drec)) = &drives {
                assert_close(
                    &at("drive_in"),
                    &row(din, n_units),
                    want.drive_in.as_ref().unwrap(),
                );
                assert_close(
                    &at("drive_rec"),
                    &row(drec, n_units),
                    want.drive_rec.as_ref().unwrap(),
                );
            }
            if let Some(tr) = &transmission {
                assert_close(
                    &at("transmission"),
                    &row(tr, n_units),
                    want.transmission.as_ref().unwrap(),
                );
            }
            ref_state[b] = want.next;
        }
        drop(outputs);
        onnx_state = next;
    }
}

#[test]
fn rnn_latent_step_v2_matches_the_equations() {
    check_architecture(Architecture::RnnLatent);
}

#[test]
fn dale_step_v2_matches_the_equations() {
    check_architecture(Architecture::Dale);
}

#[test]
fn hierarchical_step_v2_matches_the_equations() {
    check_architecture(Architecture::Hierarchical);
}

#[test]
fn lstm_err_step_v2_matches_the_equations() {
    check_architecture(Architecture::LstmErr);
}

#[test]
fn gru_err_step_v2_matches_the_equations() {
    check_architecture(Architecture::GruErr);
}

/// The bias ablation: without biases the gated networks have no bias parameters and still
/// match the equations (with the biases taken as zero).
#[test]
fn gated_networks_without_biases_match_the_equations() {
    for arch in [Architecture::LstmErr, Architecture::GruErr] {
        let (cfg, spec) = config_with(arch, |c| c.model.bias = Some(false));
        assert_eq!(cfg.model.bias, Some(false));
        let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["W_pred", "W_ih", "W_hh"], "{arch:?}");
        let with = config(arch).1;
        let gates = if arch == Architecture::LstmErr { 4 } else { 3 };
        let biases = if arch == Architecture::LstmErr { 1 } else { 2 };
        assert_eq!(
            with.param_count() - spec.param_count(),
            biases * gates * 5,
            "{arch:?}"
        );
        check_spec(arch, spec);
    }
}

/// A hierarchical network of one layer (no top-down term into the top layer but T1 into the
/// sensory units) and of three layers also export and check.
#[test]
fn hierarchical_of_one_and_three_layers_export() {
    for layers in [1, 3] {
        let mut cfg = RunConfig::default();
        cfg.data.dataset = DatasetKind::Digits;
        cfg.model.architecture = Architecture::Hierarchical;
        cfg.model.units = 4;
        cfg.model.layers = Some(layers);
        let spec = ArchSpec::of(&cfg.resolve().unwrap()).unwrap();
        let bytes = arch_step_v2_model_bytes(&spec, &draw(&spec, 3), &[]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.onnx");
        std::fs::write(&path, bytes).unwrap();
        let o = run_ok(&["check-model", path.to_str().unwrap()]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains(&format!("layer{layers} [")), "{out}");
    }
}

/// An instance folder of `arch` with random parameters; returns its spec and parameters.
fn instance(dir: &Path, arch: Architecture) -> (ArchSpec, Vec<NamedArray>) {
    let (cfg, spec) = config(arch);
    let inst = InstanceDir::new(dir);
    inst.write_config(&cfg).unwrap();
    let params = draw(&spec, 2);
    write_params_safetensors(&inst.weights(), &params).unwrap();
    (spec, params)
}

#[test]
fn weights_files_round_trip_and_refuse_another_architecture() {
    let dir = tempfile::tempdir().unwrap();
    let (lstm, params) = instance(dir.path(), Architecture::LstmErr);
    let weights = InstanceDir::new(dir.path()).weights();
    assert_eq!(read_params_safetensors(&weights, &lstm).unwrap(), params);

    // The paper's rnn file (one tensor W) read as dale.
    let rnn_file = dir.path().join("rnn.safetensors");
    write_weights_safetensors(&rnn_file, &vec![0.5; N_IN * N_IN], N_IN).unwrap();
    let (_, dale) = config(Architecture::Dale);
    let e = read_params_safetensors(&rnn_file, &dale)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: holds [W [64, 64]], but dale as configured has [P [64, 64]]",
            rnn_file.display()
        )
    );
    // An lstm-err file read as gru-err: one line naming the file and both lists.
    let (_, gru) = config(Architecture::GruErr);
    let e = read_params_safetensors(&weights, &gru)
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(
        e.starts_with(&format!("{}: holds [W_pred [5, 64], ", weights.display()))
            && e.contains("b [20]")
            && e.contains("but gru-err as configured has [W_pred [5, 64], W_ih [64, 15]"),
        "{e}"
    );
    // Another size of the same architecture.
    let mut cfg = RunConfig::default();
    cfg.data.dataset = DatasetKind::Digits;
    cfg.model.architecture = Architecture::LstmErr;
    cfg.model.units = 6;
    let six = ArchSpec::of(&cfg.resolve().unwrap()).unwrap();
    let e = read_params_safetensors(&weights, &six)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("W_pred [5, 64]") && e.contains("W_pred [6, 64]"),
        "{e}"
    );
}

#[test]
fn export_writes_step_v2_for_other_architectures_and_refuses_sequence_v1() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    let (_, params) = instance(run, Architecture::Dale);
    let inst = InstanceDir::new(run);

    // Library: step-v1 and step-v2 requests alike write step-v2 to model.onnx.
    for format in [ExportFormat::StepV1, ExportFormat::StepV2] {
        let path = export_run_as(&inst, None, format).unwrap();
        assert_eq!(path, run.join("model.onnx"));
        let meta: BTreeMap<String, String> = read_metadata(&path).unwrap().into_iter().collect();
        assert_eq!(meta["epc.contract"], "step-v2");
        assert_eq!(meta["epc.architecture"], "dale");
        assert_eq!(meta["epc.seed"], "7");
        assert!(meta.contains_key("epc.config") && meta.contains_key("epc.dale.inhibitory"));
    }
    let e = export_run(&inst, None, true).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: sequence-v1 describes the paper's rnn only; dale exports as step-v2",
            run.display()
        )
    );
    assert!(!run.join("model.sequence.onnx").exists());

    // The command line: default file, --out, and --sequence refused in one line.
    std::fs::remove_file(run.join("model.onnx")).unwrap();
    let r = run.to_str().unwrap();
    let o = run_ok(&["export", r, "--contract", "step-v2"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        run.join("model.onnx").display().to_string()
    );
    let other = run.join("other.onnx");
    run_ok(&[
        "export",
        r,
        "--contract",
        "step-v2",
        "--out",
        other.to_str().unwrap(),
    ]);
    for m in [run.join("model.onnx"), other] {
        let o = run_ok(&["check-model", m.to_str().unwrap()]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("ok: step-v2"));
        let file = ModelFile::read(&m).unwrap();
        assert!(matches!(file.initializer_f32("W"), Initializer::Tensor(_)));
    }
    let o = common::run(&["export", r, "--sequence"]);
    assert_clean_failure(&o, "sequence-v1 describes the paper's rnn only");

    // Weights of another architecture: one line naming the weights file.
    write_params_safetensors(&inst.weights(), &params[..0]).unwrap();
    let o = common::run(&["export", r]);
    assert_clean_failure(
        &o,
        "weights.safetensors: holds [], but dale as configured has",
    );
}
