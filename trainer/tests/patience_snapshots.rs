//! Patience snapshots: one long run writes what runs with shorter patiences end with, and
//! each snapshot equals such a run trained on its own, file for file.

mod common;

use common::request;
use epc_core::config::{DeviceChoice, Loss, RunConfig};
use epc_core::run::{InstanceDir, RunDir, StopReason};
use epc_trainer::train;
use epc_trainer::Silent;
use std::path::Path;

const SEEDS: [u64; 2] = [1, 2];

/// Trains `cfg` into `out`, exporting the models.
fn train_to(cfg: &RunConfig, out: &Path) -> Vec<train::InstanceOutcome> {
    let mut req = request(cfg, &SEEDS, out);
    req.options.export_onnx = true;
    train::train(&req, &mut Silent).unwrap()
}

/// A digits run whose validation loss stalls within a few epochs (a large learning rate, a
/// smoothed criterion with a relative threshold), so that short patiences trigger early.
fn config(patience: Option<usize>, snapshots: &[usize]) -> RunConfig {
    let mut c = RunConfig::default();
    c.train.epochs = 80;
    c.train.device = DeviceChoice::Cpu;
    c.train.loss = Loss::L1Pre;
    c.optim.lr = 0.05;
    c.train.smoothing = 2;
    c.train.min_rel_delta = 0.002;
    c.train.patience = patience;
    c.train.patience_snapshots = snapshots.to_vec();
    c.resolve().unwrap()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&bytes(path)).unwrap()
}

/// The history without its wall times.
fn history(dir: &InstanceDir) -> Vec<serde_json::Value> {
    String::from_utf8(bytes(&dir.history()))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

/// `a` and `b` hold the same result: weights, last weights, state, config, history and a
/// model of the same size.
fn assert_same_result(a: &InstanceDir, b: &InstanceDir) {
    let what = format!("{} vs {}", a.path().display(), b.path().display());
    assert_eq!(bytes(&a.weights()), bytes(&b.weights()), "weights: {what}");
    assert_eq!(
        bytes(&a.last_weights()),
        bytes(&b.last_weights()),
        "last: {what}"
    );
    assert_eq!(json(&a.state()), json(&b.state()), "state: {what}");
    assert_eq!(json(&a.config()), json(&b.config()), "config: {what}");
    assert_eq!(history(a), history(b), "history: {what}");
    assert_eq!(
        bytes(&a.step_model()).len(),
        bytes(&b.step_model()).len(),
        "{what}"
    );
    assert!(a.untrained_model().is_file(), "{what}");
}

#[test]
fn each_patience_snapshot_equals_a_run_with_that_patience() {
    let tmp = tempfile::tempdir().unwrap();
    let long = tmp.path().join("long");
    let out = train_to(&config(None, &[3, 2, 200]), &long);
    assert!(out
        .iter()
        .all(|o| o.epochs_trained == 80 && o.stopped.is_none()));
    let run = RunDir::new(&long);
    let found: Vec<usize> = run
        .patience_snapshots()
        .unwrap()
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    assert_eq!(found, [2, 3, 200]);
    for p in [2, 3] {
        let alone = tmp.path().join(format!("alone-{p}"));
        let direct = train_to(&config(Some(p), &[]), &alone);
        for (o, seed) in direct.iter().zip(SEEDS) {
            // The patience did stop the run, well before the long run's end, and only after
            // the smoothed loss had improved for a while.
            assert!(
                matches!(o.stopped, Some(StopReason::EarlyStop { .. }))
                    && o.epochs_trained < 70
                    && o.epochs_trained > p + 3,
                "patience {p}, seed {seed}: {o:?}"
            );
            let snap = run.instance(seed).patience_snapshot(p);
            assert_same_result(&snap, &InstanceDir::new(&o.dir));
            // ... and differs from the long run's own result.
            assert_ne!(
                bytes(&snap.last_weights()),
                bytes(&run.instance(seed).last_weights())
            );
        }
    }
    // A patience that never triggers ran every epoch: the long run's own result, recorded as
    // a run with that patience.
    for seed in SEEDS {
        let (own, snap) = (
            run.instance(seed),
            run.instance(seed).patience_snapshot(200),
        );
        assert_eq!(bytes(&snap.weights()), bytes(&own.weights()));
        assert_eq!(json(&snap.state()), json(&own.state()));
        assert_eq!(json(&snap.config())["train"]["patience"], 200);
        assert!(
            !snap.checkpoint().exists(),
            "a snapshot is a result, not a checkpoint"
        );
    }
}

#[test]
fn a_snapshot_must_be_below_the_runs_own_patience() {
    let mut c = config(Some(4), &[]);
    c.train.patience_snapshots = vec![2, 4];
    let err = c.resolve().unwrap_err().to_string();
    assert!(err.contains("patience snapshot 4"), "{err}");
}
