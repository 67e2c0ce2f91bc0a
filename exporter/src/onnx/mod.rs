//! ONNX export of the paper's RNN under the `step-v1` and `sequence-v1` contracts, and of
//! every architecture of docs/NETWORKS.md under `step-v2`
//! ([`arch_step_v2_model_bytes`]).
//!
//! Both models hold the recurrent weights as the initializer `W` (`[units, units]`,
//! row-major, `W[i, j]` connects unit `i` to unit `j`) and compute, with row vectors,
//! `preact_t = h_{t-1} W + x_t` and `act_t = h_t = relu(preact_t)`.
//!
//! - **step-v1** ([`step_model_bytes`]): inputs `x` and `h`, float32 `[batch, units]`;
//!   outputs `preact`, `h_next` and `act` (`act` equals `h_next`), float32 `[batch, units]`.
//!   Lesions are applied by the caller, by zeroing entries of `h` before a step.
//! - **sequence-v1** ([`sequence_model_bytes`]): input `x` float32 `[steps, batch, units]`;
//!   outputs `preact` and `act` float32 `[steps, batch, units]`, computed by an ONNX `Scan`
//!   from `h_0 = 0`, so the number of steps (like the batch size) is free.
//!
//! `batch` and `steps` are symbolic dimensions. Every model carries the metadata property
//! `epc.contract` (`step-v1` or `sequence-v1`) followed by the caller's properties, and is
//! written with IR version [`epc_core::contract::IR_VERSION`] and opset
//! [`epc_core::contract::OPSET`].

mod archs;
mod builder;
mod derive;
mod gated;
mod meta;
mod reader;

pub use archs::{arch_step_v2_model_bytes, write_arch_step_v2_model, META_DALE_INHIBITORY};
pub use reader::{FloatTensor, Initializer, ModelFile};

use crate::error::{Error, Result};
use builder::{Attr, Dim, GraphBuilder};
use epc_core::contract::{
    INITIALIZER_W, INPUT_H, INPUT_X, META_CONTRACT, OUTPUT_ACT, OUTPUT_DRIVE_IN, OUTPUT_DRIVE_REC,
    OUTPUT_H_NEXT, OUTPUT_PREACT, SEQUENCE_V1, STEP_V1,
};
use meta::{check_metadata, step_v2_metadata};
use std::path::Path;

/// What a model is made of: the recurrent weights and the metadata to record.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Recurrent weights, row-major `[units, units]`; `w[i * units + j]` connects unit `i` to `j`.
    pub w: Vec<f32>,
    /// Number of units (equal to the input size for the paper's RNN).
    pub units: usize,
    /// Metadata properties (key, value), written after `epc.contract` in this order.
    /// Keys must be unique, non-empty and must not be `epc.contract`.
    pub metadata: Vec<(String, String)>,
}

impl ModelSpec {
    fn check(&self) -> Result<()> {
        if self.units == 0 {
            return Err(Error::invalid("model", "the model has 0 units"));
        }
        let expected = self.units.checked_mul(self.units);
        if expected != Some(self.w.len()) {
            return Err(Error::invalid(
                "model",
                format!(
                    "W has {} values, but {} units need {} x {}",
                    self.w.len(),
                    self.units,
                    self.units,
                    self.units
                ),
            ));
        }
        check_metadata(&self.metadata, &[META_CONTRACT])
    }

    fn metadata_with_contract(&self, contract: &str) -> Vec<(String, String)> {
        let mut all = vec![(META_CONTRACT.to_string(), contract.to_string())];
        all.extend(self.metadata.iter().cloned());
        all
    }
}

const BATCH: Dim = Dim::Sym("batch");
const STEPS: Dim = Dim::Sym("steps");

/// The serialised `step-v1` model of `spec` (see the [module docs](self)).
pub fn step_model_bytes(spec: &ModelSpec) -> Result<Vec<u8>> {
    step_bytes(spec, None)
}

/// The serialised `step-v2` model of `spec` (docs/CONTRACT.md): the same step as step-v1, with
/// the state `h` declared in `epc.states`, one population `units` (unit i fed by pixel i, owning
/// `h[i]`) in `epc.populations`, and the optional outputs `drive_in` (`x`) and `drive_rec`
/// (`h W`). The analyzer gives it the same numbers as the step-v1 model.
pub fn step_v2_model_bytes(spec: &ModelSpec) -> Result<Vec<u8>> {
    let n = spec.units;
    step_bytes(
        spec,
        Some(&format!(
            r#"[{{"name":"units","units":[0,{n}],"layer":0,"pixels":[0,{n}],"state":{{"{INPUT_H}":[0,{n}]}}}}]"#
        )),
    )
}

/// [`step_v2_model_bytes`] with other populations (`epc.populations` as JSON; the state is
/// still the one tensor `h`): the same network seen as, say, two layers (benchmarks, tests).
pub fn step_v2_model_bytes_with(spec: &ModelSpec, populations_json: &str) -> Result<Vec<u8>> {
    step_bytes(spec, Some(populations_json))
}

/// The step graph; `v2` holds the populations of a step-v2 model.
fn step_bytes(spec: &ModelSpec, v2: Option<&str>) -> Result<Vec<u8>> {
    spec.check()?;
    let n = spec.units;
    let units = Dim::Fixed(n);
    let mut g = GraphBuilder::new(
        "epc_rnn_step",
        "One step of the epc RNN: preact = h W + x; h_next = act = relu(preact).",
    );
    g.input(INPUT_X, &[BATCH, units])
        .input(INPUT_H, &[BATCH, units])
        .initializer_f32(INITIALIZER_W, &[n, n], &spec.w)
        .node(
            "MatMul",
            "recurrent_drive",
            &[INPUT_H, INITIALIZER_W],
            &[OUTPUT_DRIVE_REC],
            vec![],
        )
        .node(
            "Add",
            "preactivation",
            &[OUTPUT_DRIVE_REC, INPUT_X],
            &[OUTPUT_PREACT],
            vec![],
        )
        .node(
            "Relu",
            "activation",
            &[OUTPUT_PREACT],
            &[OUTPUT_H_NEXT],
            vec![],
        )
        .node(
            "Identity",
            "activity",
            &[OUTPUT_H_NEXT],
            &[OUTPUT_ACT],
            vec![],
        )
        .output(OUTPUT_PREACT, &[BATCH, units])
        .output(OUTPUT_H_NEXT, &[BATCH, units])
        .output(OUTPUT_ACT, &[BATCH, units]);
    let metadata = if let Some(populations) = v2 {
        g.node(
            "Identity",
            "input_drive",
            &[INPUT_X],
            &[OUTPUT_DRIVE_IN],
            vec![],
        )
        .output(OUTPUT_DRIVE_IN, &[BATCH, units])
        .output(OUTPUT_DRIVE_REC, &[BATCH, units]);
        step_v2_metadata(
            format!(r#"[{{"name":"{INPUT_H}","size":{n}}}]"#),
            populations.to_string(),
            None,
            &spec.metadata,
        )
    } else {
        spec.metadata_with_contract(STEP_V1)
    };
    builder::model_bytes(
        g.build(),
        &metadata,
        if v2.is_some() {
            "epc step model (contract step-v2)"
        } else {
            "epc step model (contract step-v1)"
        },
    )
    .map_err(|reason| Error::invalid("model", reason))
}

/// A model of the step model's recurrent product alone, `y = h W` (`h`: `[batch, k]`, `W`:
/// the `[k, n]` initializer of the row-major `w`): no contract, only for timing the GEMM floor
/// of step models (`benches/epc/analysis.rs`). Errors when `w` is not `k * n` values.
pub fn product_model_bytes(w: &[f32], k: usize, n: usize) -> Result<Vec<u8>> {
    if w.len() != k * n {
        return Err(Error::invalid(
            "model",
            format!("W has {} values, not {k} x {n}", w.len()),
        ));
    }
    let mut g = GraphBuilder::new("epc_product", "The recurrent product alone: y = h W.");
    g.input(INPUT_H, &[BATCH, Dim::Fixed(k)])
        .initializer_f32(INITIALIZER_W, &[k, n], w)
        .node(
            "MatMul",
            "product",
            &[INPUT_H, INITIALIZER_W],
            &["y"],
            vec![],
        )
        .output("y", &[BATCH, Dim::Fixed(n)]);
    builder::model_bytes(g.build(), &[], "epc product model (benchmarks only)")
        .map_err(|reason| Error::invalid("model", reason))
}

/// The serialised `sequence-v1` model of `spec` (see the [module docs](self)).
pub fn sequence_model_bytes(spec: &ModelSpec) -> Result<Vec<u8>> {
    spec.check()?;
    let n = spec.units;
    let units = Dim::Fixed(n);

    // The loop body: state h_prev and the scanned frame x_t in; the next state and the
    // two per-step outputs out. It reads W from the enclosing graph.
    let mut body = GraphBuilder::new("epc_rnn_scan_body", "One step of the epc RNN.");
    body.input("scan_h_prev", &[BATCH, units])
        .input("scan_x_t", &[BATCH, units])
        .node(
            "MatMul",
            "scan_recurrent_drive",
            &["scan_h_prev", INITIALIZER_W],
            &["scan_hW"],
            vec![],
        )
        .node(
            "Add",
            "scan_preactivation",
            &["scan_hW", "scan_x_t"],
            &["scan_preact_t"],
            vec![],
        )
        .node(
            "Relu",
            "scan_activation",
            &["scan_preact_t"],
            &["scan_h_next"],
            vec![],
        )
        .node(
            "Identity",
            "scan_activity",
            &["scan_h_next"],
            &["scan_act_t"],
            vec![],
        )
        .output("scan_h_next", &[BATCH, units])
        .output("scan_preact_t", &[BATCH, units])
        .output("scan_act_t", &[BATCH, units]);

    let mut g = GraphBuilder::new(
        "epc_rnn_sequence",
        "The epc RNN over a whole sequence from h_0 = 0: preact_t = h_{t-1} W + x_t; act_t = h_t = relu(preact_t).",
    );
    g.input(INPUT_X, &[STEPS, BATCH, units])
        .initializer_f32(INITIALIZER_W, &[n, n], &spec.w)
        // h_0 = zeros([batch, units]), shaped after x without its steps axis.
        .node(
            "Shape",
            "state_shape",
            &[INPUT_X],
            &["h0_shape"],
            vec![Attr::Int("start", 1)],
        )
        .node(
            "ConstantOfShape",
            "initial_state",
            &["h0_shape"],
            &["h0"],
            vec![Attr::TensorF32("value", vec![1], vec![0.0])],
        )
        .node(
            "Scan",
            "steps",
            &["h0", INPUT_X],
            &["h_final", OUTPUT_PREACT, OUTPUT_ACT],
            vec![
                Attr::Graph("body", body.build()),
                Attr::Int("num_scan_inputs", 1),
            ],
        )
        .output(OUTPUT_PREACT, &[STEPS, BATCH, units])
        .output(OUTPUT_ACT, &[STEPS, BATCH, units]);
    builder::model_bytes(
        g.build(),
        &spec.metadata_with_contract(SEQUENCE_V1),
        "epc sequence model (contract sequence-v1)",
    )
    .map_err(|reason| Error::invalid("model", reason))
}

/// Writes the `step-v1` model of `spec` to `path` atomically (temp file, then rename).
pub fn write_step_model(spec: &ModelSpec, path: &Path) -> Result<()> {
    let bytes = step_model_bytes(spec).map_err(|e| e.at(path))?;
    crate::error::write_atomic(path, &bytes)?;
    Ok(())
}

/// Writes the `step-v2` model of `spec` to `path` atomically (temp file, then rename).
pub fn write_step_v2_model(spec: &ModelSpec, path: &Path) -> Result<()> {
    let bytes = step_v2_model_bytes(spec).map_err(|e| e.at(path))?;
    crate::error::write_atomic(path, &bytes)?;
    Ok(())
}

/// Writes the `sequence-v1` model of `spec` to `path` atomically (temp file, then rename).
pub fn write_sequence_model(spec: &ModelSpec, path: &Path) -> Result<()> {
    let bytes = sequence_model_bytes(spec).map_err(|e| e.at(path))?;
    crate::error::write_atomic(path, &bytes)?;
    Ok(())
}

/// The metadata properties (key, value) of the ONNX model at `path`, in file order.
///
/// Useful to fill a dump's attributes from the model that produced it.
pub fn read_metadata(path: &Path) -> Result<Vec<(String, String)>> {
    Ok(ModelFile::read(path)?.metadata())
}

/// Metadata properties as one JSON object (`{"epc.contract": "step-v1", ...}`).
pub fn metadata_json(metadata: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = metadata
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(units: usize) -> ModelSpec {
        ModelSpec {
            w: (0..units * units).map(|i| i as f32 * 0.5 - 1.0).collect(),
            units,
            metadata: vec![
                ("epc.seed".into(), "3".into()),
                ("epc.loss".into(), "l1-pre".into()),
            ],
        }
    }

    #[test]
    fn metadata_round_trips_with_contract_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.onnx");
        write_step_model(&spec(3), &p).unwrap();
        let meta = read_metadata(&p).unwrap();
        assert_eq!(meta[0], ("epc.contract".to_string(), "step-v1".to_string()));
        assert_eq!(meta[1], ("epc.seed".to_string(), "3".to_string()));
        assert_eq!(meta.len(), 3);
        let p2 = dir.path().join("s.onnx");
        write_sequence_model(&spec(3), &p2).unwrap();
        assert_eq!(read_metadata(&p2).unwrap()[0].1, "sequence-v1");
        let json: serde_json::Value = serde_json::from_str(&metadata_json(&meta)).unwrap();
        assert_eq!(json["epc.loss"], "l1-pre");
        let empty = dir.path().join("empty.onnx");
        std::fs::write(&empty, b"").unwrap();
        let e = read_metadata(&empty).unwrap_err().to_string();
        assert!(e.contains("empty.onnx: not an ONNX model"), "{e}");
    }

    #[test]
    fn weights_are_stored_bit_exact() {
        let s = spec(4);
        let bytes = step_model_bytes(&s).unwrap();
        let raw: Vec<u8> = s.w.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(bytes.windows(raw.len()).any(|win| win == raw.as_slice()));
    }

    #[test]
    fn inconsistent_specs_are_refused() {
        let mut s = spec(3);
        s.w.pop();
        let e = step_model_bytes(&s).unwrap_err().to_string();
        assert!(e.contains("8 values") && e.contains("3 x 3"), "{e}");
        let mut s = spec(3);
        s.metadata.push(("epc.seed".into(), "4".into()));
        let e = sequence_model_bytes(&s).unwrap_err().to_string();
        assert!(e.contains("epc.seed appears twice"), "{e}");
        let mut s = spec(3);
        s.metadata.push(("epc.contract".into(), "x".into()));
        assert!(step_model_bytes(&s).is_err());
        let s = ModelSpec {
            w: vec![],
            units: 0,
            metadata: vec![],
        };
        assert!(step_model_bytes(&s).is_err());
    }

    #[test]
    fn invalid_spec_error_names_the_output_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.onnx");
        let s = ModelSpec {
            w: vec![1.0],
            units: 2,
            metadata: vec![],
        };
        let e = write_step_model(&s, &p).unwrap_err().to_string();
        assert!(e.contains("bad.onnx"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
