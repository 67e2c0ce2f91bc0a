//! Unit tests of the run folder: its layout, its lock, its typed files and its stop reasons.

use super::*;

#[test]
fn layout_and_listing() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::new(tmp.path());
    let a = run.instance(3);
    assert_eq!(a.path(), tmp.path().join("seed-3"));
    assert_eq!(a.weights(), tmp.path().join("seed-3/weights.safetensors"));
    for s in [10, 2] {
        std::fs::create_dir_all(run.instance(s).path()).unwrap();
    }
    std::fs::create_dir_all(tmp.path().join("other")).unwrap();
    let names: Vec<String> = run
        .instances()
        .unwrap()
        .iter()
        .map(|i| i.path().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["seed-10", "seed-2"]);
    let e = RunDir::resolve_instances(&tmp.path().join("other"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("other") && e.contains("seed-*"), "{e}");
    let e = RunDir::step_models(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("model.onnx"), "{e}");
    std::fs::write(run.instance(2).step_model(), b"x").unwrap();
    assert_eq!(
        RunDir::step_models(tmp.path()).unwrap(),
        vec![run.instance(2).step_model()]
    );
}

#[test]
fn the_untrained_sibling_is_found_only_where_it_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = RunDir::new(tmp.path()).instance(4);
    std::fs::create_dir_all(inst.path()).unwrap();
    assert_eq!(
        inst.initial_weights(),
        inst.path().join("initial.safetensors")
    );
    assert_eq!(
        inst.untrained_model(),
        inst.path().join("model.untrained.onnx")
    );
    assert_eq!(
        inst.untrained_step_v2_model(),
        inst.path().join("model.untrained.v2.onnx")
    );
    for m in [inst.step_model(), inst.step_v2_model()] {
        std::fs::write(&m, b"x").unwrap();
    }
    // A run folder from before the initial weights were kept.
    assert_eq!(untrained_model_for(&inst.step_model()), None);
    assert_eq!(untrained_model_for(&inst.step_v2_model()), None);
    std::fs::write(inst.untrained_model(), b"x").unwrap();
    assert_eq!(
        untrained_model_for(&inst.step_model()),
        Some(inst.untrained_model())
    );
    assert_eq!(untrained_model_for(&inst.step_v2_model()), None);
    std::fs::write(inst.untrained_step_v2_model(), b"x").unwrap();
    assert_eq!(
        untrained_model_for(&inst.step_v2_model()),
        Some(inst.untrained_step_v2_model())
    );
    for other in [
        inst.untrained_model(),
        inst.sequence_model(),
        inst.path().join("elsewhere.onnx"),
        PathBuf::from("/"),
    ] {
        assert_eq!(untrained_model_for(&other), None, "{}", other.display());
    }
}

#[test]
fn a_run_folder_is_locked_by_one_holder_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::new(tmp.path().join("run"));
    let held = run.lock().unwrap();
    let e = run.lock().unwrap_err().to_string();
    assert!(
        e.contains("another process") && e.contains(&std::process::id().to_string()),
        "{e}"
    );
    assert!(run.is_busy().unwrap());
    drop(held);
    assert!(!run.is_busy().unwrap());
    run.lock().unwrap();
}

/// A status probe that holds the lock for a moment delays a trainer; it does not fail it.
#[test]
fn a_status_probe_does_not_make_a_trainer_fail() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::new(tmp.path().join("run"));
    drop(run.lock().unwrap());
    let probe = std::fs::File::open(tmp.path().join("run").join(LOCK_FILE)).unwrap();
    probe.lock_shared().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(LOCK_PATIENCE / 4);
        drop(probe);
    });
    let start = std::time::Instant::now();
    run.lock().unwrap();
    assert!(
        start.elapsed() >= LOCK_PATIENCE / 8,
        "the lock did not wait for the probe"
    );
    release.join().unwrap();
}

#[test]
fn typed_files_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let inst = InstanceDir::new(tmp.path().join("seed-0"));
    assert_eq!(inst.read_state().unwrap(), None);
    let state = TrainState {
        epochs_trained: 7,
        best_epoch: 5,
        best_val_loss: 1.25,
        stopped: Some(StopReason::EarlyStop {
            epochs_without_improvement: 2,
        }),
        device: "cpu".into(),
    };
    inst.write_state(&state).unwrap();
    assert_eq!(inst.read_state().unwrap(), Some(state));
    let text = std::fs::read_to_string(inst.state()).unwrap();
    assert!(text.contains("\"kind\": \"early-stop\""), "{text}");
    let h = vec![EpochRecord {
        epoch: 1,
        train_loss: 2.0,
        val_loss: 1.5,
        mean_abs_w: 0.1,
        mean_sq_w: 0.01,
        seconds: 0.5,
        lr: Some(1e-3),
        sequences: Some(160),
        drawn: Some(163),
    }];
    inst.write_history(&h).unwrap();
    assert_eq!(inst.read_history().unwrap(), h);
    std::fs::write(inst.history(), "{\"epoch\": 1}\n").unwrap();
    let e = inst.read_history().unwrap_err().to_string();
    assert!(e.contains("history.jsonl: line 1"), "{e}");
}

#[test]
fn stop_reasons_read_as_text() {
    let nf = StopReason::NonFinite {
        epoch: 3,
        train_loss: f64::NAN,
        val_loss: 1.0,
    };
    assert!(nf.is_failure());
    assert_eq!(
        nf.to_string(),
        "non-finite loss at epoch 3 (train NaN, validation 1)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let inst = InstanceDir::new(tmp.path());
    let state = TrainState {
        epochs_trained: 0,
        best_epoch: 0,
        best_val_loss: f64::INFINITY,
        stopped: Some(nf),
        device: "cpu".into(),
    };
    inst.write_state(&state).unwrap();
    let back = inst.read_state().unwrap().unwrap();
    assert_eq!(back.best_val_loss, f64::INFINITY);
    assert!(
        matches!(back.stopped, Some(StopReason::NonFinite { train_loss, .. }) if train_loss.is_nan())
    );
    assert!(!StopReason::EarlyStop {
        epochs_without_improvement: 4
    }
    .is_failure());
}
