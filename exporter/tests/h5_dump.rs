//! HDF5 activation dumps written chunk by chunk: exact round trips whatever the chunking,
//! without a lesion mask, with one or no sequence, the size bound, and a full-MNIST-size dump.

mod common;
mod dumps;

use common::listing;
use dumps::{assert_same, data, expected, h5py_report, header, write, OwnedChunk};
use epc_exporter::h5::{read_dump, Compression, DumpChunk, DumpWriter};
use ndarray::s;
use std::time::Instant;

#[test]
fn any_chunking_reads_back_the_same_dump_and_the_same_file_contents() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sub/dir");
    let d = data(header(10, 300, 12, 16, true), 1);
    let want = expected(&d);
    // One chunk; the writer's HDF5 chunk size (256) and the rest; 7 chunks of varying size,
    // two of them straddling sequence 256.
    let chunkings: [&[usize]; 3] = [&[300], &[256, 44], &[10, 50, 1, 195, 40, 3, 1]];
    let mut reports = Vec::new();
    for (k, sizes) in chunkings.iter().enumerate() {
        let p = out.join(format!("dump{k}.h5"));
        assert_eq!(write(&p, &d, sizes).unwrap(), p);
        let back = read_dump(&p).unwrap();
        assert_same(&back, &want);
        // Spot checks against the arrays themselves, in file order.
        let act = back.act.as_ref().unwrap();
        assert_eq!(act[(9 * 300 + 299) * 16 + 15], d.act[[9, 299, 15]]);
        assert_eq!(act[(4 * 300 + 256) * 16 + 3], d.act[[4, 256, 3]]);
        assert_eq!(back.labels[255 * 10 + 7], (255 + 7) % 10);
        assert_eq!(back.sequence_set.as_ref().unwrap()[299], 2);
        assert_eq!(back.header.lesion_mask.as_ref().unwrap()[7], 0.0);
        assert_eq!(back.header.lesion_mask.as_ref().unwrap()[8], 1.0);
        reports.push(h5py_report(dir.path(), &p));
    }
    // Same datasets (bytes, via SHA-256), same storage, same attributes.
    assert_eq!(reports[0], reports[1]);
    assert_eq!(reports[0], reports[2]);
    assert_eq!(
        listing(&out),
        ["dump0.h5", "dump1.h5", "dump2.h5"],
        "no temporary file is left"
    );
}

#[test]
fn a_dump_without_lesion_mask_and_with_n_in_unlike_units_round_trips_and_overwrites() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    // A first dump at the path, replaced by the second.
    write(&p, &data(header(10, 300, 12, 16, true), 1), &[300]).unwrap();
    let d = data(header(4, 37, 5, 3, false), 2);
    write(&p, &d, &[20, 17]).unwrap();
    let back = read_dump(&p).unwrap();
    assert_eq!(back.header.lesion_mask, None);
    assert_eq!((back.header.n_in, back.header.units), (5, 3));
    assert_eq!(back.input.as_ref().unwrap().len(), 4 * 37 * 5);
    assert_eq!(back.act.as_ref().unwrap().len(), 4 * 37 * 3);
    assert_same(&back, &expected(&d));
    let r = h5py_report(dir.path(), &p);
    assert_eq!(
        dumps::dataset_names(&r),
        ["act", "frames", "input", "labels", "preact", "sequence_set"]
    );
    assert_eq!(
        r["datasets"]["input"]["shape"],
        serde_json::json!([4, 37, 5])
    );
    assert_eq!(r["datasets"]["act"]["shape"], serde_json::json!([4, 37, 3]));
    // The unit layout: per-unit int32 attributes (the layout JSON is tested with a step-v2
    // model's dump in tests/contract_v2.rs).
    assert_eq!(r["attrs"]["unit_pixel"], serde_json::json!([0, -1, 7]));
    assert_eq!(r["attr_types"]["unit_layer"], "int32");
    assert_eq!(r["attrs"]["unit_population"], serde_json::json!([0, 1, 2]));
    assert_eq!(
        r["datasets"]["act"]["chunks"],
        serde_json::json!([1, 37, 3])
    );
    assert_eq!(listing(dir.path()), ["check.py", "dump.h5"]);
}

#[test]
fn a_single_sequence_round_trips() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.h5");
    let d = data(header(7, 1, 3, 2, true), 3);
    write(&p, &d, &[1]).unwrap();
    let back = read_dump(&p).unwrap();
    assert_same(&back, &expected(&d));
    assert_eq!(back.labels, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(back.sequence_set, Some(vec![0]));
    assert_eq!(back.header.lesion_mask, Some(vec![0.0, 1.0]));
    let r = h5py_report(dir.path(), &p);
    assert_eq!(
        r["datasets"]["input"]["chunks"],
        serde_json::json!([1, 1, 3])
    );
    assert_eq!(r["datasets"]["labels"]["chunks"], serde_json::json!([1, 7]));
}

#[test]
fn a_dump_of_zero_sequences_round_trips() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.h5");
    let d = data(header(10, 0, 4, 4, true), 4);
    write(&p, &d, &[]).unwrap();
    let back = read_dump(&p).unwrap();
    assert_same(&back, &expected(&d));
    assert_eq!(back.header.sequences, 0);
    assert_eq!(back.header.steps, 10);
    assert_eq!(back.act, Some(vec![]));
    assert!(back.labels.is_empty());
    assert_eq!(back.frames, Some(vec![]));
    // Zero-sized datasets are written without filters (the library picks their chunks).
    let r = h5py_report(dir.path(), &p);
    let act = &r["datasets"]["act"];
    assert_eq!(act["shape"], serde_json::json!([10, 0, 4]));
    assert_eq!(act["compression"], serde_json::Value::Null);
    assert_eq!(act["shuffle"], false);
    assert_eq!(r["datasets"]["labels"]["shape"], serde_json::json!([0, 10]));
    assert_eq!(
        r["datasets"]["sequence_set"]["shape"],
        serde_json::json!([0])
    );
    assert_eq!(r["attrs"]["compression"], "gzip-1");
}

#[test]
fn an_empty_chunk_writes_nothing() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = data(header(3, 5, 2, 2, false), 5);
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    for (a, b) in [(0, 0), (0, 2), (2, 2), (2, 5), (5, 5)] {
        w.write(&OwnedChunk::new(&d, a, b).view()).unwrap();
        assert_eq!(w.written(), b);
    }
    w.finish().unwrap();
    assert_same(&read_dump(&p).unwrap(), &expected(&d));
}

#[test]
fn chunks_may_be_strided_views_of_the_callers_arrays() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = data(header(4, 30, 3, 5, true), 6);
    let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
    for (a, b) in [(0, 11), (11, 30)] {
        let chunk = DumpChunk {
            input: d.input.slice(s![.., a..b, ..]),
            preact: d.preact.slice(s![.., a..b, ..]),
            act: d.act.slice(s![.., a..b, ..]),
            labels: d.labels.slice(s![a..b, ..]),
            frames: d.frames.slice(s![a..b, ..]),
            set: &d.set[a..b],
            positions: None,
        };
        assert!(!chunk.act.is_standard_layout());
        w.write(&chunk).unwrap();
    }
    w.finish().unwrap();
    assert_same(&read_dump(&p).unwrap(), &expected(&d));
}

#[test]
fn a_moving_streams_positions_round_trip_and_are_checked() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("moving.h5");
    let mut h = header(6, 40, 400, 16, false);
    h.positions = true;
    let d = data(h, 9);
    write(&p, &d, &[15, 25]).unwrap();
    let back = read_dump(&p).unwrap();
    assert_same(&back, &expected(&d));
    let got = back.positions.as_ref().unwrap();
    assert_eq!(got.len(), 40 * 6 * 2);
    // Row-major [sequences, steps, 2], as numpy shows it.
    assert_eq!(got[(17 * 6 + 4) * 2 + 1], d.positions[[17, 4, 1]]);
    assert!(got.iter().any(|&v| v > 0) && got.iter().all(|&v| (0..20).contains(&v)));
    let r = h5py_report(dir.path(), &p);
    assert_eq!(
        r["datasets"]["positions"]["shape"],
        serde_json::json!([40, 6, 2])
    );
    assert_eq!(r["datasets"]["positions"]["dtype"], "int32");
    // The bound counts the positions: two more ints per frame.
    let mut plain = d.header.clone();
    plain.positions = false;
    assert_eq!(d.header.size_bound() - plain.size_bound(), 4 * 40 * 6 * 2);

    // A chunk without positions, or with the wrong shape, is refused and nothing is left.
    let shown = p.display().to_string();
    for positions in [None, Some(ndarray::Array3::<i32>::zeros((5, 6, 2)))] {
        let mut w = DumpWriter::create(&p, d.header.clone()).unwrap();
        let good = OwnedChunk::new(&d, 0, 4);
        let e = w
            .write(&DumpChunk {
                positions: positions.as_ref().map(|x| x.view()),
                ..good.view()
            })
            .unwrap_err()
            .to_string();
        assert_eq!(e, format!("{shown}: chunk positions has the wrong shape"));
        assert_eq!(w.written(), 0);
    }
    // The earlier complete dump at the path is untouched.
    assert_same(&read_dump(&p).unwrap(), &expected(&d));
}

#[test]
fn the_size_bound_covers_an_uncompressed_dump() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let mut h = header(10, 300, 12, 16, true);
    h.compression = Compression::None;
    // 4 bytes per value: 10*300*(12+2*16) floats, 300*(2*10+1) ints, 16 mask values, + 1 MiB.
    let data_bytes = 4 * (10 * 300 * (12 + 2 * 16) + 300 * 21 + 16);
    assert_eq!(h.size_bound(), data_bytes + (1 << 20));
    let d = data(h, 7);
    write(&p, &d, &[100, 200]).unwrap();
    let size = std::fs::metadata(&p).unwrap().len();
    assert!(
        size >= data_bytes,
        "{size} bytes on disk, {data_bytes} of data"
    );
    assert!(size <= d.header.size_bound(), "{size} bytes on disk");
    // Fewer arrays, smaller bound: act alone (the mask's units are counted mask or not).
    let mut h = header(10, 300, 12, 16, false);
    h.arrays = epc_exporter::h5::Arrays::parse("act").unwrap();
    assert_eq!(
        h.size_bound(),
        4 * (10 * 300 * 16 + 300 * 21 + 16) + (1 << 20)
    );
}

#[test]
fn a_full_mnist_test_set_dump_round_trips() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let mut d = data(header(10, 1000, 784, 784, true), 8);
    for compression in [Compression::Gzip(1), Compression::None] {
        let p = dir.path().join(format!("mnist-{}.h5", compression.name()));
        d.header.compression = compression;
        let t0 = Instant::now();
        write(&p, &d, &[256, 256, 256, 232]).unwrap();
        let t1 = Instant::now();
        let back = read_dump(&p).unwrap();
        let t2 = Instant::now();
        let mb = std::fs::metadata(&p).unwrap().len() as f64 / 1e6;
        eprintln!(
            "1000 x 10 x 784 dump, {}: write {:.2} s, read {:.2} s, {mb:.1} MB on disk",
            compression.name(),
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64()
        );
        assert_eq!(back.header.compression, compression);
        assert_same(&back, &expected(&d));
    }
}
