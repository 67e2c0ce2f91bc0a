//! Inference benchmarks: sequences of 10 MNIST test frames through a 784-unit network
//! (the trainer's initial weights of seed 0; the timing does not depend on the values).
//!
//! - `inference/ort_step/B`: the `step-v1` model through ONNX Runtime with the analyzer's
//!   engine ([`StepModel::run_into`], engine batch size B, so one session run per step; the
//!   engine's copies of `preact` and `act` out into arrays reused across iterations, as the
//!   analysis reuses them across chunks, are included);
//! - `inference/tch/B`: `model::forward` without gradients on tensors already on the device
//!   (it returns the preactivations; the activations are computed on the way);
//! - `inference/ort_scan/B`: the `sequence-v1` (`Scan`) model through ONNX Runtime, one
//!   session run per batch of sequences (outputs read in place, not copied). It runs in a
//!   child process with an ONNX Runtime environment of its own (see the crate docs).
//!
//! For B = 1, 32 and 1,024 sequences. Each sequence of 10 steps costs 9 products
//! `[1,N]x[N,N]`, that is `9 * 2 * N^2` flops; `scripts/bench.sh` turns the medians into
//! sequences per second and GFLOP/s.

use crate::{
    configure_threads, requested_threads, shared_data, sync, tch_device, write_meta, SCAN_CHILD,
};
use criterion::{black_box, BenchmarkId, Criterion};
use epc_analyzer::{Activations, EngineOptions, StepModel};
use epc_core::config::{Loss, RunConfig};
use epc_core::contract;
use epc_core::data::{self, DataSource, DatasetKind};
use epc_core::sequence::{Batch, SequenceConfig, SequenceSampler};
use epc_exporter::onnx::{self, ModelSpec};
use ndarray::Array3;
use std::path::PathBuf;

/// Sequences per batch that every inference benchmark runs.
const BATCHES: [usize; 3] = [1, 32, 1024];
/// Frames per sequence.
const STEPS: usize = 10;
/// Seed of the test sequences.
const SEQ_SEED: u64 = 7;

struct Setup {
    _dir: tempfile::TempDir,
    step_model: PathBuf,
    sequence_model: PathBuf,
    units: usize,
    w: Vec<f32>,
    /// One `[STEPS, B, units]` batch per entry of [`BATCHES`].
    x: Vec<Batch>,
}

fn setup() -> Setup {
    let src = DataSource::new(DatasetKind::Mnist, Some(shared_data("mnist")));
    let test = data::load(&src)
        .expect("MNIST (set EPC_SHARED_DATA or see ../shared/data)")
        .test;
    let units = test.dim();
    let cfg = SequenceConfig {
        length: STEPS,
        ..SequenceConfig::default()
    };
    let sampler = SequenceSampler::new(&test, cfg, SEQ_SEED).expect("sampler");
    let mut seqs = Vec::new();
    let mut epoch = 0;
    while seqs.len() < BATCHES[BATCHES.len() - 1] {
        seqs.extend(sampler.epoch(epoch));
        epoch += 1;
    }
    let x = BATCHES
        .iter()
        .map(|&b| Batch::from_sequences(&test, &seqs[..b]))
        .collect();

    let mut run_cfg = RunConfig::default();
    run_cfg.data.dataset = DatasetKind::Mnist;
    run_cfg.train.loss = Loss::L1Pre;
    let run_cfg = run_cfg.resolve().expect("a valid MNIST config");
    let w = epc_trainer::model::init_weights(units, 0);
    let spec = ModelSpec {
        w: w.clone(),
        units,
        metadata: epc_exporter::run_metadata(&run_cfg, 0).expect("metadata"),
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let step_model = dir.path().join("model.onnx");
    let sequence_model = dir.path().join("model.sequence.onnx");
    onnx::write_step_model(&spec, &step_model).expect("step model written");
    onnx::write_sequence_model(&spec, &sequence_model).expect("sequence model written");
    Setup {
        _dir: dir,
        step_model,
        sequence_model,
        units,
        w,
        x,
    }
}

fn record_meta(s: &Setup, tch_threads: usize) {
    write_meta(
        "inference",
        serde_json::json!({
            "units": s.units,
            "steps": STEPS,
            "batches": BATCHES,
            "flops_per_sequence": 2.0 * (STEPS - 1) as f64 * (s.units * s.units) as f64,
            "onnxruntime_info": epc_analyzer::engine::runtime_version().unwrap_or_else(|e| e.to_string()),
            "onnxruntime_library": std::env::var_os("ORT_DYLIB_PATH")
                .map(|p| PathBuf::from(p).file_name().unwrap_or_default().to_string_lossy().into_owned()),
            "ort_intra_threads": requested_threads(),
            "tch_threads": tch_threads,
            "tch_device": epc_trainer::device::name(tch_device()),
        }),
    );
}

/// Registers the tch and ONNX Runtime step-loop benchmarks (this process).
pub fn bench(c: &mut Criterion) {
    let cell = std::cell::OnceCell::new();
    let s = || -> &Setup {
        cell.get_or_init(|| {
            let s = setup();
            let threads = configure_threads(s.units);
            record_meta(&s, threads);
            s
        })
    };
    let mut g = c.benchmark_group("inference");
    g.sample_size(10);
    for (i, &b) in BATCHES.iter().enumerate() {
        let mut tensors: Option<(tch::Tensor, tch::Tensor)> = None;
        g.bench_function(BenchmarkId::new("tch", b), |bench| {
            let s = s();
            let dev = tch_device();
            let (w, x) = tensors.get_or_insert_with(|| {
                let n = s.units as i64;
                let w = tch::Tensor::from_slice(&s.w).view([1, n, n]).to_device(dev);
                let x = tch::Tensor::from_slice(&s.x[i].x)
                    .view([STEPS as i64, b as i64, n])
                    .to_device(dev);
                (w, x)
            });
            tch::no_grad(|| {
                bench.iter(|| {
                    let pre = epc_trainer::model::forward(w, x, None);
                    sync(dev);
                    black_box(pre)
                })
            });
        });
    }
    for (i, &b) in BATCHES.iter().enumerate() {
        let mut loaded: Option<(StepModel, Array3<f32>)> = None;
        g.bench_function(BenchmarkId::new("ort_step", b), |bench| {
            let s = s();
            let (model, x) = loaded.get_or_insert_with(|| {
                let opts = EngineOptions {
                    batch_size: b,
                    threads: requested_threads(),
                    ..EngineOptions::default()
                };
                let model = StepModel::load(&s.step_model, &opts).expect("step model loads");
                let x =
                    Array3::from_shape_vec((STEPS, b, s.units), s.x[i].x.clone()).expect("shape");
                (model, x)
            });
            let mut out = Activations::empty();
            bench.iter(|| {
                model.run_into(x.view(), None, &mut out).expect("inference");
                black_box(&out);
            });
        });
    }
    g.finish();
}

/// Registers the whole-sequence (`Scan`) benchmarks; only in the child process, which owns
/// its ONNX Runtime environment.
pub fn bench_scan(c: &mut Criterion) {
    let cell = std::cell::OnceCell::new();
    let s = || -> &(Setup, ort::environment::Environment) {
        cell.get_or_init(|| {
            let lib =
                std::env::var_os("ORT_DYLIB_PATH").expect("ORT_DYLIB_PATH (source scripts/env.sh)");
            let env = ort::init_from(&lib)
                .expect("the ONNX Runtime library loads")
                .with_name("epc-bench")
                .build()
                .expect("an ONNX Runtime environment");
            (setup(), env)
        })
    };
    let mut g = c.benchmark_group("inference");
    g.sample_size(10);
    for (i, &b) in BATCHES.iter().enumerate() {
        let mut session: Option<ort::session::Session> = None;
        g.bench_function(BenchmarkId::new("ort_scan", b), |bench| {
            let (s, env) = s();
            let session = session.get_or_insert_with(|| scan_session(env, &s.sequence_model));
            let x = &s.x[i].x;
            bench.iter(|| {
                let xt = ort::value::TensorRef::from_array_view(([STEPS, b, s.units], &x[..]))
                    .expect("input tensor");
                let out = session
                    .run(ort::inputs![contract::INPUT_X => xt])
                    .expect("inference");
                let (shape, pre) = out[contract::OUTPUT_PREACT]
                    .try_extract_tensor::<f32>()
                    .expect("preact");
                let (_, act) = out[contract::OUTPUT_ACT]
                    .try_extract_tensor::<f32>()
                    .expect("act");
                black_box((shape.len(), pre[pre.len() - 1], act[act.len() - 1]))
            });
        });
    }
    g.finish();
}

/// A session of the sequence model at `path`, with the benchmark's thread setting.
fn scan_session(
    env: &ort::environment::Environment,
    path: &std::path::Path,
) -> ort::session::Session {
    let mut builder = ort::session::Session::builder(env).expect("a session builder");
    let threads = requested_threads();
    if threads > 0 {
        builder = builder
            .with_intra_threads(threads)
            .expect("intra-op threads");
    }
    builder
        .commit_from_file(path)
        .expect("the sequence model loads")
}

/// Runs this binary again, with the same arguments, for the `Scan` benchmarks (which need an
/// ONNX Runtime environment of their own). `EPC_BENCH_NO_SCAN=1` skips them.
pub fn run_scan_child() {
    if std::env::var_os("EPC_BENCH_NO_SCAN").is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("the bench executable");
    match std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(SCAN_CHILD, "1")
        .status()
    {
        Ok(st) if st.success() => {}
        Ok(st) => {
            eprintln!("epc bench: the Scan benchmark process failed ({st})");
            std::process::exit(st.code().unwrap_or(1));
        }
        Err(e) => {
            eprintln!("epc bench: cannot start the Scan benchmark process: {e}");
            std::process::exit(1);
        }
    }
}
