//! Dumps that cannot be written or read: each error names the file, and a failed or
//! abandoned write leaves neither the dump nor its temporary file behind.

mod common;
mod dumps;

use common::{listing, run_python};
use dumps::{data, header, write, OwnedChunk};
use epc_exporter::h5::{read_dump, DumpWriter};
use std::path::Path;

/// Names in `dir` that look like a writer's temporary file of `name`.
fn temporaries(dir: &Path, name: &str) -> Vec<String> {
    let prefix = format!(".{name}.tmp-");
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn finishing_with_sequences_missing_fails_and_leaves_nothing() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = data(header(4, 3, 2, 2, true), 1);
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    // While it is written, the dump lives in one temporary sibling only.
    assert_eq!(temporaries(dir.path(), "dump.h5").len(), 1);
    assert_eq!(listing(dir.path()).len(), 1);
    w.write(&OwnedChunk::new(&d, 0, 2).view()).unwrap();
    assert_eq!(w.written(), 2);
    let e = w.finish().unwrap_err().to_string();
    assert_eq!(e, format!("{}: 2 of 3 sequences written", p.display()));
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[test]
fn a_chunk_of_the_wrong_shape_is_refused() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let shown = p.display().to_string();
    let d = data(header(4, 6, 3, 5, false), 2);

    // More sequences than the header holds.
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    w.write(&OwnedChunk::new(&d, 0, 4).view()).unwrap();
    let e = w
        .write(&OwnedChunk::new(&d, 0, 3).view())
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{shown}: 7 sequences written into a dump of 6"));
    drop(w);
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // Labels with a step too many; frames for fewer sequences than `set` names.
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    let good = OwnedChunk::new(&d, 0, 2);
    let labels = ndarray::Array2::<i32>::zeros((2, 5));
    let e = w
        .write(&epc_exporter::h5::DumpChunk {
            labels: labels.view(),
            ..good.view()
        })
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{shown}: chunk labels/frames has the wrong shape")
    );
    let frames = ndarray::Array2::<i32>::zeros((1, 4));
    let e = w
        .write(&epc_exporter::h5::DumpChunk {
            frames: frames.view(),
            ..good.view()
        })
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{shown}: chunk labels/frames has the wrong shape")
    );
    assert_eq!(w.written(), 0);
    drop(w);
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // Activity one unit short: the dump is abandoned at once, and stays closed.
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    w.write(&OwnedChunk::new(&d, 0, 2).view()).unwrap();
    let short = ndarray::Array3::<f32>::zeros((4, 2, 4));
    let next = OwnedChunk::new(&d, 2, 4);
    let e = w
        .write(&epc_exporter::h5::DumpChunk {
            act: short.view(),
            ..next.view()
        })
        .unwrap_err()
        .to_string();
    assert_eq!(e, format!("{shown}: chunk act has the wrong shape"));
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    let e = w.write(&next.view()).unwrap_err().to_string();
    assert_eq!(e, format!("{shown}: the dump is closed"));
    let e = w.finish().unwrap_err().to_string();
    assert_eq!(e, format!("{shown}: 2 of 6 sequences written"));
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // A lesion mask that does not fit the state: refused before any file exists.
    let mut h = d.header.clone();
    h.lesion_mask = Some(vec![1.0; 3]);
    let e = DumpWriter::create(&p, h).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{shown}: lesion mask of 3 entries for 5 state entries")
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[test]
fn a_writer_dropped_before_finish_leaves_nothing() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = data(header(5, 300, 8, 8, true), 3);
    drop(DumpWriter::create(&p, d.header.clone()).unwrap());
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    w.write(&OwnedChunk::new(&d, 0, 256).view()).unwrap();
    w.write(&OwnedChunk::new(&d, 256, 299).view()).unwrap();
    assert_eq!(temporaries(dir.path(), "dump.h5").len(), 1);
    drop(w);
    assert_eq!(listing(dir.path()), Vec::<String>::new());

    // An existing dump at the path is left as it was.
    write(&p, &d, &[300]).unwrap();
    let before = std::fs::read(&p).unwrap();
    let mut w = DumpWriter::create(&p, header(2, 2, 2, 2, false)).unwrap();
    w.write(&OwnedChunk::new(&data(header(2, 2, 2, 2, false), 4), 0, 1).view())
        .unwrap();
    drop(w);
    assert_eq!(listing(dir.path()), ["dump.h5"]);
    assert!(std::fs::read(&p).unwrap() == before, "the old dump changed");
}

#[test]
fn an_output_under_a_plain_file_fails_naming_the_path() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    for p in [
        dir.path().join("file/dump.h5"),
        dir.path().join("file/sub/dump.h5"),
    ] {
        let e = DumpWriter::create(&p, header(2, 3, 4, 4, true))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&dir.path().join("file").display().to_string()),
            "{e}"
        );
        assert_eq!(listing(dir.path()), ["file"]);
        assert_eq!(std::fs::read(dir.path().join("file")).unwrap(), b"x");
    }
}

#[test]
fn an_output_under_a_plain_file_names_the_output() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let p = dir.path().join("file/dump.h5");
    let e = DumpWriter::create(&p, header(2, 3, 4, 4, true))
        .unwrap_err()
        .to_string();
    assert!(e.contains("file/dump.h5"), "{e}");
}

#[test]
fn a_dump_larger_than_the_disk_is_refused_before_anything_is_created() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.h5");
    // 10^12 sequences of 10 MNIST frames: about 85 PiB.
    let h = header(10, 1_000_000_000_000, 784, 784, true);
    let bound = h.size_bound();
    assert_eq!(
        bound,
        4 * (10 * 1_000_000_000_000 * (3 * 784) + 1_000_000_000_000 * 21 + 784) + (1 << 20)
    );
    let e = DumpWriter::create(&p, h).unwrap_err().to_string();
    assert!(
        e.starts_with(&p.display().to_string()) && e.contains("needs about"),
        "{e}"
    );
    assert!(e.contains(&epc_core::fsutil::human_bytes(bound)), "{e}");
    // The same words as the core check.
    let core = epc_core::fsutil::check_space(&p, bound)
        .unwrap_err()
        .to_string();
    assert_eq!(e, core);
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[test]
fn a_header_whose_size_overflows_u64_is_still_refused() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.h5");
    // 2^61 sequences of 1 step, 1 input, 1 unit: 6 x 2^61 values of 4 bytes, over 2^65 bytes.
    let h = header(1, 1 << 61, 1, 1, false);
    let bound = h.size_bound();
    let e = DumpWriter::create(&p, h)
        .map(|w| w.written())
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs about"), "{e}");
    assert_eq!(listing(dir.path()), Vec::<String>::new());
    assert!(bound >= 1 << 63, "size bound {bound}");
}

#[test]
fn an_attribute_with_a_nul_is_refused_and_leaves_nothing() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let mut h = header(2, 3, 4, 4, true);
    h.attrs.split = "te\0st".into();
    let e = DumpWriter::create(&p, h).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{}: attribute split contains a NUL character", p.display())
    );
    assert_eq!(listing(dir.path()), Vec::<String>::new());
}

#[test]
fn a_failed_rename_leaves_no_temporary_file() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    // A non-empty folder where the dump should go: the rename fails.
    std::fs::create_dir_all(p.join("inside")).unwrap();
    let d = data(header(2, 3, 4, 4, true), 5);
    let e = write(&p, &d, &[3]).unwrap_err().to_string();
    assert!(e.contains("dump.h5"), "{e}");
    assert_eq!(listing(dir.path()), ["dump.h5"]);
    assert_eq!(listing(&p), ["inside"]);
}

/// Damages copies of a good dump in the ways `read_dump` must notice.
const DAMAGE: &str = r#"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/plain.h5", "w") as f:
    f.create_dataset("x", data=np.arange(3))
with h5py.File(d + "/v3.h5", "a") as f:
    f.attrs["epc_format"] = "epc-dump-v3"
with h5py.File(d + "/zip.h5", "a") as f:
    f.attrs["compression"] = "zip"
with h5py.File(d + "/shapes.h5", "a") as f:
    del f["act"]
    f.create_dataset("act", data=np.zeros((4, 7, 5), np.float32))
with h5py.File(d + "/widths.h5", "a") as f:
    del f["act"]
    f.create_dataset("act", data=np.zeros((4, 6, 3), np.float32))
with h5py.File(d + "/mask.h5", "a") as f:
    del f["lesion_mask"]
    f.create_dataset("lesion_mask", data=np.ones(6, np.float32))
with h5py.File(d + "/nolabels.h5", "a") as f:
    del f["labels"]
with h5py.File(d + "/noseed.h5", "a") as f:
    del f.attrs["seed"]
"#;

#[test]
fn files_that_are_no_readable_dump_are_refused_naming_them() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.h5");
    write(&good, &data(header(4, 6, 3, 5, true), 6), &[6]).unwrap();
    for name in [
        "v3", "zip", "shapes", "widths", "mask", "nolabels", "noseed",
    ] {
        std::fs::copy(&good, d.join(format!("{name}.h5"))).unwrap();
    }
    run_python(d, DAMAGE, &[d.to_str().unwrap()]);
    std::fs::write(d.join("text.h5"), "not HDF5 at all\n").unwrap();

    let err = |name: &str| {
        let p = d.join(name);
        let e = read_dump(&p).unwrap_err().to_string();
        let shown = p.display().to_string();
        assert!(e.starts_with(&shown), "{e}");
        e[shown.len()..].to_string()
    };
    assert!(err("missing.h5").contains("no such file"));
    assert!(err("text.h5").starts_with(": HDF5: cannot open file"));
    assert_eq!(
        err("plain.h5"),
        ": not an epc activation dump (no epc_format attribute)"
    );
    assert_eq!(
        err("v3.h5"),
        ": dump format \"epc-dump-v3\" is not supported (this epc reads epc-dump-v2 and epc-dump-v1)"
    );
    assert!(err("zip.h5").starts_with(": invalid compression: \"zip\""));
    assert_eq!(
        err("shapes.h5"),
        ": inconsistent shapes: act [4, 7, 5], labels [6, 4]"
    );
    assert_eq!(err("widths.h5"), ": preact and act have different widths");
    assert_eq!(
        err("mask.h5"),
        ": lesion_mask has 6 entries for 5 state entries"
    );
    assert_eq!(err("nolabels.h5"), ": dataset labels is missing");
    assert!(err("noseed.h5").starts_with(": HDF5: cannot read attribute seed"));
    // The good one still reads.
    assert_eq!(read_dump(&good).unwrap().header.sequences, 6);
}
