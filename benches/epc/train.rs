//! Training benchmarks: MNIST `l1-pre`, batch 32, sequences of 10, through the trainer's own
//! code path (`train::Stager::stage`, `train::train_step`, the running loss sum).
//!
//! One iteration is one training batch; successive iterations walk through epoch 0's batches
//! in the order the trainer draws them (wrapping around). A full epoch takes seconds to a
//! minute, so criterion times batches and `scripts/bench.sh` scales the median to the epoch
//! with the batch count this module records in `epc-meta/train.json`.
//!
//! - `train/batched/1` and `train/batched/10`: one batch of K stacked instances;
//! - `train/sequential/10`: one batch of each of 10 separate K = 1 trainers, one after the
//!   other (what 10 sequential runs do, interleaved at the batch);
//! - `train/gemm_limit/1` and `train/gemm_limit/10`: the batch's matrix products alone, at the
//!   shapes the trainer uses, on random data, into preallocated outputs: 9 forward
//!   `[B,N]x[N,N]` (step 1 has none), 8 state-gradient `[B,N]x[N,N]^T` (the state of step 1
//!   needs no gradient) and one weight-gradient `[N,9B]x[9B,N]` product per instance;
//! - `train/interleaved/1` and `train/interleaved/10`: one training batch then one batch of
//!   the limit's products, alternately, so that both see the same machine. Criterion times
//!   the training batches; each sample's ratio (limit time / training time) goes to
//!   `epc-meta/train_interleaved.json`, whose median is the share of the limit that the
//!   targets use. On these shared machines the separate benchmarks above can run minutes
//!   apart, under different neighbours; the interleaved ratio does not depend on that.

use crate::{configure_threads, shared_data, sync, tch_device, write_meta};
use criterion::{BenchmarkId, Criterion, SamplingMode};
use epc_core::config::{Loss, RunConfig};
use epc_core::data::{DatasetKind, Images, Splits};
use epc_core::sequence::{Sequence, SequenceSampler};
use epc_trainer::adam::Adam;
use epc_trainer::{model, train};
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// Instances of the batched and sequential comparisons.
const K_MANY: usize = 10;

/// The MNIST `l1-pre` run configuration with the paper's defaults.
fn mnist_config() -> RunConfig {
    let mut cfg = RunConfig::default();
    cfg.data.dataset = DatasetKind::Mnist;
    cfg.data.data_dir = Some(shared_data("mnist"));
    cfg.train.loss = Loss::L1Pre;
    cfg.resolve().expect("a valid MNIST config")
}

/// K instances trained together, exactly as `train::run` steps them.
struct Trainer {
    cfg: RunConfig,
    w: Tensor,
    adam: Adam,
    loss_sum: Tensor,
    epoch_seqs: Vec<Vec<Sequence>>,
    n_seq: usize,
    n_batches: usize,
    next: usize,
    stager: train::Stager,
    dev: Device,
}

impl Trainer {
    fn new(cfg: &RunConfig, images: &Images, seeds: &[u64], dev: Device) -> Trainer {
        let units = cfg.units();
        let k = seeds.len();
        let init: Vec<f32> = seeds
            .iter()
            .flat_map(|&s| model::init_weights(units, s))
            .collect();
        let w = Tensor::from_slice(&init)
            .view([k as i64, units as i64, units as i64])
            .to_device(dev);
        let adam = Adam::new(cfg.optim.clone(), &w);
        let epoch_seqs: Vec<Vec<Sequence>> = seeds
            .iter()
            .map(|&s| {
                SequenceSampler::new(images, cfg.sequence.clone(), s)
                    .expect("sampler")
                    .epoch(0)
            })
            .collect();
        let n_seq = epoch_seqs.iter().map(Vec::len).min().unwrap_or(0);
        Trainer {
            cfg: cfg.clone(),
            w,
            adam,
            loss_sum: Tensor::zeros([k as i64], (Kind::Double, dev)),
            epoch_seqs,
            n_seq,
            n_batches: n_seq.div_ceil(cfg.sequence.batch_size),
            next: 0,
            stager: train::Stager::default(),
            dev,
        }
    }

    /// One training batch (the next of the epoch), as the trainer's inner loop runs it.
    fn step(&mut self, images: &Images) {
        if self.next == self.n_batches {
            self.next = 0;
            self.loss_sum = Tensor::zeros([self.epoch_seqs.len() as i64], (Kind::Double, self.dev));
        }
        let b = self.next;
        self.next += 1;
        let bs = self.cfg.sequence.batch_size;
        let rows = b * bs..((b + 1) * bs).min(self.n_seq);
        let x = self.stager.stage(images, &self.epoch_seqs, rows, self.dev);
        let l = train::train_step(&self.cfg, &mut self.w, &mut self.adam, x, None);
        self.loss_sum += l.to_kind(Kind::Double);
    }
}

/// Random operands of one batch's products for K instances.
struct Gemm {
    h: Vec<Tensor>,
    g: Vec<Tensor>,
    w: Tensor,
    out_state: Tensor,
    out_weight: Tensor,
}

impl Gemm {
    fn new(k: i64, batch: i64, n: i64, steps: usize, dev: Device) -> Gemm {
        let opts = (Kind::Float, dev);
        let stacked = batch * (steps as i64 - 1);
        Gemm {
            h: (0..steps)
                .map(|_| Tensor::rand([k, batch, n], opts))
                .collect(),
            g: vec![
                Tensor::randn([k, batch, n], opts),
                Tensor::rand([k, stacked, n], opts),
                Tensor::randn([k, stacked, n], opts),
            ],
            w: Tensor::randn([k, n, n], opts) / (n as f64).sqrt(),
            out_state: Tensor::zeros([k, batch, n], opts),
            out_weight: Tensor::zeros([k, n, n], opts),
        }
    }

    /// The products of one batch (see the module docs), in the order the trainer runs them.
    fn batch(&self) {
        let steps = self.h.len();
        for t in 1..steps {
            let _ = self.h[t - 1].bmm_out(&self.out_state, &self.w);
        }
        let wt = self.w.transpose(1, 2);
        for _ in 2..steps {
            let _ = self.g[0].bmm_out(&self.out_state, &wt);
        }
        let _ = self.g[1]
            .transpose(1, 2)
            .bmm_out(&self.out_weight, &self.g[2]);
    }
}

struct Setup {
    cfg: RunConfig,
    splits: Splits,
    dev: Device,
}

fn setup() -> Setup {
    let cfg = mnist_config();
    let dev = tch_device();
    let threads = configure_threads(cfg.units());
    let splits =
        train::load_splits(&cfg).expect("MNIST (set EPC_SHARED_DATA or see ../shared/data)");
    let batches = |seeds: &[u64]| -> usize {
        let n_seq = seeds
            .iter()
            .map(|&s| {
                SequenceSampler::new(&splits.train, cfg.sequence.clone(), s)
                    .expect("sampler")
                    .epoch(0)
                    .len()
            })
            .min()
            .unwrap_or(0);
        n_seq.div_ceil(cfg.sequence.batch_size)
    };
    let seeds: Vec<u64> = (0..K_MANY as u64).collect();
    let separate: Vec<usize> = seeds.iter().map(|&s| batches(&[s])).collect();
    write_meta(
        "train",
        serde_json::json!({
            "dataset": "mnist",
            "loss": cfg.train.loss.name(),
            "units": cfg.units(),
            "batch_size": cfg.sequence.batch_size,
            "steps": cfg.sequence.length,
            "train_images": splits.train.len(),
            "batches_per_epoch_k1": batches(&[0]),
            "batches_per_epoch_k10": batches(&seeds),
            "batches_per_epoch_sequential": separate,
            "device": epc_trainer::device::name(dev),
            "threads": threads,
            "products_per_batch": {"forward": cfg.sequence.length - 1, "weight_grad_stacked": 1, "state_grad": cfg.sequence.length - 2},
        }),
    );
    Setup { cfg, splits, dev }
}

/// Times `iters` calls of `f`, waiting for the device before the timer stops.
fn timed(iters: u64, dev: Device, mut f: impl FnMut()) -> Duration {
    sync(dev);
    let t0 = Instant::now();
    for _ in 0..iters {
        f();
    }
    sync(dev);
    t0.elapsed()
}

/// Registers the training benchmarks.
pub fn bench(c: &mut Criterion) {
    let cell = std::cell::OnceCell::new();
    let s = || -> &Setup { cell.get_or_init(setup) };
    let mut g = c.benchmark_group("train");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for k in [1usize, K_MANY] {
        let mut trainer: Option<Trainer> = None;
        g.bench_function(BenchmarkId::new("batched", k), |b| {
            let s = s();
            let seeds: Vec<u64> = (0..k as u64).collect();
            let t =
                trainer.get_or_insert_with(|| Trainer::new(&s.cfg, &s.splits.train, &seeds, s.dev));
            b.iter_custom(|iters| timed(iters, s.dev, || t.step(&s.splits.train)));
        });
    }
    let mut separate: Option<Vec<Trainer>> = None;
    g.bench_function(BenchmarkId::new("sequential", K_MANY), |b| {
        let s = s();
        let ts = separate.get_or_insert_with(|| {
            (0..K_MANY as u64)
                .map(|seed| Trainer::new(&s.cfg, &s.splits.train, &[seed], s.dev))
                .collect()
        });
        b.iter_custom(|iters| {
            timed(iters, s.dev, || {
                for t in ts.iter_mut() {
                    t.step(&s.splits.train);
                }
            })
        });
    });
    let mut shares = serde_json::Map::new();
    for k in [1usize, K_MANY] {
        let ratios = std::cell::RefCell::new(Vec::<f64>::new());
        let mut pair: Option<(Trainer, Gemm)> = None;
        g.bench_function(BenchmarkId::new("interleaved", k), |b| {
            let s = s();
            let (trainer, gm) = pair.get_or_insert_with(|| {
                let seeds: Vec<u64> = (0..k as u64).collect();
                let n = s.cfg.units() as i64;
                let batch = s.cfg.sequence.batch_size as i64;
                (
                    Trainer::new(&s.cfg, &s.splits.train, &seeds, s.dev),
                    Gemm::new(k as i64, batch, n, s.cfg.sequence.length, s.dev),
                )
            });
            b.iter_custom(|iters| {
                let (mut train_time, mut limit_time) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..iters {
                    train_time += timed(1, s.dev, || trainer.step(&s.splits.train));
                    limit_time += tch::no_grad(|| timed(1, s.dev, || gm.batch()));
                }
                ratios
                    .borrow_mut()
                    .push(limit_time.as_secs_f64() / train_time.as_secs_f64());
                train_time
            });
        });
        let mut r = ratios.into_inner();
        if !r.is_empty() {
            r.sort_by(f64::total_cmp);
            shares.insert(
                k.to_string(),
                serde_json::json!({
                    "median_share": r[r.len() / 2],
                    "min_share": r[0],
                    "max_share": r[r.len() - 1],
                    "samples": r.len(),
                }),
            );
        }
    }
    if !shares.is_empty() {
        write_meta("train_interleaved", serde_json::Value::Object(shares));
    }
    // bf16 against fp32 (issue 32): one fp32 batch and one bf16 batch of K = 10 instances,
    // alternately, so that both see the same machine; criterion times the bf16 batches and
    // each sample's ratio (bf16 / fp32) goes to `epc-meta/train_precision.json`.
    if epc_trainer::device::cpu_has_bf16() || s().dev != Device::Cpu {
        let ratios = std::cell::RefCell::new(Vec::<f64>::new());
        let mut pair: Option<(Trainer, Trainer)> = None;
        g.bench_function(BenchmarkId::new("bf16_vs_fp32", K_MANY), |b| {
            let s = s();
            let (fp32, bf16) = pair.get_or_insert_with(|| {
                let seeds: Vec<u64> = (0..K_MANY as u64).collect();
                let mut cfg = s.cfg.clone();
                cfg.train.precision = epc_core::config::Precision::Bf16;
                (
                    Trainer::new(&s.cfg, &s.splits.train, &seeds, s.dev),
                    Trainer::new(&cfg, &s.splits.train, &seeds, s.dev),
                )
            });
            b.iter_custom(|iters| {
                let (mut t32, mut t16) = (Duration::ZERO, Duration::ZERO);
                for _ in 0..iters {
                    t32 += timed(1, s.dev, || fp32.step(&s.splits.train));
                    t16 += timed(1, s.dev, || bf16.step(&s.splits.train));
                }
                ratios
                    .borrow_mut()
                    .push(t16.as_secs_f64() / t32.as_secs_f64());
                t16
            });
        });
        let mut r = ratios.into_inner();
        if !r.is_empty() {
            r.sort_by(f64::total_cmp);
            write_meta(
                "train_precision",
                serde_json::json!({
                    "instances": K_MANY,
                    "median_bf16_over_fp32": r[r.len() / 2],
                    "min": r[0],
                    "max": r[r.len() - 1],
                    "samples": r.len(),
                }),
            );
        }
    }
    for k in [1i64, K_MANY as i64] {
        let mut gemm: Option<Gemm> = None;
        g.bench_function(BenchmarkId::new("gemm_limit", k), |b| {
            let s = s();
            let n = s.cfg.units() as i64;
            let batch = s.cfg.sequence.batch_size as i64;
            let gm =
                gemm.get_or_insert_with(|| Gemm::new(k, batch, n, s.cfg.sequence.length, s.dev));
            tch::no_grad(|| b.iter_custom(|iters| timed(iters, s.dev, || gm.batch())));
        });
    }
    g.finish();
}
