use super::*;

fn set(name: &str, text: &str) -> (&'static Setting, toml::Value) {
    let s = setting(name).unwrap();
    (s, s.parse(text).unwrap())
}

/// What each setting needs beside it to be valid, and a value to try.
fn context(s: &Setting) -> (Vec<(&'static str, &'static str)>, &'static str) {
    let sample = match s.kind {
        Kind::Float => "0.25",
        Kind::Int => "12",
        Kind::Bool => "true",
        Kind::Choice(names) => names[names.len() - 1],
        Kind::Path => "/data/somewhere",
        Kind::IntList => "12,5",
    };
    let extra = match s.name {
        "latent" => vec![("arch", "rnn-latent")],
        "layers" | "energy" | "units" => vec![("arch", "hierarchical")],
        "inhibitory" => vec![("arch", "dale")],
        "bias" => vec![("arch", "lstm-err")],
        "entropy" => vec![("order", "markov")],
        "order" => vec![("successors", "3")],
        "successors" => vec![("order", "successors")],
        "min-lr" | "warmup-epochs" | "decay-epochs" => vec![("lr-schedule", "cosine")],
        "step-every" | "step-factor" => vec![("lr-schedule", "step")],
        "max-speed" | "teleport" => vec![("canvas", "12")],
        _ => vec![],
    };
    let sample = match s.name {
        "max-speed" | "successors" => "2",
        "layers" => "3",
        _ => sample,
    };
    (extra, sample)
}

#[test]
fn every_setting_reaches_the_field_its_key_names() {
    for s in SETTINGS {
        let (extra, sample) = context(s);
        let mut values: Vec<_> = extra.iter().map(|(n, v)| set(n, v)).collect();
        values.push((s, s.parse(sample).unwrap()));
        let c = apply(RunConfig::default(), &values).unwrap_or_else(|e| panic!("{}: {e}", s.name));
        let json = serde_json::to_value(&c).unwrap();
        let pointer = format!("/{}", s.key.replace('.', "/"));
        let got = json
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{}: no {pointer} in {json}", s.name));
        let want: serde_json::Value = match s.parse(sample).unwrap() {
            toml::Value::Float(f) => f.into(),
            toml::Value::Integer(i) => i.into(),
            toml::Value::Boolean(b) => b.into(),
            toml::Value::String(t) => t.into(),
            // The config keeps a list sorted.
            toml::Value::Array(a) => {
                let mut v: Vec<i64> = a.iter().map(|x| x.as_integer().unwrap()).collect();
                v.sort_unstable();
                v.into()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(got, &want, "{}", s.name);
        assert_eq!(lookup(s.key), Some(s), "the dotted key finds {}", s.name);
    }
}

#[test]
fn every_choice_is_a_value_of_its_type() {
    for s in SETTINGS {
        let Kind::Choice(names) = s.kind else {
            continue;
        };
        for name in names {
            let mut values = context(s)
                .0
                .iter()
                .filter(|(n, _)| *n != "entropy" && *n != "successors")
                .map(|(n, v)| set(n, v))
                .collect::<Vec<_>>();
            if *name == "markov" {
                values.push(set("entropy", "1"));
            }
            if *name == "successors" {
                values.push(set("successors", "3"));
            }
            values.push((s, s.parse(name).unwrap()));
            apply(RunConfig::default(), &values)
                .unwrap_or_else(|e| panic!("{} {name}: {e}", s.name));
        }
        assert!(s.parse("no-such-value").is_err());
    }
}

#[test]
fn names_keys_and_underscores_find_the_same_setting() {
    assert_eq!(lookup("min-lr"), lookup("optim.schedule.min_lr"));
    assert_eq!(lookup("min_lr"), lookup("min-lr"));
    assert_eq!(setting("lr").unwrap().group_key(), "config.optim.lr");
    assert_eq!(setting("arch").unwrap().group_key(), "architecture");
    assert_eq!(setting("canvas").unwrap().group_key(), "order");
    let err = setting("learning-rate").unwrap_err().to_string();
    assert!(
        err.contains("not a setting") && err.contains("min-lr"),
        "{err}"
    );
}

#[test]
fn the_schedule_defaults_follow_the_final_learning_rate_in_any_order() {
    for values in [
        vec![set("lr-schedule", "cosine"), set("lr", "0.01")],
        vec![set("lr", "0.01"), set("lr-schedule", "cosine")],
    ] {
        let c = apply(RunConfig::default(), &values).unwrap();
        assert_eq!(
            c.optim.schedule,
            Schedule::Cosine {
                warmup_epochs: 0,
                min_lr: 0.01 / 100.0,
                decay_epochs: None
            }
        );
    }
    let step = apply(RunConfig::default(), &[set("lr-schedule", "step")]).unwrap();
    assert_eq!(
        step.optim.schedule,
        Schedule::Step {
            every: 10,
            factor: 0.1
        }
    );
}

#[test]
fn settings_that_do_not_fit_are_errors_naming_them() {
    for (values, needle) in [
        (vec![set("max-speed", "2")], "give --canvas as well"),
        (vec![set("min-lr", "0.1")], "need --lr-schedule"),
        (
            vec![set("lr-schedule", "cosine"), set("step-every", "3")],
            "not cosine",
        ),
        (vec![set("lr", "-1")], "learning rate"),
        (vec![set("latent", "4")], "latent"),
        (
            vec![set("patience", "10"), set("patience-snapshots", "5,10")],
            "patience snapshot 10 is not below the run's patience 10",
        ),
        (vec![set("patience-snapshots", "0")], "at least 1 epoch"),
        (vec![set("min-rel-delta", "1.5")], "min_rel_delta"),
    ] {
        let err = apply(RunConfig::default(), &values)
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{values:?}: {err}");
    }
    let lr = setting("lr").unwrap();
    assert_eq!(lr.parse("fast").unwrap_err(), "not a number");
    let snaps = setting("patience-snapshots").unwrap();
    assert_eq!(snaps.parse("5,x").unwrap_err(), "not a whole number >= 0");
    // A plan's value of the wrong type is an error, not a silent default.
    let err = apply(
        RunConfig::default(),
        &[(lr, toml::Value::String("fast".into()))],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid setting"), "{err}");
}

#[test]
fn a_canvas_alone_makes_a_moving_stream_and_keeps_a_configured_speed() {
    let c = apply(RunConfig::default(), &[set("canvas", "12")]).unwrap();
    let m = c.sequence.motion.unwrap();
    assert_eq!(
        (m.canvas, m.max_speed, m.teleport),
        (12, DEFAULT_MAX_SPEED, false)
    );
    let mut base = RunConfig::default();
    base.sequence.motion = Some(crate::motion::Motion {
        canvas: 12,
        max_speed: 1,
        teleport: true,
    });
    let c = apply(base, &[set("canvas", "16")]).unwrap();
    let m = c.sequence.motion.unwrap();
    assert_eq!((m.canvas, m.max_speed, m.teleport), (16, 1, true));
}
