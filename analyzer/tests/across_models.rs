//! Several models in one analysis: intervals across them (the published bootstrap on request,
//! Student t by default, none for one model), and a report folder replaced as a whole.

mod common;

use common::*;
use epc_analyzer::analyze_data;
use epc_analyzer::sequences::STEPS;

#[test]
fn several_models_get_confidence_intervals_and_reports_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let models: Vec<_> = (0..3)
        .map(|k| {
            helper_model(
                dir.path(),
                &format!("m{k}.onnx"),
                &random_w(64, 64, 0.125, 100 + k),
                "ok",
            )
        })
        .collect();
    let out = dir.path().join("multi");
    std::fs::create_dir(&out).unwrap();
    // An earlier report (it has a summary.json) is replaced as a whole.
    std::fs::write(out.join("summary.json"), "{}").unwrap();
    std::fs::write(out.join("stale.txt"), "old report").unwrap();
    let mut opts = options(models, out.clone());
    opts.figures = false;
    opts.ci = epc_analyzer::intervals::CiMethod::Published;
    let s = analyze_data(&opts, &digits_data()).unwrap();
    assert!(
        !out.join("stale.txt").exists(),
        "the old report is replaced as a whole"
    );
    assert!(out.join("summary.json").is_file());
    assert!(!out.join("fig2a_energy.png").exists());
    assert_eq!(s.models.len(), 3);
    let ci = &s.energy_ci.as_ref().unwrap()["pre"];
    for t in 0..STEPS {
        let vals: Vec<f64> = s.energy["pre"].values().map(|c| c[t]).collect();
        let mean = vals.iter().sum::<f64>() / 3.0;
        assert!((ci.mean[t] - mean).abs() < 1e-12);
        let (mn, mx) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        // The basic (published) interval [2m - q97.5, 2m - q2.5] lies within [2m - max, 2m - min].
        let m = ci.mean[t];
        let (lo, hi) = (ci.lo.as_ref().unwrap(), ci.hi.as_ref().unwrap());
        assert!(
            lo[t] >= 2.0 * m - mx - 1e-12
                && hi[t] <= 2.0 * m - mn + 1e-12
                && lo[t] <= m
                && m <= hi[t],
            "step {t}: {ci:?}"
        );
    }
    // Step 1 does not depend on W: all three models agree there, so the CI has zero width.
    let (lo, hi) = (ci.lo.as_ref().unwrap(), ci.hi.as_ref().unwrap());
    assert!((hi[0] - lo[0]).abs() < 1e-9);
    // The default: Student t over the three models, mean +- t(0.975, 2) sd / sqrt(3).
    opts.ci = epc_analyzer::intervals::CiMethod::T;
    let t = analyze_data(&opts, &digits_data()).unwrap();
    let tci = &t.energy_ci.as_ref().unwrap()["pre"];
    for step in 1..STEPS {
        let vals: Vec<f64> = t.energy["pre"].values().map(|c| c[step]).collect();
        let mean = vals.iter().sum::<f64>() / 3.0;
        let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        let half = 4.302_652_729_749_464 * sd / 3f64.sqrt();
        assert!((tci.lo.as_ref().unwrap()[step] - (mean - half)).abs() < 1e-9);
        assert!((tci.hi.as_ref().unwrap()[step] - (mean + half)).abs() < 1e-9);
    }
    // One model: no interval at all, rather than a zero-width one.
    assert!(t.groups[0].saving_vs_input.lo.is_some());
    let one = analyze_data(
        &options(vec![opts.models[0].clone()], dir.path().join("one")),
        &digits_data(),
    )
    .unwrap();
    let g = &one.groups[0];
    assert_eq!(
        (
            g.saving_vs_input.lo,
            g.saving_vs_input.hi,
            g.saving_vs_input.n
        ),
        (None, None, 1)
    );
    assert!(g.energy["pre"].lo.is_none());
    let lci = s.lesion.ci.as_ref().unwrap();
    assert!(
        lci.contains_key("intact") && lci.contains_key("prediction") && lci.contains_key("random")
    );
}
