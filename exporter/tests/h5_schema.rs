//! The dump schema is written once (`exporter/src/h5/schema.rs`): every dataset and attribute
//! a real dump holds is in it, every attribute of it is written, and
//! `docs/reference/dump-schema.md` is generated from it
//! (`EPC_BLESS=1 cargo test -p epc-exporter --test h5_schema` rewrites the page).

mod common;
mod dumps;

use epc_exporter::h5::schema::{markdown, ATTRIBUTES, DATASETS};

#[test]
fn a_written_dump_holds_exactly_the_schema_s_names() {
    let _serial = dumps::serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("dump.h5");
    let d = dumps::data(dumps::header(4, 20, 6, 6, true), 3);
    dumps::write(&p, &d, &[20]).unwrap();
    let file = hdf5::File::open(&p).unwrap();
    let datasets = file.member_names().unwrap();
    let known: Vec<&str> = DATASETS.iter().map(|f| f.name).collect();
    for name in &datasets {
        assert!(
            known.contains(&name.as_str()),
            "dataset {name} is not in the schema"
        );
    }
    for required in ["labels", "frames", "sequence_set", "lesion_mask", "act"] {
        assert!(
            datasets.iter().any(|n| n == required),
            "{required} missing: {datasets:?}"
        );
    }
    let mut attributes = file.attr_names().unwrap();
    attributes.sort();
    // `layout_json` is written where the layout is known (this dump's header has none).
    let mut schema: Vec<String> = ATTRIBUTES
        .iter()
        .map(|f| f.name.to_string())
        .filter(|n| n != "layout_json")
        .collect();
    schema.sort();
    assert_eq!(
        attributes, schema,
        "the root attributes and the schema differ"
    );
}

#[test]
fn the_dump_schema_page_is_generated_from_the_schema() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/dump-schema.md");
    let want = markdown();
    if std::env::var_os("EPC_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: EPC_BLESS=1 cargo test -p epc-exporter --test h5_schema",
        path.display()
    );
}
