//! `export_run` on good and bad run folders.

mod common;

use common::{listing, Rng};
use epc_core::config::RunConfig;
use epc_core::data::DatasetKind;
use epc_core::run::{InstanceDir, TrainState};
use epc_exporter::onnx::read_metadata;
use epc_exporter::{export_run, write_weights_safetensors};
use std::path::Path;

/// A run folder for the 8x8 digits (64 units) with random weights.
fn make_run(dir: &Path, seed: u64) -> (RunConfig, Vec<f32>) {
    let mut cfg = RunConfig::default();
    cfg.data.dataset = DatasetKind::Digits;
    cfg.seed = seed;
    cfg.train.epochs = 40;
    let cfg = cfg.resolve().unwrap();
    epc_core::fsutil::write_json_atomic(&dir.join("config.json"), &cfg).unwrap();
    let w = Rng::new(seed).vec(64 * 64, -0.125, 0.125);
    write_weights_safetensors(&dir.join("weights.safetensors"), &w, 64).unwrap();
    (cfg, w)
}

fn meta(path: &Path, key: &str) -> String {
    read_metadata(path)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("no {key}"))
        .1
}

#[test]
fn export_writes_step_and_sequence_models_with_the_run_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    let (cfg, _) = make_run(run, 11);
    InstanceDir::new(run)
        .write_state(&TrainState {
            epochs_trained: 17,
            best_epoch: 12,
            best_val_loss: 1.5,
            stopped: None,
            device: "cpu".into(),
        })
        .unwrap();

    let step = export_run(&InstanceDir::new(run), None, false).unwrap();
    assert_eq!(step, run.join("model.onnx"));
    let m = read_metadata(&step).unwrap();
    let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "epc.contract",
            "epc.loss",
            "epc.seed",
            "epc.dataset",
            "epc.architecture",
            "epc.epochs_trained",
            "epc.toolkit_version",
            "epc.config"
        ]
    );
    assert_eq!(meta(&step, "epc.contract"), "step-v1");
    assert_eq!(meta(&step, "epc.loss"), "l1-pre");
    assert_eq!(meta(&step, "epc.seed"), "11");
    assert_eq!(meta(&step, "epc.dataset"), "digits");
    assert_eq!(meta(&step, "epc.architecture"), "rnn");
    assert_eq!(meta(&step, "epc.epochs_trained"), "17");
    assert_eq!(
        meta(&step, "epc.toolkit_version"),
        epc_core::TOOLKIT_VERSION
    );
    let back: RunConfig = serde_json::from_str(&meta(&step, "epc.config")).unwrap();
    assert_eq!(back, cfg);

    let seq = export_run(&InstanceDir::new(run), None, true).unwrap();
    assert_eq!(seq, run.join("model.sequence.onnx"));
    assert_eq!(meta(&seq, "epc.contract"), "sequence-v1");

    // Without train_state.json the configured epoch count is recorded; --out is honoured.
    std::fs::remove_file(run.join("train_state.json")).unwrap();
    let out = run.join("elsewhere/custom.onnx");
    assert_eq!(
        export_run(&InstanceDir::new(run), Some(&out), false).unwrap(),
        out
    );
    assert_eq!(meta(&out, "epc.epochs_trained"), "40");
    assert_eq!(
        listing(run),
        [
            "config.json",
            "elsewhere",
            "model.onnx",
            "model.sequence.onnx",
            "weights.safetensors"
        ]
    );
}

#[test]
fn missing_weights_are_reported_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    make_run(run, 1);
    std::fs::remove_file(run.join("weights.safetensors")).unwrap();
    let e = export_run(&InstanceDir::new(run), None, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weights.safetensors") && e.contains("No such file"),
        "{e}"
    );
    assert_eq!(listing(run), ["config.json"]);
}

#[test]
fn weights_of_the_wrong_shape_are_reported_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    make_run(run, 1);
    write_weights_safetensors(&run.join("weights.safetensors"), &[0.5; 49], 7).unwrap();
    let e = export_run(&InstanceDir::new(run), None, true)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weights.safetensors") && e.contains("[7, 7]") && e.contains("[64, 64]"),
        "{e}"
    );
    assert_eq!(listing(run), ["config.json", "weights.safetensors"]);
}

#[test]
fn a_newer_config_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    make_run(run, 1);
    let text = std::fs::read_to_string(run.join("config.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["config_version"] = 99.into();
    std::fs::write(run.join("config.json"), v.to_string()).unwrap();
    let e = export_run(&InstanceDir::new(run), None, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("config.json") && e.contains("version 99"), "{e}");
    assert_eq!(listing(run), ["config.json", "weights.safetensors"]);
}

#[test]
fn a_bad_train_state_is_reported_by_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    make_run(run, 1);
    std::fs::write(run.join("train_state.json"), r#"{"epochs": 3}"#).unwrap();
    let e = export_run(&InstanceDir::new(run), None, false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("train_state.json") && e.contains("epochs_trained"),
        "{e}"
    );
    assert_eq!(
        listing(run),
        ["config.json", "train_state.json", "weights.safetensors"]
    );
}

#[test]
fn an_output_folder_that_cannot_be_created_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path();
    make_run(run, 1);
    std::fs::write(run.join("plain-file"), b"x").unwrap();
    let out = run.join("plain-file/sub/model.onnx");
    let e = export_run(&InstanceDir::new(run), Some(&out), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plain-file/sub/model.onnx") && e.contains("cannot create folder"),
        "{e}"
    );
    assert_eq!(
        listing(run),
        ["config.json", "plain-file", "weights.safetensors"]
    );
}
