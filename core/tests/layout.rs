//! The unit layout of step-v2 models (`core/src/layout.rs`): parsing, every violation, lesion
//! masks, pixel maps and the layout a step-v1 model implies.

use epc_core::contract;
use epc_core::layout::{Layout, StateSpec};
use std::collections::BTreeMap;

fn meta(pops: &str) -> BTreeMap<String, String> {
    [(contract::META_POPULATIONS.to_string(), pops.to_string())]
        .into_iter()
        .collect()
}

fn states() -> Vec<StateSpec> {
    vec![
        StateSpec {
            name: "h".into(),
            size: 4,
        },
        StateSpec {
            name: "c".into(),
            size: 2,
        },
    ]
}

const GOOD: &str = r#"[{"name":"a","units":[0,4],"layer":0,"pixels":[0,4],"state":{"h":[0,4]}},
    {"name":"b","units":[4,6],"layer":1,"state":{"c":[0,2]}}]"#;

#[test]
fn a_valid_layout_gives_masks_pixels_and_energy_units() {
    let l = Layout::from_metadata(&meta(GOOD), states(), 4, 6).unwrap();
    assert_eq!(l.energy, vec!["a".to_string()]);
    assert_eq!(l.energy_units(), vec![0, 1, 2, 3]);
    assert_eq!(l.state_len(), 6);
    // Unit 1 owns h[1]; unit 5 owns c[1] (offset 4 in the concatenated state).
    assert_eq!(l.lesion_mask(&[1, 5]), vec![1., 0., 1., 1., 1., 0.]);
    assert_eq!(l.pixel_units(4), vec![Some(0), Some(1), Some(2), Some(3)]);
    assert_eq!(l.layers(), vec![0, 1]);
    assert_eq!(l.layer_units(1), vec![4, 5]);
    assert_eq!(l.lesionable_units(), (0..6).collect::<Vec<_>>());
}

#[test]
fn every_violation_is_reported() {
    let bad = r#"[{"name":"a","units":[0,4],"layer":0,"pixels":[2,6],"state":{"h":[0,4]}},
        {"name":"b","units":[3,7],"layer":1,"state":{"c":[1,5],"z":[0,4]}}]"#;
    let errs = Layout::from_metadata(&meta(bad), states(), 4, 6).unwrap_err();
    let all = errs.join("\n");
    assert!(
        all.contains("pixels [2, 6) but frames have 4 values"),
        "{all}"
    );
    assert!(
        all.contains("has units [3, 7) but preact has 6 units"),
        "{all}"
    );
    assert!(all.contains("overlap (unit 3)"), "{all}");
    assert!(
        all.contains("owns c [1, 5) but state c has 2 entries"),
        "{all}"
    );
    assert!(all.contains("state \"z\""), "{all}");
    assert_eq!(errs.len(), 5, "{all}");
}

#[test]
fn gaps_bad_json_and_missing_keys_are_reported() {
    let gap = r#"[{"name":"a","units":[0,3],"layer":0},{"name":"b","units":[4,6],"layer":0}]"#;
    let errs = Layout::from_metadata(&meta(gap), states(), 4, 6).unwrap_err();
    assert!(
        errs[0].contains("1 unit(s) belong to no population"),
        "{errs:?}"
    );
    let errs = Layout::from_metadata(&meta("[{\"name\": \"a\", "), states(), 4, 6).unwrap_err();
    assert!(errs[0].contains("epc.populations is not valid"), "{errs:?}");
    let errs = Layout::from_metadata(&BTreeMap::new(), states(), 4, 6).unwrap_err();
    assert_eq!(
        errs,
        vec!["metadata epc.populations is missing".to_string()]
    );
    let unknown = r#"[{"name":"a","units":[0,6],"layer":0,"colour":1}]"#;
    let errs = Layout::from_metadata(&meta(unknown), states(), 4, 6).unwrap_err();
    assert!(errs[0].contains("unknown field `colour`"), "{errs:?}");
}

#[test]
fn state_names_must_not_clash_with_ports() {
    for bad in [
        r#"[{"name":"act","size":2}]"#,
        r#"[{"name":"h","size":2},{"name":"h_next","size":2}]"#,
        r#"[{"name":"h","size":2},{"name":"h","size":2}]"#,
    ] {
        let m: BTreeMap<String, String> = [(contract::META_STATES.to_string(), bad.to_string())]
            .into_iter()
            .collect();
        let e = Layout::states_from_metadata(&m).unwrap_err();
        assert!(e.contains("the name of another port"), "{bad}: {e}");
    }
}

#[test]
fn the_step_v1_layout_is_the_paper_network() {
    let l = Layout::step_v1(784, 784, 784);
    assert_eq!(l.populations.len(), 1);
    assert_eq!(l.energy_units().len(), 784);
    assert_eq!(l.lesion_mask(&[3])[3], 0.0);
    assert_eq!(l.lesion_mask(&[3]).iter().filter(|&&v| v == 0.0).count(), 1);
    let hidden = Layout::step_v1(784, 800, 800);
    assert!(hidden.populations[0].pixels.is_none());
    assert_eq!(hidden.pixel_units(784), vec![None; 784]);
}
