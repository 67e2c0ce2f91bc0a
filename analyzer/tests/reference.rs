//! Every statistic of the analysis of a committed trained model (testdata/models/
//! digits-l1pre.onnx) against an independent numpy computation of the published definitions
//! (tests/reference/analysis_reference.py), on the same sequence sets.

mod common;

use common::python;
use epc_analyzer::sequences::{
    class_set, distractor_set, shuffled_set, test_set, unexpected_set, DISTRACTOR_AT,
};
use epc_analyzer::{analyze_data, AnalysisOptions, EngineOptions, ExecutionProvider, Summary};
use epc_core::data::{digits, Dataset, DatasetKind};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn close(got: &[f64], want: &Value, tol: f64, what: &str) {
    let want: Vec<f64> = want
        .as_array()
        .unwrap_or_else(|| panic!("{what}: {want}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(got.len(), want.len(), "{what}");
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{t}]: {g} vs {w}");
    }
}

fn indices(spec: &epc_analyzer::sequences::SeqSpec) -> Value {
    json!(spec
        .seqs
        .iter()
        .map(|s| s.frames.clone())
        .collect::<Vec<_>>())
}

#[test]
fn every_statistic_matches_an_independent_numpy_computation() {
    let tmp = tempfile::tempdir().unwrap();
    let model = repo().join("testdata/models/digits-l1pre.onnx");
    let (train, test) = digits::embedded();
    let data = Dataset {
        kind: DatasetKind::Digits,
        train,
        test,
    };
    let seed = 5;
    let mut opts = AnalysisOptions::new(vec![model.clone()], None, tmp.path().join("report"));
    opts.seed = seed;
    opts.figures = false;
    opts.target = 3;
    opts.engine = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        deterministic: true,
        ..EngineOptions::default()
    };
    let s: Summary = analyze_data(&opts, &data).unwrap();
    let name = &s.models[0].name;

    // The sets the analysis drew, for the reference to recompute on (the model was trained on
    // the ascending stream).
    let asc = epc_analyzer::sequences::Stream::default();
    let sets = json!({
        "test": indices(&test_set(&data.test, seed, &asc).unwrap()),
        "class": (0..10).map(|c| indices(&class_set(&data.test, c, seed, &asc).unwrap())).collect::<Vec<_>>(),
        "shuffled": (0..10).map(|c| indices(&shuffled_set(&data.test, c, seed, &asc).unwrap())).collect::<Vec<_>>(),
        "distractor": (0..10).map(|c| indices(&distractor_set(&data.test, c, seed, &asc).unwrap())).collect::<Vec<_>>(),
        "unexpected": (0..10).map(|c| {
            let cycle = asc.cycle();
            let shown = shuffled_set(&data.test, cycle.start_for(c, DISTRACTOR_AT), seed, &asc).unwrap();
            indices(&unexpected_set(&data.test, &shown, c, seed, &asc).unwrap())
        }).collect::<Vec<_>>(),
        "random_units": s.lesion.random_units[name],
        "null_sequences": 100,
        "target": 3,
    });
    // The shuffled-weights baseline's model, permuted with the seed the summary records.
    let b = &s.unit_baselines[name];
    let shuffled_model = tmp.path().join("shuffled.onnx");
    let (bytes, n) = epc_exporter::onnx::ModelFile::read(&model)
        .unwrap()
        .shuffled_bytes(b.shuffled_seed.expect("a shuffled baseline by default"))
        .unwrap();
    assert_eq!(n, 1, "the paper's model has one initializer, W");
    std::fs::write(&shuffled_model, bytes).unwrap();
    let mut sets = sets;
    sets["shuffled_model"] = json!(shuffled_model);
    let sets_path = tmp.path().join("sets.json");
    std::fs::write(&sets_path, sets.to_string()).unwrap();
    let out_path = tmp.path().join("reference.json");
    let script = repo().join("analyzer/tests/reference/analysis_reference.py");
    let o = std::process::Command::new(python())
        .arg(&script)
        .arg(&model)
        .arg(repo().join("core/assets/digits.csv.gz"))
        .arg(&sets_path)
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();

    // A trained network: it has prediction and error units to compare.
    let pu = &s.prediction_units[name];
    let eu = &s.error_units[name];
    assert!(pu.count >= 5 && eu.count >= 5, "{} {}", pu.count, eu.count);
    assert_eq!(json!(pu.indices), r["prediction_units"]);
    assert_eq!(json!(pu.per_class), r["prediction_per_class"]);
    assert_eq!(json!(eu.indices), r["error_units"]);
    assert_eq!(json!(eu.per_class), r["error_per_class"]);
    assert_eq!(json!(s.unit_types[name]), r["unit_types"]);
    assert_eq!(json!(s.lesion.class_units[name]), r["class_units"]);

    for m in ["pre", "ap", "st", "ec"] {
        close(&s.energy[m][name], &r["energy"][m], 1e-6, m);
        close(
            &s.lesion.prediction[m][name],
            &r["lesion_prediction"][m],
            1e-6,
            m,
        );
        close(&s.lesion.random[m][name], &r["lesion_random"][m], 1e-6, m);
        close(
            &s.lesion.connection[m][name],
            &r["lesion_connection"][m],
            1e-5,
            m,
        );
    }
    close(&s.reference.input, &r["reference"]["input"], 1e-9, "input");
    close(
        &s.reference.dataset_median,
        &r["reference"]["dataset_median"],
        1e-9,
        "dataset median",
    );
    close(
        &s.reference.category_median,
        &r["reference"]["category_median"],
        1e-9,
        "category median",
    );
    // On the deterministic ascending stream the bound is the class oracle from step 2 on,
    // and the static prior at step 1 (nothing is known yet).
    let bound = s.reference.bound.as_ref().expect("a bound");
    assert_eq!(bound[0], s.reference.dataset_median[0]);
    close(
        &bound[1..],
        &json!(s.reference.category_median[1..]),
        1e-12,
        "bound",
    );
    let share = &s.share_of_attainable[name];
    assert_eq!(share[0], None);
    let last = share[9].expect("defined at step 10");
    let (st, bd, pre) = (
        s.reference.dataset_median[9],
        bound[9],
        s.energy["pre"][name][9],
    );
    assert!((last - (st - pre) / (st - bd)).abs() < 1e-12);
    let iv = &s.input_variance[name];
    for (k, v) in [
        ("prediction", iv.prediction),
        ("error", iv.error),
        ("hybrid_prediction", iv.hybrid_prediction),
        ("hybrid_error", iv.hybrid_error),
        ("unspecified", iv.unspecified),
    ] {
        match (v, r["input_variance"][k].as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{k}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{k}"),
        }
    }
    let d = &s.drive[name].intact;
    close(&d.input, &r["drive"]["input"], 1e-6, "drive input");
    close(&d.internal, &r["drive"]["internal"], 1e-6, "drive internal");
    close(&d.total, &r["drive"]["total"], 1e-6, "drive total");
    for cond in ["intact", "prediction", "class"] {
        close(
            &s.internal_drive[name][cond],
            &r["internal_drive"][cond],
            1e-6,
            cond,
        );
    }
    // The stimulus-matched error test, the input baseline (the rules on the frames), the
    // prediction lesion of the null and the top-k doses, recomputed independently.
    assert_eq!(
        json!(s.error_units_matched[name].indices),
        r["error_matched_units"]
    );
    let input = b.input.expect("the digits model is pixel-mapped");
    let shuffled = b.shuffled.expect("a shuffled baseline");
    assert_eq!(
        json!([shuffled.prediction, shuffled.error, shuffled.error_matched]),
        r["shuffled_baseline"]
    );
    assert_eq!(
        json!([input.prediction, input.error, input.error_matched]),
        r["input_baseline"]
    );
    // The same images in both groups of the matched test: the input alone flags nothing,
    // while the published test flags most pixels (it compares different images).
    assert_eq!(input.error_matched, 0);
    assert!(input.error > 32, "{input:?}");
    let controls = &s.lesion_controls[name];
    let null = controls.null.as_ref().expect("a null");
    assert!(
        (null.prediction_effect - r["null_prediction_effect"].as_f64().unwrap()).abs() < 1e-6,
        "{} vs {}",
        null.prediction_effect,
        r["null_prediction_effect"]
    );
    assert_eq!(null.null_effects.len(), 100);
    let tops: Vec<f64> = controls.dose.iter().map(|d| d.top_effect).collect();
    close(&tops, &r["dose_top_effects"], 1e-6, "dose top-k");
    let p = &s.postsynaptic[name];
    assert_eq!(
        p.prediction_units as u64,
        r["postsynaptic"]["prediction_units"].as_u64().unwrap()
    );
    assert_eq!(
        p.error_units as u64,
        r["postsynaptic"]["error_units"].as_u64().unwrap()
    );
    for (k, v) in [("prediction", &p.prediction), ("error", &p.error)] {
        match v {
            Some(c) => close(c, &r["postsynaptic"][k], 1e-6, k),
            None => assert!(r["postsynaptic"][k].is_null(), "{k}"),
        }
    }
}
