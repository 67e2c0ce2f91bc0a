//! CIFAR-10 end to end on a small data set in the real binary format (the full set is not
//! available here): 3072 units, channel-major images, the 3-plane unit map.

mod common;
use common::*;
use std::path::Path;

/// Writes a CIFAR-10 batch file of `per_class` images per class with pseudo-random pixels.
fn write_batch(path: &Path, per_class: usize, salt: u32) {
    let mut bytes = Vec::new();
    let mut state = 0x9e37_79b9u32 ^ salt;
    for k in 0..10 * per_class {
        bytes.push((k % 10) as u8);
        for _ in 0..3072 {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            bytes.push((state >> 24) as u8);
        }
    }
    std::fs::write(path, bytes).unwrap();
}

/// `epc analyze` of `model` on the CIFAR-10 files in `data` into `report`; its summary.
fn analyze(model: &Path, data: &Path, report: &Path) -> serde_json::Value {
    run_ok(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        // 3,072 units: a smaller lesion null keeps the test about the data set, not its cost.
        "--null-sequences",
        "20",
        "--out",
        report.to_str().unwrap(),
    ]);
    read_json(&report.join("summary.json"))
}

#[test]
fn cifar10_trains_exports_and_analyses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    std::fs::create_dir_all(&data).unwrap();
    for b in 1..=5 {
        write_batch(&data.join(format!("data_batch_{b}.bin")), 10, b);
    }
    write_batch(&data.join("test_batch.bin"), 3, 99);
    let run_dir = tmp.path().join("run");
    run_ok(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        data.to_str().unwrap(),
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--plain",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    let cfg = read_json(&run_dir.join("seed-0/config.json"));
    assert_eq!(cfg["model"]["units"], 3072);
    assert_eq!(cfg["data"]["dataset"], "cifar10");

    let report = tmp.path().join("report");
    let summary = analyze(&run_dir, &data, &report);
    assert_eq!(summary["dataset"], "cifar10");
    let name = summary["models"][0]["name"].as_str().unwrap();
    assert_eq!(summary["models"][0]["n_units"], 3072);
    // Step 1's energy is the mean pixel of the test frames: bytes/255 of uniform noise, about 0.5.
    let pre1 = summary["energy"]["pre"][name][0].as_f64().unwrap();
    let input1 = summary["reference"]["input"][0].as_f64().unwrap();
    assert!(
        (pre1 - input1).abs() < 1e-6 && (pre1 - 0.5).abs() < 0.02,
        "{pre1} vs {input1}"
    );
    let types: u64 = summary["unit_types"][name]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(types, 3072);
    assert!(report.join("fig3a_unit_types.png").is_file());
}

/// Full-size files (10,000 images per batch, as the real data set has): training reads every
/// training batch and keeps the colour planes, and a dump and an analysis of the full test
/// batch run. Opt-in: it writes 184 MB and takes minutes (`.ci/run` runs it).
#[test]
#[ignore]
fn cifar10_full_size_files_train_dump_and_analyse() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("cifar");
    std::fs::create_dir_all(&data).unwrap();
    for b in 1..=5 {
        write_batch(&data.join(format!("data_batch_{b}.bin")), 1000, b);
    }
    write_batch(&data.join("test_batch.bin"), 1000, 99);
    for f in std::fs::read_dir(&data).unwrap() {
        let len = f.unwrap().metadata().unwrap().len();
        assert_eq!(len, 10_000 * 3073, "a real CIFAR-10 batch file's size");
    }
    let run_dir = tmp.path().join("run");
    run_ok(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        data.to_str().unwrap(),
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--plain",
        "--out",
        run_dir.to_str().unwrap(),
    ]);
    let history = std::fs::read_to_string(run_dir.join("seed-0/history.jsonl")).unwrap();
    let epoch: serde_json::Value = serde_json::from_str(history.lines().last().unwrap()).unwrap();
    assert_eq!(epoch["epoch"], 1);
    assert!(epoch["val_loss"].as_f64().unwrap().is_finite(), "{epoch}");
    assert_eq!(
        read_json(&run_dir.join("seed-0/config.json"))["model"]["units"],
        3072
    );

    let dump = tmp.path().join("test.h5");
    let model = run_dir.join("seed-0/model.onnx");
    let o = run_ok(&[
        "dump",
        "--model",
        model.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--arrays",
        "act",
        "--out",
        dump.to_str().unwrap(),
    ]);
    // One epoch of the full test batch: 1,000 sequences (every class has 1,000 images).
    let err = stderr(&o);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("1000 sequences x 10 steps x 3072 units"),
        "{out}{err}"
    );

    let summary = analyze(&model, &data, &tmp.path().join("report"));
    // The published per-class sets cover the whole test batch: 1,000 sequences each.
    assert_eq!(summary["sequences"]["class"][0], 1000);
    assert_eq!(summary["models"][0]["n_units"], 3072);
    let types: u64 = summary["unit_types"]["model"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(types, 3072);
}
