//! The shape of every architecture the trainer fits (docs/NETWORKS.md): its trained
//! parameters, its state tensors, its populations and which of them the energy loss covers.
//!
//! This module is the one owner of those facts: the trainer builds its tensors from it, the
//! exporter writes the step-v2 metadata from it, and a checkpoint or weights file is checked
//! against it. Conventions: row vectors, `W[i, j]` connects sending unit `i` to receiving
//! unit `j`; parameters are float32 and row-major.

use crate::config::{Architecture, EnergyScope, RunConfig};
use crate::layout::{Layout, Population, StateSpec};
use crate::{Error, Result};
use std::collections::BTreeMap;

/// One trained parameter: its name in checkpoints, weights files and ONNX initializers, its
/// shape, and the bound `b` of its initial draw (`U(-b, b)`, or `U(0, b)` for Dale's
/// magnitudes).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name (`W`, `W_pred`, `B1`, ...).
    pub name: String,
    /// Shape (one or two dimensions).
    pub shape: Vec<usize>,
    /// Bound of the initial uniform draw.
    pub init_bound: f32,
}

impl ParamSpec {
    fn new(name: impl Into<String>, shape: &[usize], fan: usize) -> Self {
        Self {
            name: name.into(),
            shape: shape.to_vec(),
            init_bound: 1.0 / (fan.max(1) as f32).sqrt(),
        }
    }

    /// Number of values.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One parameter's values on the host: what checkpoints and weights files hold per instance.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedArray {
    /// The parameter's name.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// Everything the trainer and the exporter need to know about one configured architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchSpec {
    /// Which architecture.
    pub arch: Architecture,
    /// Frame size (pixels times colour planes).
    pub n_in: usize,
    /// Units per recurrent layer (`M`); for `rnn` and `dale` the unit count, for `rnn-latent`
    /// the latent units.
    pub hidden: usize,
    /// Recurrent layers of `hierarchical` (1 otherwise).
    pub layers: usize,
    /// Fraction of inhibitory units of `dale` (0 otherwise).
    pub inhibitory: f64,
    /// Whether the gates of `lstm-err` and `gru-err` have biases (false for the others, which
    /// have none).
    pub bias: bool,
    /// The trained parameters, in the order of their initial draw.
    pub params: Vec<ParamSpec>,
    /// The states and populations of the exported step-v2 model. `layout.energy` (the
    /// analyzer's headline) is the pixel-mapped population: the units that the input and
    /// dataset-median reference curves describe.
    pub layout: Layout,
    /// The populations the energy loss covers (`--energy`): every one, or the pixel-mapped one.
    pub loss_covers: Vec<String>,
}

/// Default recurrent units per layer of `hierarchical`, `lstm-err` and `gru-err`.
pub const DEFAULT_HIDDEN: usize = 64;
/// Default latent units of `rnn-latent` (the published code's variant has 32).
pub const DEFAULT_LATENT: usize = 32;
/// Default recurrent layers of `hierarchical`.
pub const DEFAULT_LAYERS: usize = 2;
/// Default fraction of inhibitory units of `dale`.
pub const DEFAULT_INHIBITORY: f64 = 0.2;

fn pop(
    name: &str,
    units: [usize; 2],
    layer: usize,
    pixels: bool,
    state: &[(&str, [usize; 2])],
) -> Population {
    Population {
        name: name.into(),
        units,
        layer,
        pixels: pixels.then_some([0, units[1] - units[0]]),
        state: state
            .iter()
            .map(|(s, r)| (s.to_string(), *r))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn state(name: &str, size: usize) -> StateSpec {
    StateSpec {
        name: name.into(),
        size,
    }
}

impl ArchSpec {
    /// The spec of a resolved config (see [`RunConfig::resolve`], which fills the defaults).
    pub fn of(cfg: &RunConfig) -> Result<Self> {
        let n_in = cfg.frame_shape().len();
        let m = &cfg.model;
        let arch = m.architecture;
        let hidden = match arch {
            Architecture::Rnn | Architecture::Dale => n_in,
            Architecture::RnnLatent => m.latent.unwrap_or(DEFAULT_LATENT),
            _ => match m.units {
                0 => DEFAULT_HIDDEN,
                u => u,
            },
        };
        if hidden == 0 {
            return Err(Error::Config(format!(
                "{} needs at least one unit",
                arch.name()
            )));
        }
        let layers = m.layers.unwrap_or(match arch {
            Architecture::Hierarchical => DEFAULT_LAYERS,
            _ => 1,
        });
        if layers == 0 {
            return Err(Error::Config("--layers must be at least 1".into()));
        }
        let inhibitory = match arch {
            Architecture::Dale => m.inhibitory.unwrap_or(DEFAULT_INHIBITORY),
            _ => 0.0,
        };
        let bias =
            matches!(arch, Architecture::LstmErr | Architecture::GruErr) && m.bias.unwrap_or(true);
        let scope = m.energy.unwrap_or_default();
        let mut params = Vec::new();
        let (states, pops) = match arch {
            Architecture::Rnn | Architecture::Dale | Architecture::RnnLatent => {
                let latent = if arch == Architecture::RnnLatent {
                    hidden
                } else {
                    0
                };
                let n = n_in + latent;
                params.push(ParamSpec::new(
                    if arch == Architecture::Dale { "P" } else { "W" },
                    &[n, n],
                    n,
                ));
                let mut pops = vec![pop(
                    if latent > 0 { "input" } else { "units" },
                    [0, n_in],
                    0,
                    true,
                    &[("h", [0, n_in])],
                )];
                if latent > 0 {
                    pops.push(pop("latent", [n_in, n], 1, false, &[("h", [n_in, n])]));
                }
                (vec![state("h", n)], pops)
            }
            Architecture::Hierarchical => {
                let mut below = n_in;
                let mut states = Vec::new();
                let mut pops = vec![pop("sensory", [0, n_in], 0, true, &[])];
                for l in 1..=layers {
                    params.push(ParamSpec::new(format!("B{l}"), &[below, hidden], below));
                    params.push(ParamSpec::new(format!("R{l}"), &[hidden, hidden], hidden));
                    params.push(ParamSpec::new(format!("T{l}"), &[hidden, below], hidden));
                    let name = format!("h{l}");
                    let start = n_in + (l - 1) * hidden;
                    pops.push(pop(
                        &format!("layer{l}"),
                        [start, start + hidden],
                        l,
                        false,
                        &[(&name, [0, hidden])],
                    ));
                    states.push(state(&name, hidden));
                    below = hidden;
                }
                (states, pops)
            }
            Architecture::LstmErr | Architecture::GruErr => {
                let lstm = arch == Architecture::LstmErr;
                let gates = if lstm { 4 } else { 3 };
                params.push(ParamSpec::new("W_pred", &[hidden, n_in], hidden));
                params.push(ParamSpec::new("W_ih", &[n_in, gates * hidden], hidden));
                params.push(ParamSpec::new("W_hh", &[hidden, gates * hidden], hidden));
                // The biases are drawn last, so a network without them starts from the same
                // weights as one with them (the bias ablation is paired by seed).
                if bias && lstm {
                    params.push(ParamSpec::new("b", &[gates * hidden], hidden));
                } else if bias {
                    params.push(ParamSpec::new("b_ih", &[gates * hidden], hidden));
                    params.push(ParamSpec::new("b_hh", &[gates * hidden], hidden));
                }
                let owned: &[(&str, [usize; 2])] = if lstm {
                    &[("h", [0, hidden]), ("c", [0, hidden])]
                } else {
                    &[("h", [0, hidden])]
                };
                let mut states = vec![state("h", hidden)];
                if lstm {
                    states.push(state("c", hidden));
                }
                let pops = vec![
                    pop("error", [0, n_in], 0, true, &[]),
                    pop(
                        if lstm { "lstm" } else { "gru" },
                        [n_in, n_in + hidden],
                        1,
                        false,
                        owned,
                    ),
                ];
                (states, pops)
            }
        };
        if arch == Architecture::Dale {
            let n_inh = inhibitory_units(n_in, inhibitory).len();
            if n_inh == 0 || n_inh == n_in {
                return Err(Error::Config(format!(
                    "--inhibitory {inhibitory} leaves {} of {n_in} units inhibitory; dale needs both kinds",
                    n_inh
                )));
            }
        }
        let loss_covers = match scope {
            EnergyScope::All => pops.iter().map(|p| p.name.clone()).collect(),
            EnergyScope::Input => vec![pops[0].name.clone()],
        };
        let energy = vec![pops[0].name.clone()];
        Ok(Self {
            arch,
            n_in,
            hidden,
            layers,
            inhibitory,
            bias,
            params,
            layout: Layout {
                states,
                populations: pops,
                energy,
            },
            loss_covers,
        })
    }

    /// Total units (the width of `preact` and `act`).
    pub fn n_units(&self) -> usize {
        self.layout.n_units()
    }

    /// Units the energy loss covers: always the first `loss_units()` units, since the
    /// pixel-mapped population comes first in every architecture.
    pub fn loss_units(&self) -> usize {
        self.layout
            .populations
            .iter()
            .filter(|p| self.loss_covers.contains(&p.name))
            .map(|p| p.len())
            .sum()
    }

    /// Number of trained values.
    pub fn param_count(&self) -> usize {
        self.params.iter().map(ParamSpec::numel).sum()
    }

    /// Checks that `arrays` are exactly this spec's parameters (names, order, shapes); the
    /// error says which differs, for the caller to prefix with the file.
    pub fn check_arrays(&self, arrays: &[NamedArray]) -> std::result::Result<(), String> {
        let want: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{} {:?}", p.name, p.shape))
            .collect();
        let got: Vec<String> = arrays
            .iter()
            .map(|a| format!("{} {:?}", a.name, a.shape))
            .collect();
        if want != got {
            return Err(format!(
                "holds [{}], but {} as configured has [{}]",
                got.join(", "),
                self.arch.name(),
                want.join(", ")
            ));
        }
        if let Some(a) = arrays
            .iter()
            .find(|a| a.data.len() != a.shape.iter().product::<usize>())
        {
            return Err(format!(
                "{} has {} values for shape {:?}",
                a.name,
                a.data.len(),
                a.shape
            ));
        }
        Ok(())
    }
}

/// The inhibitory units of a `dale` network of `n` units with inhibitory fraction `f`: unit
/// `i` is inhibitory when `floor((i + 1) f) > floor(i f)`, which spreads them evenly over the
/// image (every fifth pixel for 0.2) instead of packing them into its blank border.
pub fn inhibitory_units(n: usize, f: f64) -> Vec<usize> {
    (0..n)
        .filter(|&i| ((i + 1) as f64 * f).floor() > (i as f64 * f).floor())
        .collect()
}

/// The sign of each `dale` unit's outgoing weights: +1 excitatory, -1 inhibitory.
pub fn dale_signs(n: usize, f: f64) -> Vec<f32> {
    let mut s = vec![1.0; n];
    for i in inhibitory_units(n, f) {
        s[i] = -1.0;
    }
    s
}

/// The effective weights `W = |P| * sign(row)` of a `dale` network from its magnitudes `P`
/// (`[n, n]`, row-major).
pub fn dale_weights(p: &[f32], n: usize, f: f64) -> Vec<f32> {
    let signs = dale_signs(n, f);
    p.iter()
        .enumerate()
        .map(|(k, v)| v.abs() * signs[k / n])
        .collect()
}
