//! A killed training process resumes to exactly the result of an uninterrupted run.

mod common;
use common::*;
use std::time::{Duration, Instant};

const EPOCHS: &str = "1500";

fn train_args(out: &std::path::Path, extra: &[&str]) -> Vec<String> {
    [
        "train",
        "--epochs",
        EPOCHS,
        "--seeds",
        "3",
        "--device",
        "cpu",
        "--plain",
        "--no-export",
    ]
    .iter()
    .chain(extra)
    .chain(&["--out"])
    .map(|s| s.to_string())
    .chain([out.to_str().unwrap().to_string()])
    .collect()
}

fn epochs_done(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("seed-3/history.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn killed_run_resumes_bit_identically() {
    kill_and_resume(&[]);
}

#[test]
fn killed_run_resumes_bit_identically_mid_schedule() {
    // Warm-up, then a cosine decay over the whole run: the kill lands mid-decay.
    let history = kill_and_resume(&[
        "--lr",
        "1e-3",
        "--lr-schedule",
        "cosine",
        "--min-lr",
        "1e-5",
        "--warmup-epochs",
        "5",
    ]);
    let lr: Vec<f64> = history.iter().map(|h| h["lr"].as_f64().unwrap()).collect();
    assert!((lr[0] - 2e-4).abs() < 1e-12, "{}", lr[0]);
    assert_eq!(lr[4], 1e-3);
    assert!(
        lr[100] < lr[50] && lr[1499] < 2e-5,
        "{} {} {}",
        lr[50],
        lr[100],
        lr[1499]
    );
}

/// Trains a run whole, and again killed after 50 epochs and resumed; asserts the same files
/// and returns the history (without the seconds).
fn kill_and_resume(extra: &[&str]) -> Vec<serde_json::Value> {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full");
    let o = epc().args(train_args(&full, extra)).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let cut = tmp.path().join("cut");
    let mut child = epc()
        .args(train_args(&cut, extra))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while epochs_done(&cut) < 50 {
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "training never reached epoch 50"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let at_kill = epochs_done(&cut);
    assert!(
        at_kill < 1500,
        "the run finished before it was killed ({at_kill} epochs)"
    );
    assert!(!cut.join("seed-3/weights.safetensors").exists());

    let o = epc()
        .args([
            "train",
            "--resume",
            cut.to_str().unwrap(),
            "--plain",
            "--no-export",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("resuming after epoch"),
        "{}",
        stderr(&o)
    );
    let mut history = Vec::new();
    for f in ["weights.safetensors", "last.safetensors", "history.jsonl"] {
        let a = std::fs::read(full.join("seed-3").join(f)).unwrap();
        let b = std::fs::read(cut.join("seed-3").join(f)).unwrap();
        if f == "history.jsonl" {
            // Seconds differ; everything else must match.
            let strip = |t: &[u8]| -> Vec<serde_json::Value> {
                String::from_utf8_lossy(t)
                    .lines()
                    .map(|l| {
                        let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                        v.as_object_mut().unwrap().remove("seconds");
                        v
                    })
                    .collect()
            };
            assert_eq!(strip(&a), strip(&b));
            history = strip(&a);
        } else {
            assert_eq!(a, b, "{f} differs after resume");
        }
    }
    history
}
