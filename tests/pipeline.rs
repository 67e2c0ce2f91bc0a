//! The whole pipeline on the embedded digits: train -> export -> ONNX Runtime -> dump -> analyze,
//! with the exported model checked against the tch forward pass it came from.

mod common;
use common::*;
use epc_analyzer::{EngineOptions, StepModel};
use epc_core::config::RunConfig;
use epc_core::sequence::{Batch, SequenceSampler};
use ndarray::Array3;
use tch::Tensor;

#[test]
fn exported_model_matches_the_tch_forward_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    train_digits(&run_dir, "0", "40");
    let inst = run_dir.join("seed-0");
    let cfg = RunConfig::from_json_file(&inst.join("config.json")).unwrap();
    let w = epc_exporter::read_weights_safetensors(&inst.join("weights.safetensors"), 64).unwrap();
    let splits = epc_trainer::train::load_splits(&cfg).unwrap();
    let seqs = SequenceSampler::new(&splits.test, cfg.sequence.clone(), 9)
        .unwrap()
        .epoch(0);
    let b = Batch::from_sequences(&splits.test, &seqs);

    let wt = Tensor::from_slice(&w).view([1, 64, 64]);
    let xt = Tensor::from_slice(&b.x).view([b.steps as i64, b.batch as i64, 64]);
    let pre_tch = tch::no_grad(|| epc_trainer::model::forward(&wt, &xt, None));

    let mut model = StepModel::load(&inst.join("model.onnx"), &EngineOptions::default()).unwrap();
    let x = Array3::from_shape_vec((b.steps, b.batch, 64), b.x.clone()).unwrap();
    let acts = model.run(x.view(), None).unwrap();
    let mut worst = 0f32;
    for (t, p) in pre_tch.iter().enumerate() {
        let v: Vec<f32> = Vec::try_from(&p.view([-1])).unwrap();
        for (k, want) in v.iter().enumerate() {
            let got = acts.preact[[t, k / 64, k % 64]];
            worst = worst.max((got - want).abs());
            assert!((acts.act[[t, k / 64, k % 64]] - want.max(0.0)).abs() < 1e-6);
        }
    }
    assert!(worst < 1e-5, "ONNX Runtime and tch differ by {worst}");
    assert_eq!(
        model.recurrent_weights().unwrap().as_slice().unwrap(),
        &w[..]
    );
    let meta = model.metadata();
    assert_eq!(meta["epc.contract"], "step-v1");
    assert_eq!(meta["epc.loss"], "l1-pre");
    assert_eq!(meta["epc.seed"], "0");
    assert_eq!(meta["epc.dataset"], "digits");

    // The whole-sequence (Scan) export gives the same numbers through Python onnxruntime.
    run_ok(&["export", inst.to_str().unwrap(), "--sequence"]);
    let xs = tmp.path().join("x.f32");
    let bytes: Vec<u8> = b.x.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&xs, bytes).unwrap();
    let script = format!(
        "import numpy as np, onnxruntime as ort\nx=np.fromfile('{}',dtype='<f4').reshape({},{},64)\ns=ort.InferenceSession('{}')\np,a=s.run(['preact','act'],{{'x':x}})\nprint(repr(float(p.sum())), repr(float(a.sum())))",
        xs.display(),
        b.steps,
        b.batch,
        inst.join("model.sequence.onnx").display()
    );
    let out = std::process::Command::new(python())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let sums: Vec<f64> = text
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let want_p: f64 = acts.preact.iter().map(|&v| v as f64).sum();
    let want_a: f64 = acts.act.iter().map(|&v| v as f64).sum();
    assert!(
        (sums[0] - want_p).abs() < 1e-3 * want_p.abs().max(1.0),
        "{sums:?} vs {want_p}"
    );
    assert!(
        (sums[1] - want_a).abs() < 1e-3 * want_a.abs().max(1.0),
        "{sums:?} vs {want_a}"
    );
}

#[test]
fn dump_and_analyze_agree_with_each_other_and_with_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    train_digits(&run_dir, "0,1", "60");
    let model = run_dir.join("seed-0/model.onnx");
    let report = tmp.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        run_dir.to_str().unwrap(),
        "--bootstrap",
        "500",
        "--out",
        report.to_str().unwrap(),
    ]);
    let summary = read_json(&report.join("summary.json"));
    assert_eq!(summary["models"].as_array().unwrap().len(), 2);
    assert_eq!(summary["steps"], 10);

    let intact = tmp.path().join("intact.h5");
    run_ok(&[
        "dump",
        "--model",
        model.to_str().unwrap(),
        "--out",
        intact.to_str().unwrap(),
    ]);
    let d = epc_exporter::h5::read_dump(&intact).unwrap();
    let h = &d.header;
    assert_eq!((h.steps, h.units, h.n_in), (10, 64, 64));
    assert!(h.lesion_mask.is_none());
    assert!(
        !h.positions && d.positions.is_none(),
        "a static stream has no positions"
    );
    assert_eq!(d.format, "epc-dump-v2");
    let (preact, act, input) = (
        d.preact.as_ref().unwrap(),
        d.act.as_ref().unwrap(),
        d.input.as_ref().unwrap(),
    );
    // a_1 = x_1 (h_0 = 0) and act = relu(preact).
    let per_step = h.sequences * h.units;
    assert!(preact[..per_step]
        .iter()
        .zip(&input[..per_step])
        .all(|(a, x)| (a - x).abs() < 1e-7));
    assert!(preact
        .iter()
        .zip(act)
        .all(|(a, h)| (a.max(0.0) - h).abs() < 1e-7));
    // The recorded set is the analysis's test set.
    assert_eq!(
        h.sequences,
        summary["sequences"]["test"].as_u64().unwrap() as usize
    );
    let sets: serde_json::Value = serde_json::from_str(&h.attrs.sets_json).unwrap();
    assert_eq!(sets[0]["name"], "test");
    assert!(d.sequence_set.as_ref().unwrap().iter().all(|&s| s == 0));
    // The dump's energy curve is the summary's `pre` curve for this model (same sequences).
    let name = summary["models"][0]["name"].as_str().unwrap().to_string();
    let curve = summary["energy"]["pre"][&name].as_array().unwrap();
    assert_eq!(curve.len(), 10);
    for (t, reported) in curve.iter().enumerate() {
        let mean = preact[t * per_step..(t + 1) * per_step]
            .iter()
            .map(|v| v.abs() as f64)
            .sum::<f64>()
            / per_step as f64;
        let reported = reported.as_f64().unwrap();
        assert!(
            (mean - reported).abs() < 1e-5,
            "step {t}: dump {mean} vs summary {reported}"
        );
    }

    let lesioned = tmp.path().join("lesioned.h5");
    run_ok(&[
        "dump",
        "--model",
        model.to_str().unwrap(),
        "--lesion",
        "prediction",
        "--out",
        lesioned.to_str().unwrap(),
    ]);
    let l = epc_exporter::h5::read_dump(&lesioned).unwrap();
    let mask = l.header.lesion_mask.clone().unwrap();
    let zeroed: Vec<usize> = (0..64).filter(|&i| mask[i] == 0.0).collect();
    let pred: Vec<usize> = summary["prediction_units"][&name]["indices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(
        zeroed, pred,
        "the prediction lesion zeroes exactly the summary's prediction units"
    );
    let lesion_curve = summary["lesion"]["prediction"]["pre"][&name]
        .as_array()
        .unwrap();
    let m = l.preact.as_ref().unwrap()[9 * per_step..]
        .iter()
        .map(|v| v.abs() as f64)
        .sum::<f64>()
        / per_step as f64;
    assert!((m - lesion_curve[9].as_f64().unwrap()).abs() < 1e-5);
    let a = std::fs::read(&intact).unwrap();
    assert!(a.len() > 1000);
}

#[test]
fn analyze_rejects_a_file_that_is_not_onnx() {
    let tmp = tempfile::tempdir().unwrap();
    let bogus = tmp.path().join("bogus.onnx");
    std::fs::write(&bogus, "this is not a model").unwrap();
    let out = tmp.path().join("report");
    let o = run(&[
        "analyze",
        "--model",
        bogus.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "bogus.onnx");
    assert!(!out.exists(), "a failed analysis leaves no output folder");
}

#[test]
fn analyze_rejects_a_data_set_of_the_wrong_image_size() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    train_digits(&run_dir, "0", "1");
    let mnist = testdata("mnist-small");
    let out = tmp.path().join("report");
    let o = run(&[
        "analyze",
        "--model",
        run_dir.join("seed-0/model.onnx").to_str().unwrap(),
        "--dataset",
        "mnist",
        "--data-dir",
        mnist.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "784");
    assert!(!out.exists());
}

#[test]
fn analyze_never_replaces_a_folder_that_is_not_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    train_digits(&run_dir, "0", "1");
    let model = run_dir.join("seed-0/model.onnx");
    let o = run(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "neither empty nor an earlier epc output");
    assert!(model.is_file() && run_dir.join("seed-0/config.json").is_file());
    // An earlier report is replaced whole.
    let report = tmp.path().join("report");
    for _ in 0..2 {
        run_ok(&[
            "analyze",
            "--model",
            model.to_str().unwrap(),
            "--no-figures",
            "--out",
            report.to_str().unwrap(),
        ]);
    }
    assert!(report.join("summary.json").is_file());
    assert!(!report.join("fig2a_energy.png").exists());
}

#[test]
fn models_of_several_losses_are_compared_as_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let mut models = Vec::new();
    for loss in ["l1-pre", "l1-post"] {
        let run_dir = tmp.path().join(loss);
        run_ok(&[
            "train",
            "--epochs",
            "20",
            "--seeds",
            "0,1",
            "--loss",
            loss,
            "--device",
            "cpu",
            "--plain",
            "--out",
            run_dir.to_str().unwrap(),
        ]);
        models.push(run_dir);
    }
    let out = tmp.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        models[0].to_str().unwrap(),
        "--model",
        models[1].to_str().unwrap(),
        "--no-figures",
        "--bootstrap",
        "500",
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["group_by"], serde_json::json!(["loss"]));
    let groups = s["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for (g, loss) in groups.iter().zip(["l1-pre", "l1-post"]) {
        assert_eq!(g["name"], format!("loss={loss}"));
        let members: Vec<&str> = g["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap())
            .collect();
        assert_eq!(members.len(), 2);
        // The group's curve is the mean of its members' curves.
        for t in 0..10 {
            let mean = members
                .iter()
                .map(|m| s["energy"]["pre"][*m][t].as_f64().unwrap())
                .sum::<f64>()
                / 2.0;
            let got = g["energy"]["pre"]["mean"][t].as_f64().unwrap();
            assert!(
                (got - mean).abs() < 1e-12,
                "{loss} step {t}: {got} vs {mean}"
            );
        }
        // Saving relative to the input at the last step, per the definition.
        let input = s["reference"]["input"][9].as_f64().unwrap();
        let saving = members
            .iter()
            .map(|m| 1.0 - s["energy"]["pre"][*m][9].as_f64().unwrap() / input)
            .sum::<f64>()
            / 2.0;
        assert!((g["saving_vs_input"]["mean"].as_f64().unwrap() - saving).abs() < 1e-12);
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("| loss=l1-pre | 2 |") && md.contains("| loss=l1-post | 2 |"),
        "{md}"
    );
    let csv = std::fs::read_to_string(out.join("groups.csv")).unwrap();
    assert!(
        csv.lines()
            .any(|l| l.starts_with("loss=l1-post,2,saving_vs_input,")),
        "{csv}"
    );
}
