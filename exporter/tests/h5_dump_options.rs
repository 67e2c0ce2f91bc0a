//! Dump options: which activation arrays are written (`Arrays`) and how they are compressed
//! (`Compression`), as parsed from the command line and as h5py sees them in the file.

mod common;
mod dumps;

use dumps::{assert_same, data, dataset_names, expected, h5py_report, header, write};
use epc_exporter::h5::{read_dump, Arrays, Compression};
use serde_json::json;

fn arrays(input: bool, preact: bool, act: bool) -> Arrays {
    Arrays {
        input,
        preact,
        act,
        ..Arrays::NONE
    }
}

#[test]
fn arrays_parse_lists_and_names_what_is_wrong() {
    let _serial = dumps::serial();
    assert_eq!(Arrays::parse("act").unwrap(), arrays(false, false, true));
    assert_eq!(
        Arrays::parse("input,preact").unwrap(),
        arrays(true, true, false)
    );
    assert_eq!(Arrays::parse("input,preact,act").unwrap(), Arrays::ALL);
    // Spaces, a trailing comma, repeats and any order; names() is in schema order.
    let a = Arrays::parse(" act , input,act,").unwrap();
    assert_eq!(a, arrays(true, false, true));
    assert_eq!(a.names(), ["input", "act"]);
    assert_eq!(Arrays::ALL.names(), ["input", "preact", "act"]);
    let v2 = Arrays::parse("transmission,act,drive_in").unwrap();
    assert_eq!(v2.names(), ["act", "drive_in", "transmission"]);
    assert_eq!(v2.extra_names(), ["drive_in", "transmission"]);

    let e = Arrays::parse("act,hidden").unwrap_err().to_string();
    assert_eq!(
        e,
        "invalid array list: unknown array \"hidden\" (choose from input, preact, act, drive_in, drive_rec, transmission)"
    );
    let e = Arrays::parse("Act").unwrap_err().to_string();
    assert!(e.contains("unknown array \"Act\""), "{e}");
    for empty in ["", " , ,", ","] {
        let e = Arrays::parse(empty).unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid array list: name at least one of input, preact, act, drive_in, drive_rec, transmission",
            "{empty:?}"
        );
    }
}

#[test]
fn a_dump_of_some_arrays_holds_only_those() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    for (list, names, attr) in [
        ("act", vec!["act"], "act"),
        ("input,preact", vec!["input", "preact"], "input,preact"),
        ("act,input", vec!["act", "input"], "input,act"),
        ("input", vec!["input"], "input"),
    ] {
        let p = dir.path().join(format!("{}.h5", list.replace(',', "-")));
        let mut h = header(6, 150, 9, 11, true);
        h.arrays = Arrays::parse(list).unwrap();
        let d = data(h, 10);
        write(&p, &d, &[100, 50]).unwrap();
        let back = read_dump(&p).unwrap();
        assert_eq!(back.header.arrays, d.header.arrays, "{list}");
        assert_eq!(back.input.is_some(), names.contains(&"input"), "{list}");
        assert_eq!(back.preact.is_some(), names.contains(&"preact"), "{list}");
        assert_eq!(back.act.is_some(), names.contains(&"act"), "{list}");
        // Widths of arrays not stored read back as 0 (the schema does not record them).
        let n_in = if d.header.arrays.input { 9 } else { 0 };
        let units = if d.header.arrays.preact || d.header.arrays.act {
            11
        } else {
            0
        };
        assert_eq!(
            (back.header.n_in, back.header.units),
            (n_in, units),
            "{list}"
        );
        assert_same(&back, &expected(&d));

        let r = h5py_report(dir.path(), &p);
        let mut want: Vec<String> = ["frames", "labels", "lesion_mask", "sequence_set"]
            .iter()
            .chain(&names)
            .map(|s| s.to_string())
            .collect();
        want.sort();
        assert_eq!(dataset_names(&r), want, "{list}");
        assert_eq!(r["attrs"]["arrays"], attr, "{list}");
        for name in &names {
            let width = if *name == "input" { 9 } else { 11 };
            assert_eq!(r["datasets"][name]["shape"], json!([6, 150, width]));
        }
        // The size bound counts only the chosen arrays.
        let floats: u64 = names
            .iter()
            .map(|n| if *n == "input" { 9 } else { 11 })
            .sum();
        assert_eq!(
            d.header.size_bound(),
            4 * (6 * 150 * floats + 150 * 13 + 11) + (1 << 20),
            "{list}"
        );
    }
}

#[test]
fn compression_parse_accepts_levels_one_to_nine_only() {
    let _serial = dumps::serial();
    assert_eq!(Compression::parse("none").unwrap(), Compression::None);
    assert_eq!(Compression::parse("gzip").unwrap(), Compression::Gzip(1));
    assert_eq!(Compression::parse("gzip-6").unwrap(), Compression::Gzip(6));
    assert_eq!(Compression::parse("gzip:9").unwrap(), Compression::Gzip(9));
    assert_eq!(Compression::parse("gzip-1").unwrap(), Compression::Gzip(1));
    for level in 1..=9u8 {
        let c = Compression::Gzip(level);
        assert_eq!(c.name(), format!("gzip-{level}"));
        assert_eq!(Compression::parse(&c.name()).unwrap(), c);
    }
    assert_eq!(Compression::None.name(), "none");
    for bad in [
        "gzip-0", "zip", "gzip-10", "gzip-", "", "GZIP", "gzip-1x", "lzf", "gzip-1.5",
    ] {
        let e = Compression::parse(bad).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("invalid compression: {bad:?} is not none, gzip or gzip-N with N in 1..9")
        );
    }
}

#[test]
fn compression_settings_reach_the_file_and_shrink_mostly_zero_data() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let mut sizes = Vec::new();
    let mut reports = Vec::new();
    for (spec, name, level) in [
        ("none", "none", None),
        ("gzip", "gzip-1", Some(1)),
        ("gzip-6", "gzip-6", Some(6)),
    ] {
        let p = dir.path().join(format!("{name}.h5"));
        let mut h = header(10, 300, 64, 8, true);
        // Mostly zeros: the MNIST-like frames only.
        h.arrays = Arrays::parse("input").unwrap();
        h.compression = Compression::parse(spec).unwrap();
        let d = data(h, 11);
        write(&p, &d, &[256, 44]).unwrap();
        let back = read_dump(&p).unwrap();
        assert_eq!(back.header.compression, d.header.compression);
        assert_same(&back, &expected(&d));
        let r = h5py_report(dir.path(), &p);
        assert_eq!(r["attrs"]["compression"], name);
        for (ds, chunks) in [
            ("input", json!([1, 256, 64])),
            ("labels", json!([256, 10])),
            ("frames", json!([256, 10])),
            ("sequence_set", json!([256])),
            ("lesion_mask", json!([8])),
        ] {
            let e = &r["datasets"][ds];
            assert_eq!(e["chunks"], chunks, "{name} {ds}");
            match level {
                None => {
                    assert_eq!(e["compression"], serde_json::Value::Null, "{ds}");
                    assert_eq!(e["shuffle"], false, "{ds}");
                }
                Some(l) => {
                    assert_eq!(e["compression"], "gzip", "{name} {ds}");
                    assert_eq!(e["compression_opts"], l, "{name} {ds}");
                    assert_eq!(e["shuffle"], true, "{name} {ds}");
                }
            }
        }
        sizes.push(std::fs::metadata(&p).unwrap().len());
        reports.push(r);
    }
    // The same numbers in all three files.
    for r in &reports[1..] {
        for ds in ["input", "labels", "frames", "sequence_set", "lesion_mask"] {
            assert_eq!(
                r["datasets"][ds]["sha256"],
                reports[0]["datasets"][ds]["sha256"]
            );
        }
    }
    let [none, gzip1, gzip6] = sizes[..] else {
        unreachable!()
    };
    // 10 x 300 x 64 float32 frames alone are 768,000 bytes.
    assert!(none >= 768_000, "{none}");
    assert!(gzip1 * 2 < none, "gzip-1 {gzip1} bytes, none {none}");
    assert!(gzip6 * 2 < none, "gzip-6 {gzip6} bytes, none {none}");
    assert!(
        gzip6 <= gzip1 + 4096,
        "gzip-6 {gzip6} bytes, gzip-1 {gzip1}"
    );
}
