//! Helpers shared by the HDF5 dump tests: a synthetic dump with known numbers, writing it
//! in chunks of given sizes, the dump the reader should give back, and an h5py report.
#![allow(dead_code)]

use crate::common::{run_python, Rng};
use epc_exporter::h5::{
    ActivationDump, Arrays, Compression, DumpAttributes, DumpChunk, DumpHeader, DumpWriter,
    DUMP_FORMAT,
};
use ndarray::{s, Array2, Array3};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// Held by every test of a dump test binary, so that they run one at a time: the HDF5
/// library opens files without `O_CLOEXEC`, so a Python started by one test inherits the
/// descriptor (and the `flock` lock) of a dump another test is writing, and reading that dump
/// back then fails with "unable to lock file" while the Python runs.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Attributes with every kind of value: a long hex string, JSON, a seed near `u64::MAX` and
/// non-ASCII text.
pub fn attrs() -> DumpAttributes {
    DumpAttributes {
        model_path: "runs/a/seed-3/model.onnx".into(),
        model_sha256: "ab".repeat(32),
        contract: "step-v1".into(),
        model_metadata_json: r#"{"epc.contract":"step-v1","epc.seed":"3"}"#.into(),
        dataset: "mnist".into(),
        split: "test".into(),
        sets_json: r#"[{"name":"asc","length":10,"count":200},{"name":"rnd","count":100}]"#.into(),
        seed: u64::MAX - 5,
        toolkit_version: "0.1.0".into(),
        created_utc: epc_exporter::utc_now(),
        lesion: "prediction units (äöü, 予測)".into(),
        layout_json: String::new(),
        unit_pixel: vec![0, -1, 7],
        unit_layer: vec![0, 1, 1],
        unit_population: vec![0, 1, 2],
    }
}

/// A header with every array, gzip level 1 and (if `mask`) a lesion mask that zeroes every
/// seventh unit.
pub fn header(steps: usize, sequences: usize, n_in: usize, units: usize, mask: bool) -> DumpHeader {
    DumpHeader {
        steps,
        sequences,
        n_in,
        units,
        arrays: Arrays::ALL,
        compression: Compression::Gzip(1),
        lesion_mask: mask.then(|| {
            (0..units)
                .map(|i| if i % 7 == 0 { 0.0 } else { 1.0 })
                .collect()
        }),
        positions: false,
        attrs: attrs(),
    }
}

/// A whole dump's arrays, step-major like the file.
pub struct Data {
    pub header: DumpHeader,
    pub input: Array3<f32>,
    pub preact: Array3<f32>,
    pub act: Array3<f32>,
    pub labels: Array2<i32>,
    pub frames: Array2<i32>,
    pub set: Vec<i32>,
    /// `[sequences, steps, 2]` when the header has positions, else empty.
    pub positions: Array3<i32>,
}

/// MNIST-like inputs (80 % zeros), signed preactivations, relu activity, labels
/// `(sequence + step) % 10`, random image indices, three sets and (if the header has
/// positions) random positions on a 20 x 20 canvas.
pub fn data(header: DumpHeader, seed: u64) -> Data {
    let (s, q, n, u) = (header.steps, header.sequences, header.n_in, header.units);
    let mut rng = Rng::new(seed);
    let input = Array3::from_shape_fn((s, q, n), |_| {
        let v = rng.uniform();
        if v < 0.8 {
            0.0
        } else {
            (v - 0.8) * 5.0
        }
    });
    let preact = Array3::from_shape_fn((s, q, u), |_| rng.range(-1.0, 1.0));
    let act = preact.mapv(|v| v.max(0.0));
    let labels = Array2::from_shape_fn((q, s), |(i, t)| ((i + t) % 10) as i32);
    let frames = Array2::from_shape_fn((q, s), |_| (rng.uniform() * 10_000.0) as i32);
    let set = (0..q).map(|i| (i * 3 / q.max(1)) as i32).collect();
    let positions = if header.positions {
        Array3::from_shape_fn((q, s, 2), |_| (rng.uniform() * 20.0) as i32)
    } else {
        Array3::zeros((0, 0, 0))
    };
    Data {
        header,
        input,
        preact,
        act,
        labels,
        frames,
        set,
        positions,
    }
}

/// The chunk of sequences `a..b`, copied into arrays of their own (standard layout); the
/// activation arrays the header does not choose are empty.
pub struct OwnedChunk {
    input: Array3<f32>,
    preact: Array3<f32>,
    act: Array3<f32>,
    labels: Array2<i32>,
    frames: Array2<i32>,
    set: Vec<i32>,
    positions: Option<Array3<i32>>,
}

impl OwnedChunk {
    pub fn new(d: &Data, a: usize, b: usize) -> Self {
        let pick = |on: bool, x: &Array3<f32>| {
            if on {
                x.slice(s![.., a..b, ..]).to_owned()
            } else {
                Array3::zeros((0, 0, 0))
            }
        };
        let arrays = d.header.arrays;
        OwnedChunk {
            input: pick(arrays.input, &d.input),
            preact: pick(arrays.preact, &d.preact),
            act: pick(arrays.act, &d.act),
            labels: d.labels.slice(s![a..b, ..]).to_owned(),
            frames: d.frames.slice(s![a..b, ..]).to_owned(),
            set: d.set[a..b].to_vec(),
            positions: d
                .header
                .positions
                .then(|| d.positions.slice(s![a..b, .., ..]).to_owned()),
        }
    }

    pub fn view(&self) -> DumpChunk<'_> {
        DumpChunk {
            input: self.input.view(),
            preact: self.preact.view(),
            act: self.act.view(),
            labels: self.labels.view(),
            frames: self.frames.view(),
            set: &self.set,
            positions: self.positions.as_ref().map(|p| p.view()),
        }
    }
}

/// Writes `d` to `path` in chunks of `sizes` sequences (which must add up to all of them).
pub fn write(path: &Path, d: &Data, sizes: &[usize]) -> epc_exporter::Result<PathBuf> {
    assert_eq!(
        sizes.iter().sum::<usize>(),
        d.header.sequences,
        "chunk sizes"
    );
    let mut w = DumpWriter::create(path, d.header.clone())?;
    let mut start = 0;
    for &n in sizes {
        w.write(&OwnedChunk::new(d, start, start + n).view())?;
        start += n;
        assert_eq!(w.written(), start);
    }
    w.finish()
}

fn flat<T: Clone>(x: &Array3<T>) -> Vec<T> {
    x.iter().cloned().collect()
}

/// The dump `read_dump` should give back for `d`: the widths of the arrays that are not
/// stored cannot be known and read back as 0.
pub fn expected(d: &Data) -> ActivationDump {
    let a = d.header.arrays;
    let mut header = d.header.clone();
    if !a.input {
        header.n_in = 0;
    }
    if !a.preact && !a.act {
        header.units = 0;
    }
    ActivationDump {
        format: DUMP_FORMAT.into(),
        header,
        input: a.input.then(|| flat(&d.input)),
        preact: a.preact.then(|| flat(&d.preact)),
        act: a.act.then(|| flat(&d.act)),
        extra: Vec::new(),
        labels: d.labels.iter().copied().collect(),
        frames: Some(d.frames.iter().copied().collect()),
        sequence_set: Some(d.set.clone()),
        positions: d.header.positions.then(|| flat(&d.positions)),
    }
}

/// Asserts two dumps are equal without printing millions of numbers on a mismatch.
pub fn assert_same(got: &ActivationDump, want: &ActivationDump) {
    assert_eq!(got.format, want.format);
    assert_eq!(got.header, want.header);
    for (name, g, w) in [
        ("input", &got.input, &want.input),
        ("preact", &got.preact, &want.preact),
        ("act", &got.act, &want.act),
    ] {
        assert_eq!(g.is_some(), w.is_some(), "{name} present");
        if let (Some(g), Some(w)) = (g, w) {
            assert_eq!(g.len(), w.len(), "{name} length");
            let first = g
                .iter()
                .zip(w)
                .position(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(first, None, "{name}: first differing value");
        }
    }
    assert!(got.labels == want.labels, "labels differ");
    assert!(got.frames == want.frames, "frames differ");
    assert!(got.sequence_set == want.sequence_set, "sequence_set differ");
    assert!(got == want);
}

/// What h5py sees in a file: every root attribute (strings decoded, integers exact) and, per
/// dataset, shape, dtype, sum, SHA-256 of the C-order bytes, storage settings and the first
/// and last values.
const H5PY_REPORT: &str = r#"
import hashlib, json, sys
import h5py, numpy as np
out = {"attrs": {}, "attr_types": {}, "datasets": {}}
with h5py.File(sys.argv[1], "r") as f:
    for k, v in f.attrs.items():
        out["attr_types"][k] = type(v).__name__ if isinstance(v, str) else str(v.dtype)
        if isinstance(v, np.ndarray) and v.ndim > 0:
            out["attrs"][k] = [int(x) for x in v]
        else:
            out["attrs"][k] = v.decode() if isinstance(v, bytes) else (v if isinstance(v, str) else int(v))
    for name, ds in f.items():
        a = ds[()]
        out["datasets"][name] = {
            "shape": list(a.shape), "dtype": str(a.dtype),
            "sum": float(a.astype(np.float64).sum()),
            "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest(),
            "compression": ds.compression, "compression_opts": ds.compression_opts,
            "shuffle": bool(ds.shuffle),
            "chunks": list(ds.chunks) if ds.chunks else None,
            "first": float(a.flat[0]) if a.size else None,
            "last": float(a.flat[-1]) if a.size else None,
        }
print(json.dumps(out))
"#;

/// Runs [`H5PY_REPORT`] on `file` (the script goes into `scratch`).
pub fn h5py_report(scratch: &Path, file: &Path) -> serde_json::Value {
    let out = run_python(scratch, H5PY_REPORT, &[file.to_str().unwrap()]);
    serde_json::from_str(out.trim()).unwrap()
}

/// The dataset names of an h5py report, sorted.
pub fn dataset_names(report: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = report["datasets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// Sum in f64, as h5py computes it (`astype(float64).sum()`, up to rounding order).
pub fn sum<T: Copy + Into<f64>>(values: impl IntoIterator<Item = T>) -> f64 {
    values.into_iter().map(Into::into).sum()
}

/// Asserts an h5py sum equals ours to 1e-9 relative.
pub fn assert_sum(report: &serde_json::Value, name: &str, want: f64) {
    let got = report["datasets"][name]["sum"].as_f64().unwrap();
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{name}: h5py sum {got}, Rust sum {want}"
    );
}
