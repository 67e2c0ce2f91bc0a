//! A model's random lesion depends on the analysis seed and the model alone, not on where the
//! model stands among the analysed models, and `epc dump --lesion random` silences the same units.

use epc_analyzer::{analyze_data, AnalysisOptions, EngineOptions, ExecutionProvider, Summary};
use epc_core::data::{digits, Dataset, DatasetKind};
use std::path::{Path, PathBuf};

fn committed_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/models/digits-l1pre.onnx")
}

fn analyse(models: Vec<PathBuf>, out: PathBuf) -> Summary {
    let (train, test) = digits::embedded();
    let data = Dataset {
        kind: DatasetKind::Digits,
        train,
        test,
    };
    let mut opts = AnalysisOptions::new(models, None, out);
    opts.seed = 3;
    opts.figures = false;
    opts.bootstrap = 200;
    opts.engine = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        deterministic: true,
        ..EngineOptions::default()
    };
    analyze_data(&opts, &data).unwrap()
}

#[test]
fn random_lesion_follows_the_model_not_its_position() {
    let tmp = tempfile::tempdir().unwrap();
    // Two byte-identical copies: under a position-based seed they would get different units.
    let a = tmp.path().join("a/model.onnx");
    let b = tmp.path().join("b/model.onnx");
    for p in [&a, &b] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(committed_model(), p).unwrap();
    }
    let pair = analyse(vec![a.clone(), b.clone()], tmp.path().join("pair"));
    let alone = analyse(vec![b.clone()], tmp.path().join("alone"));
    let units = |s: &Summary, name: &str| s.lesion.random_units[name].clone();
    let pair_a = units(&pair, "a");
    let pair_b = units(&pair, "b");
    let only_b = units(&alone, "model");
    assert!(
        !pair_a.is_empty(),
        "the committed model has prediction units"
    );
    assert_eq!(pair_a, pair_b);
    assert_eq!(pair_b, only_b);
    assert_eq!(
        pair.lesion.random["pre"]["b"],
        alone.lesion.random["pre"]["model"]
    );

    // The dump's random lesion silences exactly those units.
    let dump = tmp.path().join("random.h5");
    let mut dopts = epc_analyzer::DumpOptions::new(b.clone(), dump.clone());
    dopts.seed = 3;
    dopts.lesion = epc_analyzer::Lesion::Random;
    dopts.engine = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        deterministic: true,
        ..EngineOptions::default()
    };
    let outcome = epc_analyzer::dump(&dopts).unwrap();
    assert_eq!(outcome.lesioned, only_b);
    let header = epc_exporter::h5::read_dump(&dump).unwrap().header;
    // The recorded digest is the model file's (checked with coreutils, independently).
    let o = std::process::Command::new("sha256sum")
        .arg(&b)
        .output()
        .unwrap();
    let digest = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        header.attrs.model_sha256,
        digest.split_whitespace().next().unwrap()
    );
    let mask = header.lesion_mask.unwrap();
    let silenced: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] == 0.0).collect();
    assert_eq!(silenced, only_b);
}
