//! Checking a session's declared interface against the step-v1 contract and resolving the
//! sizes it leaves open.

use crate::{Error, Result};
use epc_core::contract;
use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use std::path::Path;

/// The sizes and ports of a step model, as far as the file declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interface {
    /// Values per frame.
    pub n_in: usize,
    /// State entries.
    pub n_state: usize,
    /// Units, where `preact` declares a fixed size (else a probe step tells).
    pub n_units: Option<usize>,
    /// The batch size, where the file fixes one.
    pub fixed_batch: Option<usize>,
    /// Whether there is an `act` output.
    pub has_act: bool,
}

fn describe_type(t: &ValueType) -> String {
    match t {
        ValueType::Tensor { ty, .. } => {
            let rust = ty.to_string();
            let name = match rust.as_str() {
                "f64" => "float64",
                "f16" => "float16",
                "bf16" => "bfloat16",
                "i64" => "int64",
                "i32" => "int32",
                "i16" => "int16",
                "i8" => "int8",
                "u64" => "uint64",
                "u32" => "uint32",
                "u16" => "uint16",
                "u8" => "uint8",
                "bool" => "bool",
                "String" => "string",
                other => other,
            };
            let article = if name.starts_with("int") { "an" } else { "a" };
            format!("{article} {name} tensor")
        }
        ValueType::Sequence(_) => "a sequence".into(),
        ValueType::Map { .. } => "a map".into(),
        ValueType::Optional(_) => "an optional".into(),
    }
}

/// The dims of a rank-2 float32 port, or the error saying what it is instead.
fn port_dims(path: &Path, kind: &str, name: &str, t: &ValueType, what: &str) -> Result<Vec<i64>> {
    match t {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape,
            ..
        } => {
            let dims: Vec<i64> = shape.iter().copied().collect();
            if dims.len() != 2 {
                return Err(Error::model(
                    path,
                    format!("{kind} `{name}` has rank {} (dims {dims:?}); the step-v1 contract needs rank 2 {what}", dims.len()),
                ));
            }
            Ok(dims)
        }
        other => Err(Error::model(
            path,
            format!(
                "{kind} `{name}` is {}; the step-v1 contract needs a float32 tensor {what}",
                describe_type(other)
            ),
        )),
    }
}

fn known(d: i64) -> Option<usize> {
    (d > 0).then_some(d as usize)
}

/// Checks the inputs and outputs of `session` and resolves the sizes: what the file declares,
/// then the first dimension of `W` (`w_rows`), then the contract's rule n_in = n_state.
pub(crate) fn interface(
    path: &Path,
    session: &Session,
    w_rows: Option<usize>,
) -> Result<Interface> {
    let names: Vec<String> = session
        .inputs()
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    let find_in = |n: &str| session.inputs().iter().find(|i| i.name() == n);
    let mut ports = Vec::new();
    for (name, what) in [
        (contract::INPUT_X, "[batch, n_in]"),
        (contract::INPUT_H, "[batch, n_state]"),
    ] {
        let Some(i) = find_in(name) else {
            return Err(Error::model(
                path,
                format!("missing input `{name}` (the model's inputs are: {}); step-v1 needs inputs x and h", names.join(", ")),
            ));
        };
        ports.push(port_dims(path, "input", name, i.dtype(), what)?);
    }
    if let Some(extra) = names
        .iter()
        .find(|n| *n != contract::INPUT_X && *n != contract::INPUT_H)
    {
        return Err(Error::model(
            path,
            format!("unexpected input `{extra}`; a step-v1 model takes only x and h"),
        ));
    }
    let out_names: Vec<String> = session
        .outputs()
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    let find_out = |n: &str| session.outputs().iter().find(|o| o.name() == n);
    for (name, what) in [
        (contract::OUTPUT_PREACT, "[batch, n_units]"),
        (contract::OUTPUT_H_NEXT, "[batch, n_state]"),
    ] {
        let Some(o) = find_out(name) else {
            return Err(Error::model(
                path,
                format!(
                    "missing output `{name}` (the model's outputs are: {}); step-v1 needs outputs preact and h_next",
                    out_names.join(", ")
                ),
            ));
        };
        ports.push(port_dims(path, "output", name, o.dtype(), what)?);
    }
    let has_act = match find_out(contract::OUTPUT_ACT) {
        Some(o) => {
            ports.push(port_dims(
                path,
                "output",
                contract::OUTPUT_ACT,
                o.dtype(),
                "[batch, n_units]",
            )?);
            true
        }
        None => false,
    };

    let (x, h, pre, hn) = (&ports[0], &ports[1], &ports[2], &ports[3]);
    let batches: Vec<usize> = ports.iter().filter_map(|p| known(p[0])).collect();
    let fixed_batch = batches.first().copied();
    if batches.iter().any(|&b| Some(b) != fixed_batch) {
        return Err(Error::model(
            path,
            format!("inputs and outputs declare different fixed batch sizes {batches:?}"),
        ));
    }
    let mut n_state = known(h[1]).or(known(hn[1])).or(w_rows);
    let mut n_in = known(x[1]);
    if n_in.is_none() {
        n_in = n_state;
    }
    if n_state.is_none() {
        n_state = n_in;
    }
    let (Some(n_in), Some(n_state)) = (n_in, n_state) else {
        return Err(Error::model(
            path,
            "cannot resolve the sizes: x and h both declare an unknown last dimension and there is no W initializer",
        ));
    };
    if let (Some(a), Some(b)) = (known(h[1]), known(hn[1])) {
        if a != b {
            return Err(Error::model(
                path,
                format!("input h has {a} state entries but output h_next has {b}"),
            ));
        }
    }
    Ok(Interface {
        n_in,
        n_state,
        n_units: known(pre[1]),
        fixed_batch,
        has_act,
    })
}
