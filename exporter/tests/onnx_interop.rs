//! The exported models pass `onnx.checker` (full check) and, run by Python onnxruntime,
//! match a plain-Rust forward pass to 1e-5 over 10 steps.

mod common;

use common::{forward, max_abs_diff, read_f32, run_python, write_f32, Rng};
use epc_exporter::onnx::{write_sequence_model, write_step_model, ModelSpec};

const CHECK: &str = r#"
import json, sys
import numpy as np
import onnx
import onnxruntime as ort

d = sys.argv[1]
cases = json.load(open(f"{d}/cases.json"))
n = cases["units"]
report = {}
for kind in ["step", "seq"]:
    path = f"{d}/{kind}.onnx"
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    g = m.graph
    dims = lambda vi: [x.dim_param or x.dim_value for x in vi.type.tensor_type.shape.dim]
    report[kind] = {
        "ir_version": m.ir_version,
        "opset": [[o.domain, o.version] for o in m.opset_import],
        "metadata": [[p.key, p.value] for p in m.metadata_props],
        "inputs": [[i.name, dims(i)] for i in g.input],
        "outputs": [[o.name, dims(o)] for o in g.output],
        "initializers": [[t.name, list(t.dims)] for t in g.initializer],
        "ops": [node.op_type for node in g.node],
    }
step = ort.InferenceSession(f"{d}/step.onnx", providers=["CPUExecutionProvider"])
seq = ort.InferenceSession(f"{d}/seq.onnx", providers=["CPUExecutionProvider"])
for c in cases["cases"]:
    name, steps, batch = c["name"], c["steps"], c["batch"]
    x = np.fromfile(f"{d}/x_{name}.bin", dtype="<f4").reshape(steps, batch, n)
    h = np.zeros((batch, n), dtype=np.float32)
    pre, act, hn = [], [], []
    for t in range(steps):
        p, h_next, a = step.run(["preact", "h_next", "act"], {"x": x[t], "h": h})
        pre.append(p); act.append(a); hn.append(h_next)
        h = h_next
    np.stack(pre).astype("<f4").tofile(f"{d}/step_{name}_preact.bin")
    np.stack(act).astype("<f4").tofile(f"{d}/step_{name}_act.bin")
    np.stack(hn).astype("<f4").tofile(f"{d}/step_{name}_hnext.bin")
    p, a = seq.run(["preact", "act"], {"x": x})
    assert p.shape == (steps, batch, n), p.shape
    p.astype("<f4").tofile(f"{d}/seq_{name}_preact.bin")
    a.astype("<f4").tofile(f"{d}/seq_{name}_act.bin")
print(json.dumps(report))
"#;

#[test]
fn step_and_sequence_models_match_the_rust_forward_pass_in_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let n = 24;
    let mut rng = Rng::new(7);
    let bound = 1.5 / (n as f32).sqrt();
    let spec = ModelSpec {
        w: rng.vec(n * n, -bound, bound),
        units: n,
        metadata: vec![
            ("epc.seed".into(), "7".into()),
            ("epc.loss".into(), "l1-pre".into()),
        ],
    };
    write_step_model(&spec, &d.join("step.onnx")).unwrap();
    write_sequence_model(&spec, &d.join("seq.onnx")).unwrap();

    let cases = [
        ("s10b1", 10, 1),
        ("s10b5", 10, 5),
        ("s3b5", 3, 5),
        ("s3b1", 3, 1),
    ];
    let mut expected = Vec::new();
    for &(name, steps, batch) in &cases {
        let x = rng.vec(steps * batch * n, -0.5, 1.0);
        write_f32(&d.join(format!("x_{name}.bin")), &x);
        expected.push(forward(&spec.w, n, &x, steps, batch));
    }
    let cases_json = serde_json::json!({
        "units": n,
        "cases": cases.iter().map(|&(name, steps, batch)| serde_json::json!({"name": name, "steps": steps, "batch": batch})).collect::<Vec<_>>(),
    });
    std::fs::write(d.join("cases.json"), cases_json.to_string()).unwrap();

    let out = run_python(d, CHECK, &[d.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();

    // Structure of the graphs, as onnx sees it.
    let step = &report["step"];
    assert_eq!(step["ir_version"], 8);
    assert_eq!(step["opset"], serde_json::json!([["", 17]]));
    assert_eq!(
        step["metadata"],
        serde_json::json!([
            ["epc.contract", "step-v1"],
            ["epc.seed", "7"],
            ["epc.loss", "l1-pre"]
        ])
    );
    assert_eq!(
        step["inputs"],
        serde_json::json!([["x", ["batch", 24]], ["h", ["batch", 24]]])
    );
    assert_eq!(
        step["outputs"],
        serde_json::json!([
            ["preact", ["batch", 24]],
            ["h_next", ["batch", 24]],
            ["act", ["batch", 24]]
        ])
    );
    assert_eq!(step["initializers"], serde_json::json!([["W", [24, 24]]]));
    let seq = &report["seq"];
    assert_eq!(
        seq["metadata"][0],
        serde_json::json!(["epc.contract", "sequence-v1"])
    );
    assert_eq!(
        seq["inputs"],
        serde_json::json!([["x", ["steps", "batch", 24]]])
    );
    assert_eq!(
        seq["outputs"],
        serde_json::json!([
            ["preact", ["steps", "batch", 24]],
            ["act", ["steps", "batch", 24]]
        ])
    );
    assert_eq!(seq["initializers"], serde_json::json!([["W", [24, 24]]]));
    assert!(seq["ops"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("Scan")));

    // Numbers: both models against the Rust reference.
    for (&(name, steps, batch), (pre, act)) in cases.iter().zip(&expected) {
        assert_eq!(pre.len(), steps * batch * n);
        // The reference is not degenerate: some units are silenced, some are active.
        assert!(act.contains(&0.0) && act.iter().any(|&v| v > 0.1), "{name}");
        for (kind, file, want) in [
            ("step", "preact", pre),
            ("step", "act", act),
            ("step", "hnext", act),
            ("seq", "preact", pre),
            ("seq", "act", act),
        ] {
            let got = read_f32(&d.join(format!("{kind}_{name}_{file}.bin")));
            let diff = max_abs_diff(&got, want);
            assert!(diff <= 1e-5, "{kind} {name} {file}: max |diff| = {diff}");
        }
    }
}

const CHECK_ARCHS: &str = r#"
import sys
import onnx
from onnx import shape_inference

for path in sys.argv[1:]:
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    assert m.ir_version == 8 and [(o.domain, o.version) for o in m.opset_import] == [("", 17)]
    print(path.rsplit("/", 1)[-1], "ok")
"#;

/// The step-v2 models of every architecture pass `onnx.checker` (full check) and strict shape
/// inference: the declared dims of every port agree with what the graph computes.
#[test]
fn architecture_models_pass_the_onnx_checker() {
    use epc_core::arch::{ArchSpec, NamedArray};
    use epc_core::config::{Architecture, RunConfig};
    use epc_exporter::onnx::write_arch_step_v2_model;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(3);
    let mut paths = Vec::new();
    for arch in [
        Architecture::Rnn,
        Architecture::RnnLatent,
        Architecture::Hierarchical,
        Architecture::Dale,
        Architecture::LstmErr,
        Architecture::GruErr,
    ] {
        let mut cfg = RunConfig::default();
        cfg.data.dataset = epc_core::data::DatasetKind::Digits;
        cfg.model.architecture = arch;
        if arch.has_hidden_layers() {
            cfg.model.units = 7;
        }
        let spec = ArchSpec::of(&cfg.resolve().unwrap()).unwrap();
        let params: Vec<NamedArray> = spec
            .params
            .iter()
            .map(|p| NamedArray {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data: rng.vec(p.numel(), -0.1, 0.1),
            })
            .collect();
        let path = dir.path().join(format!("{}.onnx", arch.name()));
        write_arch_step_v2_model(&spec, &params, &[], &path).unwrap();
        paths.push(path.to_str().unwrap().to_string());
    }
    let args: Vec<&str> = paths.iter().map(String::as_str).collect();
    let out = run_python(dir.path(), CHECK_ARCHS, &args);
    assert_eq!(out.lines().count(), 6, "{out}");
}
