//! What a user sees without a terminal (a log file, CI, Slurm): `epc train` logs about 20 epoch
//! lines per run, the first and the last always, not one per epoch.

mod common;

use common::*;

/// The epochs `epc train` logged a line for, in order.
fn logged_epochs(stderr: &str) -> Vec<usize> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("epc: epoch "))
        .map(|l| l.split('/').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn a_long_run_logs_about_twenty_epoch_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let o = train_digits(&tmp.path().join("run"), "0", "200");
    assert!(o.status.success(), "{}", stderr(&o));
    let epochs = logged_epochs(&stderr(&o));
    // Every 10th epoch of 200, and the first: 21 lines.
    assert_eq!(epochs.first(), Some(&1), "{epochs:?}");
    assert_eq!(epochs.last(), Some(&200), "{epochs:?}");
    assert_eq!(epochs.len(), 21, "{epochs:?}");
    assert!(epochs.windows(2).all(|w| w[1] - w[0] <= 10), "{epochs:?}");

    // A short run logs every epoch.
    let o = train_digits(&tmp.path().join("short"), "0", "5");
    assert_eq!(logged_epochs(&stderr(&o)), vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_run_that_stops_early_still_logs_its_last_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Patience 1 with a large threshold of improvement stops after a couple of epochs.
    let o = run_ok(&[
        "train",
        "--epochs",
        "400",
        "--patience",
        "1",
        "--min-delta",
        "1000",
        "--plain",
        "--out",
        run.to_str().unwrap(),
    ]);
    let epochs = logged_epochs(&stderr(&o));
    let state = read_json(&run.join("seed-0/train_state.json"));
    let done = state["epochs_trained"].as_u64().unwrap() as usize;
    assert!(done < 400, "{state}");
    assert_eq!(epochs.last(), Some(&done), "{epochs:?}");
}

#[test]
fn the_report_draws_each_runs_learning_curve() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    train_digits(&run, "0,1", "6");
    let report = tmp.path().join("report");
    run_ok(&[
        "analyze",
        "--model",
        run.to_str().unwrap(),
        "--null-draws",
        "5",
        "--out",
        report.to_str().unwrap(),
    ]);
    let s = read_json(&report.join("summary.json"));
    for seed in ["seed-0", "seed-1"] {
        let history = std::fs::read_to_string(run.join(seed).join("history.jsonl")).unwrap();
        let want: Vec<f64> = history
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["val_loss"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        let got: Vec<f64> = s["learning_curves"][seed]["val_loss"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", s["learning_curves"]))
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(got, want);
    }
    assert!(report.join("learning_curves.png").is_file());
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("learning_curves.png"));
}
