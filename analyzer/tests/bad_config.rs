//! A model whose `epc.config` cannot be read is refused with one line naming it, never
//! analysed as if it had been trained on the ascending stream; a model with no config at all
//! (another framework's) is analysed on the ascending stream.

mod common;

use common::*;
use epc_analyzer::{analyze_data, dump, DumpOptions, Error};
use epc_exporter::onnx::{write_step_model, ModelSpec};
use std::path::Path;

fn model(dir: &Path, name: &str, config: Option<&str>) -> std::path::PathBuf {
    let path = dir.join(name);
    let spec = ModelSpec {
        w: vec![0.0; 64 * 64],
        units: 64,
        metadata: config
            .map(|c| vec![("epc.config".to_string(), c.to_string())])
            .unwrap_or_default(),
    };
    write_step_model(&spec, &path).unwrap();
    path
}

#[test]
fn an_unreadable_config_is_an_error_naming_the_model() {
    let dir = tempfile::tempdir().unwrap();
    for (name, config, why) in [
        ("not-json.onnx", "{not json", "is not JSON"),
        (
            "bad-order.onnx",
            r#"{"sequence": {"order": "sideways"}}"#,
            "sequence section",
        ),
    ] {
        let m = model(dir.path(), name, Some(config));
        let out = dir.path().join(format!("{name}.report"));
        let err = analyze_data(&options(vec![m.clone()], out.clone()), &digits_data()).unwrap_err();
        assert!(matches!(err, Error::Model { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(name) && msg.contains(why), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(!out.exists());
        let mut d = DumpOptions::new(m, dir.path().join(format!("{name}.h5")));
        d.dataset = Some(epc_core::data::DatasetKind::Digits);
        let err = dump(&d).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(why), "{err}");
    }
    // No config at all: the ascending stream.
    let m = model(dir.path(), "plain.onnx", None);
    let s = analyze_data(&options(vec![m], dir.path().join("plain")), &digits_data()).unwrap();
    assert_eq!(s.models[0].stream, "ascending");
}
