//! `summary.json`'s JSON Schema is generated from the Rust types (`Summary` and everything in
//! it) into `docs/reference/summary.schema.json`, and a committed summary of a real study
//! reads back as those types and names only the schema's properties.
//! `EPC_BLESS=1 cargo test -p epc-analyzer --test summary_schema` rewrites the schema file.

use epc_analyzer::Summary;
use std::io::Read;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn the_summary_schema_is_generated_from_the_types() {
    let schema = schemars::schema_for!(Summary);
    let want = serde_json::to_string_pretty(&schema).unwrap() + "\n";
    let path = root().join("docs/reference/summary.schema.json");
    if std::env::var_os("EPC_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: EPC_BLESS=1 cargo test -p epc-analyzer --test summary_schema",
        path.display()
    );
}

#[test]
fn a_committed_summary_reads_as_the_types_and_names_only_schema_properties() {
    let path = root().join("docs/results/mnist-precision/summary.json.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let summary: Summary = serde_json::from_value(value.clone()).unwrap();
    assert_eq!(summary.models.len(), 10);
    let schema = serde_json::to_value(schemars::schema_for!(Summary)).unwrap();
    let properties = schema["properties"].as_object().unwrap();
    for key in value.as_object().unwrap().keys() {
        assert!(
            properties.contains_key(key),
            "summary key {key} is not in the schema"
        );
    }
    for required in schema["required"].as_array().unwrap() {
        let key = required.as_str().unwrap();
        assert!(
            value.get(key).is_some(),
            "required {key} missing from {}",
            path.display()
        );
    }
}
