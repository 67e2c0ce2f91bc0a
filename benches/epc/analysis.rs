//! Analysis benchmarks: the full analysis (`report::analyze_data`: test, distractor and
//! deterministic sequences, unit selection, lesions, drives, bootstrap CIs with 10,000
//! resamples, figures and the written report) of MNIST networks.
//!
//! - `analysis/mnist/1`: one network, with every control (input and shuffled-weights
//!   baselines, the 100-draw matched lesion null, the dose-response grid);
//! - `analysis/mnist_no_nulls/1`: the same without the null's and the grid's random draws
//!   (their cost is the difference);
//! - `analysis/mnist/10`: ten networks, as one analysis (instances of one run);
//! - `analysis/mnist_v2/1`: the first network as a step-v2 model of two layers of 392 units
//!   (each pixel-mapped, owning its half of `h`), so that the per-population breakdown and
//!   the lesions within each layer run: issue 12 asks for at most 1.5x the step-v1 time.
//!
//! - `analysis/floor/1`: the one-network analysis of `analysis/mnist/1`, then its GEMM floor:
//!   the matrix products its step models ran (counted by `epc_analyzer::engine::work`: one
//!   `[rows, 784] x [784, 784]` product per step and batch of sequences, the lesion nulls'
//!   batched draws included) timed alone on operands of the same shapes, with libtorch and
//!   with ONNX Runtime (a session of the product alone), alternately with the analysis in one
//!   process (issue 32, item 4). The floor is the faster library's time. Criterion times the
//!   analyses; each sample's share (floor / analysis), both floors and the tally go to
//!   `epc-meta/analysis_floor.json`.
//!
//! The networks are 784-unit step models with the trainer's initial weights of seeds 0..9
//! (the analysis does the same work for any weights), written before the timed loop; the
//! data set is loaded once. Each iteration replaces the report folder, as `epc analyze` does.

use crate::{requested_threads, shared_data, write_meta};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use epc_analyzer::engine::work::{self, StepShape};
use epc_analyzer::{analyze_data, AnalysisOptions};
use epc_core::config::{Loss, RunConfig};
use epc_core::data::{self, DataSource, Dataset, DatasetKind};
use epc_exporter::onnx::{self, ModelSpec};
use ort::memory::Allocator;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

/// Networks of the larger analysis.
const MANY: usize = 10;

struct Setup {
    dir: tempfile::TempDir,
    models: Vec<PathBuf>,
    /// The first network as a two-layer step-v2 model.
    v2: PathBuf,
    data: Dataset,
}

fn setup() -> Setup {
    let src = DataSource::new(DatasetKind::Mnist, Some(shared_data("mnist")));
    let data = data::load(&src).expect("MNIST (set EPC_SHARED_DATA or see ../shared/data)");
    let units = data.test.dim();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let models = (0..MANY as u64)
        .map(|seed| {
            let mut cfg = RunConfig {
                seed,
                ..RunConfig::default()
            };
            cfg.data.dataset = DatasetKind::Mnist;
            cfg.train.loss = Loss::L1Pre;
            let cfg = cfg.resolve().expect("a valid MNIST config");
            let spec = ModelSpec {
                w: epc_trainer::model::init_weights(units, seed),
                units,
                metadata: epc_exporter::run_metadata(&cfg, 0).expect("metadata"),
            };
            let path = dir.path().join(format!("seed-{seed}.onnx"));
            onnx::write_step_model(&spec, &path).expect("model written");
            path
        })
        .collect();
    let v2 = dir.path().join("seed-0.v2.onnx");
    let half = units / 2;
    let pops = format!(
        r#"[{{"name":"lower","units":[0,{half}],"layer":0,"pixels":[0,{half}],"state":{{"h":[0,{half}]}}}},{{"name":"upper","units":[{half},{units}],"layer":1,"pixels":[{half},{units}],"state":{{"h":[{half},{units}]}}}}]"#
    );
    let spec = ModelSpec {
        w: epc_trainer::model::init_weights(units, 0),
        units,
        metadata: Vec::new(),
    };
    let bytes = onnx::step_v2_model_bytes_with(&spec, &pops).expect("v2 model");
    std::fs::write(&v2, bytes).expect("v2 model written");
    write_meta(
        "analysis",
        serde_json::json!({ "units": units, "networks": [1, MANY], "bootstrap": AnalysisOptions::new(Vec::new(), Some(DatasetKind::Mnist), PathBuf::new()).bootstrap, "figures": true }),
    );
    Setup {
        dir,
        models,
        v2,
        data,
    }
}

/// The options of an analysis of `models` into the report folder `report` (inside the
/// benchmark's temporary folder), with the benchmark's threads.
fn options(s: &Setup, models: Vec<PathBuf>, report: &str) -> AnalysisOptions {
    let mut opts =
        AnalysisOptions::new(models, Some(DatasetKind::Mnist), s.dir.path().join(report));
    opts.data_dir = Some(shared_data("mnist"));
    opts.engine.threads = requested_threads();
    opts
}

/// Registers the analysis benchmarks.
pub fn bench(c: &mut Criterion) {
    let cell = std::cell::OnceCell::new();
    let s = || -> &Setup { cell.get_or_init(setup) };
    let mut g = c.benchmark_group("analysis");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for n in [1usize, MANY] {
        g.bench_function(BenchmarkId::new("mnist", n), |b| {
            let s = s();
            let opts = options(s, s.models[..n].to_vec(), &format!("report-{n}"));
            b.iter(|| analyze_data(&opts, &s.data).expect("analysis"));
        });
    }
    // The same one-network analysis without the lesion nulls and the dose-response draws
    // (the matched null's 100 draws and the grid's 10 per dose): the difference to
    // `analysis/mnist/1` is what they cost.
    g.bench_function(BenchmarkId::new("mnist_no_nulls", 1), |b| {
        let s = s();
        let mut opts = options(s, s.models[..1].to_vec(), "report-no-nulls");
        opts.nulls.draws = 0;
        opts.nulls.dose_draws = 0;
        b.iter(|| analyze_data(&opts, &s.data).expect("analysis"));
    });
    g.bench_function(BenchmarkId::new("mnist_v2", 1), |b| {
        let s = s();
        let opts = options(s, vec![s.v2.clone()], "report-v2");
        b.iter(|| analyze_data(&opts, &s.data).expect("analysis"));
    });
    bench_floor(&mut g, &s);
    g.finish();
}

/// One product shape of a tally: random operands for tch and an ONNX Runtime session of the
/// product alone with its output preallocated, and how many times the analysis ran it.
struct Product {
    h: Tensor,
    w: Tensor,
    out: Tensor,
    session: Session,
    h_ort: Vec<f32>,
    shape: StepShape,
    options: RunOptions<HasSelectedOutputs>,
    count: u64,
}

/// Every product of a tally, timed alone with libtorch (`mm_out`) and with ONNX Runtime (a
/// session of the `MatMul` alone, the engine's library and threads). The floor is the faster.
struct Floor {
    products: Vec<Product>,
}

impl Floor {
    fn new(tally: &[(StepShape, u64)]) -> Floor {
        let env = epc_analyzer::engine::environment().expect("the ONNX Runtime environment");
        let cpu = (Kind::Float, tch::Device::Cpu);
        let products = tally
            .iter()
            .map(|(s, n)| {
                let (r, k, u) = (s.rows, s.n_state, s.n_units);
                let w = Tensor::randn([k as i64, u as i64], cpu) / (k as f64).sqrt();
                let wv: Vec<f32> = Vec::try_from(w.flatten(0, 1)).expect("W as floats");
                let bytes = epc_exporter::onnx::product_model_bytes(&wv, k, u).expect("model");
                let mut builder = Session::builder(env).expect("a session builder");
                if requested_threads() > 0 {
                    builder = builder
                        .with_intra_threads(requested_threads())
                        .expect("intra-op threads");
                }
                let session = builder
                    .commit_from_memory(&bytes)
                    .expect("the product loads");
                let y = ort::value::Tensor::<f32>::new(&Allocator::default(), [r, u])
                    .expect("an output");
                let options = RunOptions::new()
                    .expect("run options")
                    .with_outputs(OutputSelector::no_default().with("y").preallocate("y", y));
                Product {
                    h: Tensor::rand([r as i64, k as i64], cpu),
                    w,
                    out: Tensor::zeros([r as i64, u as i64], cpu),
                    session,
                    h_ort: (0..r * k).map(|i| (i % 97) as f32 / 97.0).collect(),
                    shape: *s,
                    options,
                    count: *n,
                }
            })
            .collect();
        Floor { products }
    }

    /// Runs every product of the tally once with libtorch; the time it took.
    fn tch(&self) -> Duration {
        let t0 = Instant::now();
        tch::no_grad(|| {
            for p in &self.products {
                for _ in 0..p.count {
                    let _ = p.h.mm_out(&p.out, &p.w);
                }
            }
        });
        t0.elapsed()
    }

    /// Runs every product of the tally once with ONNX Runtime; the time it took.
    fn ort(&mut self) -> Duration {
        let t0 = Instant::now();
        for p in &mut self.products {
            let (r, k) = (p.shape.rows, p.shape.n_state);
            for _ in 0..p.count {
                let h = TensorRef::from_array_view(([r, k], &p.h_ort[..])).expect("an input");
                let _ = p
                    .session
                    .run_with_options(ort::inputs!["h" => h], &p.options)
                    .expect("the product runs");
            }
        }
        t0.elapsed()
    }
}

/// `analysis/floor/1` (see the module docs). `s` sets up lazily, as in [`bench`], so that a
/// filter that skips the benchmark skips the set-up too.
fn bench_floor<'a>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    s: &dyn Fn() -> &'a Setup,
) {
    let samples = std::cell::RefCell::new(Vec::<(f64, f64, f64)>::new());
    let tally = std::cell::RefCell::new(Vec::new());
    let floor = std::cell::RefCell::new(None::<(Vec<(StepShape, u64)>, Floor)>);
    g.bench_function(BenchmarkId::new("floor", 1), |b| {
        let s = s();
        let opts = options(s, s.models[..1].to_vec(), "report-floor");
        b.iter_custom(|iters| {
            let (mut analysis, mut floor_tch, mut floor_ort) =
                (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            for _ in 0..iters {
                work::reset();
                let t0 = Instant::now();
                analyze_data(&opts, &s.data).expect("analysis");
                analysis += t0.elapsed();
                let counted = work::snapshot();
                // The operands and sessions are built once per distinct tally (every analysis
                // of the same network runs the same steps), outside the timers.
                let mut built = floor.borrow_mut();
                if built.as_ref().is_none_or(|(t, _)| *t != counted) {
                    *built = Some((counted.clone(), Floor::new(&counted)));
                }
                let f = &mut built.as_mut().expect("built above").1;
                let (t, o) = (f.tch(), f.ort());
                floor_tch += t;
                floor_ort += o;
                *tally.borrow_mut() = counted;
            }
            samples.borrow_mut().push((
                analysis.as_secs_f64(),
                floor_tch.as_secs_f64(),
                floor_ort.as_secs_f64(),
            ));
            analysis
        });
    });
    let samples = samples.into_inner();
    let tally = tally.into_inner();
    if samples.is_empty() {
        return;
    }
    let median = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
        let mut v: Vec<f64> = samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // The floor of a sample is the faster library's time for the same products.
    let mut shares: Vec<f64> = samples.iter().map(|(a, t, o)| t.min(*o) / a).collect();
    shares.sort_by(f64::total_cmp);
    let steps: u64 = tally.iter().map(|(_, n)| n).sum();
    let rows: Vec<_> = tally
        .iter()
        .map(|(s, n)| serde_json::json!({"rows": s.rows, "n_state": s.n_state, "n_units": s.n_units, "steps": n}))
        .collect();
    write_meta(
        "analysis_floor",
        serde_json::json!({
            "median_share": shares[shares.len() / 2],
            "min_share": shares[0],
            "max_share": shares[shares.len() - 1],
            "samples": samples.len(),
            "median_share_tch": median(&|(a, t, _)| t / a),
            "median_share_ort": median(&|(a, _, o)| o / a),
            "median_analysis_seconds": median(&|(a, _, _)| *a),
            "seconds": samples.iter().map(|(a, t, o)| serde_json::json!({"analysis": a, "floor_tch": t, "floor_ort": o})).collect::<Vec<_>>(),
            "gflop": work::total_flops(&tally) / 1e9,
            "steps": steps,
            "step_shapes": rows,
        }),
    );
}
