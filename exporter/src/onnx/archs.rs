//! Step-v2 models of every architecture of docs/NETWORKS.md, from its
//! [`ArchSpec`] and its parameter values.
//!
//! Every model takes `x` `[batch, n_in]` and one input per state tensor of `spec.layout`
//! (`[batch, size]`), and returns `preact` and `act` `[batch, n_units]` and `<s>_next` for
//! every state `s`; `batch` is symbolic, every other size fixed. The parameters are stored as
//! initializers under their own names (`W`, `B1`, `W_pred`, ...), except `dale`'s magnitudes
//! `P`, stored as the signed weights `W` they imply. The graphs of the gated architectures
//! (`lstm-err`, `gru-err`) are in the sibling module `gated`.

use super::builder::{self, Attr, Dim, GraphBuilder};
use super::meta::{check_metadata, step_v2_metadata};
use super::BATCH;
use crate::error::{Error, Result};
use epc_core::arch::{dale_weights, inhibitory_units, ArchSpec, NamedArray};
use epc_core::config::Architecture;
use epc_core::contract::{
    INITIALIZER_W, INPUT_X, META_CONTRACT, META_ENERGY, META_POPULATIONS, META_STATES, OUTPUT_ACT,
    OUTPUT_DRIVE_IN, OUTPUT_DRIVE_REC, OUTPUT_PREACT, OUTPUT_TRANSMISSION,
};
use std::path::Path;

/// Metadata key of a `dale` model: the inhibitory units (JSON list of unit indices, ascending).
pub const META_DALE_INHIBITORY: &str = "epc.dale.inhibitory";

/// The serialised step-v2 model (docs/CONTRACT.md) of the architecture `spec` with parameter
/// values `params` (exactly `spec.params`: names, order and shapes, row-major float32).
///
/// Metadata, in order: `epc.contract = step-v2`, `epc.states`, `epc.populations` and
/// `epc.energy` (JSON, from `spec.layout`), the architecture's own keys (`dale`:
/// [`META_DALE_INHIBITORY`]), then `metadata` as given (keys non-empty, unique, and none of the
/// keys above). The equations are docs/NETWORKS.md's:
///
/// - `rnn`, `rnn-latent`, `dale`: initializer `W` `[N, N]` (`dale`: `|P|` with the rows of
///   inhibitory units negated); `preact = h W + [x, 0]`, `act = h_next = relu(preact)`;
///   optional outputs `drive_in = [x, 0]` and `drive_rec = h W`;
/// - `hierarchical`: initializers `B1, R1, T1, ..`; `preact = [a0, .., aL]`,
///   `act = [s, h1_next, .., hL_next]`, `drive_in = [x, h0 B1, .., h(L-1) BL]` and
///   `drive_rec = preact - drive_in` (the lateral and top-down terms);
/// - `lstm-err`, `gru-err`: initializers `W_pred`, `W_ih`, `W_hh` and `b` (`b_ih`, `b_hh`),
///   gate blocks split along the columns; `preact = act = [e, h_next]`.
///
/// `hierarchical`, `lstm-err` and `gru-err` also write `transmission`: for each unit `j`, the
/// sum over every unit-to-unit weight into `j` of `|act_i| |w_ij|`, with `act_i` this step's
/// activity of the sending unit (the contract's `st_j = sum_i act_i |W_ij|`; the `rnn`
/// family's `st` comes from `W`). Into a gated unit, the weights into all its gates count.
///
/// Errors ([`Error::Invalid`]) for parameters that do not match `spec` or bad metadata keys.
pub fn arch_step_v2_model_bytes(
    spec: &ArchSpec,
    params: &[NamedArray],
    metadata: &[(String, String)],
) -> Result<Vec<u8>> {
    spec.check_arrays(params)
        .map_err(|r| Error::invalid("model", format!("the parameters: {r}")))?;
    check_metadata(
        metadata,
        &[
            META_CONTRACT,
            META_STATES,
            META_POPULATIONS,
            META_ENERGY,
            META_DALE_INHIBITORY,
        ],
    )?;
    let layout = &spec.layout;
    let n_units = spec.n_units();
    let mut g = GraphBuilder::new(
        &format!("epc_{}_step", spec.arch.name().replace('-', "_")),
        &format!(
            "One step of the epc {} network (docs/NETWORKS.md).",
            spec.arch.name()
        ),
    );
    g.input(INPUT_X, &[BATCH, Dim::Fixed(spec.n_in)]);
    for s in &layout.states {
        g.input(&s.name, &[BATCH, Dim::Fixed(s.size)]);
    }
    let mut own_meta = Vec::new();
    let optional = match spec.arch {
        Architecture::Rnn | Architecture::RnnLatent => {
            relu_rnn(&mut g, spec, &param(params, "W")?.data)?
        }
        Architecture::Dale => {
            own_meta.push((
                META_DALE_INHIBITORY.to_string(),
                json(&inhibitory_units(spec.n_in, spec.inhibitory))?,
            ));
            let w = dale_weights(&param(params, "P")?.data, spec.n_in, spec.inhibitory);
            relu_rnn(&mut g, spec, &w)?
        }
        Architecture::Hierarchical => hierarchical(&mut g, spec, params)?,
        Architecture::LstmErr => super::gated::lstm(&mut g, spec, params)?,
        Architecture::GruErr => super::gated::gru(&mut g, spec, params)?,
    };
    for port in [OUTPUT_PREACT, OUTPUT_ACT].iter().chain(&optional) {
        g.output(port, &[BATCH, Dim::Fixed(n_units)]);
    }
    for s in &layout.states {
        g.output(&s.output(), &[BATCH, Dim::Fixed(s.size)]);
    }
    own_meta.extend(metadata.iter().cloned());
    let meta = step_v2_metadata(
        json(&layout.states)?,
        json(&layout.populations)?,
        Some(json(&layout.energy)?),
        &own_meta,
    );
    builder::model_bytes(g.build(), &meta, "epc step model (contract step-v2)")
        .map_err(|reason| Error::invalid("model", reason))
}

/// Writes [`arch_step_v2_model_bytes`] to `path` atomically (temp file, then rename); errors
/// name `path`.
pub fn write_arch_step_v2_model(
    spec: &ArchSpec,
    params: &[NamedArray],
    metadata: &[(String, String)],
    path: &Path,
) -> Result<()> {
    let bytes = arch_step_v2_model_bytes(spec, params, metadata).map_err(|e| e.at(path))?;
    crate::error::write_atomic(path, &bytes)
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| Error::invalid("model", format!("cannot write the layout as JSON: {e}")))
}

/// The parameter `name` (present once `check_arrays` has passed).
pub(super) fn param<'a>(params: &'a [NamedArray], name: &str) -> Result<&'a NamedArray> {
    params
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::invalid("model", format!("no parameter named {name}")))
}

/// Adds the initializer of parameter `name` under its own name.
pub(super) fn init(g: &mut GraphBuilder, params: &[NamedArray], name: &str) -> Result<()> {
    let p = param(params, name)?;
    g.initializer_f32(name, &p.shape, &p.data);
    Ok(())
}

/// Adds a node without attributes, named after its one output.
pub(super) fn op(g: &mut GraphBuilder, op_type: &str, inputs: &[&str], output: &str) {
    g.node(op_type, output, inputs, &[output], vec![]);
}

/// Adds a `Concat` along the units (axis 1), named after its output.
pub(super) fn concat(g: &mut GraphBuilder, inputs: &[&str], output: &str) {
    g.node(
        "Concat",
        output,
        inputs,
        &[output],
        vec![Attr::Int("axis", 1)],
    );
}

/// `rnn`, `rnn-latent` and `dale`: one state `h` of `N` units, `w` `[N, N]`, the frame feeding
/// the first `n_in` units. Returns the optional outputs it writes.
fn relu_rnn(g: &mut GraphBuilder, spec: &ArchSpec, w: &[f32]) -> Result<Vec<&'static str>> {
    let n = spec.n_units();
    let [h] = spec.layout.states.as_slice() else {
        return Err(Error::invalid(
            "model",
            format!("{} should have exactly one state tensor", spec.arch.name()),
        ));
    };
    let h_next = h.output();
    g.initializer_f32(INITIALIZER_W, &[n, n], w);
    op(g, "MatMul", &[&h.name, INITIALIZER_W], OUTPUT_DRIVE_REC);
    if n > spec.n_in {
        // [x, 0]: pads are [x1_begin, x2_begin, x1_end, x2_end].
        g.initializer_i64("pads", &[0, 0, 0, (n - spec.n_in) as i64]);
        op(g, "Pad", &[INPUT_X, "pads"], OUTPUT_DRIVE_IN);
    } else {
        op(g, "Identity", &[INPUT_X], OUTPUT_DRIVE_IN);
    }
    op(
        g,
        "Add",
        &[OUTPUT_DRIVE_REC, OUTPUT_DRIVE_IN],
        OUTPUT_PREACT,
    );
    op(g, "Relu", &[OUTPUT_PREACT], &h_next);
    op(g, "Identity", &[&h_next], OUTPUT_ACT);
    Ok(vec![OUTPUT_DRIVE_IN, OUTPUT_DRIVE_REC])
}

/// `hierarchical`: the sensory population and `L` layers (states `h1..hL`), bottom-up within
/// the step, lateral and top-down from the previous step.
fn hierarchical(
    g: &mut GraphBuilder,
    spec: &ArchSpec,
    params: &[NamedArray],
) -> Result<Vec<&'static str>> {
    let layers = spec.layers;
    if spec.layout.states.len() != layers {
        return Err(Error::invalid(
            "model",
            format!(
                "hierarchical with {layers} layers should have {layers} state tensors, not {}",
                spec.layout.states.len()
            ),
        ));
    }
    let state = |l: usize| spec.layout.states[l - 1].name.clone();
    for l in 1..=layers {
        for kind in ["B", "R", "T"] {
            init(g, params, &format!("{kind}{l}"))?;
        }
    }
    // Sensory: a0 = x + h1 T1, s = relu(a0).
    op(g, "MatMul", &[&state(1), "T1"], "td0");
    op(g, "Add", &[INPUT_X, "td0"], "a0");
    op(g, "Relu", &["a0"], "s0");
    let mut preact = vec!["a0".to_string()];
    let mut act = vec!["s0".to_string()];
    let mut drive_in = vec![INPUT_X.to_string()];
    let mut drive_rec = vec!["td0".to_string()];
    let mut below = "s0".to_string();
    for l in 1..=layers {
        let (bu, lat, a) = (format!("bu{l}"), format!("lat{l}"), format!("a{l}"));
        op(g, "MatMul", &[&below, &format!("B{l}")], &bu);
        op(g, "MatMul", &[&state(l), &format!("R{l}")], &lat);
        let rec = if l < layers {
            let (td, rec) = (format!("td{l}"), format!("rec{l}"));
            op(g, "MatMul", &[&state(l + 1), &format!("T{}", l + 1)], &td);
            op(g, "Add", &[&lat, &td], &rec);
            rec
        } else {
            lat
        };
        op(g, "Add", &[&bu, &rec], &a);
        let next = spec.layout.states[l - 1].output();
        op(g, "Relu", &[&a], &next);
        preact.push(a);
        act.push(next.clone());
        drive_in.push(bu);
        drive_rec.push(rec);
        below = next;
    }
    // Transmission into each population from this step's activities (all non-negative):
    // sensory from layer 1 (T1); layer l from below (Bl), itself (Rl) and above (T(l+1)).
    let mut transmission = Vec::new();
    for l in 0..=layers {
        let mut terms = Vec::new();
        let mut term = |g: &mut GraphBuilder, from: &str, weight: String| {
            let (abs, out) = (format!("{weight}_abs"), format!("tr_{weight}"));
            op(g, "Abs", &[&weight], &abs);
            op(g, "MatMul", &[from, &abs], &out);
            terms.push(out);
        };
        if l >= 1 {
            term(g, &act[l - 1], format!("B{l}"));
            term(g, &act[l], format!("R{l}"));
        }
        if l < layers {
            term(g, &act[l + 1], format!("T{}", l + 1));
        }
        transmission.push(sum(g, &terms, &format!("tr{l}")));
    }
    for (parts, out) in [
        (&preact, OUTPUT_PREACT),
        (&act, OUTPUT_ACT),
        (&drive_in, OUTPUT_DRIVE_IN),
        (&drive_rec, OUTPUT_DRIVE_REC),
        (&transmission, OUTPUT_TRANSMISSION),
    ] {
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        concat(g, &refs, out);
    }
    Ok(vec![OUTPUT_DRIVE_IN, OUTPUT_DRIVE_REC, OUTPUT_TRANSMISSION])
}

/// The sum of `terms` (at least one) under the name `out` (the one term itself when alone).
pub(super) fn sum(g: &mut GraphBuilder, terms: &[String], out: &str) -> String {
    match terms {
        [one] => one.clone(),
        [first, rest @ ..] => {
            let mut acc = first.clone();
            for (k, t) in rest.iter().enumerate() {
                let name = if k + 1 == rest.len() {
                    out.to_string()
                } else {
                    format!("{out}_{k}")
                };
                op(g, "Add", &[&acc, t], &name);
                acc = name;
            }
            acc
        }
        [] => unreachable!("a population receives at least one weight matrix"),
    }
}
