//! Interrupts, extensions and concurrent runs: every fault gives one clear line and loses no
//! finished work.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn epochs_done(run: &std::path::Path, seed: u64) -> usize {
    std::fs::read_to_string(run.join(format!("seed-{seed}/history.jsonl")))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

fn wait_for_epochs(run: &std::path::Path, seed: u64, n: usize) {
    let t0 = Instant::now();
    while epochs_done(run, seed) < n {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "never reached epoch {n}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn train(out: &std::path::Path, epochs: &str) -> Command {
    let mut c = epc();
    c.args([
        "train",
        "--epochs",
        epochs,
        "--seeds",
        "3",
        "--device",
        "cpu",
        "--plain",
        "--no-export",
        "--out",
    ])
    .arg(out);
    c
}

/// SIGINT and SIGTERM stop a run between batches with one line that says how to resume, exit
/// 128 + the signal, and leave a checkpoint that resumes to the uninterrupted result.
#[test]
fn signals_stop_training_cleanly_and_the_run_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    assert!(train(&full, "1500").output().unwrap().status.success());
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let cut = tmp.path().join(format!("cut-{signal}"));
        let child = train(&cut, "1500").stderr(Stdio::piped()).spawn().unwrap();
        wait_for_epochs(&cut, 3, 40);
        let killed = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{err}");
        let line = err
            .lines()
            .find(|l| l.starts_with("epc: interrupted by SIG"))
            .unwrap_or_else(|| panic!("no interruption line in {err}"));
        assert!(
            line.contains(&format!("SIG{signal}")) && line.contains("epc train --resume"),
            "{line}"
        );
        assert!(!err.contains("panicked"), "{err}");
        // Nothing half-written: no temporary files, and the checkpoint reads back.
        let inst = cut.join("seed-3");
        assert!(std::fs::read_dir(&inst).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp-")));
        let o = epc()
            .args(["train", "--resume"])
            .arg(&cut)
            .args(["--plain", "--no-export"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        for f in ["weights.safetensors", "last.safetensors"] {
            assert_eq!(
                std::fs::read(full.join("seed-3").join(f)).unwrap(),
                std::fs::read(inst.join(f)).unwrap(),
                "{f} differs after an interrupted run resumed ({signal})"
            );
        }
    }
}

/// `--resume RUN --epochs N` extends a finished run to the result of a run of N epochs, and
/// records the change; fewer epochs and other settings are refused.
#[test]
fn a_finished_run_is_extended_to_the_longer_runs_result() {
    let tmp = tempfile::tempdir().unwrap();
    let long = tmp.path().join("long");
    let short = tmp.path().join("short");
    assert!(train(&long, "60").output().unwrap().status.success());
    assert!(train(&short, "40").output().unwrap().status.success());
    let o = epc()
        .args(["train", "--resume"])
        .arg(&short)
        .args(["--epochs", "60", "--plain", "--no-export"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["weights.safetensors", "last.safetensors"] {
        assert_eq!(
            std::fs::read(long.join("seed-3").join(f)).unwrap(),
            std::fs::read(short.join("seed-3").join(f)).unwrap(),
            "{f}"
        );
    }
    let cfg = read_json(&short.join("seed-3/config.json"));
    assert_eq!(cfg["train"]["epochs"], 60);
    let change = &cfg["changes"][0];
    assert_eq!(
        (
            change["field"].as_str(),
            change["from"].as_u64(),
            change["to"].as_u64()
        ),
        (Some("train.epochs"), Some(40), Some(60))
    );
    let state = read_json(&short.join("seed-3/train_state.json"));
    assert_eq!(state["epochs_trained"], 60);
    // Shrinking is refused in one line; other settings are refused by the argument parser.
    let o = epc()
        .args(["train", "--resume"])
        .arg(&short)
        .args(["--epochs", "10", "--plain"])
        .output()
        .unwrap();
    assert_clean_failure(&o, "fewer than the run's 60");
    let o = epc()
        .args(["train", "--resume"])
        .arg(&short)
        .args(["--lr", "0.1"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--lr"), "{}", stderr(&o));
}

/// Two processes started at the same instant into one run folder: exactly one trains, the other
/// fails at once with one line; a killed process leaves no stale lock.
#[test]
fn a_run_folder_takes_one_trainer_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let children: Vec<_> = (0..2)
        .map(|_| train(&run, "300").stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let ok = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        outputs.iter().map(stderr).collect::<Vec<_>>()
    );
    let failed = outputs.iter().find(|o| !o.status.success()).unwrap();
    let err = stderr(failed);
    assert!(
        err.contains("another process") || err.contains("already holds a run"),
        "{err}"
    );
    assert_clean_failure(failed, "run");
    // A trainer killed with SIGKILL (no chance to clean up) does not block --resume.
    let killed = tmp.path().join("killed");
    let mut child = train(&killed, "1500")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_epochs(&killed, 3, 20);
    child.kill().unwrap();
    child.wait().unwrap();
    let o = epc()
        .args(["train", "--resume"])
        .arg(&killed)
        .args(["--plain", "--no-export"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// An interrupted dump and an interrupted analysis stop at the next chunk, exit 130 and leave
/// no temporary file or folder.
#[test]
fn interrupted_dumps_and_analyses_leave_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");
    // MNIST-sized, so that an analysis one sequence at a time takes seconds.
    let data = copy_folder(&testdata("mnist-small"), &tmp.path().join("data"));
    train_mnist(&data, &run_dir, "1");
    let model = run_dir.join("seed-0/model.onnx");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for args in [
        vec![
            "dump",
            "--epochs",
            "3000",
            "--batch-size",
            "1",
            "--out",
            "d.h5",
        ],
        vec!["analyze", "--batch-size", "1", "--out", "report"],
    ] {
        let child = epc()
            .args(&args[..1])
            .arg("--model")
            .arg(&model)
            .arg("--data-dir")
            .arg(&data)
            .args(&args[1..])
            .current_dir(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(130), "{}: {err}", args[0]);
        assert!(err.contains("interrupted by SIGINT"), "{err}");
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(left.is_empty(), "{} left {left:?}", args[0]);
    }
}
