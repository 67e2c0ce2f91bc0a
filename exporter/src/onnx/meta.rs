//! The metadata every exported model shares: the caller's keys checked, and the step-v2 keys
//! (`epc.contract`, `epc.states`, `epc.populations`, `epc.energy`) in their order.

use crate::error::{Error, Result};
use epc_core::contract::{META_CONTRACT, META_ENERGY, META_POPULATIONS, META_STATES, STEP_V2};

/// Checks caller-supplied metadata: keys non-empty, unique, and none of `reserved` (the keys
/// the exporter writes itself).
pub(super) fn check_metadata(metadata: &[(String, String)], reserved: &[&str]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (key, _) in metadata {
        if key.is_empty() {
            return Err(Error::invalid("model", "a metadata key is empty"));
        }
        if reserved.contains(&key.as_str()) {
            return Err(Error::invalid(
                "model",
                format!("metadata key {key} is set by the exporter"),
            ));
        }
        if !seen.insert(key.as_str()) {
            return Err(Error::invalid(
                "model",
                format!("metadata key {key} appears twice"),
            ));
        }
    }
    Ok(())
}

/// The metadata of a step-v2 model, in file order: `epc.contract = step-v2`, `epc.states`,
/// `epc.populations`, `epc.energy` (where given; JSON values), then `rest` as it is.
pub(super) fn step_v2_metadata(
    states_json: String,
    populations_json: String,
    energy_json: Option<String>,
    rest: &[(String, String)],
) -> Vec<(String, String)> {
    let mut m = vec![
        (META_CONTRACT.to_string(), STEP_V2.to_string()),
        (META_STATES.to_string(), states_json),
        (META_POPULATIONS.to_string(), populations_json),
    ];
    if let Some(energy) = energy_json {
        m.push((META_ENERGY.to_string(), energy));
    }
    m.extend(rest.iter().cloned());
    m
}
