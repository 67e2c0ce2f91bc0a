//! Checking a session's declared interface against the step contract (v1 or v2,
//! docs/CONTRACT.md) and resolving the sizes it leaves open. Every violation is collected, one
//! line each, so that `epc check-model` can list them all.

use epc_core::contract;
use epc_core::layout::{Layout, StateSpec};
use ort::session::Session;
use ort::value::{TensorElementType, ValueType};
use std::collections::BTreeMap;

/// Which contract a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `step-v1`: one state `h`, the paper's layout.
    V1,
    /// `step-v2`: named state tensors and populations in the metadata.
    V2,
}

impl Version {
    /// The contract's name (`step-v1`, `step-v2`).
    pub fn name(self) -> &'static str {
        match self {
            Version::V1 => contract::STEP_V1,
            Version::V2 => contract::STEP_V2,
        }
    }
}

/// The optional per-unit outputs of step-v2, in the order they are fetched.
pub(crate) const OPTIONAL_OUTPUTS: [&str; 3] = [
    contract::OUTPUT_DRIVE_IN,
    contract::OUTPUT_DRIVE_REC,
    contract::OUTPUT_TRANSMISSION,
];

/// The sizes and ports of a step model, as far as the file declares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interface {
    pub version: Version,
    /// Values per frame.
    pub n_in: usize,
    /// The state tensors (v1: `h`), sizes resolved.
    pub states: Vec<StateSpec>,
    /// Units, where `preact` declares a fixed size (else a probe step tells).
    pub n_units: Option<usize>,
    /// The batch size, where the file fixes one.
    pub fixed_batch: Option<usize>,
    /// Whether there is an `act` output (always, for a valid v2 model).
    pub has_act: bool,
    /// The optional per-unit outputs the model has (v2 only).
    pub optional: Vec<&'static str>,
}

/// The contract version the metadata names (absent: step-v1).
pub(crate) fn version(meta: &BTreeMap<String, String>) -> Result<Version, String> {
    match meta.get(contract::META_CONTRACT).map(String::as_str) {
        None | Some(contract::STEP_V1) => Ok(Version::V1),
        Some(contract::STEP_V2) => Ok(Version::V2),
        Some(other) => Err(format!(
            "metadata {} = {other:?}; epc runs {:?} and {:?} step models",
            contract::META_CONTRACT,
            contract::STEP_V1,
            contract::STEP_V2
        )),
    }
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

fn known(d: i64) -> Option<usize> {
    (d > 0).then_some(d as usize)
}

/// Collects violations while reading the ports of one session.
struct Ports<'a> {
    session: &'a Session,
    version: Version,
    problems: Vec<String>,
    /// The declared dims of every rank-2 float32 port read so far, by name.
    dims: BTreeMap<String, [i64; 2]>,
}

impl Ports<'_> {
    /// Reads port `name` (an input or an output) as a rank-2 float32 tensor; `required` makes a
    /// missing port a violation.
    fn read(&mut self, input: bool, name: &str, what: &str, required: bool) -> bool {
        let kind = if input { "input" } else { "output" };
        let found = if input {
            self.session
                .inputs()
                .iter()
                .find(|i| i.name() == name)
                .map(|i| i.dtype().clone())
        } else {
            self.session
                .outputs()
                .iter()
                .find(|o| o.name() == name)
                .map(|o| o.dtype().clone())
        };
        let c = self.version.name();
        let Some(t) = found else {
            if required {
                let list: Vec<String> = if input {
                    self.session
                        .inputs()
                        .iter()
                        .map(|i| i.name().to_string())
                        .collect()
                } else {
                    self.session
                        .outputs()
                        .iter()
                        .map(|o| o.name().to_string())
                        .collect()
                };
                self.problems.push(format!(
                    "missing {kind} `{name}` {what} (the model's {kind}s are: {}); the {c} contract needs it",
                    list.join(", ")
                ));
            }
            return false;
        };
        match &t {
            ValueType::Tensor {
                ty: TensorElementType::Float32,
                shape,
                ..
            } => {
                let dims: Vec<i64> = shape.iter().copied().collect();
                if dims.len() == 2 {
                    self.dims.insert(name.to_string(), [dims[0], dims[1]]);
                    return true;
                }
                self.problems.push(format!(
                    "{kind} `{name}` has rank {} (dims {dims:?}); the {c} contract needs rank 2 {what}",
                    dims.len()
                ));
            }
            other => self.problems.push(format!(
                "{kind} `{name}` is {}; the {c} contract needs a float32 tensor {what}",
                describe_type(other)
            )),
        }
        false
    }

    fn width(&self, name: &str) -> Option<usize> {
        self.dims.get(name).and_then(|d| known(d[1]))
    }

    /// A violation when both ports declare a width and they differ.
    fn same_width(&mut self, a: &str, b: &str) {
        if let (Some(x), Some(y)) = (self.width(a), self.width(b)) {
            if x != y {
                self.problems
                    .push(format!("`{a}` has {x} columns but `{b}` has {y}"));
            }
        }
    }
}

/// Checks the inputs and outputs of `session` and resolves the sizes. For v1: what the file
/// declares, then the first dimension of `W` (`w_rows`), then the rule n_in = n_state; for v2
/// the state sizes come from `epc.states` and must agree with the ports.
pub(crate) fn interface(
    session: &Session,
    meta: &BTreeMap<String, String>,
    w_rows: Option<usize>,
) -> Result<Interface, Vec<String>> {
    let version = version(meta).map_err(|e| vec![e])?;
    let mut p = Ports {
        session,
        version,
        problems: Vec::new(),
        dims: BTreeMap::new(),
    };
    p.read(true, contract::INPUT_X, "[batch, n_in]", true);
    let declared_states = match version {
        Version::V1 => vec![StateSpec {
            name: contract::INPUT_H.into(),
            size: 0,
        }],
        Version::V2 => match Layout::states_from_metadata(meta) {
            Ok(s) => s,
            Err(e) => {
                p.problems.push(e);
                Vec::new()
            }
        },
    };
    let v1_next = |s: &StateSpec| match version {
        Version::V1 => contract::OUTPUT_H_NEXT.to_string(),
        Version::V2 => s.output(),
    };
    for s in &declared_states {
        let (inp, out) = (s.name.clone(), v1_next(s));
        let a = p.read(true, &inp, "[batch, size]", true);
        let b = p.read(false, &out, "[batch, size]", true);
        if a && b {
            p.same_width(&inp, &out);
        }
        if version == Version::V2 {
            for port in [&inp, &out] {
                if let Some(w) = p.width(port) {
                    if w != s.size {
                        p.problems.push(format!(
                            "`{port}` has {w} columns but {} gives state {} {} entries",
                            contract::META_STATES,
                            s.name,
                            s.size
                        ));
                    }
                }
            }
        }
    }
    let allowed: Vec<&str> = std::iter::once(contract::INPUT_X)
        .chain(declared_states.iter().map(|s| s.name.as_str()))
        .collect();
    for i in session.inputs() {
        if !allowed.contains(&i.name()) {
            p.problems.push(format!(
                "unexpected input `{}`; a {} model takes only {}",
                i.name(),
                version.name(),
                allowed.join(", ")
            ));
        }
    }
    p.read(false, contract::OUTPUT_PREACT, "[batch, n_units]", true);
    let has_act = p.read(
        false,
        contract::OUTPUT_ACT,
        "[batch, n_units]",
        version == Version::V2,
    );
    if has_act {
        p.same_width(contract::OUTPUT_ACT, contract::OUTPUT_PREACT);
    }
    let mut optional = Vec::new();
    if version == Version::V2 {
        for name in OPTIONAL_OUTPUTS {
            if p.read(false, name, "[batch, n_units]", false) {
                p.same_width(name, contract::OUTPUT_PREACT);
                optional.push(name);
            }
        }
    }
    let batches: Vec<usize> = p.dims.values().filter_map(|d| known(d[0])).collect();
    let fixed_batch = batches.first().copied();
    if batches.iter().any(|&b| Some(b) != fixed_batch) {
        p.problems.push(format!(
            "inputs and outputs declare different fixed batch sizes {batches:?}"
        ));
    }
    if !p.problems.is_empty() {
        return Err(p.problems);
    }
    let n_units = p.width(contract::OUTPUT_PREACT);
    let (n_in, states) = match version {
        Version::V1 => {
            let mut n_state = p
                .width(contract::INPUT_H)
                .or(p.width(contract::OUTPUT_H_NEXT))
                .or(w_rows);
            let mut n_in = p.width(contract::INPUT_X);
            n_in = n_in.or(n_state);
            n_state = n_state.or(n_in);
            let (Some(n_in), Some(n_state)) = (n_in, n_state) else {
                return Err(vec![
                    "cannot resolve the sizes: x and h both declare an unknown last dimension and there is no W initializer".into(),
                ]);
            };
            (
                n_in,
                vec![StateSpec {
                    name: contract::INPUT_H.into(),
                    size: n_state,
                }],
            )
        }
        Version::V2 => {
            // An unknown frame width is resolved from the populations' pixels when they cover
            // it, otherwise the probe step needs it declared.
            let Some(n_in) = p.width(contract::INPUT_X) else {
                return Err(vec![
                    "input `x` declares an unknown last dimension; step-v2 needs n_in declared"
                        .into(),
                ]);
            };
            (n_in, declared_states)
        }
    };
    Ok(Interface {
        version,
        n_in,
        states,
        n_units,
        fixed_batch,
        has_act,
        optional,
    })
}
