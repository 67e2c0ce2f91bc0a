use super::*;
use epc_core::config::{Loss, Schedule};

fn plan(text: &str) -> Plan {
    let plan: Plan = toml::from_str(text).unwrap();
    plan.check().unwrap();
    plan
}

#[test]
fn the_grid_expands_to_its_cartesian_product_of_resolved_configs() {
    let p = plan(
        "seeds = [3, 4]\ndata_dir = \"/d\"\n[grid]\nloss = [\"l1-pre\", \"l1-post\"]\n\
         lr = [0.001, 0.0001]\n[set]\nepochs = 40\nno-export = true\nplain = false\n\
         order = \"ascending\"\n\"optim.schedule.kind\" = \"cosine\"\n",
    );
    let cells = p.cells(Path::new("plan.toml")).unwrap();
    let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "loss=l1-pre,lr=0.001",
            "loss=l1-pre,lr=0.0001",
            "loss=l1-post,lr=0.001",
            "loss=l1-post,lr=0.0001"
        ]
    );
    let c = &cells[2];
    assert_eq!(c.seeds, [3, 4]);
    assert!(c.options.no_export);
    assert_eq!(c.config.train.loss, Loss::L1Post);
    assert_eq!(c.config.optim.lr, 0.001);
    assert_eq!(c.config.train.epochs, 40);
    assert_eq!(c.config.data.data_dir.as_deref(), Some(Path::new("/d")));
    // The schedule's default end follows the cell's own learning rate.
    assert_eq!(
        c.config.optim.schedule,
        Schedule::Cosine {
            warmup_epochs: 0,
            min_lr: 0.001 / 100.0,
            decay_epochs: None
        }
    );
    assert!(c
        .shown
        .join(" ")
        .contains("--loss l1-post --lr 0.001 --no-export"));
    let one = plan("");
    let cells = one.cells(Path::new("p")).unwrap();
    assert_eq!((cells.len(), cells[0].name.as_str()), (1, "all"));
    assert_eq!(cells[0].config, RunConfig::default().resolve().unwrap());
}

#[test]
fn plans_that_make_no_grid_are_refused() {
    for (text, needle) in [
        ("[grid]\nloss = []\n", "no values"),
        ("seeds = []\n", "seeds"),
        ("[grid]\nlr = [1]\n[set]\nlr = 2\n", "both an axis"),
        ("[set]\ninstances = 3\n", "cannot be set"),
    ] {
        let plan: Plan = toml::from_str(text).unwrap();
        let err = plan.check().unwrap_err();
        assert!(err.contains(needle), "{text}: {err}");
    }
    for (text, needle) in [
        ("[grid]\nlr = [{ a = 1 }]\n", "lr={"),
        (
            "[grid]\nnot-a-setting = [1]\n",
            "`not-a-setting` is not a setting",
        ),
        ("[grid]\nloss = [\"l1-nothing\"]\n", "l1-nothing"),
        ("[set]\nthreads = -1\n", "threads"),
    ] {
        let plan: Plan = toml::from_str(text).unwrap();
        let err = plan.cells(Path::new("p.toml")).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.starts_with("p.toml, cell"),
            "{text}: {err}"
        );
    }
}

#[test]
fn cases_multiply_the_grid_with_settings_that_go_together() {
    let p = plan(
        "seeds = [0]\n[grid]\nloss = [\"l1-pre\", \"l1-post\"]\n\
         [[cases]]\norder = \"markov\"\nentropy = 1.0\n\
         [[cases]]\norder = \"successors\"\nsuccessors = 2\n",
    );
    let cells = p.cells(Path::new("plan.toml")).unwrap();
    let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "loss=l1-pre,entropy=1,order=markov",
            "loss=l1-pre,order=successors,successors=2",
            "loss=l1-post,entropy=1,order=markov",
            "loss=l1-post,order=successors,successors=2"
        ]
    );
    assert_eq!(cells[1].config.sequence.successors, Some(2));
    assert_eq!(cells[2].config.sequence.entropy, Some(1.0));
    assert_eq!(cells[2].config.train.loss, Loss::L1Post);
    assert_eq!(p.varied(), ["loss", "entropy", "order", "successors"]);
    // A case's setting may not also be an axis or shared.
    let bad: Plan = toml::from_str("[grid]\nentropy = [1.0]\n[[cases]]\nentropy = 2.0\n").unwrap();
    assert!(bad.check().unwrap_err().contains("`entropy` of case 1"));
    let empty: Plan = toml::from_str("[[cases]]\n").unwrap();
    assert!(empty.check().unwrap_err().contains("case 1 has no setting"));
}
