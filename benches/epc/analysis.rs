//! Analysis benchmarks: the full analysis (`report::analyze_data`: test, distractor and
//! deterministic sequences, unit selection, lesions, drives, bootstrap CIs with 10,000
//! resamples, figures and the written report) of MNIST networks.
//!
//! - `analysis/mnist/1`: one network;
//! - `analysis/mnist/10`: ten networks, as one analysis (instances of one run).
//!
//! The networks are 784-unit step models with the trainer's initial weights of seeds 0..9
//! (the analysis does the same work for any weights), written before the timed loop; the
//! data set is loaded once. Each iteration replaces the report folder, as `epc analyze` does.

use crate::{requested_threads, shared_data, write_meta};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use epc_analyzer::{analyze_data, AnalysisOptions};
use epc_core::config::{Loss, RunConfig};
use epc_core::data::{self, DataSource, Dataset, DatasetKind};
use epc_exporter::onnx::{self, ModelSpec};
use std::path::PathBuf;

/// Networks of the larger analysis.
const MANY: usize = 10;

struct Setup {
    dir: tempfile::TempDir,
    models: Vec<PathBuf>,
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
    write_meta(
        "analysis",
        serde_json::json!({ "units": units, "networks": [1, MANY], "bootstrap": AnalysisOptions::new(Vec::new(), Some(DatasetKind::Mnist), PathBuf::new()).bootstrap, "figures": true }),
    );
    Setup { dir, models, data }
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
            let mut opts = AnalysisOptions::new(
                s.models[..n].to_vec(),
                Some(DatasetKind::Mnist),
                s.dir.path().join(format!("report-{n}")),
            );
            opts.data_dir = Some(shared_data("mnist"));
            opts.engine.threads = requested_threads();
            b.iter(|| analyze_data(&opts, &s.data).expect("analysis"));
        });
    }
    g.finish();
}
