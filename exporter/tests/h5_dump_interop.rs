//! HDF5 files shared with Python: h5py reads every attribute and dataset of a dump as the
//! schema says; version 1 dumps and sequence index files written by h5py are read here.

mod common;
mod dumps;

use common::run_python;
use dumps::{assert_sum, data, dataset_names, h5py_report, header, sum, write};
use epc_exporter::h5::{read_dump, Arrays, Compression, DumpAttributes, DUMP_FORMAT_V1};
use epc_exporter::index_file::read_index_file;
use serde_json::json;

#[test]
fn h5py_sees_every_attribute_shape_dtype_and_number_of_the_schema() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = data(header(10, 300, 20, 24, true), 3);
    write(&p, &d, &[128, 128, 44]).unwrap();
    let r = h5py_report(dir.path(), &p);

    let a = &d.header.attrs;
    let want_attrs = json!({
        "epc_format": "epc-dump-v2",
        "model_path": a.model_path,
        "model_sha256": a.model_sha256,
        "contract": "step-v1",
        "model_metadata_json": a.model_metadata_json,
        "dataset": "mnist",
        "split": "test",
        "sets_json": a.sets_json,
        "seed": u64::MAX - 5,
        "toolkit_version": "0.1.0",
        "created_utc": a.created_utc,
        "lesion": "prediction units (äöü, 予測)",
        "arrays": "input,preact,act",
        "compression": "gzip-1",
        "unit_pixel": [0, -1, 7],
        "unit_layer": [0, 1, 1],
        "unit_population": [0, 1, 2],
    });
    assert_eq!(r["attrs"], want_attrs);
    assert_eq!(
        r["attrs"]["seed"].as_u64(),
        Some(18_446_744_073_709_551_610)
    );
    // Strings come back as Python str (variable-length UTF-8), the seed as numpy uint64,
    // the per-unit layout as int32 arrays.
    for (k, t) in r["attr_types"].as_object().unwrap() {
        let want = match k.as_str() {
            "seed" => "uint64",
            "unit_pixel" | "unit_layer" | "unit_population" => "int32",
            _ => "str",
        };
        assert_eq!(t, want, "{k}");
    }
    // The sets are JSON that parses back.
    let sets: serde_json::Value =
        serde_json::from_str(r["attrs"]["sets_json"].as_str().unwrap()).unwrap();
    assert_eq!(sets[1]["name"], "rnd");

    assert_eq!(
        dataset_names(&r),
        [
            "act",
            "frames",
            "input",
            "labels",
            "lesion_mask",
            "preact",
            "sequence_set"
        ]
    );
    let ds = &r["datasets"];
    for (name, shape, dtype) in [
        ("input", json!([10, 300, 20]), "float32"),
        ("preact", json!([10, 300, 24]), "float32"),
        ("act", json!([10, 300, 24]), "float32"),
        ("labels", json!([300, 10]), "int32"),
        ("frames", json!([300, 10]), "int32"),
        ("sequence_set", json!([300]), "int32"),
        ("lesion_mask", json!([24]), "float32"),
    ] {
        assert_eq!(ds[name]["shape"], shape, "{name}");
        assert_eq!(ds[name]["dtype"], dtype, "{name}");
    }
    assert_sum(&r, "input", sum(d.input.iter().copied()));
    assert_sum(&r, "preact", sum(d.preact.iter().copied()));
    assert_sum(&r, "act", sum(d.act.iter().copied()));
    assert_sum(&r, "labels", sum(d.labels.iter().copied()));
    assert_sum(&r, "frames", sum(d.frames.iter().copied()));
    assert_sum(&r, "sequence_set", sum(d.set.iter().copied()));
    assert_sum(&r, "lesion_mask", 20.0); // 24 units, 4 of them (0, 7, 14, 21) lesioned
                                         // Real magnitudes, so the sums above compare something: labels average 4.5, sets 1.
    assert_eq!(ds["labels"]["sum"], 300.0 * 10.0 * 4.5);
    assert_eq!(ds["sequence_set"]["sum"], 300.0);
    assert!(ds["act"]["sum"].as_f64().unwrap() > 100.0);
    // Row-major [steps, sequences, width]: the last value is step 9, sequence 299, unit 23.
    // (JSON floats are parsed to within an f64 ulp, far below an f32 ulp.)
    let f32_of = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
    assert_eq!(f32_of(&ds["input"]["first"]), d.input[[0, 0, 0]]);
    assert_eq!(f32_of(&ds["act"]["last"]), d.act[[9, 299, 23]]);
    assert_eq!(f32_of(&ds["preact"]["first"]), d.preact[[0, 0, 0]]);
    assert_eq!(f32_of(&ds["preact"]["last"]), d.preact[[9, 299, 23]]);
    assert_eq!(ds["frames"]["last"], f64::from(d.frames[[299, 9]]));
    assert_eq!(ds["labels"]["last"], f64::from((299 + 9) % 10));
    assert_eq!(ds["act"]["chunks"], json!([1, 256, 24]));
    assert_eq!(ds["input"]["chunks"], json!([1, 256, 20]));
}

/// Writes version 1 dumps the way the earlier epc did: `input`, `preact`, `act`
/// `[steps, sequences, units]` float32, `labels` `[sequences, steps]` int32, the sequence
/// settings in `sequence_json`, no `frames` or `sequence_set`.
const WRITE_V1: &str = r#"
import sys, h5py, numpy as np
S, Q, U = 5, 7, 6
t, q, u = np.meshgrid(np.arange(S), np.arange(Q), np.arange(U), indexing="ij")
arrays = {
    "input": ((t * 100 + q * 10 + u) * 0.5).astype(np.float32),
    "preact": ((t + 2 * q - u) * 0.25).astype(np.float32),
}
arrays["act"] = np.maximum(arrays["preact"], 0)
labels = ((np.arange(Q)[:, None] + np.arange(S)[None, :]) % 10).astype(np.int32)
for path, variant in zip(sys.argv[1::2], sys.argv[2::2]):
    with h5py.File(path, "w") as f:
        for name, a in arrays.items():
            if variant == "no-preact" and name == "preact":
                continue
            f.create_dataset(name, data=a, compression="gzip", shuffle=True, chunks=(1, Q, U))
        f.create_dataset("labels", data=labels)
        if variant == "mask":
            f.create_dataset("lesion_mask", data=np.array([1, 0, 1, 1, 0, 1], np.float32))
        f.attrs["epc_format"] = "epc-dump-v1"
        f.attrs["model_path"] = "old/model.onnx"
        f.attrs["model_sha256"] = "cd" * 32
        f.attrs["contract"] = "sequence-v1"
        f.attrs["model_metadata_json"] = '{"epc.contract":"sequence-v1"}'
        f.attrs["dataset"] = "mnist"
        f.attrs["split"] = "test"
        f.attrs["sequence_json"] = '{"length":5,"order":"ascending"}'
        f.attrs["seed"] = np.uint64(2**64 - 2)
        f.attrs["toolkit_version"] = "0.0.9"
        f.attrs["created_utc"] = "2025-01-02T03:04:05Z"
        f.attrs["lesion"] = "none (Ω)"
"#;

#[test]
fn a_version_1_dump_written_by_h5py_is_read() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let [mask, plain, broken] =
        ["mask", "plain", "no-preact"].map(|v| dir.path().join(format!("{v}.h5")));
    run_python(
        dir.path(),
        WRITE_V1,
        &[
            mask.to_str().unwrap(),
            "mask",
            plain.to_str().unwrap(),
            "plain",
            broken.to_str().unwrap(),
            "no-preact",
        ],
    );
    let (s, q, u) = (5, 7, 6);
    let grid = |f: &dyn Fn(usize, usize, usize) -> f32| -> Vec<f32> {
        (0..s)
            .flat_map(|t| (0..q).flat_map(move |i| (0..u).map(move |j| (t, i, j))))
            .map(|(t, i, j)| f(t, i, j))
            .collect()
    };
    let input = grid(&|t, i, j| (t * 100 + i * 10 + j) as f32 * 0.5);
    let preact = grid(&|t, i, j| (t as f32 + 2.0 * i as f32 - j as f32) * 0.25);
    let act: Vec<f32> = preact.iter().map(|v| v.max(0.0)).collect();
    let labels: Vec<i32> = (0..q)
        .flat_map(|i| (0..s).map(move |t| ((i + t) % 10) as i32))
        .collect();

    let back = read_dump(&mask).unwrap();
    assert_eq!(back.format, DUMP_FORMAT_V1);
    let h = &back.header;
    assert_eq!((h.steps, h.sequences, h.n_in, h.units), (5, 7, 6, 6));
    assert_eq!(h.arrays, Arrays::ALL);
    assert_eq!(h.compression, Compression::Gzip(1));
    assert_eq!(h.lesion_mask, Some(vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0]));
    assert_eq!(
        h.attrs,
        DumpAttributes {
            model_path: "old/model.onnx".into(),
            model_sha256: "cd".repeat(32),
            contract: "sequence-v1".into(),
            model_metadata_json: r#"{"epc.contract":"sequence-v1"}"#.into(),
            dataset: "mnist".into(),
            split: "test".into(),
            sets_json: r#"{"length":5,"order":"ascending"}"#.into(),
            seed: u64::MAX - 1,
            toolkit_version: "0.0.9".into(),
            created_utc: "2025-01-02T03:04:05Z".into(),
            lesion: "none (Ω)".into(),
            ..DumpAttributes::default()
        }
    );
    assert_eq!(back.input, Some(input.clone()));
    assert_eq!(back.preact, Some(preact));
    assert_eq!(back.act, Some(act));
    assert_eq!(back.labels, labels);
    assert_eq!(back.frames, None);
    assert_eq!(back.sequence_set, None);
    // Spot check of the layout: input[4, 6, 5] = (400 + 60 + 5) / 2.
    assert_eq!(input[(4 * 7 + 6) * 6 + 5], 232.5);

    let back = read_dump(&plain).unwrap();
    assert_eq!(back.header.lesion_mask, None);
    assert_eq!(back.format, "epc-dump-v1");

    // Version 1 always had the three activation arrays.
    let e = read_dump(&broken).unwrap_err().to_string();
    assert!(
        e.contains("no-preact.h5") && e.contains("dataset preact is missing"),
        "{e}"
    );
}

const WRITE_INDEX_FILES: &str = r#"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/named.h5", "w") as f:
    f.create_dataset("sequences", data=np.arange(12, dtype=np.int64).reshape(3, 4) * 1000)
    f.create_dataset("notes", data=np.zeros((2, 2)))
with h5py.File(d + "/single.hdf5", "w") as f:
    f.create_dataset("my_indices", data=np.array([[9999, 0, 65535], [1, 2, 3]], np.uint16))
with h5py.File(d + "/two.h5", "w") as f:
    f.create_dataset("a", data=np.zeros((2, 3), np.int64))
    f.create_dataset("b", data=np.ones((2, 3), np.int64))
with h5py.File(d + "/negative.h5", "w") as f:
    f.create_dataset("sequences", data=np.array([[1, 2], [3, -1]], np.int32))
with h5py.File(d + "/flat.h5", "w") as f:
    f.create_dataset("sequences", data=np.arange(5, dtype=np.int64))
with h5py.File(d + "/empty.h5", "w") as f:
    f.create_dataset("sequences", data=np.zeros((0, 4), np.int64))
"#;

#[test]
fn index_files_written_by_h5py_are_read() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_python(d, WRITE_INDEX_FILES, &[d.to_str().unwrap()]);

    // `sequences` wins over other datasets.
    assert_eq!(
        read_index_file(&d.join("named.h5")).unwrap(),
        vec![
            vec![0, 1000, 2000, 3000],
            vec![4000, 5000, 6000, 7000],
            vec![8000, 9000, 10_000, 11_000]
        ]
    );
    // The only dataset, whatever its name and integer type; `.hdf5` works too.
    assert_eq!(
        read_index_file(&d.join("single.hdf5")).unwrap(),
        vec![vec![9999, 0, 65535], vec![1, 2, 3]]
    );
    let e = read_index_file(&d.join("two.h5")).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}: no dataset named sequences among [\"a\", \"b\"]",
            d.join("two.h5").display()
        )
    );
    let e = read_index_file(&d.join("negative.h5"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("negative.h5") && e.contains("row 2: index -1 is negative"),
        "{e}"
    );
    let e = read_index_file(&d.join("flat.h5")).unwrap_err().to_string();
    assert!(
        e.contains("flat.h5")
            && e.contains("dataset sequences has shape [5], expected [sequences, steps]"),
        "{e}"
    );
    let e = read_index_file(&d.join("empty.h5"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("empty.h5") && e.contains("no sequence in the file"),
        "{e}"
    );
    let e = read_index_file(&d.join("missing.h5"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.h5") && e.contains("no such file"),
        "{e}"
    );
    std::fs::write(d.join("text.h5"), "1,2,3\n").unwrap();
    let e = read_index_file(&d.join("text.h5")).unwrap_err().to_string();
    assert!(
        e.contains("text.h5") && e.contains("HDF5: cannot open file"),
        "{e}"
    );
}
