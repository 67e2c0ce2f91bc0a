//! Test helpers: step models written with Python's `onnx.helper` or `torch.onnx.export`
//! (the venv of scripts/env.sh: `EPC_PYTHON`, falling back to `python3`).
#![allow(dead_code, clippy::needless_range_loop)]

use epc_analyzer::{AnalysisOptions, EngineOptions, ExecutionProvider};
use epc_core::data::{digits, Dataset, DatasetKind};
use ndarray::{Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn python() -> PathBuf {
    std::env::var_os("EPC_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into())
}

fn run_python(script: &str, args: &[&str]) {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); source scripts/env.sh",
                python().display()
            )
        });
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const HELPER_SCRIPT: &str = r#"
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
out, wpath, variant = sys.argv[1], sys.argv[2], sys.argv[3]
n, m = int(sys.argv[4]), int(sys.argv[5])
W = np.fromfile(wpath, dtype='<f4').reshape(n, m)
F = TensorProto.FLOAT
hname = 'state' if variant == 'no_h' else 'h'
htype = TensorProto.INT64 if variant == 'int_h' else F
x = helper.make_tensor_value_info('x', F, ['batch', n])
h = helper.make_tensor_value_info(hname, htype, ['batch', n])
nodes = []
hin = hname
if variant == 'int_h':
    nodes.append(helper.make_node('Cast', [hname], ['hf'], to=F)); hin = 'hf'
nodes += [helper.make_node('MatMul', [hin, 'W'], ['hw']),
          helper.make_node('Add', ['hw', 'x'], ['preact']),
          helper.make_node('Relu', ['preact'], ['h_next']),
          helper.make_node('Identity', ['h_next'], ['act'])]
outs = [helper.make_tensor_value_info('preact', F, ['batch', m]),
        helper.make_tensor_value_info('h_next', F, ['batch', m])]
if variant != 'no_act':
    outs.append(helper.make_tensor_value_info('act', F, ['batch', m]))
else:
    nodes = nodes[:-1]
graph = helper.make_graph(nodes, 'step', [x, h], outs, initializer=[numpy_helper.from_array(W, 'W')])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 17)])
model.ir_version = 8
contract = 'sequence-v1' if variant == 'sequence' else 'step-v1'
helper.set_model_props(model, {'epc.contract': contract, 'epc.loss': 'l1_pre', 'epc.seed': '3'})
onnx.checker.check_model(model, full_check=True)
onnx.save(model, out)
"#;

const TORCH_SCRIPT: &str = r#"
import sys, numpy as np, torch
out, wpath, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
W = np.fromfile(wpath, dtype='<f4').reshape(n, n)
class Step(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.W = torch.nn.Parameter(torch.tensor(W))
    def forward(self, x, h):
        a = h @ self.W + x
        return a, torch.relu(a)
ax = {0: 'batch', 1: 'units'}
torch.onnx.export(Step(), (torch.zeros(2, n), torch.zeros(2, n)), out, input_names=['x', 'h'],
                  output_names=['preact', 'h_next'], opset_version=17, dynamo=False,
                  dynamic_axes={'x': ax, 'h': ax, 'preact': ax, 'h_next': ax})
"#;

fn write_weights(dir: &Path, w: &Array2<f32>) -> PathBuf {
    let p = dir.join(format!("w-{}.f32", rand::random::<u64>()));
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A step model `preact = h W + x`, `h_next = relu(preact)`, `act = h_next` with W `[n, m]`.
/// `variant`: "ok", "no_h", "int_h", "no_act", "sequence".
pub fn helper_model(dir: &Path, name: &str, w: &Array2<f32>, variant: &str) -> PathBuf {
    let out = dir.join(name);
    let wp = write_weights(dir, w);
    let (n, m) = w.dim();
    run_python(
        HELPER_SCRIPT,
        &[
            out.to_str().unwrap(),
            wp.to_str().unwrap(),
            variant,
            &n.to_string(),
            &m.to_string(),
        ],
    );
    out
}

/// The same step exported with `torch.onnx.export` (dynamo=False), batch and units symbolic,
/// no `act` output and no metadata.
pub fn torch_model(dir: &Path, name: &str, w: &Array2<f32>) -> PathBuf {
    let out = dir.join(name);
    let wp = write_weights(dir, w);
    run_python(
        TORCH_SCRIPT,
        &[
            out.to_str().unwrap(),
            wp.to_str().unwrap(),
            &w.nrows().to_string(),
        ],
    );
    out
}

/// W ~ U(-scale, scale), seeded.
pub fn random_w(n: usize, m: usize, scale: f32, seed: u64) -> Array2<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array2::from_shape_fn((n, m), |_| rng.gen_range(-scale..scale))
}

/// Random frames `[steps, seqs, n]` in [0, 1).
pub fn random_x(steps: usize, seqs: usize, n: usize, seed: u64) -> Array3<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array3::from_shape_fn((steps, seqs, n), |_| rng.gen_range(0.0..1.0))
}

/// Plain-Rust forward pass of the paper's RNN: returns preact `[steps, seqs, n]`.
pub fn reference_forward(x: &Array3<f32>, w: &Array2<f32>, mask: Option<&[f32]>) -> Array3<f32> {
    let (steps, seqs, n) = x.dim();
    let mut pre = Array3::<f32>::zeros((steps, seqs, n));
    for s in 0..seqs {
        let mut h = vec![0.0f64; n];
        for t in 0..steps {
            if let Some(m) = mask {
                for i in 0..n {
                    h[i] *= f64::from(m[i]);
                }
            }
            let mut a = vec![0.0f64; n];
            for j in 0..n {
                let mut acc = f64::from(x[[t, s, j]]);
                for i in 0..n {
                    acc += h[i] * f64::from(w[[i, j]]);
                }
                a[j] = acc;
            }
            for j in 0..n {
                pre[[t, s, j]] = a[j] as f32;
                h[j] = a[j].max(0.0);
            }
        }
    }
    pre
}

/// The embedded digits as a data set.
pub fn digits_data() -> Dataset {
    let (train, test) = digits::embedded();
    Dataset {
        kind: DatasetKind::Digits,
        train,
        test,
    }
}

/// Analysis options for the digits on the CPU (seed 11, 2,000 resamples, batch 16).
pub fn options(models: Vec<std::path::PathBuf>, out: std::path::PathBuf) -> AnalysisOptions {
    let mut o = AnalysisOptions::new(models, Some(DatasetKind::Digits), out);
    o.engine = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        batch_size: 16,
        ..EngineOptions::default()
    };
    o.seed = 11;
    o.bootstrap = 2000;
    o
}
