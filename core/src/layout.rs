//! The unit layout of a step model (docs/CONTRACT.md): its state tensors and its populations,
//! with each unit's receptive field and the state entries it owns.
//!
//! A step-v2 model declares the layout in its metadata (`epc.states`, `epc.populations`,
//! `epc.energy`); a step-v1 model gets the layout the paper's network implies
//! ([`Layout::step_v1`]). [`Layout::from_metadata`] parses and checks the metadata and returns
//! every violation it finds, one line each, so that `epc check-model` can list them all.

use crate::contract;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// One state tensor: input `name`, output `name_next`, `size` entries per sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// The input's name (the output is `<name>_next`).
    pub name: String,
    /// Entries per sequence.
    pub size: usize,
}

impl StateSpec {
    /// The name of the output that carries the next value.
    pub fn output(&self) -> String {
        format!("{}{}", self.name, contract::NEXT_SUFFIX)
    }
}

/// A group of units (a layer, or a part of one) as `epc.populations` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    /// A name for reports.
    pub name: String,
    /// `[start, end)` in `preact` and `act`.
    pub units: [usize; 2],
    /// 0 is closest to the input.
    pub layer: usize,
    /// `[p0, p1)`: unit `start + i` has pixel `p0 + i` as its receptive field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixels: Option<[usize; 2]>,
    /// For each state tensor, `[s0, s1)`: unit `start + i` owns entry `s0 + i`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub state: BTreeMap<String, [usize; 2]>,
}

impl Population {
    /// The population's units as a range.
    pub fn range(&self) -> Range<usize> {
        self.units[0]..self.units[1]
    }

    /// Number of units.
    pub fn len(&self) -> usize {
        self.units[1].saturating_sub(self.units[0])
    }

    /// True when the population has no units.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when a lesion can silence its units (they own state entries).
    pub fn lesionable(&self) -> bool {
        !self.state.is_empty()
    }
}

/// A model's states and populations, checked against each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// The state tensors in input order.
    pub states: Vec<StateSpec>,
    /// The populations, in unit order; together they cover every unit once.
    pub populations: Vec<Population>,
    /// Names of the populations the headline energy averages over.
    pub energy: Vec<String>,
}

impl Layout {
    /// The layout a step-v1 model implies: one state `h` of `n_state` entries and one
    /// population `units` in layer 0, pixel-mapped when `n_units = n_in`, owning `h` when
    /// `n_units = n_state`.
    pub fn step_v1(n_in: usize, n_state: usize, n_units: usize) -> Layout {
        let mut state = BTreeMap::new();
        if n_units == n_state {
            state.insert(contract::INPUT_H.to_string(), [0, n_state]);
        }
        let pop = Population {
            name: "units".into(),
            units: [0, n_units],
            layer: 0,
            pixels: (n_units == n_in).then_some([0, n_in]),
            state,
        };
        Layout {
            states: vec![StateSpec {
                name: contract::INPUT_H.into(),
                size: n_state,
            }],
            energy: vec![pop.name.clone()],
            populations: vec![pop],
        }
    }

    /// The states a step-v2 model's metadata declares (`epc.states`), or why it cannot be read.
    pub fn states_from_metadata(
        meta: &BTreeMap<String, String>,
    ) -> std::result::Result<Vec<StateSpec>, String> {
        let raw = meta
            .get(contract::META_STATES)
            .ok_or_else(|| format!("metadata {} is missing", contract::META_STATES))?;
        let states: Vec<StateSpec> = serde_json::from_str(raw)
            .map_err(|e| format!("metadata {} is not valid: {e}", contract::META_STATES))?;
        if states.is_empty() {
            return Err(format!(
                "metadata {} lists no state tensor",
                contract::META_STATES
            ));
        }
        let reserved = [
            contract::INPUT_X,
            contract::OUTPUT_PREACT,
            contract::OUTPUT_ACT,
            contract::OUTPUT_DRIVE_IN,
            contract::OUTPUT_DRIVE_REC,
            contract::OUTPUT_TRANSMISSION,
        ];
        for (k, s) in states.iter().enumerate() {
            let clash = reserved.contains(&s.name.as_str())
                || states.iter().any(|o| o.output() == s.name)
                || states[..k].iter().any(|o| o.name == s.name)
                || s.name.is_empty();
            if clash {
                return Err(format!(
                    "metadata {}: state name {:?} is empty, repeated, or the name of another port",
                    contract::META_STATES,
                    s.name
                ));
            }
        }
        Ok(states)
    }

    /// Parses and checks a step-v2 layout for a model of `n_in` frame values and `n_units`
    /// units whose state inputs are `states`. Returns every violation, one line each.
    pub fn from_metadata(
        meta: &BTreeMap<String, String>,
        states: Vec<StateSpec>,
        n_in: usize,
        n_units: usize,
    ) -> std::result::Result<Layout, Vec<String>> {
        let raw = match meta.get(contract::META_POPULATIONS) {
            Some(r) => r,
            None => {
                return Err(vec![format!(
                    "metadata {} is missing",
                    contract::META_POPULATIONS
                )])
            }
        };
        let populations: Vec<Population> = serde_json::from_str(raw).map_err(|e| {
            vec![format!(
                "metadata {} is not valid: {e}",
                contract::META_POPULATIONS
            )]
        })?;
        let energy = match meta.get(contract::META_ENERGY) {
            None => None,
            Some(r) => Some(serde_json::from_str::<Vec<String>>(r).map_err(|e| {
                vec![format!(
                    "metadata {} is not a JSON list of population names: {e}",
                    contract::META_ENERGY
                )]
            })?),
        };
        let mut problems = Vec::new();
        check_populations(&populations, &states, n_in, n_units, &mut problems);
        let energy = match energy {
            Some(names) => {
                for n in &names {
                    if !populations.iter().any(|p| &p.name == n) {
                        problems.push(format!(
                            "metadata {} names population {n:?}, which {} does not list",
                            contract::META_ENERGY,
                            contract::META_POPULATIONS
                        ));
                    }
                }
                if names.is_empty() {
                    problems.push(format!("metadata {} is empty", contract::META_ENERGY));
                }
                names
            }
            None => default_energy(&populations),
        };
        if problems.is_empty() {
            Ok(Layout {
                states,
                populations,
                energy,
            })
        } else {
            Err(problems)
        }
    }

    /// Total state entries per sequence (all tensors, in order).
    pub fn state_len(&self) -> usize {
        self.states.iter().map(|s| s.size).sum()
    }

    /// Offset of each state tensor in the concatenated state.
    fn state_offsets(&self) -> BTreeMap<&str, usize> {
        let mut off = 0;
        self.states
            .iter()
            .map(|s| {
                let o = off;
                off += s.size;
                (s.name.as_str(), o)
            })
            .collect()
    }

    /// Number of units.
    pub fn n_units(&self) -> usize {
        self.populations
            .iter()
            .map(|p| p.units[1])
            .max()
            .unwrap_or(0)
    }

    /// The units that own state entries (a lesion can silence them), ascending.
    pub fn lesionable_units(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .populations
            .iter()
            .filter(|p| p.lesionable())
            .flat_map(|p| p.range())
            .collect();
        v.sort_unstable();
        v
    }

    /// The mask (over the concatenated state, [`Layout::state_len`] entries) that zeros every
    /// state entry the given units own; units that own none are ignored.
    pub fn lesion_mask(&self, units: &[usize]) -> Vec<f32> {
        let offsets = self.state_offsets();
        let mut mask = vec![1.0f32; self.state_len()];
        for &u in units {
            let Some(p) = self.populations.iter().find(|p| p.range().contains(&u)) else {
                continue;
            };
            let i = u - p.units[0];
            for (name, r) in &p.state {
                mask[offsets[name.as_str()] + r[0] + i] = 0.0;
            }
        }
        mask
    }

    /// Unit of each pixel `0..n_in` where exactly one unit has it as receptive field (`None`
    /// where no unit or several do).
    pub fn pixel_units(&self, n_in: usize) -> Vec<Option<usize>> {
        let mut out = vec![None; n_in];
        let mut seen = vec![0u32; n_in];
        for p in &self.populations {
            if let Some([p0, _]) = p.pixels {
                for i in 0..p.len() {
                    if let Some(s) = seen.get_mut(p0 + i) {
                        *s += 1;
                        out[p0 + i] = Some(p.units[0] + i);
                    }
                }
            }
        }
        for (o, &s) in out.iter_mut().zip(&seen) {
            if s > 1 {
                *o = None;
            }
        }
        out
    }

    /// The units the headline energy averages over, ascending.
    pub fn energy_units(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .populations
            .iter()
            .filter(|p| self.energy.contains(&p.name))
            .flat_map(|p| p.range())
            .collect();
        v.sort_unstable();
        v
    }

    /// The distinct layers, ascending.
    pub fn layers(&self) -> Vec<usize> {
        let mut l: Vec<usize> = self.populations.iter().map(|p| p.layer).collect();
        l.sort_unstable();
        l.dedup();
        l
    }

    /// The units of layer `layer`, ascending.
    pub fn layer_units(&self, layer: usize) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .populations
            .iter()
            .filter(|p| p.layer == layer)
            .flat_map(|p| p.range())
            .collect();
        v.sort_unstable();
        v
    }
}

/// The default headline populations: those with pixels, else all.
fn default_energy(populations: &[Population]) -> Vec<String> {
    let mapped: Vec<String> = populations
        .iter()
        .filter(|p| p.pixels.is_some())
        .map(|p| p.name.clone())
        .collect();
    if mapped.is_empty() {
        populations.iter().map(|p| p.name.clone()).collect()
    } else {
        mapped
    }
}

fn check_populations(
    pops: &[Population],
    states: &[StateSpec],
    n_in: usize,
    n_units: usize,
    problems: &mut Vec<String>,
) {
    let key = contract::META_POPULATIONS;
    if pops.is_empty() {
        problems.push(format!("metadata {key} lists no population"));
        return;
    }
    let mut owner: Vec<Option<&str>> = vec![None; n_units];
    let mut owned: BTreeMap<&str, Vec<Option<&str>>> = states
        .iter()
        .map(|s| (s.name.as_str(), vec![None; s.size]))
        .collect();
    for (k, p) in pops.iter().enumerate() {
        if pops[..k].iter().any(|q| q.name == p.name) {
            problems.push(format!("{key}: two populations are named {:?}", p.name));
        }
        let [start, end] = p.units;
        if start >= end {
            problems.push(format!(
                "{key}: population {:?} has units [{start}, {end}), which is empty",
                p.name
            ));
            continue;
        }
        if end > n_units {
            problems.push(format!(
                "{key}: population {:?} has units [{start}, {end}) but preact has {n_units} units",
                p.name
            ));
        }
        let mut overlap = None;
        for slot in &mut owner[start.min(n_units)..end.min(n_units)] {
            match slot {
                Some(o) => overlap = overlap.or(Some(*o)),
                None => *slot = Some(&p.name),
            }
        }
        if let Some(o) = overlap {
            let u = (start..end)
                .find(|&u| owner.get(u).copied().flatten() == Some(o))
                .unwrap_or(start);
            problems.push(format!(
                "{key}: populations {o:?} and {:?} overlap (unit {u})",
                p.name
            ));
        }
        if let Some([p0, p1]) = p.pixels {
            if p1.saturating_sub(p0) != p.len() {
                problems.push(format!(
                    "{key}: population {:?} has {} units but pixels [{p0}, {p1})",
                    p.name,
                    p.len()
                ));
            } else if p1 > n_in {
                problems.push(format!(
                    "{key}: population {:?} has pixels [{p0}, {p1}) but frames have {n_in} values",
                    p.name
                ));
            }
        }
        for (s, &[s0, s1]) in &p.state {
            let Some(entries) = owned.get_mut(s.as_str()) else {
                problems.push(format!(
                    "{key}: population {:?} owns entries of state {s:?}, which {} does not list",
                    p.name,
                    contract::META_STATES
                ));
                continue;
            };
            if s1.saturating_sub(s0) != p.len() {
                problems.push(format!(
                    "{key}: population {:?} has {} units but owns {s} [{s0}, {s1})",
                    p.name,
                    p.len()
                ));
            } else if s1 > entries.len() {
                problems.push(format!(
                    "{key}: population {:?} owns {s} [{s0}, {s1}) but state {s} has {} entries",
                    p.name,
                    entries.len()
                ));
            } else if let Some(o) = entries[s0..s1].iter().flatten().next() {
                problems.push(format!(
                    "{key}: populations {o:?} and {:?} both own entries of {s}",
                    p.name
                ));
            } else {
                entries[s0..s1].fill(Some(&p.name));
            }
        }
    }
    let gaps: Vec<usize> = (0..n_units).filter(|&u| owner[u].is_none()).collect();
    if let (Some(first), Some(last)) = (gaps.first(), gaps.last()) {
        problems.push(format!(
            "{key}: {} unit(s) belong to no population (units {first}..={last} include them); populations must cover all {n_units} units",
            gaps.len()
        ));
    }
}
