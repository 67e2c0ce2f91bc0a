//! The MNIST path end to end: on the committed subset (always) and on the full data set
//! against the published reference values (opt-in: `EPC_SHARED_DATA`, `--ignored`).

mod common;
use common::*;
use std::path::Path;

/// Trains `epochs` epochs of seed 0 on MNIST in `data` into `out` and analyses it into
/// `out/report`; returns the training history's last line and the summary.
fn train_and_analyze(
    data: &Path,
    out: &Path,
    epochs: &str,
) -> (serde_json::Value, serde_json::Value) {
    train_mnist(data, out, epochs);
    let report = out.join("report");
    let o = run(&[
        "analyze",
        "--model",
        out.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--no-figures",
        "--deterministic",
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let history = std::fs::read_to_string(out.join("seed-0/history.jsonl")).unwrap();
    let last = serde_json::from_str(history.lines().last().unwrap()).unwrap();
    (last, read_json(&report.join("summary.json")))
}

#[test]
fn the_committed_mnist_subset_trains_exports_and_is_analysed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = copy_folder(&testdata("mnist-small"), &tmp.path().join("data"));
    let (last, s) = train_and_analyze(&data, &tmp.path().join("run"), "2");
    assert_eq!(last["epoch"], 2);
    // 900 training images after the 10% validation split; the rarest class (8) has about 78,
    // so an epoch has 3 batches: the loss must have moved from the untrained network's.
    assert!(last["val_loss"].as_f64().unwrap() < 2.5, "{last}");
    assert_eq!(s["dataset"], "mnist");
    assert_eq!(s["models"][0]["n_units"], 784);
    // 200 test images give 10 sequences of distinct images: the test set reaches the
    // analyzer's 400 sequences by showing each class's images again, in the same order.
    let test = &s["sequence_sets"][0];
    assert_eq!(test["name"], "test");
    assert_eq!(test["sequences"], 400, "{test}");
    let pre = s["energy"]["pre"]["model"].as_array().unwrap();
    let input = s["reference"]["input"].as_array().unwrap();
    // At step 1 the state is zero, so the energy is the mean input.
    assert!((pre[0].as_f64().unwrap() - input[0].as_f64().unwrap()).abs() < 1e-6);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn full_mnist_matches_the_published_reference_values() {
    let tmp = tempfile::tempdir().unwrap();
    let data = copy_folder(&shared("mnist"), &tmp.path().join("data"));
    let (last, s) = train_and_analyze(&data, &tmp.path().join("run"), "1");
    // docs/SPEC.md, section 7: the published code's loss after epoch 1 is 1.573 (test split;
    // ours is the validation split, so allow 2%).
    let val = last["val_loss"].as_f64().unwrap();
    assert!((val - 1.573).abs() / 1.573 < 0.02, "validation loss {val}");
    let close = |got: &serde_json::Value, want: f64, tol: f64| {
        let g = got.as_f64().unwrap();
        assert!((g - want).abs() < tol, "{g} vs {want}");
    };
    // Step 1 = the mean pixel 0.133 (0.1325 over the test split); the reference curves 0.126
    // and 0.102. Step 1 averages the first frames of 892 sequences with random start
    // classes: the per-image mean pixel has sd 0.0437 on MNIST's test split, so the draw's
    // standard error is 0.0015, and the bound is three of them.
    close(&s["energy"]["pre"]["model"][0], 0.133, 0.0045);
    for (curve, want) in [("dataset_median", 0.126), ("category_median", 0.102)] {
        let v: Vec<f64> = (0..10)
            .map(|t| s["reference"][curve][t].as_f64().unwrap())
            .collect();
        let mean = v.iter().sum::<f64>() / 10.0;
        assert!(
            (mean - want).abs() < 0.002,
            "{curve}: mean {mean} vs {want}"
        );
        assert!(v.iter().all(|x| (x - want).abs() < 0.004), "{curve}: {v:?}");
    }
    assert_eq!(s["sequences"]["test"], 892);
}
