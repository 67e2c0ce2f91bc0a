//! Step contract v2 end to end: `epc check-model` on a model made to break each rule, the
//! same refusal from `epc analyze` and `epc dump`, the paper RNN exported both ways, and the
//! two PyTorch examples analysed per population and dumped with their layout.

mod common;

use common::*;
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    testdata("contract-v2").join(name)
}

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/pytorch")
        .join(name)
}

/// Each committed fixture and a phrase of the one line its violation gets (`None`: valid).
const VERDICTS: [(&str, Option<&str>); 23] = [
    ("valid.onnx", None),
    ("v1_valid.onnx", None),
    ("valid_fixed_batch.onnx", None),
    ("missing_state_input.onnx", Some("missing input `g`")),
    ("misnamed_output.onnx", Some("missing output `h_next`")),
    ("extra_input.onnx", Some("unexpected input `y`")),
    ("float64_state.onnx", Some("input `h` is a float64 tensor")),
    ("rank3_output.onnx", Some("output `preact` has rank 3")),
    (
        "act_width.onnx",
        Some("`act` has 5 columns but `preact` has 6"),
    ),
    (
        "state_roundtrip.onnx",
        Some("`g` has 2 columns but `g_next` has 3"),
    ),
    (
        "state_roundtrip_symbolic.onnx",
        Some("`g_next` has 3 columns but epc.states gives state g 2 entries"),
    ),
    (
        "no_populations.onnx",
        Some("metadata epc.populations is missing"),
    ),
    (
        "bad_json.onnx",
        Some("metadata epc.populations is not valid: EOF"),
    ),
    (
        "overlap.onnx",
        Some("populations \"a\" and \"b\" overlap (unit 3)"),
    ),
    (
        "out_of_range.onnx",
        Some("has units [4, 7) but preact has 6 units"),
    ),
    ("gap.onnx", Some("1 unit(s) belong to no population")),
    (
        "pixels_beyond.onnx",
        Some("pixels [2, 6) but frames have 4 values"),
    ),
    (
        "state_beyond.onnx",
        Some("owns g [1, 3) but state g has 2 entries"),
    ),
    (
        "states_meta_size.onnx",
        Some("`g` has 2 columns but epc.states gives state g 3 entries"),
    ),
    (
        "nan_probe.onnx",
        Some("output `preact` is not finite for a frame of 0"),
    ),
    ("unknown_field.onnx", Some("unknown field `colour`")),
    (
        "state_owned_twice.onnx",
        Some("populations \"a\" and \"b\" both own entries of h"),
    ),
    (
        "valid_symbolic.onnx",
        Some("input `x` declares an unknown last dimension"),
    ),
];

#[test]
fn check_model_gives_every_fixture_its_verdict() {
    let listed: usize = std::fs::read_dir(testdata("contract-v2"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension() == Some("onnx".as_ref()))
        .count();
    assert_eq!(listed, VERDICTS.len(), "a fixture without a verdict");
    for (name, needle) in VERDICTS {
        let path = fixture(name);
        let o = run(&["check-model", path.to_str().unwrap()]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let shown = path.display().to_string();
        assert!(
            !out.is_empty() && out.lines().all(|l| l.starts_with(&shown)),
            "{name}: {out}"
        );
        match needle {
            None => {
                assert!(o.status.success(), "{name}: {out}{}", stderr(&o));
                assert_eq!(out.lines().count(), 1, "{name}: {out}");
                assert!(out.contains(": ok: step-v"), "{name}: {out}");
            }
            Some(needle) => {
                assert_clean_failure(&o, "1 of 1 model(s) break the step contract");
                assert!(out.contains(needle), "{name}: {out:?} lacks {needle:?}");
            }
        }
    }
    // Several files at once: one verdict each, failure when any is invalid.
    let o = run(&[
        "check-model",
        fixture("valid.onnx").to_str().unwrap(),
        fixture("gap.onnx").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "1 of 2 model(s)");
    let o = run(&["check-model", "/no/such/model.onnx"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("/no/such/model.onnx"));
    assert_clean_failure(&o, "1 of 1 model(s)");
}

#[test]
fn analyze_and_dump_refuse_an_invalid_model_with_the_same_lines() {
    let dir = tempfile::tempdir().unwrap();
    let bad = fixture("overlap.onnx");
    let line = "populations \"a\" and \"b\" overlap (unit 3)";
    let report = dir.path().join("report");
    let o = run(&[
        "analyze",
        "--model",
        bad.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, line);
    assert!(!report.exists());
    let dump = dir.path().join("d.h5");
    let o = run(&[
        "dump",
        "--model",
        bad.to_str().unwrap(),
        "--out",
        dump.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, line);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The summary with the model's name, path, contract metadata and timing taken out.
fn comparable(path: &Path, name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace(&format!("\"{name}\""), "\"MODEL\"")
        .replace(&format!("\"{name}: "), "\"MODEL: ");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["elapsed_s"] = serde_json::Value::Null;
    let m = &mut v["models"][0];
    m["path"] = serde_json::Value::Null;
    m["metadata"] = serde_json::Value::Null;
    // The controls drawn with a seed keyed by the model file's digest (the shuffled weights,
    // the matched null's and the dose grid's random lesions) differ between the two files.
    let null = serde_json::Value::Null;
    let b = &mut v["unit_baselines"]["MODEL"];
    b["shuffled"] = null.clone();
    b["shuffled_seed"] = null.clone();
    v["lesion_controls"] = null.clone();
    for g in v["groups"].as_array_mut().unwrap() {
        for k in [
            "matched_lesion_effect",
            "lesion_z",
            "lesion_percentile",
            "dose_response",
        ] {
            g[k] = null.clone();
        }
        for rule in ["prediction", "error", "error_matched"] {
            g["unit_baselines"][rule]["shuffled"] = null.clone();
            g["unit_baselines"][rule]["excess_shuffled"] = null.clone();
        }
    }
    v
}

#[test]
fn the_paper_rnn_exported_both_ways_gives_the_same_summary() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("run");
    train_digits(&runs, "0", "20");
    let inst = runs.join("seed-0");
    run_ok(&["export", inst.to_str().unwrap(), "--contract", "step-v2"]);
    let v2 = inst.join("model.v2.onnx");
    let o = run(&["check-model", v2.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok: step-v2, n_in 64, 64 units"));
    let mut summaries = Vec::new();
    for (file, name) in [("model.onnx", "model"), ("model.v2.onnx", "model.v2")] {
        let out = dir.path().join(name);
        run_ok(&[
            "analyze",
            "--model",
            inst.join(file).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        summaries.push(comparable(&out.join("summary.json"), name));
    }
    // The random lesion's units are drawn with a seed keyed by the model file's digest, and
    // the two files differ; on the digits the draw takes every non-prediction unit anyway.
    let s = &summaries[0];
    let pred = s["prediction_units"]["MODEL"]["count"].as_u64().unwrap();
    assert_eq!(
        s["lesion"]["random_units"]["MODEL"]
            .as_array()
            .unwrap()
            .len() as u64,
        64 - pred
    );
    assert!(
        pred > 32,
        "{pred} prediction units: the random pool is not exhausted"
    );
    assert_eq!(summaries[0], summaries[1]);
    assert!(
        summaries[0]["populations"].is_null(),
        "one population: no breakdown"
    );
}

fn curve(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn the_pytorch_examples_are_analysed_per_population() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        example("two_layer.onnx").to_str().unwrap(),
        "--model",
        example("lstm_err.onnx").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = read_json(&out.join("summary.json"));
    let input = curve(&s["reference"]["input"]);
    for (model, pixel_pop, sizes) in [
        ("two_layer", "l1", [64usize, 32]),
        ("lstm_err", "error", [64, 32]),
    ] {
        let rep = &s["populations"][model];
        let pops = rep["populations"].as_array().unwrap();
        assert_eq!(pops.len(), 2, "{model}");
        // The headline energy is the pixel population's; at step 1 the state is zero, so its
        // units' preactivation is the frame: mean |a| equals the input reference exactly.
        let pix = pops.iter().find(|p| p["name"] == pixel_pop).unwrap();
        let headline = curve(&s["energy"]["pre"][model]);
        assert_eq!(headline, curve(&pix["energy"]["pre"]), "{model}");
        assert!(
            (headline[0] - input[0]).abs() < 1e-6,
            "{model}: {} vs {}",
            headline[0],
            input[0]
        );
        // All units: the unit-weighted mean of the populations.
        let all = curve(&rep["all_units"]["pre"]);
        for (t, &got) in all.iter().enumerate() {
            let weighted: f64 = pops
                .iter()
                .zip(sizes)
                .map(|(p, n)| curve(&p["energy"]["pre"])[t] * n as f64)
                .sum::<f64>()
                / 96.0;
            assert!((got - weighted).abs() < 1e-9, "{model} step {t}");
        }
        // One population per layer here: each layer's summary is its population's.
        let layers = rep["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        for (l, p) in layers.iter().zip(pops) {
            assert_eq!(l["energy"], p["energy"], "{model}");
            assert_eq!(l["prediction_units"], p["prediction_units"], "{model}");
        }
        // Unit counts add up: per population to the model's, types to each population's size.
        let count = |k: &str| s[k][model]["count"].as_u64().unwrap();
        let per_pop = |k: &str| pops.iter().map(|p| p[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(per_pop("prediction_units"), count("prediction_units"));
        assert_eq!(per_pop("error_units"), count("error_units"));
        for (p, n) in pops.iter().zip(sizes) {
            let types: u64 = p["unit_types"]
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .sum();
            assert_eq!(types as usize, n, "{model}");
        }
        // The energy falls over the sequence in the pixel population (trained networks).
        assert!(headline[9] < 0.8 * headline[0], "{model}: {headline:?}");
    }
    // The two-layer network: transmission gives st; both layers lesionable, lesioned within.
    let two = &s["populations"]["two_layer"];
    assert!(s["energy"]["st"]["two_layer"].is_array());
    let lesions = two["layer_lesions"].as_array().unwrap();
    assert_eq!(lesions.len(), 2);
    let l1 = two["populations"][0]["prediction_units"].as_u64().unwrap();
    assert_eq!(
        lesions[0]["prediction_units"].as_array().unwrap().len() as u64,
        l1
    );
    // The LSTM model: no transmission, no W: no st; its error units own no state, so only the
    // LSTM's prediction units are lesioned, and the report says so.
    assert!(s["energy"]["st"]["lstm_err"].is_null());
    let lstm_pred = s["populations"]["lstm_err"]["populations"][1]["prediction_units"]
        .as_u64()
        .unwrap();
    assert_eq!(s["lesion"]["size"]["lstm_err"].as_u64().unwrap(), lstm_pred);
    let notes = s["notes"].to_string();
    assert!(
        notes.contains("own no state and cannot be lesioned"),
        "{notes}"
    );
    for f in [
        "populations.csv",
        "population_energy.csv",
        "fig3a_unit_types.png",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Populations") && md.contains("| l2 | 1 | 64..96 |"),
        "{md}"
    );
}

#[test]
fn a_v2_dump_carries_the_layout_and_the_drives() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.h5");
    run_ok(&[
        "dump",
        "--model",
        example("two_layer.onnx").to_str().unwrap(),
        "--arrays",
        "preact,act,drive_in,drive_rec,transmission",
        "--lesion",
        "prediction",
        "--out",
        out.to_str().unwrap(),
    ]);
    let script = r#"
import json, sys
import h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    layout = json.loads(f.attrs["layout_json"])
    print(json.dumps({
        "states": [s["name"] for s in layout["states"]],
        "populations": [p["name"] for p in layout["populations"]],
        "pixel": [int(v) for v in f.attrs["unit_pixel"]],
        "layer": [int(v) for v in f.attrs["unit_layer"]],
        "population": [int(v) for v in f.attrs["unit_population"]],
        "mask": int(f["lesion_mask"].shape[0]),
        "masked": int((f["lesion_mask"][()] == 0).sum()),
        "drives": float(np.abs(f["drive_in"][()] + f["drive_rec"][()] - f["preact"][()]).max()),
        "shape": list(f["transmission"].shape),
        "contract": f.attrs["contract"],
    }))
"#;
    std::fs::write(dir.path().join("read.py"), script).unwrap();
    let o = std::process::Command::new(python())
        .arg(dir.path().join("read.py"))
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["states"], serde_json::json!(["h1", "h2"]));
    assert_eq!(r["populations"], serde_json::json!(["l1", "l2"]));
    let pixel = r["pixel"].as_array().unwrap();
    assert_eq!(pixel.len(), 96);
    assert_eq!((pixel[5].as_i64(), pixel[70].as_i64()), (Some(5), Some(-1)));
    assert_eq!(r["layer"][70], 1);
    assert_eq!(r["population"][63], 0);
    // The mask covers both state tensors (64 + 32 entries); the drives add up to preact.
    assert_eq!(r["mask"], 96);
    assert!(r["masked"].as_u64().unwrap() > 0);
    assert!(r["drives"].as_f64().unwrap() < 1e-5, "{r}");
    assert_eq!(r["shape"], serde_json::json!([10, 400, 96]));
    assert_eq!(r["contract"], "step-v2");
    // An output the model does not have is refused, naming it.
    let o = run(&[
        "dump",
        "--model",
        example("lstm_err.onnx").to_str().unwrap(),
        "--arrays",
        "drive_rec",
        "--out",
        dir.path().join("x.h5").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "no output `drive_rec`");
    assert!(!dir.path().join("x.h5").exists());
}
