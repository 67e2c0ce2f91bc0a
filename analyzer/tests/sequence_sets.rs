//! `--sequence-sets`: sets given as index files replace the drawn ones. Files holding exactly
//! the drawn sets give the drawn analysis; a given test set is what the energy curves run on
//! (checked against a forward pass over its frames); files that do not fit their role are
//! refused with the file and the row.

mod common;

use common::*;
use epc_analyzer::sequences::{frames, AnalysisSets, SeqSpec, Stream, STEPS};
use epc_analyzer::{analyze_data, AnalysisOptions, Baselines, Error, NullOptions, Summary};
use std::path::Path;

/// `seqs`' image indices as a CSV index file `dir/name.csv`.
fn write_set(dir: &Path, name: &str, set: &SeqSpec) {
    let text: String = set
        .seqs
        .iter()
        .map(|s| {
            let row: Vec<String> = s.frames.iter().map(usize::to_string).collect();
            row.join(",") + "\n"
        })
        .collect();
    std::fs::write(dir.join(format!("{name}.csv")), text).unwrap();
}

/// Quick options: no network baselines, small nulls, no figures.
fn quick(model: &Path, out: &Path, sets: Option<&Path>) -> AnalysisOptions {
    let mut o = options(vec![model.to_path_buf()], out.to_path_buf());
    o.figures = false;
    o.baselines = Baselines {
        shuffled: false,
        untrained: false,
    };
    o.nulls = NullOptions {
        draws: 5,
        dose_draws: 2,
        sequences: 40,
    };
    o.sequence_sets = sets.map(Path::to_path_buf);
    o
}

fn model(dir: &Path) -> std::path::PathBuf {
    helper_model(dir, "digits.onnx", &random_w(64, 64, 0.125, 21), "ok")
}

#[test]
fn files_holding_the_drawn_sets_give_the_drawn_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    let data = digits_data();
    // The sets analyze draws with seed 11 on the ascending stream, written out.
    let drawn = AnalysisSets::draw(&data.test, 11, &Stream::default()).unwrap();
    let sets = dir.path().join("sets");
    std::fs::create_dir(&sets).unwrap();
    write_set(&sets, "test", &drawn.test);
    for (i, s) in drawn.class.iter().enumerate() {
        write_set(&sets, &format!("ordered-start-{i}"), s);
    }
    for (i, s) in drawn.shuffled.iter().enumerate() {
        write_set(&sets, &format!("shuffled-start-{i}"), s);
    }
    for (i, s) in drawn.distractor.iter().enumerate() {
        write_set(&sets, &format!("distractor-{i}"), s);
    }
    let plain = analyze_data(&quick(&model, &dir.path().join("a"), None), &data).unwrap();
    let given = analyze_data(&quick(&model, &dir.path().join("b"), Some(&sets)), &data).unwrap();
    let name = &plain.models[0].name;
    assert_eq!(plain.energy, given.energy);
    assert_eq!(plain.prediction_units, given.prediction_units);
    assert_eq!(plain.error_units, given.error_units);
    assert_eq!(plain.error_units_matched, given.error_units_matched);
    assert_eq!(plain.reference, given.reference);
    assert!(plain.prediction_units[name].count > 0);
    // The summary says which sets came from files: all but the ten unexpected sets.
    let from_files = |s: &Summary| s.sequence_sets.iter().filter(|i| i.file.is_some()).count();
    assert_eq!(from_files(&plain), 0);
    assert_eq!(from_files(&given), 31);
    assert_eq!(given.sequence_sets.len(), 41);
}

#[test]
fn a_given_test_set_is_what_the_energy_curves_run_on() {
    let dir = tempfile::tempdir().unwrap();
    let w = random_w(64, 64, 0.125, 21);
    let model = helper_model(dir.path(), "digits.onnx", &w, "ok");
    let data = digits_data();
    // 37 sequences of any classes, here the drawn test set's last ones in reverse order.
    let drawn = AnalysisSets::draw(&data.test, 5, &Stream::default()).unwrap();
    let mut test = drawn.test.clone();
    test.seqs = test.seqs.iter().rev().take(37).cloned().collect();
    let sets = dir.path().join("sets");
    std::fs::create_dir(&sets).unwrap();
    write_set(&sets, "test", &test);
    let s = analyze_data(&quick(&model, &dir.path().join("r"), Some(&sets)), &data).unwrap();
    assert_eq!(s.sequences.test, 37);
    let x = frames(&data.test, &test.seqs, STEPS);
    let a = reference_forward(&x, &w, None);
    let name = &s.models[0].name;
    for t in 0..STEPS {
        let want = a
            .index_axis(ndarray::Axis(0), t)
            .iter()
            .map(|v| v.abs() as f64)
            .sum::<f64>()
            / a.index_axis(ndarray::Axis(0), t).len() as f64;
        let have = s.energy["pre"][name][t];
        assert!((have - want).abs() < 1e-5, "step {t}: {have} vs {want}");
    }
}

/// The error of an analysis given the folder `sets`.
fn refusal(sets: &Path) -> String {
    let dir = tempfile::tempdir().unwrap();
    let model = model(dir.path());
    match analyze_data(
        &quick(&model, &dir.path().join("r"), Some(sets)),
        &digits_data(),
    ) {
        Err(e @ Error::Input(_)) => e.to_string(),
        other => panic!("expected an input error, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn files_that_do_not_fit_their_role_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = digits_data();
    let drawn = AnalysisSets::draw(&data.test, 11, &Stream::default()).unwrap();

    // A name that is no set's.
    let bad_name = dir.path().join("name");
    std::fs::create_dir(&bad_name).unwrap();
    write_set(&bad_name, "shuffled-start-10", &drawn.shuffled[0]);
    let e = refusal(&bad_name);
    assert!(
        e.contains("shuffled-start-10.csv") && e.contains("not a set's name"),
        "{e}"
    );

    // An ordered set whose sequences start at another class.
    let wrong_class = dir.path().join("class");
    std::fs::create_dir(&wrong_class).unwrap();
    write_set(&wrong_class, "ordered-start-3", &drawn.class[2]);
    let e = refusal(&wrong_class);
    assert!(
        e.contains("ordered-start-3.csv: row 1, frame 0") && e.contains("class 2"),
        "{e}"
    );

    // A distractor set whose frame 8 shows the path's own class.
    let no_distractor = dir.path().join("distractor");
    std::fs::create_dir(&no_distractor).unwrap();
    write_set(&no_distractor, "distractor-0", &drawn.shuffled[2]);
    let e = refusal(&no_distractor);
    assert!(e.contains("distractor-0.csv: row 1, frame 8"), "{e}");

    // Too short sequences.
    let short = dir.path().join("short");
    std::fs::create_dir(&short).unwrap();
    let mut cut = drawn.test.clone();
    cut.seqs = cut.seqs.iter().map(|s| s.prefix(6)).collect();
    write_set(&short, "test", &cut);
    let e = refusal(&short);
    assert!(e.contains("test.csv") && e.contains("6 frames"), "{e}");
}
