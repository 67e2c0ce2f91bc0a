//! `epc sweep`: a plan's grid trained into a study folder, finished cells skipped, interrupted
//! ones resumed to the uninterrupted result, bad plans refused with one line.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes a digits plan into `dir` and returns its path.
fn plan(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("plan.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn sweep(plan: &Path, out: &Path) -> Command {
    let mut c = epc();
    c.arg("sweep").arg(plan).arg("--out").arg(out);
    c
}

const LOSSES: &str = "seeds = [0, 1]\n[grid]\nloss = [\"l1-pre\", \"l1-post\"]\n\
                      [set]\nepochs = 30\nlr = 0.001\ndevice = \"cpu\"\n\
                      [analyze]\nargs = [\"--no-figures\", \"--bootstrap\", \"200\"]\n";

#[test]
fn a_study_trains_every_cell_skips_finished_ones_and_refuses_another_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(tmp.path(), LOSSES);
    let study = tmp.path().join("study");
    let o = sweep(&p, &study).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for cell in ["loss=l1-pre", "loss=l1-post"] {
        for seed in [0, 1] {
            let inst = study.join("cells").join(cell).join(format!("seed-{seed}"));
            let cfg = read_json(&inst.join("config.json"));
            assert_eq!(cfg["train"]["loss"], cell.trim_start_matches("loss="));
            assert_eq!(cfg["train"]["epochs"], 30);
            assert_eq!(cfg["seed"], seed);
            let state = read_json(&inst.join("train_state.json"));
            assert_eq!(state["epochs_trained"], 30);
            assert!(inst.join("model.onnx").exists());
        }
    }
    // The analysis compares the two losses as groups of two instances.
    let summary = read_json(&study.join("report/summary.json"));
    assert_eq!(summary["group_by"], serde_json::json!(["loss"]));
    let groups = summary["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert!(groups
        .iter()
        .all(|g| g["models"].as_array().unwrap().len() == 2));

    // Again: nothing is retrained.
    let w = study.join("cells/loss=l1-pre/seed-0/weights.safetensors");
    let before = std::fs::metadata(&w).unwrap().modified().unwrap();
    let o = sweep(&p, &study).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).matches("done, skipped").count(),
        2,
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::metadata(&w).unwrap().modified().unwrap(), before);

    let o = epc()
        .args(["sweep", "status"])
        .arg(&study)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(text.contains("loss=l1-post\tdone"), "{text}");
    assert!(text.contains("2 of 2 cells done"), "{text}");

    // `epc analyze --study` finds the finished cells and the grouping by itself.
    std::fs::remove_dir_all(study.join("report")).unwrap();
    let o = epc()
        .args(["analyze", "--no-figures", "--bootstrap", "200", "--study"])
        .arg(&study)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let again = read_json(&study.join("report/summary.json"));
    assert_eq!(again["group_by"], serde_json::json!(["loss"]));
    assert_eq!(again["energy"], summary["energy"]);

    // Another plan into the same study would mix runs: refused, nothing touched.
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let p2 = plan(&other, &LOSSES.replace("epochs = 30", "epochs = 31"));
    let o = sweep(&p2, &study).output().unwrap();
    assert_clean_failure(&o, "another plan");
}

#[test]
fn an_interrupted_study_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "seeds = [0]\n[grid]\nloss = [\"l1-pre\"]\n[set]\nepochs = 1200\ndevice = \"cpu\"\nno-export = true\n";
    let p = plan(tmp.path(), body);
    let full = tmp.path().join("full");
    let o = sweep(&p, &full).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // Only the sweep gets the signal (as from `kill`): it passes the stop on with SIGUSR1.
    // The whole process group gets it (a terminal's Ctrl-C, Slurm's SIGTERM to every process
    // of a job): the trainer stops on its own signal, and the forwarded one does not force it.
    for (whom, signal, code, trainer_saw) in [
        (
            "sweep",
            "INT",
            130,
            "SIGUSR1 (a stop passed on by epc sweep)",
        ),
        ("group", "TERM", 143, "SIGTERM"),
    ] {
        let cut = tmp.path().join(format!("cut-{whom}"));
        let mut cmd = sweep(&p, &cut);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let history = cut.join("cells/loss=l1-pre/seed-0/history.jsonl");
        let start = Instant::now();
        while std::fs::read_to_string(&history).map_or(0, |t| t.lines().count()) < 3 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never reached epoch 3"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let target = match whom {
            "sweep" => child.id().to_string(),
            _ => format!("-{}", child.id()),
        };
        let killed = Command::new("kill")
            .args([format!("-{signal}"), "--".into(), target])
            .status()
            .unwrap();
        assert!(killed.success());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(code), "{whom}: {err}");
        assert!(
            err.contains("the same `epc sweep` command continues"),
            "{err}"
        );
        let log = std::fs::read_to_string(cut.join("logs/loss=l1-pre.log")).unwrap();
        assert!(
            log.contains(&format!("interrupted by {trainer_saw}")),
            "{whom}: {log}"
        );
        let o = epc().args(["sweep", "status"]).arg(&cut).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(text.contains("loss=l1-pre\tinterrupted after"), "{text}");

        let o = sweep(&p, &cut).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("resuming"), "{}", stderr(&o));
        for f in ["weights.safetensors", "last.safetensors"] {
            let a = std::fs::read(full.join("cells/loss=l1-pre/seed-0").join(f)).unwrap();
            let b = std::fs::read(cut.join("cells/loss=l1-pre/seed-0").join(f)).unwrap();
            assert_eq!(
                a, b,
                "{f} differs after the interrupted study resumed ({whom})"
            );
        }
    }
}

#[test]
fn bad_plans_are_one_clear_line_and_make_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("seeds = [0]\nbogus = 1\n", "bogus"),
        ("[grid]\nnot-a-flag = [1, 2]\n", "not-a-flag"),
        ("[grid]\nloss = []\n", "no values"),
        ("[grid]\nloss = [\"l1-nothing\"]\n", "l1-nothing"),
        ("[set]\nout = \"x\"\n", "cannot be set in a plan"),
        ("config = \"missing.toml\"\n", "missing.toml"),
        ("seeds = []\n", "seeds"),
    ];
    for (i, (body, needle)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("case-{i}"));
        std::fs::create_dir(&dir).unwrap();
        let p = plan(&dir, body);
        let study = dir.join("study");
        let o = sweep(&p, &study).output().unwrap();
        assert_clean_failure(&o, needle);
        assert!(!study.exists(), "case {i} made {}", study.display());
    }
    let o = epc()
        .args(["sweep", "status"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_clean_failure(&o, "not a study folder");
}

/// The plans shipped in `plans/` parse, expand and name valid `epc train` flags.
#[test]
fn shipped_plans_expand_to_valid_cells() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let tmp = tempfile::tempdir().unwrap();
            let o = sweep(&path, &tmp.path().join("s"))
                .arg("--dry-run")
                .output()
                .unwrap();
            assert!(o.status.success(), "{}: {}", path.display(), stderr(&o));
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            // One line per cell (a plan without axes is one cell, `all`).
            assert!(text.lines().count() >= 1, "{text}");
            assert!(
                text.lines().all(|l| l.contains(": epc train --")),
                "{}: {text}",
                path.display()
            );
            assert!(text.contains("--loss l1-pre"), "{text}");
            assert!(!tmp.path().join("s").exists(), "a dry run makes nothing");
            seen += 1;
        }
    }
    assert!(seen >= 3, "plans/ holds {seen} plans");
}

/// A cell's config (`STUDY/configs/NAME.json`, resolved straight from the plan through the
/// config vocabulary) equals what `epc train` writes with the same flags, and the cell trains
/// from it to the same weights.
#[test]
fn a_cell_config_equals_what_epc_train_writes_with_the_same_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let p = plan(
        tmp.path(),
        "seeds = [1]\n[grid]\n\"optim.lr\" = [0.002]\nlr-schedule = [\"cosine\"]\n\
         [set]\nepochs = 3\norder = \"markov\"\nentropy = 1\narch = \"hierarchical\"\n\
         units = 16\nno-export = true\n",
    );
    let study = tmp.path().join("study");
    let o = sweep(&p, &study).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let name = "lr-schedule=cosine,optim.lr=0.002";
    let cell = read_json(&study.join("configs").join(format!("{name}.json")));
    let run = tmp.path().join("by-hand");
    let o = epc()
        .args([
            "train",
            "--seeds",
            "1",
            "--epochs",
            "3",
            "--order",
            "markov",
            "--entropy",
            "1",
            "--arch",
            "hierarchical",
            "--units",
            "16",
            "--no-export",
            "--lr",
            "0.002",
            "--lr-schedule",
            "cosine",
            "--plain",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let mut by_hand = read_json(&run.join("seed-1/config.json"));
    let mut trained = read_json(&study.join("cells").join(name).join("seed-1/config.json"));
    assert_eq!(by_hand["optim"]["schedule"]["min_lr"], 0.002 / 100.0);
    assert_eq!(by_hand["seed"], 1);
    for c in [&mut by_hand, &mut trained] {
        c.as_object_mut().unwrap().remove("seed");
    }
    let mut cell = cell;
    cell.as_object_mut().unwrap().remove("seed");
    assert_eq!(cell, by_hand);
    assert_eq!(trained, by_hand);
    let w = |dir: &Path| std::fs::read(dir.join("seed-1/weights.safetensors")).unwrap();
    assert_eq!(w(&study.join("cells").join(name)), w(&run));
}
