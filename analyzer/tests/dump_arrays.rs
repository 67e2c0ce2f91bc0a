//! `dump_arrays` (in memory) gives what `dump` writes to HDF5, chunk joins included: every
//! array, label, frame, set index, the lesion mask and the attributes.

use epc_analyzer::{
    dump, dump_arrays, DumpOptions, DumpSequences, EngineOptions, ExecutionProvider, Lesion,
};
use epc_exporter::h5::{read_dump, Arrays, Compression};
use std::path::{Path, PathBuf};

fn model(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn same(model: PathBuf, lesion: Lesion, arrays: Arrays, sequences: DumpSequences) {
    let tmp = tempfile::tempdir().unwrap();
    let mut opts = DumpOptions::new(model, tmp.path().join("d.h5"));
    opts.lesion = lesion;
    opts.arrays = arrays;
    opts.sequences = sequences;
    opts.seed = 5;
    opts.compression = Compression::None;
    opts.engine = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        deterministic: true,
        // Several chunks per set, and a last chunk shorter than the others.
        batch_size: 48,
        ..EngineOptions::default()
    };
    let outcome = dump(&opts).unwrap();
    let mem = dump_arrays(&opts).unwrap();
    let file = read_dump(&outcome.path).unwrap();
    let n = outcome.sequences;
    assert!(n > 48, "{n} sequences: several chunks");
    assert_eq!(mem.labels.dim(), (n, outcome.steps));
    let names: Vec<&str> = mem.arrays.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, arrays.names());
    for (name, a) in &mem.arrays {
        let want = match *name {
            "input" => file.input.clone(),
            "preact" => file.preact.clone(),
            "act" => file.act.clone(),
            other => file
                .extra
                .iter()
                .find(|(n, _)| n == other)
                .map(|(_, v)| v.clone()),
        }
        .unwrap();
        assert_eq!(a.shape()[..2], [outcome.steps, n]);
        assert_eq!(a.iter().copied().collect::<Vec<f32>>(), want, "{name}");
    }
    assert_eq!(mem.labels.iter().copied().collect::<Vec<_>>(), file.labels);
    assert_eq!(
        Some(mem.frames.iter().copied().collect::<Vec<_>>()),
        file.frames
    );
    assert_eq!(Some(mem.sequence_set.clone()), file.sequence_set);
    assert_eq!(mem.lesion_mask, file.header.lesion_mask);
    assert_eq!(mem.lesioned, outcome.lesioned);
    assert_eq!(mem.sets, outcome.sets);
    let (mut a, mut b) = (mem.attrs.clone(), file.header.attrs.clone());
    a.created_utc.clear();
    b.created_utc.clear();
    assert_eq!(a, b);
}

#[test]
fn in_memory_dumps_equal_the_file_of_a_step_v1_model() {
    same(
        model("testdata/models/digits-l1pre.onnx"),
        Lesion::Prediction,
        Arrays::parse("input,preact,act").unwrap(),
        DumpSequences::Published,
    );
}

#[test]
fn in_memory_dumps_equal_the_file_of_a_step_v2_model() {
    same(
        model("examples/pytorch/two_layer.onnx"),
        Lesion::Random,
        Arrays::parse("preact,drive_in,drive_rec,transmission").unwrap(),
        DumpSequences::Test { epochs: None },
    );
}
