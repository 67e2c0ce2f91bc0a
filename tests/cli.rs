//! The command line: help, bad input, and the train -> export path.

mod common;
use common::*;

#[test]
fn help_explains_every_subcommand_and_train_option() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let top = String::from_utf8_lossy(&o.stdout);
    for sub in ["train", "export", "dump", "analyze"] {
        assert!(top.contains(sub), "--help lacks {sub}: {top}");
    }
    let o = run(&["train", "--help"]);
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in [
        "--dataset",
        "--data-dir",
        "--loss",
        "--epochs",
        "--patience",
        "--min-delta",
        "--seeds",
        "--instances",
        "--device",
        "--config",
        "--out",
        "--resume",
        "--lr",
        "--batch-size",
        "--seq-len",
        "--order",
        "--val-fraction",
        "--adam-beta1",
        "--adam-beta2",
        "--adam-eps",
        "--l2-coefficient",
        "--split-seed",
    ] {
        assert!(help.contains(opt), "train --help lacks {opt}");
    }
    assert!(help.contains("l1-pre") && help.contains("digits"), "{help}");
}

#[test]
fn missing_data_folder_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nowhere");
    let out = tmp.path().join("run");
    let o = run(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        missing.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "nowhere");
}

#[test]
fn truncated_mnist_file_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = copy_folder(&testdata("mnist-small"), &tmp.path().join("mnist"));
    let f = dir.join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        dir.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    // The cut file no longer has the digest its folder's MD5SUMS lists.
    assert_clean_failure(&o, "t10k-labels-idx1-ubyte.gz");
}

#[test]
fn bad_config_file_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[train]\nepochs = \"many\"\n").unwrap();
    let o = run(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--out",
        tmp.path().join("run").to_str().unwrap(),
    ]);
    assert_clean_failure(&o, "bad.toml");
}

#[test]
fn export_without_weights_is_one_clear_line() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["export", tmp.path().to_str().unwrap()]);
    assert_clean_failure(&o, tmp.path().to_str().unwrap());
}

#[test]
fn train_writes_a_self_describing_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let o = train_digits(&out, "4,9", "3");
    for seed in [4, 9] {
        let d = out.join(format!("seed-{seed}"));
        for f in [
            "config.json",
            "weights.safetensors",
            "last.safetensors",
            "history.jsonl",
            "checkpoint.safetensors",
            "train_state.json",
            "model.onnx",
        ] {
            assert!(d.join(f).is_file(), "{} missing", d.join(f).display());
        }
        let cfg = read_json(&d.join("config.json"));
        assert_eq!(cfg["seed"], seed);
        assert_eq!(cfg["train"]["loss"], "l1-pre");
        assert_eq!(cfg["data"]["dataset"], "digits");
        assert_eq!(cfg["model"]["units"], 64);
        assert_eq!(cfg["toolkit_version"], env!("CARGO_PKG_VERSION"));
        let hist = std::fs::read_to_string(d.join("history.jsonl")).unwrap();
        assert_eq!(hist.lines().count(), 3);
    }
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("seed 4: 3 epochs on cpu") && text.contains("seed 9:"),
        "{text}"
    );
}

#[test]
fn shipped_example_configs_resolve() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        names.push(p.file_name().unwrap().to_string_lossy().into_owned());
        let cfg = epc_core::config::RunConfig::from_toml_file(&p)
            .unwrap()
            .resolve()
            .unwrap();
        assert!(
            [64, 144, 784, 3072].contains(&cfg.units()),
            "{}",
            p.display()
        );
    }
    names.sort();
    assert_eq!(
        names,
        [
            "digits-control.toml",
            "digits-demo.toml",
            "fast-digits.toml",
            "fast-mnist.toml",
            "mnist.toml",
            "moving-digits.toml",
            "paper-cifar10.toml",
            "paper-mnist.toml"
        ]
    );
    use epc_core::config::FinalWeights;
    let read = |name: &str| epc_core::config::RunConfig::from_toml_file(&dir.join(name)).unwrap();
    let mnist = read("mnist.toml");
    assert_eq!(
        (
            mnist.train.epochs,
            mnist.optim.lr,
            mnist.sequence.batch_size,
            mnist.data.val_fraction,
            mnist.train.final_weights
        ),
        (200, 1e-4, 32, 0.1, FinalWeights::Best)
    );
    // The published code's variant: the whole training split and the last epoch's weights.
    let paper = read("paper-mnist.toml");
    assert_eq!(
        (
            paper.train.epochs,
            paper.optim.lr,
            paper.data.val_fraction,
            paper.train.final_weights
        ),
        (200, 1e-4, 0.0, FinalWeights::Last)
    );
    // The fast presets: a cosine schedule in a fifth of the epochs of what they replace.
    use epc_core::config::Schedule;
    let fast = read("fast-mnist.toml");
    assert_eq!(fast.train.epochs * 5, mnist.train.epochs);
    assert!(matches!(fast.optim.schedule, Schedule::Cosine { .. }));
    let (demo, fast) = (read("digits-demo.toml"), read("fast-digits.toml"));
    assert_eq!(fast.train.epochs * 5, demo.train.epochs);
    let cifar = read("paper-cifar10.toml");
    assert_eq!((cifar.train.epochs, cifar.units()), (1000, 3072));
}

#[test]
fn download_settings_come_from_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let args = [
        "train",
        "--dataset",
        "mnist",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = epc()
        .args(args)
        .env("EPC_CACHE_DIR", tmp.path())
        .env("EPC_MIRRORS", "http://127.0.0.1:9/nothing")
        .output()
        .unwrap();
    assert_clean_failure(&o, "127.0.0.1:9/nothing/train-images-idx3-ubyte.gz");
    let o = epc()
        .args(args)
        .env("EPC_CACHE_DIR", tmp.path())
        .env("EPC_NO_DOWNLOAD", "1")
        .output()
        .unwrap();
    assert_clean_failure(&o, "downloading is disabled");
    assert!(!out.exists(), "a failed start leaves no run folder");
}

#[test]
fn flags_win_over_the_config_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[optim]\nlr = 0.5\nbeta2 = 0.99\n[train]\nepochs = 2\nloss = \"l1-post\"\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = run(&[
        "train",
        "--config",
        cfg.to_str().unwrap(),
        "--lr",
        "0.001",
        "--l2-coefficient",
        "7",
        "--split-seed",
        "3",
        "--no-export",
        "--plain",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let c = read_json(&out.join("seed-0/config.json"));
    assert_eq!(c["optim"]["lr"], 0.001);
    assert_eq!(c["optim"]["beta2"], 0.99);
    assert_eq!(c["train"]["epochs"], 2);
    assert_eq!(c["train"]["loss"], "l1-post");
    assert_eq!(c["train"]["l2_coefficient"], 7.0);
    assert_eq!(c["data"]["split_seed"], 3);
}

/// `epc` must not load libtorch (350 MiB and half a second before `main` for dump, analyze and
/// export); `epc train` hands over to `epc-train` beside it, and says so when it is missing.
#[cfg(target_os = "linux")]
#[test]
fn epc_links_no_libtorch_and_train_needs_the_trainer_beside_it() {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_epc"));
    let ldd = |path: &std::path::Path| {
        let o = std::process::Command::new("ldd")
            .arg(path)
            .output()
            .expect("ldd runs");
        assert!(o.status.success(), "ldd {}", path.display());
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let libs = ldd(&bin);
    assert!(!libs.contains("libtorch"), "epc links libtorch: {libs}");
    let trainer = bin.with_file_name("epc-train");
    assert!(
        ldd(&trainer).contains("libtorch"),
        "epc-train lacks libtorch"
    );

    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("epc");
    std::fs::copy(&bin, &alone).unwrap();
    let out = dir.path().join("run");
    let o = std::process::Command::new(&alone)
        .args(["train", "--epochs", "1", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_clean_failure(&o, "epc-train");
    assert!(!out.exists(), "nothing is made without the trainer");
    // Flags are still checked by `epc` itself, before any hand-over.
    let o = std::process::Command::new(&alone)
        .args(["train", "--no-such-flag"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--no-such-flag"));
}
