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
    let o = run(&[
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
    assert!(o.status.success(), "{}", stderr(&o));
    let cfg = read_json(&run_dir.join("seed-0/config.json"));
    assert_eq!(cfg["model"]["units"], 3072);
    assert_eq!(cfg["data"]["dataset"], "cifar10");

    let report = tmp.path().join("report");
    let o = run(&[
        "analyze",
        "--model",
        run_dir.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = read_json(&report.join("summary.json"));
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
