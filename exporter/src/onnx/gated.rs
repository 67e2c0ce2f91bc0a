//! The step graphs of the gated architectures `lstm-err` and `gru-err` (docs/NETWORKS.md):
//! error units `e = x + h W_pred` feeding an LSTM or a GRU whose gate blocks are stacked along
//! the columns in PyTorch's order and split apart with an int64 `split` initializer.
//! `preact = act = [e, h_next]`.

use super::archs::{concat, init, op};
use super::builder::{Attr, GraphBuilder};
use crate::error::{Error, Result};
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::contract::{INPUT_X, OUTPUT_ACT, OUTPUT_PREACT, OUTPUT_TRANSMISSION};

/// Name of the int64 initializer that splits the stacked gate blocks.
const SPLIT: &str = "gate_split";

/// The names of the states `h` (and `c`) of a gated spec, checked.
fn states(spec: &ArchSpec, want: &[&str]) -> Result<Vec<String>> {
    let names: Vec<&str> = spec.layout.states.iter().map(|s| s.name.as_str()).collect();
    if names != want {
        return Err(Error::invalid(
            "model",
            format!(
                "{} should have the states {want:?}, not {names:?}",
                spec.arch.name()
            ),
        ));
    }
    Ok(spec.layout.states.iter().map(|s| s.output()).collect())
}

/// Adds the split sizes (`gates` blocks of `M`) and the error units `e = x + h W_pred`.
fn error_units(g: &mut GraphBuilder, spec: &ArchSpec, gates: usize) {
    g.initializer_i64(SPLIT, &vec![spec.hidden as i64; gates]);
    op(g, "MatMul", &["h", "W_pred"], "prediction");
    op(g, "Add", &[INPUT_X, "prediction"], "e");
}

/// Splits `input` `[batch, k M]` into the blocks `outputs` along the units.
fn split(g: &mut GraphBuilder, input: &str, outputs: &[&str]) {
    g.node(
        "Split",
        &format!("{input}_split"),
        &[input, SPLIT],
        outputs,
        vec![Attr::Int("axis", 1)],
    );
}

/// `preact = act = [e, h_next]`, and `transmission`: into the error units `|h_next| |W_pred|`,
/// into each hidden unit the sum over its `gates` gate columns of `|e| |W_ih| + |h_next| |W_hh|`
/// (this step's activities; `e` and `h` can be negative, so their magnitudes).
fn outputs(g: &mut GraphBuilder, h_next: &str, gates: usize) {
    concat(g, &["e", h_next], OUTPUT_PREACT);
    op(g, "Identity", &[OUTPUT_PREACT], OUTPUT_ACT);
    for (v, abs) in [("e", "e_abs"), (h_next, "h_abs")] {
        op(g, "Abs", &[v], abs);
    }
    for w in ["W_pred", "W_ih", "W_hh"] {
        op(g, "Abs", &[w], &format!("{w}_abs"));
    }
    op(g, "MatMul", &["h_abs", "W_pred_abs"], "tr_error");
    op(g, "MatMul", &["e_abs", "W_ih_abs"], "tr_in");
    op(g, "MatMul", &["h_abs", "W_hh_abs"], "tr_rec");
    op(g, "Add", &["tr_in", "tr_rec"], "tr_gates");
    let blocks: Vec<String> = (0..gates).map(|k| format!("tr_gate{k}")).collect();
    let refs: Vec<&str> = blocks.iter().map(String::as_str).collect();
    split(g, "tr_gates", &refs);
    let hidden = super::archs::sum(g, &blocks, "tr_hidden");
    concat(g, &["tr_error", &hidden], OUTPUT_TRANSMISSION);
}

/// `lstm-err`: `z = e W_ih + h W_hh + b` (no `b` without biases), gates `i, f, g, o`, `c_next = f c + i g`,
/// `h_next = o tanh(c_next)`. Returns the optional outputs it writes (`transmission`).
pub(super) fn lstm(
    g: &mut GraphBuilder,
    spec: &ArchSpec,
    params: &[NamedArray],
) -> Result<Vec<&'static str>> {
    let next = states(spec, &["h", "c"])?;
    let (h_next, c_next) = (&next[0], &next[1]);
    for name in ["W_pred", "W_ih", "W_hh"] {
        init(g, params, name)?;
    }
    error_units(g, spec, 4);
    op(g, "MatMul", &["e", "W_ih"], "z_in");
    op(g, "MatMul", &["h", "W_hh"], "z_rec");
    if spec.bias {
        init(g, params, "b")?;
        op(g, "Add", &["z_in", "z_rec"], "z_sum");
        op(g, "Add", &["z_sum", "b"], "z");
    } else {
        op(g, "Add", &["z_in", "z_rec"], "z");
    }
    split(g, "z", &["z_i", "z_f", "z_g", "z_o"]);
    op(g, "Sigmoid", &["z_i"], "gate_i");
    op(g, "Sigmoid", &["z_f"], "gate_f");
    op(g, "Tanh", &["z_g"], "gate_g");
    op(g, "Sigmoid", &["z_o"], "gate_o");
    op(g, "Mul", &["gate_f", "c"], "c_kept");
    op(g, "Mul", &["gate_i", "gate_g"], "c_written");
    op(g, "Add", &["c_kept", "c_written"], c_next);
    op(g, "Tanh", &[c_next], "c_squashed");
    op(g, "Mul", &["gate_o", "c_squashed"], h_next);
    outputs(g, h_next, 4);
    Ok(vec![OUTPUT_TRANSMISSION])
}

/// `gru-err`: `r = σ(e W_ir + b_ir + h W_hr + b_hr)`, `u` likewise,
/// `g = tanh(e W_ig + b_ig + r (h W_hg + b_hg))`, `h_next = (1 - u) g + u h`. Returns the
/// optional outputs it writes (`transmission`).
pub(super) fn gru(
    g: &mut GraphBuilder,
    spec: &ArchSpec,
    params: &[NamedArray],
) -> Result<Vec<&'static str>> {
    let next = states(spec, &["h"])?;
    let h_next = &next[0];
    for name in ["W_pred", "W_ih", "W_hh"] {
        init(g, params, name)?;
    }
    error_units(g, spec, 3);
    if spec.bias {
        init(g, params, "b_ih")?;
        init(g, params, "b_hh")?;
        op(g, "MatMul", &["e", "W_ih"], "gx_w");
        op(g, "Add", &["gx_w", "b_ih"], "gx");
        op(g, "MatMul", &["h", "W_hh"], "gh_w");
        op(g, "Add", &["gh_w", "b_hh"], "gh");
    } else {
        op(g, "MatMul", &["e", "W_ih"], "gx");
        op(g, "MatMul", &["h", "W_hh"], "gh");
    }
    split(g, "gx", &["gx_r", "gx_u", "gx_g"]);
    split(g, "gh", &["gh_r", "gh_u", "gh_g"]);
    op(g, "Add", &["gx_r", "gh_r"], "z_r");
    op(g, "Sigmoid", &["z_r"], "gate_r");
    op(g, "Add", &["gx_u", "gh_u"], "z_u");
    op(g, "Sigmoid", &["z_u"], "gate_u");
    op(g, "Mul", &["gate_r", "gh_g"], "gh_g_reset");
    op(g, "Add", &["gx_g", "gh_g_reset"], "z_g");
    op(g, "Tanh", &["z_g"], "gate_g");
    g.node(
        "Constant",
        "one",
        &[],
        &["one"],
        vec![Attr::TensorF32("value", vec![], vec![1.0])],
    );
    op(g, "Sub", &["one", "gate_u"], "gate_keep_new");
    op(g, "Mul", &["gate_keep_new", "gate_g"], "h_new");
    op(g, "Mul", &["gate_u", "h"], "h_kept");
    op(g, "Add", &["h_new", "h_kept"], h_next);
    outputs(g, h_next, 3);
    Ok(vec![OUTPUT_TRANSMISSION])
}
