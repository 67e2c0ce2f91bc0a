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
