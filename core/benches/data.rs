//! Data benchmarks: loading MNIST (gunzip + MD5 + parse + scale) and drawing an epoch of
//! sequences with its batches (the sampler must never be the training bottleneck).
//! Run: `cargo bench -p epc-core --bench data` (needs the full MNIST files in
//! `$EPC_SHARED_DATA/mnist`, else `../shared/data/mnist` beside the repository; no download).

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use epc_core::data::{self, DataSource, DatasetKind};
use epc_core::sequence::{Batch, SequenceConfig, SequenceSampler};
use std::path::PathBuf;

fn mnist_dir() -> PathBuf {
    std::env::var_os("EPC_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
        .join("mnist")
}

fn bench(c: &mut Criterion) {
    let mut src = DataSource::new(DatasetKind::Mnist, Some(mnist_dir()));
    src.fetch.enabled = false;
    let mut g = c.benchmark_group("data");
    g.sample_size(10);
    g.bench_function("load_mnist_train_and_test", |b| {
        b.iter(|| data::load(&src).unwrap())
    });
    let ds = data::load(&src).unwrap();
    let sampler = SequenceSampler::new(&ds.train, SequenceConfig::default(), 0).unwrap();
    let mut batch = Batch::default();
    g.bench_function("mnist_epoch_sequences_and_batches", |b| {
        let mut epoch = 0;
        b.iter(|| {
            let seqs = sampler.epoch(epoch);
            epoch += 1;
            for chunk in seqs.chunks(32) {
                batch.fill(&ds.train, chunk);
            }
            batch.x.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
