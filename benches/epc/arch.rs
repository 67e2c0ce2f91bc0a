//! Training benchmarks of the architectures on the autograd path (`arch/<name>`): one MNIST-
//! shaped training batch (784 inputs, batch 32, sequences of 10, `l1-pre`, default sizes) of
//! one instance through `epc_trainer::net::train_step`, what `epc train --arch` runs per batch.
//! The frames are seeded random numbers in [0, 1) (the arithmetic does not depend on them), so
//! no data set is needed. `benches/arch_pytorch.py` times the same networks written plainly in
//! PyTorch eager, and `scripts/bench_arch.sh` runs both and writes the comparison.

use crate::{configure_threads, sync, tch_device, write_meta};
use criterion::{BenchmarkId, Criterion};
use epc_core::arch::ArchSpec;
use epc_core::config::{Architecture, Loss, RunConfig};
use epc_core::data::DatasetKind;
use epc_trainer::adam::Adam;
use epc_trainer::net::{self, init_params, stack_params, Net};
use rand::{Rng, SeedableRng};
use std::time::Duration;
use tch::Tensor;

/// The benchmarked architectures (the paper's `rnn` has its own hand-written benchmarks).
pub const ARCHS: [Architecture; 5] = [
    Architecture::RnnLatent,
    Architecture::Hierarchical,
    Architecture::Dale,
    Architecture::LstmErr,
    Architecture::GruErr,
];

fn config(arch: Architecture) -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.data.dataset = DatasetKind::Mnist;
    cfg.model.architecture = arch;
    cfg.train.loss = Loss::L1Pre;
    cfg.optim.lr = 1e-3;
    cfg.resolve().expect("a valid config")
}

/// Runs the `arch/<name>` benchmarks.
pub fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("arch");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(10));
    let mut meta = serde_json::Map::new();
    for arch in ARCHS {
        let cfg = config(arch);
        let spec = ArchSpec::of(&cfg).expect("spec");
        meta.insert(
            arch.name().into(),
            serde_json::json!({"params": spec.param_count(), "units": spec.n_units()}),
        );
        group.bench_function(BenchmarkId::from_parameter(arch.name()), |b| {
            let dev = tch_device();
            configure_threads(spec.n_units());
            let net = Net::new(&spec, dev);
            let p0 = init_params(&spec, 0);
            let mut params: Vec<Tensor> = stack_params(&[&p0], dev)
                .into_iter()
                .map(|t| t.set_requires_grad(true))
                .collect();
            let mut adams: Vec<Adam> = params
                .iter()
                .map(|p| Adam::new(cfg.optim.clone(), p))
                .collect();
            let (steps, batch, n) = (10i64, 32i64, spec.n_in as i64);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
            let x: Vec<f32> = (0..steps * batch * n)
                .map(|_| rng.gen_range(0.0..1.0))
                .collect();
            let x = Tensor::from_slice(&x)
                .view([1, steps, batch, n])
                .to_device(dev);
            b.iter(|| {
                let l = net::train_step(&net, &cfg, &mut params, &mut adams, &x, None);
                sync(dev);
                l
            });
        });
    }
    group.finish();
    meta.insert("threads".into(), serde_json::json!(tch::get_num_threads()));
    write_meta("arch", serde_json::Value::Object(meta));
}
