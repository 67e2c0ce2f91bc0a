//! The engine's tally of steps (`engine::work`), which the analysis's GEMM-floor benchmark
//! replays, and the product-alone model that benchmark times. One test in its own binary:
//! the tally is process-wide, so no other test may run steps beside it.

use epc_analyzer::engine::work::{self, StepShape};
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use epc_exporter::onnx::{self, ModelSpec};
use ndarray::Array3;
use ort::value::TensorRef;

fn shape(rows: usize, n: usize) -> StepShape {
    StepShape {
        rows,
        n_state: n,
        n_units: n,
    }
}

#[test]
fn tally_counts_every_step_by_shape_and_the_product_model_computes_h_w() {
    let n = 9;
    let w: Vec<f32> = (0..n * n)
        .map(|i| ((i * 37 % 23) as f32 - 11.0) / 40.0)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.onnx");
    let spec = ModelSpec {
        w: w.clone(),
        units: n,
        metadata: Vec::new(),
    };
    onnx::write_step_model(&spec, &path).unwrap();
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        ep_explicit: true,
        batch_size: 7,
        ..EngineOptions::default()
    };
    let mut model = StepModel::load(&path, &opts).unwrap();

    // 23 sequences of 10 steps in batches of 7: three runs of 7 rows and one of 2, each step
    // a session run. Loading ran probe steps; the reset forgets them.
    work::reset();
    let x = Array3::from_shape_fn((10, 23, n), |(t, s, i)| {
        ((t + 2 * s + 3 * i) % 5) as f32 / 5.0
    });
    model.run(x.view(), None).unwrap();
    assert_eq!(work::snapshot(), vec![(shape(2, n), 10), (shape(7, n), 30)]);
    // A lesion mask per row (the nulls' batched draws) counts the same way, added on top.
    let masks = vec![1.0f32; 23 * n];
    let mut acts = epc_analyzer::Activations::empty();
    model.run_rows_into(x.view(), &masks, &mut acts).unwrap();
    let tally = work::snapshot();
    assert_eq!(tally, vec![(shape(2, n), 20), (shape(7, n), 60)]);
    let flops = work::total_flops(&tally);
    assert_eq!(flops, (2 * n * n * (2 * 20 + 7 * 60)) as f64);
    work::reset();
    assert!(work::snapshot().is_empty());

    // The product model: y = h W, against a plain triple loop.
    let (rows, k, u) = (4, n, 5);
    let wk: Vec<f32> = (0..k * u).map(|i| (i as f32 - 20.0) / 17.0).collect();
    let bytes = onnx::product_model_bytes(&wk, k, u).unwrap();
    let env = epc_analyzer::engine::environment().unwrap();
    let mut session = ort::session::Session::builder(env)
        .unwrap()
        .commit_from_memory(&bytes)
        .unwrap();
    let h: Vec<f32> = (0..rows * k).map(|i| (i % 7) as f32 / 7.0).collect();
    let out = session
        .run(ort::inputs!["h" => TensorRef::from_array_view(([rows, k], &h[..])).unwrap()])
        .unwrap();
    let (_, y) = out["y"].try_extract_tensor::<f32>().unwrap();
    for r in 0..rows {
        for c in 0..u {
            let want: f32 = (0..k).map(|j| h[r * k + j] * wk[j * u + c]).sum();
            assert!((y[r * u + c] - want).abs() < 1e-5, "y[{r},{c}]");
        }
    }
    assert!(onnx::product_model_bytes(&wk[1..], k, u)
        .unwrap_err()
        .to_string()
        .contains("not 9 x 5"),);
}
