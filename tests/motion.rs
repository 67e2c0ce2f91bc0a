//! The moving-digit stream (issue 15): trained, exported, dumped and analysed on its canvas,
//! with the frames and the reference curves checked against an independent placement.
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

mod common;
use common::*;
use epc_core::data::digits;
use std::path::Path;

const CANVAS: usize = 12;
const SIDE: usize = 8;

fn train(out: &Path, epochs: &str, extra: &[&str]) {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/fast-digits.toml");
    let mut args = vec!["train", "--config", cfg.to_str().unwrap(), "--seeds", "0"];
    args.extend_from_slice(extra);
    args.extend(["--epochs", epochs, "--device", "cpu", "--plain"]);
    args.extend(["--out", out.to_str().unwrap()]);
    run_ok(&args);
}

/// The top-left corner of `image` (8x8) on the `frame` (12x12): the offset where the window
/// equals the image and every other pixel is blank (unique unless the image is blank).
fn find(frame: &[f32], image: &[f32]) -> Option<[usize; 2]> {
    let span = CANVAS - SIDE;
    let mut found = None;
    for r0 in 0..=span {
        for c0 in 0..=span {
            let fits = (0..CANVAS).all(|r| {
                (0..CANVAS).all(|c| {
                    let inside = (r0..r0 + SIDE).contains(&r) && (c0..c0 + SIDE).contains(&c);
                    let want = if inside {
                        image[(r - r0) * SIDE + c - c0]
                    } else {
                        0.0
                    };
                    frame[r * CANVAS + c] == want
                })
            });
            if fits && found.is_none() {
                found = Some([r0, c0]);
            }
        }
    }
    found
}

/// The lower middle value (torch.median's convention).
fn lower_median(mut v: Vec<f32>) -> f32 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(v.len() - 1) / 2]
}

#[test]
fn a_moving_digit_network_is_analysed_on_its_canvas_against_placed_medians() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("moving");
    train(&run_dir, "20", &["--canvas", "12", "--max-speed", "1"]);
    let cfg = read_json(&run_dir.join("seed-0/config.json"));
    assert_eq!(cfg["sequence"]["motion"]["canvas"], 12);
    assert_eq!(cfg["sequence"]["motion"]["max_speed"], 1);
    assert_eq!(cfg["model"]["units"], CANVAS * CANVAS);
    let model = run_dir.join("seed-0/model.onnx");
    let check = run_ok(&["check-model", model.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&check.stdout).contains("144"));

    let out = dir.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = read_json(&out.join("summary.json"));
    assert_eq!(
        s["models"][0]["stream"],
        "ascending, moving on a 12x12 canvas (speed <= 1)"
    );
    assert_eq!(s["sequence_sets"][0]["config"]["motion"]["canvas"], 12);

    // The analysis's test set, dumped: every frame is its test image pasted on a blank canvas,
    // and the image moves at most one pixel per axis and step.
    let dump = dir.path().join("test.h5");
    run_ok(&[
        "dump",
        "--model",
        model.to_str().unwrap(),
        "--out",
        dump.to_str().unwrap(),
    ]);
    let d = epc_exporter::h5::read_dump(&dump).unwrap();
    let (steps, seqs, n) = (d.header.steps, d.header.sequences, d.header.n_in);
    assert_eq!(n, CANVAS * CANVAS);
    assert_eq!(seqs, s["sequences"]["test"].as_u64().unwrap() as usize);
    let (train_split, test_split) = digits::embedded();
    let x = d.input.unwrap();
    let frames = d.frames.unwrap();
    let frame = |t: usize, q: usize| &x[(t * seqs + q) * n..(t * seqs + q + 1) * n];
    let mut corners = vec![[0usize; 2]; steps * seqs];
    for q in 0..seqs {
        for t in 0..steps {
            let img = test_split.image(frames[q * steps + t] as usize);
            corners[t * seqs + q] = find(frame(t, q), img)
                .unwrap_or_else(|| panic!("sequence {q} step {t}: the image is not on the canvas"));
        }
    }
    // The dump's `positions` say the same, `[sequences, steps, 2]`.
    let positions = d
        .positions
        .as_ref()
        .expect("a moving model's dump has positions");
    for q in 0..seqs {
        for t in 0..steps {
            let at = &positions[(q * steps + t) * 2..(q * steps + t) * 2 + 2];
            let want = corners[t * seqs + q].map(|v| v as i32);
            assert_eq!(at, want, "sequence {q} step {t}");
        }
    }
    let moved = (0..seqs)
        .filter(|&q| corners[q] != corners[seqs + q])
        .count();
    assert!(moved > seqs / 2, "only {moved} of {seqs} sequences move");

    // The spatial rule's input baseline: the position (the image's centre) read from the
    // frames by the same ridge readout, fitted on the first half of the test sequences,
    // recomputed here from the dump's frames and positions.
    let rule = s["spatial_rules"]
        .as_object()
        .and_then(|m| m.values().next())
        .expect("a moving model has a spatial rule");
    let rows = seqs * steps;
    let pixels = ndarray::Array2::from_shape_fn((rows, n), |(r, j)| frame(r % steps, r / steps)[j]);
    let centres = ndarray::Array2::from_shape_fn((rows, 2), |(r, c)| {
        (corners[(r % steps) * seqs + r / steps][c] + SIDE / 2) as f64
    });
    let fit = seqs / 2;
    let input = epc_analyzer::analysis::position_readout(
        pixels.view(),
        centres.view(),
        fit * steps,
        rule["lambda"].as_f64().unwrap(),
    );
    assert_eq!(rule["fit_sequences"].as_u64().unwrap() as usize, fit);
    let got = rule["input_r2"].as_f64().unwrap();
    assert!((input.r2 - got).abs() < 1e-9, "{} vs {got}", input.r2);
    assert!(got > 0.5, "the position is in the frames: {got}");
    let r2 = rule["r2"].as_f64().unwrap();
    assert!(r2.is_finite() && r2 <= 1.0, "{r2}");
    assert_eq!(rule["null"]["units"], 1, "0.5% of 144 units, at least one");
    assert_eq!(rule["null"]["draws"], 100);

    // The references: mean |x - median image placed where the frame's image is|, with the
    // medians of the training split computed here.
    let per_pixel = |class: Option<u8>| -> Vec<f32> {
        (0..SIDE * SIDE)
            .map(|p| {
                let col: Vec<f32> = (0..train_split.len())
                    .filter(|&i| class.is_none_or(|c| train_split.labels[i] == c))
                    .map(|i| train_split.image(i)[p])
                    .collect();
                lower_median(col)
            })
            .collect()
    };
    let overall = per_pixel(None);
    let by_class: Vec<Vec<f32>> = (0..10u8).map(|c| per_pixel(Some(c))).collect();
    let placed = |m: &[f32], at: [usize; 2], r: usize, c: usize| -> f32 {
        let (r0, c0) = (at[0], at[1]);
        if (r0..r0 + SIDE).contains(&r) && (c0..c0 + SIDE).contains(&c) {
            m[(r - r0) * SIDE + c - c0]
        } else {
            0.0
        }
    };
    for t in 0..steps {
        let (mut dm, mut cm) = (0.0f64, 0.0f64);
        for q in 0..seqs {
            let f = frame(t, q);
            let at = corners[t * seqs + q];
            let class = d.labels[q * steps + t] as usize;
            for r in 0..CANVAS {
                for c in 0..CANVAS {
                    let v = f[r * CANVAS + c];
                    dm += f64::from((v - placed(&overall, at, r, c)).abs());
                    cm += f64::from((v - placed(&by_class[class], at, r, c)).abs());
                }
            }
        }
        let count = (seqs * n) as f64;
        let reference = &s["reference"];
        let got_dm = reference["dataset_median"][t].as_f64().unwrap();
        let got_cm = reference["category_median"][t].as_f64().unwrap();
        assert!(
            (dm / count - got_dm).abs() < 1e-6,
            "step {t}: {} vs {got_dm}",
            dm / count
        );
        assert!(
            (cm / count - got_cm).abs() < 1e-6,
            "step {t}: {} vs {got_cm}",
            cm / count
        );
        // Knowing the class is worth something on a canvas too.
        assert!(got_cm < got_dm, "step {t}");
    }
}

#[test]
fn bad_motion_settings_and_mixed_canvases_fail_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let o = run(&[
        "train",
        "--canvas",
        "6",
        "--out",
        out.to_str().unwrap(),
        "--plain",
    ]);
    assert_clean_failure(&o, "smaller than the images (8x8)");
    let o = run(&["train", "--max-speed", "2", "--out", out.to_str().unwrap()]);
    assert_clean_failure(&o, "give --canvas as well");
    let o = run(&[
        "train",
        "--canvas",
        "12",
        "--max-speed",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "max_speed must be at least 1");
    assert!(!out.exists());

    // Two canvases in one analysis; an index file for a moving model.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    train(&a, "2", &["--canvas", "12"]);
    train(&b, "2", &[]);
    let (ma, mb) = (a.join("seed-0/model.onnx"), b.join("seed-0/model.onnx"));
    let report = dir.path().join("r");
    let o = run(&[
        "analyze",
        "--model",
        ma.to_str().unwrap(),
        "--model",
        mb.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "frames of different shapes");
    assert!(!report.exists());
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, "0,1,2\n").unwrap();
    let o = run(&[
        "dump",
        "--model",
        ma.to_str().unwrap(),
        "--sequences-file",
        rows.to_str().unwrap(),
        "--out",
        dir.path().join("d.h5").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "moving stream");
}
