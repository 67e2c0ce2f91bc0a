//! HDF5 activation dumps: round trip, h5py interop, full-MNIST size, bad input.

mod common;

use common::{listing, run_python, Rng};
use epc_exporter::h5::{read_dump, write_dump, ActivationDump, DumpAttributes};
use std::time::Instant;

fn attrs() -> DumpAttributes {
    DumpAttributes {
        model_path: "runs/a/seed-3/model.onnx".into(),
        model_sha256: "ab".repeat(32),
        contract: "step-v1".into(),
        model_metadata_json: r#"{"epc.contract":"step-v1","epc.seed":"3"}"#.into(),
        dataset: "mnist".into(),
        split: "test".into(),
        sequence_json: r#"{"length":10,"order":"ascending"}"#.into(),
        seed: u64::MAX - 5,
        toolkit_version: "0.1.0".into(),
        created_utc: epc_exporter::utc_now(),
        lesion: "prediction units (äöü)".into(),
    }
}

/// A dump with MNIST-like inputs (mostly zeros), signed preactivations and relu activity.
fn dump(steps: usize, sequences: usize, n_in: usize, units: usize, seed: u64) -> ActivationDump {
    let mut rng = Rng::new(seed);
    let input: Vec<f32> = (0..steps * sequences * n_in)
        .map(|_| {
            let u = rng.uniform();
            if u < 0.8 {
                0.0
            } else {
                (u - 0.8) * 5.0
            }
        })
        .collect();
    let preact = rng.vec(steps * sequences * units, -1.0, 1.0);
    let act = preact.iter().map(|v| v.max(0.0)).collect();
    let labels = (0..sequences * steps)
        .map(|i| ((i / steps + i % steps) % 10) as i32)
        .collect();
    ActivationDump {
        steps,
        sequences,
        n_in,
        units,
        input,
        preact,
        act,
        labels,
        lesion_mask: Some(
            (0..units)
                .map(|i| if i % 7 == 0 { 0.0 } else { 1.0 })
                .collect(),
        ),
        attrs: attrs(),
    }
}

#[test]
fn write_then_read_gives_back_the_same_dump() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("sub/dir/dump.h5");
    let d = dump(10, 300, 12, 16, 1);
    write_dump(&p, &d).unwrap();
    assert_eq!(read_dump(&p).unwrap(), d);
    assert_eq!(listing(&dir.path().join("sub/dir")), vec!["dump.h5"]);

    // Without a lesion mask, with n_in != units and a single sequence; overwrite in place.
    let mut d = dump(3, 1, 5, 4, 2);
    d.lesion_mask = None;
    write_dump(&p, &d).unwrap();
    let back = read_dump(&p).unwrap();
    assert_eq!(back.lesion_mask, None);
    assert_eq!(back, d);

    // An empty dump (no sequences) is stored unchunked and still round-trips.
    let d = ActivationDump {
        steps: 10,
        n_in: 4,
        units: 4,
        attrs: attrs(),
        ..Default::default()
    };
    write_dump(&p, &d).unwrap();
    assert_eq!(read_dump(&p).unwrap(), d);
}

const H5PY: &str = r#"
import json, sys
import h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
out = {"attrs": {}, "datasets": {}}
for k, v in f.attrs.items():
    out["attrs"][k] = v.decode() if isinstance(v, bytes) else (v if isinstance(v, str) else int(v))
for name, ds in f.items():
    a = ds[()]
    out["datasets"][name] = {
        "shape": list(a.shape), "dtype": str(a.dtype),
        "sum": float(a.astype(np.float64).sum()),
        "first": float(a.flat[0]), "last": float(a.flat[-1]),
        "mid": float(a[tuple(s // 2 for s in a.shape)]),
        "compression": ds.compression, "shuffle": bool(ds.shuffle),
        "chunks": list(ds.chunks) if ds.chunks else None,
    }
print(json.dumps(out))
"#;

#[test]
fn h5py_sees_the_same_numbers_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = dump(10, 300, 20, 20, 3);
    write_dump(&p, &d).unwrap();
    let out = run_python(dir.path(), H5PY, &[p.to_str().unwrap()]);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();

    let a = &r["attrs"];
    assert_eq!(a["epc_format"], "epc-dump-v1");
    assert_eq!(a["model_path"], d.attrs.model_path.as_str());
    assert_eq!(a["model_sha256"], d.attrs.model_sha256.as_str());
    assert_eq!(a["contract"], "step-v1");
    assert_eq!(
        a["model_metadata_json"],
        d.attrs.model_metadata_json.as_str()
    );
    assert_eq!(a["dataset"], "mnist");
    assert_eq!(a["split"], "test");
    assert_eq!(a["sequence_json"], d.attrs.sequence_json.as_str());
    assert_eq!(a["seed"].as_u64(), Some(u64::MAX - 5));
    assert_eq!(a["created_utc"], d.attrs.created_utc.as_str());
    assert_eq!(a["lesion"], "prediction units (äöü)");
    assert_eq!(a["toolkit_version"], "0.1.0");

    let ds = &r["datasets"];
    let names: Vec<&String> = ds.as_object().unwrap().keys().collect();
    assert_eq!(names, ["act", "input", "labels", "lesion_mask", "preact"]);
    let check = |name: &str, shape: &[usize], dtype: &str, values: Vec<f64>| {
        let e = &ds[name];
        assert_eq!(e["shape"], serde_json::json!(shape), "{name}");
        assert_eq!(e["dtype"], dtype, "{name}");
        let sum: f64 = values.iter().sum();
        let got = e["sum"].as_f64().unwrap();
        assert!(
            (got - sum).abs() <= 1e-9 * sum.abs().max(1.0),
            "{name}: sum {got} vs {sum}"
        );
        assert_eq!(e["first"].as_f64().unwrap(), values[0], "{name}");
        assert_eq!(
            e["last"].as_f64().unwrap(),
            *values.last().unwrap(),
            "{name}"
        );
        // Middle element: index of (shape / 2) in row-major order.
        let mut idx = 0;
        for &s in shape {
            idx = idx * s + s / 2;
        }
        assert_eq!(e["mid"].as_f64().unwrap(), values[idx], "{name}");
    };
    let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    check("input", &[10, 300, 20], "float32", f(&d.input));
    check("preact", &[10, 300, 20], "float32", f(&d.preact));
    check("act", &[10, 300, 20], "float32", f(&d.act));
    check(
        "lesion_mask",
        &[20],
        "float32",
        f(d.lesion_mask.as_ref().unwrap()),
    );
    check(
        "labels",
        &[300, 10],
        "int32",
        d.labels.iter().map(|&x| x as f64).collect(),
    );
    assert!(d.preact.iter().map(|&x| x as f64).sum::<f64>().abs() > 1.0);
    assert_eq!(ds["act"]["compression"], "gzip");
    assert_eq!(ds["act"]["shuffle"], true);
    assert_eq!(ds["act"]["chunks"], serde_json::json!([1, 256, 20]));
    assert_eq!(ds["labels"]["chunks"], serde_json::json!([256, 10]));
}

#[test]
fn a_full_mnist_test_set_dump_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("mnist.h5");
    let d = dump(10, 1000, 784, 784, 4);
    let t0 = Instant::now();
    write_dump(&p, &d).unwrap();
    let t1 = Instant::now();
    let back = read_dump(&p).unwrap();
    let t2 = Instant::now();
    let mb = std::fs::metadata(&p).unwrap().len() as f64 / 1e6;
    eprintln!(
        "1000 x 10 x 784 dump: write {:.2} s, read {:.2} s, {mb:.1} MB on disk",
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64()
    );
    assert!(
        back == d,
        "the 1000 x 10 x 784 dump changed on the round trip"
    );
}

#[test]
fn bad_dumps_are_refused_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");

    let mut d = dump(2, 3, 4, 4, 5);
    d.act.pop();
    let e = write_dump(&p, &d).unwrap_err().to_string();
    assert!(
        e.contains("dump.h5") && e.contains("act has 23 values"),
        "{e}"
    );

    let mut d = dump(2, 3, 4, 4, 5);
    d.lesion_mask = Some(vec![1.0; 3]);
    let e = write_dump(&p, &d).unwrap_err().to_string();
    assert!(e.contains("dump.h5") && e.contains("lesion_mask"), "{e}");

    let mut d = dump(2, 3, 4, 4, 5);
    d.attrs.split = "te\0st".into();
    let e = write_dump(&p, &d).unwrap_err().to_string();
    assert!(e.contains("dump.h5") && e.contains("split"), "{e}");
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // An output folder that cannot be created: its would-be parent is a regular file.
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let q = dir.path().join("file/dump.h5");
    let e = write_dump(&q, &dump(2, 3, 4, 4, 5))
        .unwrap_err()
        .to_string();
    assert!(e.contains("file/dump.h5"), "{e}");
    assert_eq!(listing(dir.path()), vec!["file"]);

    // Reading: a missing file, and a file that is no dump.
    let e = read_dump(&p).unwrap_err().to_string();
    assert!(e.contains("dump.h5"), "{e}");
    let e = read_dump(&dir.path().join("file")).unwrap_err().to_string();
    assert!(e.contains("file"), "{e}");
}
