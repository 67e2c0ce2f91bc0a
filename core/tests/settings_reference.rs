//! `docs/reference/settings.md` is generated from the config vocabulary and kept in step with
//! it: `EPC_BLESS=1 cargo test -p epc-core --test settings_reference` rewrites it.

use epc_core::config::vocabulary::{Kind, SETTINGS};

fn render() -> String {
    let mut out = String::from(
        "# Settings\n\n[Guide index](../guide/README.md) · generated from \
         `core/src/config/vocabulary.rs` by `core/tests/settings_reference.rs` (do not edit)\n\n\
         Every setting of a run, defined once. The name is `epc train`'s flag (`--lr`) and a \
         plan's key (`lr = [1e-3, 1e-4]`); the dotted key (`optim.lr`) is its place in \
         `config.json` and in a config file, and a plan may use it too. `epc analyze --group-by` \
         takes either and groups by the grouping key.\n\n\
         | name | dotted key | values | grouping key | meaning |\n|---|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let values = match s.kind {
            Kind::Float => "number".to_string(),
            Kind::Int => "whole number".to_string(),
            Kind::Bool => "true, false".to_string(),
            Kind::Choice(names) => names.join(", "),
            Kind::Path => "path".to_string(),
            Kind::IntList => "whole numbers, comma-separated".to_string(),
        };
        out.push_str(&format!(
            "| `{}` | `{}` | {} | `{}` | {} |\n",
            s.name,
            s.key,
            values,
            s.group_key(),
            s.help.replace('|', "\\|")
        ));
    }
    out.push_str(
        "\nAdding a setting: a field in the config struct that owns it (`core/src/config/`), \
         one entry in `SETTINGS`, then `EPC_BLESS=1 cargo test -p epc-core --test \
         settings_reference`. The flag, the plan key, the grouping key and this page follow.\n",
    );
    out
}

#[test]
fn the_settings_reference_is_generated_from_the_vocabulary() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/reference/settings.md");
    let want = render();
    if std::env::var_os("EPC_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date: EPC_BLESS=1 cargo test -p epc-core --test settings_reference",
        path.display()
    );
}
