//! Full `analyze` runs on the embedded 8x8 digits, checked against independent recomputation.
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

mod common;

use common::*;
use epc_analyzer::analyze_data;
use epc_analyzer::sequences::STEPS;
use epc_analyzer::{analyze, Error, Lesion, StepModel, Summary};
use epc_core::data::{Dataset, DatasetKind, Images};
use epc_core::sequence::{Batch, SequenceConfig, SequenceSampler};
use ndarray::Array3;

/// The test sequences analyze uses, rebuilt independently: 400 ascending sequences (the
/// digits' rarest class has 33 images, fewer than the analyzer's MIN_SEQUENCES), their
/// classes from the sampler's epoch 0 over label-only stand-ins, and the k-th frame of class
/// c the image k mod len of c's pool, shuffled with the seed and the pool salt.
fn test_sequences(data: &Dataset, seed: u64) -> (Array3<f32>, Vec<u8>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let cfg = SequenceConfig {
        length: STEPS,
        ..SequenceConfig::default()
    };
    let n = 400;
    let stand_in = Images {
        shape: data.test.shape,
        pixels: Vec::new(),
        labels: (0..10u8).flat_map(|c| vec![c; n * STEPS]).collect(),
    };
    let mut seqs = SequenceSampler::new(&stand_in, cfg, seed).unwrap().epoch(0);
    seqs.truncate(n);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x7e57_9001);
    let mut pools: Vec<Vec<usize>> = (0..10u8)
        .map(|c| {
            (0..data.test.len())
                .filter(|&i| data.test.labels[i] == c)
                .collect()
        })
        .collect();
    for p in &mut pools {
        p.shuffle(&mut rng);
    }
    let mut next = [0usize; 10];
    for s in &mut seqs {
        for (f, &l) in s.frames.iter_mut().zip(&s.labels) {
            let c = l as usize;
            *f = pools[c][next[c] % pools[c].len()];
            next[c] += 1;
        }
    }
    let b = Batch::from_sequences(&data.test, &seqs);
    (
        Array3::from_shape_vec((b.steps, b.batch, b.dim), b.x).unwrap(),
        b.labels,
    )
}

/// The lower middle value (torch.median's convention, as the published code uses it).
fn naive_median(mut v: Vec<f32>) -> f32 {
    v.sort_by(f32::total_cmp);
    v[(v.len() - 1) / 2]
}

#[test]
fn digits_report_matches_independent_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let w = random_w(64, 64, 0.125, 21);
    let model = helper_model(dir.path(), "digits.onnx", &w, "ok");
    let out = dir.path().join("report");
    let data = digits_data();
    let summary = analyze_data(&options(vec![model.clone()], out.clone()), &data).unwrap();

    for f in [
        "summary.json",
        "report.md",
        "energy.csv",
        "lesion.csv",
        "units.csv",
        "drive.csv",
        "postsynaptic.csv",
        "input_variance.csv",
        "fig2a_energy.png",
        "fig2a_energy.svg",
        "fig2c_drive.png",
        "fig3a_unit_types.svg",
        "fig3b_input_variance.png",
        "fig4a_lesion.png",
        "fig4b_internal_drive.svg",
        "figS_internal_drive_intact.png",
        "groups.csv",
        "internal_drive.csv",
    ] {
        let p = out.join(f);
        assert!(
            p.is_file() && std::fs::metadata(&p).unwrap().len() > 100,
            "{f} missing or empty"
        );
    }
    let png = std::fs::read(out.join("fig2a_energy.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("![Fig 2A: energy per step](fig2a_energy.png)"),
        "{md}"
    );
    // No temporary folder left beside the report.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());

    // summary.json round-trips and equals what analyze returned (up to the timing).
    let back: Summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(back.energy, summary.energy);
    assert_eq!(back.steps, 10);
    assert_eq!(
        back.models[0].metadata.get("epc.loss").map(String::as_str),
        Some("l1_pre")
    );

    // Independent recomputation from the same sequences.
    let (x, labels) = test_sequences(&data, 11);
    let (steps, seqs, n) = x.dim();
    assert_eq!(summary.sequences.test, seqs);
    let name = &summary.models[0].name;
    let pre = &summary.energy["pre"][name];
    let mean_first: f64 = x
        .index_axis(ndarray::Axis(0), 0)
        .iter()
        .map(|&v| v as f64)
        .sum::<f64>()
        / (seqs * n) as f64;
    assert!(
        (pre[0] - mean_first).abs() < 1e-6,
        "{} vs {mean_first}",
        pre[0]
    );
    assert!((summary.reference.input[0] - mean_first).abs() < 1e-6);
    let a = reference_forward(&x, &w, None);
    for t in 0..steps {
        let mut sp = 0.0f64;
        let mut sa = 0.0f64;
        let mut st = 0.0f64;
        for s in 0..seqs {
            for j in 0..n {
                sp += a[[t, s, j]].abs() as f64;
                sa += a[[t, s, j]].max(0.0) as f64;
                let mut acc = 0.0f64;
                for i in 0..n {
                    acc += a[[t, s, i]].max(0.0) as f64 * w[[i, j]].abs() as f64;
                }
                st += acc;
            }
        }
        let c = (seqs * n) as f64;
        assert!((summary.energy["pre"][name][t] - sp / c).abs() < 1e-5);
        assert!((summary.energy["ap"][name][t] - sa / c).abs() < 1e-5);
        assert!((summary.energy["st"][name][t] - st / c).abs() < 1e-5);
        let ec = sa / c / 3.0 + 2.0 * st / c / 3.0;
        assert!((summary.energy["ec"][name][t] - ec).abs() < 1e-5);
    }
    // Dataset-median reference at step 1 with a naive per-pixel median.
    let med: Vec<f32> = (0..n)
        .map(|p| {
            naive_median(
                (0..data.train.len())
                    .map(|i| data.train.image(i)[p])
                    .collect(),
            )
        })
        .collect();
    let mut d = 0.0f64;
    for s in 0..seqs {
        for p in 0..n {
            d += (x[[0, s, p]] - med[p]).abs() as f64;
        }
    }
    assert!((summary.reference.dataset_median[0] - d / (seqs * n) as f64).abs() < 1e-6);
    // Category median at the last step: the class of frame 10 of each sequence.
    let t = steps - 1;
    let mut d = 0.0f64;
    let mut cache = std::collections::HashMap::new();
    for s in 0..seqs {
        let c = labels[s * steps + t];
        let cm = cache.entry(c).or_insert_with(|| {
            let idx: Vec<usize> = (0..data.train.len())
                .filter(|&i| data.train.labels[i] == c)
                .collect();
            (0..n)
                .map(|p| naive_median(idx.iter().map(|&i| data.train.image(i)[p]).collect()))
                .collect::<Vec<f32>>()
        });
        for p in 0..n {
            d += (x[[t, s, p]] - cm[p]).abs() as f64;
        }
    }
    assert!((summary.reference.category_median[t] - d / (seqs * n) as f64).abs() < 1e-6);

    // Unit bookkeeping is consistent.
    let types = &summary.unit_types[name];
    assert_eq!(types.values().sum::<usize>(), 64);
    let pu = &summary.prediction_units[name];
    assert_eq!(pu.count, pu.indices.len());
    assert_eq!(summary.lesion.size[name], pu.count);
    assert_eq!(
        summary.lesion.random_units[name].len(),
        pu.count.min(64 - pu.count)
    );
    assert!(summary.lesion.random_units[name]
        .iter()
        .all(|u| !pu.indices.contains(u)));
    let units_csv = std::fs::read_to_string(out.join("units.csv")).unwrap();
    assert_eq!(units_csv.lines().count(), 65);
    let p_rows = units_csv
        .lines()
        .skip(1)
        .filter(|l| !l.split(',').nth(3).unwrap().is_empty())
        .count();
    assert_eq!(p_rows, pu.count);
    // The energy CSV holds the same numbers as the JSON.
    let csv = std::fs::read_to_string(out.join("energy.csv")).unwrap();
    let row = csv
        .lines()
        .find(|l| l.starts_with(&format!("1,pre,{name},")))
        .unwrap();
    let v: f64 = row.rsplit(',').next().unwrap().parse().unwrap();
    assert_eq!(v, pre[0]);

    // A lesion of zero prediction units equals the intact curve; otherwise the lesioned run
    // matches the plain forward pass with that mask.
    let lp = &summary.lesion.prediction["pre"][name];
    let mask: Vec<f32> = (0..n)
        .map(|i| if pu.indices.contains(&i) { 0.0 } else { 1.0 })
        .collect();
    let al = reference_forward(&x, &w, Some(&mask));
    for t in 0..steps {
        let m = al
            .index_axis(ndarray::Axis(0), t)
            .iter()
            .map(|v| v.abs() as f64)
            .sum::<f64>()
            / (seqs * n) as f64;
        assert!((lp[t] - m).abs() < 1e-5);
    }

    // The dump sees the same sequences and the same lesion.
    let mut sm = StepModel::load(&model, &options(vec![], out.clone()).engine).unwrap();
    let stream = epc_analyzer::sequences::Stream::of_model(&sm).unwrap();
    let drawn = epc_analyzer::sequences::AnalysisSets::draw(&data.test, 11, &stream).unwrap();
    let lesioned =
        epc_analyzer::dump::lesioned_units(&mut sm, &data.test, &drawn, 11, Lesion::Prediction)
            .unwrap();
    assert_eq!(lesioned, pu.indices);
    let sets = epc_analyzer::dump::dump_sets(
        &epc_analyzer::DumpSequences::Test { epochs: None },
        &data.test,
        &drawn,
        11,
        &stream,
    )
    .unwrap();
    let dumped = epc_analyzer::sequences::frames(&data.test, &sets[0].seqs, STEPS);
    assert_eq!(dumped, x);
}

#[test]
fn bad_inputs_fail_cleanly_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A model whose size does not fit the 64-pixel digits.
    let small = helper_model(dir.path(), "small.onnx", &random_w(10, 10, 0.1, 1), "ok");
    let out = dir.path().join("r1");
    let err = analyze_data(&options(vec![small.clone()], out.clone()), &digits_data()).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Input(_)), "{err:?}");
    assert!(
        msg.contains("small.onnx")
            && msg.contains("takes 10 values per frame")
            && msg.contains("64 pixels"),
        "{msg}"
    );
    assert!(!out.exists());
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
            .count(),
        0
    );

    // A text file as the model.
    let text = dir.path().join("model.onnx");
    std::fs::write(&text, "not a model").unwrap();
    let err = analyze(&options(vec![text.clone()], dir.path().join("r2"))).unwrap_err();
    assert!(err.to_string().contains("not an ONNX model"), "{err}");
    assert!(!dir.path().join("r2").exists());

    // An output folder that cannot be created (its parent is a file).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "x").unwrap();
    let ok = helper_model(dir.path(), "ok.onnx", &random_w(64, 64, 0.1, 1), "ok");
    let err = analyze(&options(vec![ok.clone()], blocker.join("out"))).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    // An output path that is a file.
    let err = analyze(&options(vec![ok], blocker.clone())).unwrap_err();
    assert!(err.to_string().contains("not a folder"), "{err}");
    assert_eq!(std::fs::read_to_string(&blocker).unwrap(), "x");
    // No models at all.
    assert!(analyze_data(&options(vec![], dir.path().join("r3")), &digits_data()).is_err());
    assert!(!dir.path().join("r3").exists());
}

/// A hand-made 12-unit model on one-hot "images": unit c (c < 10) is driven by class c's pixel,
/// unit 10 by the previous frame's class-8 unit (so it predicts class 9), unit 11 is inhibited
/// by whatever class unit is active (a constant -1: it "predicts" every class).
#[test]
fn synthetic_model_has_the_designed_prediction_and_error_units() {
    use epc_core::data::{ImageShape, Images};
    let shape = ImageShape {
        channels: 1,
        height: 3,
        width: 4,
    };
    let make = |per_class: usize| {
        let mut im = Images {
            shape,
            pixels: Vec::new(),
            labels: Vec::new(),
        };
        for k in 0..per_class * 10 {
            let c = (k % 10) as u8;
            let mut px = vec![0.0f32; 12];
            px[c as usize] = 1.0;
            im.pixels.extend(px);
            im.labels.push(c);
        }
        im
    };
    let data = Dataset {
        kind: DatasetKind::Digits,
        train: make(20),
        test: make(40),
    };
    let mut w = ndarray::Array2::<f32>::zeros((12, 12));
    w[[8, 10]] = 1.0;
    for i in 0..10 {
        w[[i, 11]] = -1.0;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = helper_model(dir.path(), "synthetic.onnx", &w, "ok");
    let s = analyze_data(&options(vec![model], dir.path().join("out")), &data).unwrap();
    let name = "synthetic";
    let pu = &s.prediction_units[name];
    // Every class set ends on its class: unit c (its input, a constant 1) and unit 11 (a
    // constant -1) predict class c; unit 10 (+1 after an 8) predicts class 9 too.
    assert_eq!(s.sequences.class, vec![40; 10]);
    assert_eq!(pu.per_class, [2, 2, 2, 2, 2, 2, 2, 2, 2, 3]);
    assert_eq!(pu.indices, (0..12).collect::<Vec<_>>());
    // Error units: unit c for class c (shown 1 normally, 0 under a distractor: z infinite);
    // units 10 and 11 never differ between the two runs at index 8.
    let csv = std::fs::read_to_string(dir.path().join("out/units.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), 12);
    let classes = |field: &str| -> Vec<usize> {
        field
            .split(';')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect()
    };
    for (u, row) in rows.iter().enumerate() {
        let (predicts, errors) = (classes(&row[3]), classes(&row[4]));
        if u < 10 {
            assert!(errors.contains(&u), "unit {u}: {row:?}");
            // Predicts only its class and errs it too: within. An across pair would need a class
            // it predicts without erring, which it has not, so h1 however many classes it errs.
            assert_eq!(row[2], "h1", "unit {u}: {row:?}");
        } else {
            assert!(errors.is_empty(), "unit {u}: {row:?}");
        }
        if u == 10 {
            assert_eq!((row[2].as_str(), predicts.clone()), ("p1", vec![9]));
        }
        if u == 11 {
            assert_eq!((row[2].as_str(), predicts.len()), ("p2", 10));
        }
    }
    // Energy: pre at step 1 is the mean pixel (1/12); afterwards unit 11 adds |-1| and unit 10 adds 1 after an 8.
    let pre = &s.energy["pre"][name];
    assert!((pre[0] - 1.0 / 12.0).abs() < 1e-9);
    // Internal drive of the deterministic sequence: unit 11 gets -1 from step 2 on, unit 10 +1 after the 8.
    let d = &s.drive[name].intact;
    assert!((d.internal[0]).abs() < 1e-9);
    assert!(
        (d.internal[1] - (-1.0 / 12.0)).abs() < 1e-6,
        "{:?}",
        d.internal
    );
    assert!(
        (d.internal[9] - (1.0 - 1.0) / 12.0).abs() < 1e-6,
        "{:?}",
        d.internal
    );
    // Fig 4C (target 0): after digit 0, whatever preceded it, only unit 0 is active (h = 1,
    // row sum -1). The prediction units of class 9 (units 9, 10, 11) send nothing; the error
    // units of class 0 outside them average h_i * rowsum_i = -1 / their number.
    let ps = &s.postsynaptic[name];
    assert_eq!(ps.prediction_units, 3);
    assert_eq!(ps.prediction.as_ref().unwrap(), &vec![0.0; 9]);
    let e = ps.error.as_ref().unwrap();
    assert_eq!(e.len(), 9);
    for v in e {
        assert!((v + 1.0 / ps.error_units as f64).abs() < 1e-9, "{e:?}");
    }
    // Fig 4B: the internal drive after k frames leading up to 0 is -1 at unit 11 (k >= 1),
    // +1 at unit 10 never (the frame before 0 is 9), so its mean over the 12 units is -1/12.
    let drive = &s.internal_drive[name]["intact"];
    assert_eq!(drive[0], 0.0);
    for d in &drive[1..] {
        assert!((d + 1.0 / 12.0).abs() < 1e-6, "{drive:?}");
    }
}
