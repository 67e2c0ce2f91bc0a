//! The untrained network of a run: `epc train` keeps each instance's initial weights
//! (`initial.safetensors`) and exports them beside the trained model (`model.untrained.onnx`),
//! bit for bit the network `--epochs 0` gives for the same seed, untouched by `--resume` and by
//! stacked training; `epc export` writes it too, and runs without it still analyse.

mod common;

use common::*;
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use epc_core::run::{untrained_model_for, InstanceDir};
use epc_exporter::onnx::ModelFile;
use std::collections::BTreeMap;
use std::path::Path;

/// Every float32 initializer of the model at `path` (name, value bits), in file order.
fn initializer_bits(path: &Path) -> Vec<(String, Vec<u32>)> {
    let mut all = Vec::new();
    ModelFile::read(path)
        .unwrap()
        .rewrite_initializers(|name, t| {
            all.push((
                name.to_string(),
                t.data.iter().map(|v| v.to_bits()).collect(),
            ))
        })
        .unwrap();
    assert!(!all.is_empty(), "{}", path.display());
    all
}

fn metadata(path: &Path) -> BTreeMap<String, String> {
    ModelFile::read(path)
        .unwrap()
        .metadata()
        .into_iter()
        .collect()
}

fn instance(run: &Path, seed: u64) -> InstanceDir {
    InstanceDir::new(run.join(format!("seed-{seed}")))
}

#[test]
fn training_keeps_the_untrained_network_through_resume_and_stacking() {
    let tmp = tempfile::tempdir().unwrap();
    let trained = tmp.path().join("trained");
    let zero = tmp.path().join("zero");
    let stacked = tmp.path().join("stacked");
    train_digits(&trained, "0", "3");
    train_digits(&zero, "0", "0");
    train_digits(&stacked, "0,1", "3");

    let t = instance(&trained, 0);
    let z = instance(&zero, 0);
    assert!(t.initial_weights().is_file());
    let untrained = initializer_bits(&t.untrained_model());
    // The untrained network is the network of `--epochs 0`, bit for bit.
    assert_eq!(untrained, initializer_bits(&z.step_model()));
    assert_eq!(untrained, initializer_bits(&z.untrained_model()));
    // ... and not the trained one.
    let w_trained = initializer_bits(&t.step_model());
    assert_eq!(w_trained[0].0, "W");
    assert_ne!(untrained[0].1, w_trained[0].1);

    // Its metadata is the trained model's, with 0 epochs and the untrained flag.
    let (mut mu, mt) = (metadata(&t.untrained_model()), metadata(&t.step_model()));
    assert_eq!(mu.remove("epc.untrained").as_deref(), Some("true"));
    assert!(!mt.contains_key("epc.untrained"));
    assert_eq!(mu.remove("epc.epochs_trained").as_deref(), Some("0"));
    let mut mt_rest = mt.clone();
    assert_eq!(mt_rest.remove("epc.epochs_trained").as_deref(), Some("3"));
    assert_eq!(mu, mt_rest);
    run_ok(&["check-model", t.untrained_model().to_str().unwrap()]);
    assert_eq!(
        untrained_model_for(&t.step_model()),
        Some(t.untrained_model())
    );

    // Trained with another instance stacked beside it: the same initial weights; the other
    // seed has its own.
    assert_eq!(
        initializer_bits(&instance(&stacked, 0).untrained_model()),
        untrained
    );
    let other = initializer_bits(&instance(&stacked, 1).untrained_model());
    assert_ne!(other[0].1, untrained[0].1);

    // A resumed (extended) run keeps the initial weights as they were.
    let initial_bytes = std::fs::read(t.initial_weights()).unwrap();
    run_ok(&[
        "train",
        "--resume",
        trained.to_str().unwrap(),
        "--epochs",
        "5",
        "--plain",
    ]);
    assert_eq!(std::fs::read(t.initial_weights()).unwrap(), initial_bytes);
    assert_eq!(initializer_bits(&t.untrained_model()), untrained);
    assert_eq!(metadata(&t.step_model())["epc.epochs_trained"], "5");
    assert_ne!(initializer_bits(&t.step_model()), w_trained);
}

#[test]
fn export_writes_the_untrained_model_and_old_runs_still_analyse() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train_digits(&run, "0", "2");
    let inst = instance(&run, 0);
    let exported = initializer_bits(&inst.untrained_model());
    std::fs::remove_file(inst.untrained_model()).unwrap();

    let o = run_ok(&["export", run.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(
        lines,
        [
            inst.step_model().to_str().unwrap(),
            inst.untrained_model().to_str().unwrap()
        ],
        "{printed}"
    );
    assert_eq!(initializer_bits(&inst.untrained_model()), exported);

    // The step-v2 export has its untrained sibling too, with the same weights.
    let o = run_ok(&["export", run.to_str().unwrap(), "--contract", "step-v2"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("model.untrained.v2.onnx"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        untrained_model_for(&inst.step_v2_model()),
        Some(inst.untrained_step_v2_model())
    );
    assert_eq!(initializer_bits(&inst.untrained_step_v2_model()), exported);
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ..EngineOptions::default()
    };
    let v2 = StepModel::untrained(&inst.step_v2_model(), &opts)
        .unwrap()
        .unwrap();
    assert_eq!(v2.metadata()["epc.untrained"], "true");

    // A run folder from before the initial weights were kept: nothing untrained to export,
    // and the analysis runs as it did.
    for f in [
        inst.initial_weights(),
        inst.untrained_model(),
        inst.untrained_step_v2_model(),
    ] {
        std::fs::remove_file(f).unwrap();
    }
    let o = run_ok(&["export", run.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        inst.step_model().to_str().unwrap()
    );
    assert_eq!(untrained_model_for(&inst.step_model()), None);
    assert!(StepModel::untrained(&inst.step_model(), &opts)
        .unwrap()
        .is_none());
    let report = tmp.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        run.to_str().unwrap(),
        "--bootstrap",
        "100",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(report.join("summary.json").is_file());
}

#[test]
fn the_untrained_baseline_is_the_untrained_network_analysed_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train_digits(&run, "0", "3");
    let inst = instance(&run, 0);
    let analyse = |model: &Path, out: &str| -> serde_json::Value {
        let report = tmp.path().join(out);
        run_ok(&[
            "analyze",
            "--model",
            model.to_str().unwrap(),
            "--no-figures",
            "--null-draws",
            "5",
            "--out",
            report.to_str().unwrap(),
        ]);
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap()
    };
    let trained = analyse(&inst.step_model(), "trained");
    let alone = analyse(&inst.untrained_model(), "alone");
    let name = trained["models"][0]["name"].as_str().unwrap().to_string();
    let other = alone["models"][0]["name"].as_str().unwrap().to_string();
    let baseline = &trained["unit_baselines"][&name]["untrained"];
    assert!(baseline.is_object(), "{baseline}");
    assert_eq!(baseline, &alone["unit_baselines"][&other]["network"]);
    // The same images and rules: the input baseline does not depend on the network.
    assert_eq!(
        trained["unit_baselines"][&name]["input"],
        alone["unit_baselines"][&other]["input"]
    );
}

#[test]
fn other_architectures_keep_their_untrained_network() {
    let tmp = tempfile::tempdir().unwrap();
    let (trained, zero) = (tmp.path().join("t"), tmp.path().join("z"));
    for (out, epochs) in [(&trained, "2"), (&zero, "0")] {
        run_ok(&[
            "train",
            "--arch",
            "lstm-err",
            "--units",
            "12",
            "--epochs",
            epochs,
            "--seeds",
            "4",
            "--device",
            "cpu",
            "--plain",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    let t = instance(&trained, 4);
    let untrained = initializer_bits(&t.untrained_model());
    let names: Vec<&str> = untrained.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"W_pred"), "{names:?}");
    assert_eq!(
        untrained,
        initializer_bits(&instance(&zero, 4).step_model())
    );
    assert_ne!(untrained, initializer_bits(&t.step_model()));
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ..EngineOptions::default()
    };
    let m = StepModel::untrained(&t.step_model(), &opts)
        .unwrap()
        .unwrap();
    assert_eq!(m.metadata()["epc.contract"], "step-v2");
    assert_eq!(m.metadata()["epc.untrained"], "true");
    assert_eq!(m.metadata()["epc.architecture"], "lstm-err");
}
