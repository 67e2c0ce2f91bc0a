//! Unit tests of the run configuration.

use super::*;

#[test]
fn toml_overrides_only_given_fields() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "seed = 7\n[train]\nloss = \"l1-post\"\nepochs = 3\n[optim]\nlr = 0.01\n",
    )
    .unwrap();
    let c = RunConfig::from_toml_file(&p).unwrap();
    assert_eq!(c.seed, 7);
    assert_eq!(c.train.loss, Loss::L1Post);
    assert_eq!(c.train.epochs, 3);
    assert_eq!(c.optim.lr, 0.01);
    assert_eq!(c.sequence.batch_size, 32);
    assert_eq!(c.train.l2_coefficient, 3708.0);
}

#[test]
fn unknown_field_and_newer_version_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "sead = 7\n").unwrap();
    let e = RunConfig::from_toml_file(&p).unwrap_err().to_string();
    assert!(e.contains("c.toml") && e.contains("sead"), "{e}");
    std::fs::write(&p, "config_version = 99\n").unwrap();
    let e = RunConfig::from_toml_file(&p).unwrap_err().to_string();
    assert!(e.contains("version 99"), "{e}");
}

#[test]
fn resolve_refuses_bad_numbers() {
    type Breaker = fn(&mut RunConfig);
    let cases: [(Breaker, &str); 10] = [
        (|c| c.optim.lr = 0.0, "learning rate"),
        (|c| c.optim.lr = f64::NAN, "learning rate"),
        (|c| c.optim.lr = f64::INFINITY, "learning rate"),
        (|c| c.optim.beta1 = 1.0, "beta1"),
        (|c| c.optim.beta2 = -0.5, "beta2"),
        (|c| c.optim.eps = 0.0, "eps"),
        (|c| c.data.val_fraction = 1.0, "validation fraction"),
        (|c| c.train.min_delta = -1.0, "min_delta"),
        (|c| c.train.patience = Some(0), "patience"),
        (|c| c.model.units = 10, "one unit per pixel"),
    ];
    for (break_it, needle) in cases {
        let mut c = RunConfig::default();
        break_it(&mut c);
        let e = c.resolve().unwrap_err().to_string();
        assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
    }
    let mut c = RunConfig::default();
    c.train.epochs = 0;
    assert_eq!(
        c.resolve().unwrap().train.epochs,
        0,
        "0 epochs: the untrained network"
    );
    let c = RunConfig::default().resolve().unwrap();
    assert_eq!(c.model.units, 64);
}

#[test]
fn model_flags_apply_to_their_architectures_only() {
    use crate::arch::ArchSpec;
    type Breaker = fn(&mut RunConfig);
    let cases: [(Breaker, &str); 9] = [
        (
            |c| c.model.latent = Some(8),
            "--latent does not apply to the rnn",
        ),
        (
            |c| c.model.bias = Some(false),
            "--bias does not apply to the rnn architecture (only to lstm-err and gru-err)",
        ),
        (
            |c| c.model.layers = Some(2),
            "--layers does not apply to the rnn",
        ),
        (
            |c| c.model.inhibitory = Some(0.2),
            "--inhibitory does not apply",
        ),
        (
            |c| c.model.energy = Some(EnergyScope::Input),
            "--energy does not apply",
        ),
        (
            |c| {
                c.model.architecture = Architecture::Dale;
                c.model.units = 32;
            },
            "dale architecture has one unit per pixel",
        ),
        (
            |c| {
                c.model.architecture = Architecture::Dale;
                c.model.inhibitory = Some(1.5);
            },
            "must be a fraction",
        ),
        (
            |c| {
                c.model.architecture = Architecture::Hierarchical;
                c.model.layers = Some(0);
            },
            "--layers must be at least 1",
        ),
        (
            |c| {
                c.model.architecture = Architecture::LstmErr;
                c.model.latent = Some(3);
            },
            "only to rnn-latent",
        ),
    ];
    for (break_it, needle) in cases {
        let mut c = RunConfig::default();
        break_it(&mut c);
        let e = c.resolve().unwrap_err().to_string();
        assert!(e.contains(needle) && !e.contains('\n'), "{needle}: {e}");
    }
    // Defaults are filled in and recorded; the counts follow docs/NETWORKS.md.
    let counts = [
        (Architecture::Rnn, 64 * 64, 64),
        (Architecture::RnnLatent, 96 * 96, 96),
        (Architecture::Dale, 64 * 64, 64),
        (
            Architecture::Hierarchical,
            2 * (2 * 64 * 64 + 64 * 64),
            64 + 2 * 64,
        ),
        (Architecture::LstmErr, 64 * 64 + (64 + 64 + 1) * 4 * 64, 128),
        (Architecture::GruErr, 64 * 64 + (64 + 64 + 2) * 3 * 64, 128),
    ];
    for (arch, values, units) in counts {
        let mut c = RunConfig::default();
        c.model.architecture = arch;
        let c = c.resolve().unwrap();
        let spec = ArchSpec::of(&c).unwrap();
        assert_eq!(
            (spec.param_count(), spec.n_units()),
            (values, units),
            "{arch:?}"
        );
        assert_eq!(
            spec.loss_units(),
            units,
            "{arch:?}: --energy all by default"
        );
        assert_eq!(
            spec.layout.energy.len(),
            1,
            "{arch:?}: the headline is the pixel units"
        );
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<RunConfig>(&json).unwrap(), c);
    }
    let mut c = RunConfig::default();
    c.model.architecture = Architecture::RnnLatent;
    c.model.energy = Some(EnergyScope::Input);
    let spec = ArchSpec::of(&c.resolve().unwrap()).unwrap();
    assert_eq!(spec.loss_units(), 64);
    assert_eq!(spec.loss_covers, ["input"]);
}

#[test]
fn schedules_follow_their_formulas() {
    let c = Schedule::Cosine {
        warmup_epochs: 0,
        min_lr: 1e-5,
        decay_epochs: None,
    };
    assert_eq!(c.lr(1e-3, 0, 40), 1e-3);
    // Half way the cosine is at the midpoint of lr and min_lr.
    assert!((c.lr(1e-3, 20, 40) - (1e-3 + 1e-5) / 2.0).abs() < 1e-15);
    assert!((c.lr(1e-3, 40, 40) - 1e-5).abs() < 1e-15);
    assert!(c.lr(1e-3, 39, 40) < 2e-5);
    assert_eq!(c.min_epochs(40), 40);
    let w = Schedule::Cosine {
        warmup_epochs: 4,
        min_lr: 0.0,
        decay_epochs: Some(10),
    };
    assert!((w.lr(1.0, 0, 100) - 0.25).abs() < 1e-15);
    assert!((w.lr(1.0, 3, 100) - 1.0).abs() < 1e-15);
    assert_eq!(w.lr(1.0, 4, 100), 1.0);
    assert!((w.lr(1.0, 9, 100) - 0.5).abs() < 1e-15);
    assert_eq!(w.lr(1.0, 50, 100), 0.0);
    assert_eq!(w.min_epochs(100), 14);
    let s = Schedule::Step {
        every: 10,
        factor: 0.5,
    };
    assert_eq!(
        (s.lr(1.0, 9, 0), s.lr(1.0, 10, 0), s.lr(1.0, 25, 0)),
        (1.0, 0.5, 0.25)
    );
    assert_eq!(Schedule::Constant.lr(0.1, 77, 100), 0.1);
    // TOML spelling.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(
        &p,
        "[optim]\nlr = 1e-3\n[optim.schedule]\nkind = \"cosine\"\nmin_lr = 1e-5\n",
    )
    .unwrap();
    let cfg = RunConfig::from_toml_file(&p).unwrap();
    assert_eq!(cfg.optim.schedule, c);
    std::fs::write(
        &p,
        "[optim.schedule]\nkind = \"step\"\nevery = 0\nfactor = 0.5\n",
    )
    .unwrap();
    let e = RunConfig::from_toml_file(&p)
        .unwrap()
        .resolve()
        .unwrap_err()
        .to_string();
    assert!(e.contains("every >= 1"), "{e}");
}

#[test]
fn extending_records_the_change_and_pins_a_cosine_decay() {
    let mut c = RunConfig::default();
    c.optim.schedule = Schedule::Cosine {
        warmup_epochs: 2,
        min_lr: 1e-5,
        decay_epochs: None,
    };
    c.train.epochs = 40;
    let e = c.extended(80).unwrap();
    assert_eq!(e.train.epochs, 80);
    assert_eq!(
        e.optim.schedule,
        Schedule::Cosine {
            warmup_epochs: 2,
            min_lr: 1e-5,
            decay_epochs: Some(38)
        }
    );
    // The learning rate of every epoch already trained is unchanged.
    for epoch in 0..40 {
        assert_eq!(
            e.optim.schedule.lr(1e-3, epoch, 80),
            c.optim.schedule.lr(1e-3, epoch, 40)
        );
    }
    assert_eq!(e.changes.len(), 2);
    assert_eq!(e.changes[1].field, "train.epochs");
    assert_eq!(
        (e.changes[1].from.as_u64(), e.changes[1].to.as_u64()),
        (Some(40), Some(80))
    );
    assert_eq!(c.extended(40).unwrap(), c);
    let err = c.extended(10).unwrap_err().to_string();
    assert!(err.contains("fewer than the run's 40"), "{err}");
    // It round-trips through config.json.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    crate::fsutil::write_json_atomic(&p, &e).unwrap();
    assert_eq!(RunConfig::from_json_file(&p).unwrap(), e);
}

#[test]
fn resolve_fills_units_and_json_round_trips() {
    let mut c = RunConfig::default();
    c.data.dataset = DatasetKind::Mnist;
    let c = c.resolve().unwrap();
    assert_eq!(c.model.units, 784);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("config.json");
    crate::fsutil::write_json_atomic(&p, &c).unwrap();
    assert_eq!(RunConfig::from_json_file(&p).unwrap(), c);
}
