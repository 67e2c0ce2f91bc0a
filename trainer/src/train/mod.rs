//! Training runs: new ones ([`train`]) and resumed ones ([`resume`]).
//!
//! - `staging`: batches, validation sequences and host/device copies;
//! - `epoch_loop`: the loop over epochs of stacked instances;
//! - `outcome`: the final files of every instance and what the caller gets back.

mod epoch_loop;
mod group;
mod outcome;
mod snapshots;
mod staging;

pub use outcome::InstanceOutcome;
pub(crate) use staging::host_vec;
pub use staging::Stager;

use crate::adam::Adam;
use crate::checkpoint::{self, Checkpoint};
use crate::observe::TrainObserver;
use crate::{model, Error, Result};
use epc_core::arch::ArchSpec;
use epc_core::config::RunConfig;
use epc_core::data::{self, DataSource, Images, Splits};
use epc_core::run::{InstanceDir, RunDir};
use epc_core::sequence::SequenceSampler;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// What to train and where.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// The resolved config shared by all instances (its `seed` is replaced per instance).
    pub config: RunConfig,
    /// One instance per seed.
    pub seeds: Vec<u64>,
    /// The run folder; instance `s` lives in `out/seed-<s>/`.
    pub out: PathBuf,
    /// How to run (not part of the science: never changes the result on one machine).
    pub options: RunOptions,
}

/// How a run executes; none of it is recorded as part of the config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Write `model.onnx` (and `model.untrained.onnx`, the initial weights) for every instance
    /// at the end.
    pub export_onnx: bool,
    /// libtorch intra-op threads; 0 picks 1 for networks of at most 256 units (where
    /// threads only add synchronisation) and libtorch's default otherwise.
    pub threads: usize,
    /// Instances stacked into one batched computation (0: all of them). Never changes the
    /// result; 1 trains them one after another (less memory at once).
    pub batch_instances: usize,
}

/// Applies [`RunOptions::threads`] for a network of `units` units and returns the count used.
pub fn configure_threads(requested: usize, units: usize) -> usize {
    let n = match requested {
        0 if units <= 256 => 1,
        0 => tch::get_num_threads().max(1) as usize,
        n => n,
    };
    tch::set_num_threads(n as i32);
    n
}

/// Loads the data set of `cfg` and carves the validation split.
pub fn load_splits(cfg: &RunConfig) -> Result<Splits> {
    let src = DataSource::new(cfg.data.dataset, cfg.data.data_dir.clone());
    let ds = data::load(&src)?;
    Ok(data::split_validation(
        ds,
        cfg.data.val_fraction,
        cfg.data.split_seed,
    )?)
}

/// One instance as the loop takes it: its seed, its folder and where it starts from.
pub(crate) struct Instance {
    seed: u64,
    dir: InstanceDir,
    ck: Checkpoint,
}

/// The starting point of a fresh instance: initial parameters, zero moments, no epoch done.
fn fresh_checkpoint(spec: &ArchSpec, seed: u64) -> Checkpoint {
    Checkpoint::fresh(crate::net::init_params(spec, seed))
}

/// Keeps the parameters a fresh instance starts from (`initial.safetensors`): the untrained
/// network of the seed, exported beside the trained one at the end. Written before the first
/// epoch only, never by a resumed run that has a checkpoint, so it always holds what the
/// instance started from (a run from before these files existed goes without one).
fn write_initial_weights(dir: &InstanceDir, ck: &Checkpoint) -> Result<()> {
    Ok(epc_exporter::write_params_safetensors(
        &dir.initial_weights(),
        &ck.params,
    )?)
}

/// Trains every seed of `req` from scratch, reporting to `observer`. Refuses a run folder that
/// already holds any of them.
pub fn train(req: &TrainRequest, observer: &mut dyn TrainObserver) -> Result<Vec<InstanceOutcome>> {
    if req.seeds.is_empty() {
        return Err(Error::Invalid("no seed given".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(s) = req.seeds.iter().find(|s| !seen.insert(**s)) {
        return Err(Error::Invalid(format!("seed {s} given twice")));
    }
    let cfg = req.config.clone().resolve()?;
    // Data problems surface before anything is written, so a failed start leaves no run folder.
    let splits = load_splits(&cfg)?;
    let run = RunDir::new(&req.out);
    let created = !run.path().exists();
    // Held until the run ends: two processes never train into one folder at once (the check
    // for existing instances comes after it, so two that start together cannot both pass).
    let _lock = run.lock()?;
    let start = (|| -> Result<Vec<Instance>> {
        for &s in &req.seeds {
            let dir = run.instance(s);
            if dir.has_config() {
                return Err(Error::Invalid(format!(
                    "{} already holds a run; use --resume {} or another --out",
                    dir.path().display(),
                    req.out.display()
                )));
            }
        }
        let spec = ArchSpec::of(&cfg)?;
        let mut instances = Vec::new();
        for &seed in &req.seeds {
            let dir = run.instance(seed);
            let mut c = cfg.clone();
            c.seed = seed;
            dir.write_config(&c)?;
            let ck = fresh_checkpoint(&spec, seed);
            write_initial_weights(&dir, &ck)?;
            instances.push(Instance { seed, dir, ck });
        }
        Ok(instances)
    })();
    let instances = match start {
        Ok(i) => i,
        Err(e) => {
            // A start that failed (a full disk, say) leaves no half-made folder behind.
            if created && !matches!(e, Error::Invalid(_)) {
                let _ = std::fs::remove_dir_all(run.path());
            }
            return Err(e);
        }
    };
    let dirs: Vec<InstanceDir> = instances.iter().map(|i| i.dir.clone()).collect();
    let outcome = epoch_loop::run(&cfg, &splits, instances, &req.options, observer);
    if outcome.is_err() && created && !dirs.iter().any(|d| d.checkpoint().exists()) {
        // Nothing was finished (the first checkpoint failed, a full disk say): a folder with
        // only configs in it would be mistaken for a run, so it goes.
        let _ = std::fs::remove_dir_all(run.path());
    }
    outcome
}

/// Continues a killed run from the checkpoints in `run_dir/seed-*/`, reporting to `observer`;
/// with `epochs` larger than the run's, extends it (the change is recorded in each config; an
/// instance that stopped early stays stopped).
pub fn resume(
    run_dir: &Path,
    epochs: Option<usize>,
    options: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<Vec<InstanceOutcome>> {
    let run = RunDir::new(run_dir);
    let _lock = run.lock()?;
    let dirs = run.instances()?;
    if dirs.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no seed-* instance folders to resume",
            run_dir.display()
        )));
    }
    let mut shared: Option<RunConfig> = None;
    let mut instances = Vec::new();
    for dir in dirs {
        let mut cfg = dir.read_config()?;
        if let Some(n) = epochs {
            let extended = cfg.extended(n)?;
            if extended != cfg {
                dir.write_config(&extended)?;
                cfg = extended;
            }
        }
        let mut key = cfg.clone();
        key.seed = 0;
        // The change log is an audit trail (its times may differ by a second between
        // instances); the settings themselves must agree.
        key.changes.clear();
        match &shared {
            None => shared = Some(key),
            Some(s) if *s != key => {
                return Err(Error::Invalid(format!(
                    "{}: config differs from the other instances; resume them separately",
                    dir.path().display()
                )))
            }
            Some(_) => {}
        }
        let spec = ArchSpec::of(&cfg)?;
        let ck = if dir.checkpoint().exists() {
            checkpoint::load_params(&dir.checkpoint(), &spec.params)?
        } else {
            // Stopped before its first epoch: it starts afresh, from the initial weights that
            // were (or, cut off before they were written, would have been) kept at the start.
            let ck = fresh_checkpoint(&spec, cfg.seed);
            if !dir.initial_weights().exists() {
                write_initial_weights(&dir, &ck)?;
            }
            ck
        };
        instances.push(Instance {
            seed: cfg.seed,
            dir,
            ck,
        });
    }
    let cfg = shared.expect("one instance at least");
    let splits = load_splits(&cfg)?;
    epoch_loop::run(&cfg, &splits, instances, options, observer)
}

/// One optimisation step of stacked instances `w` (`[K, N, N]`) on a staged batch `x`
/// (`[K, T, B, N]`, taken over: its memory holds the preactivations afterwards): the loss of
/// each instance (`[K]`, before the update) and one Adam update. `active` (one flag per
/// instance, `None` when all are) freezes stopped instances. This is the whole inner loop of
/// `epc train`.
pub fn train_step(
    cfg: &RunConfig,
    w: &mut Tensor,
    adam: &mut Adam,
    x: Tensor,
    active: Option<&[bool]>,
) -> Tensor {
    let (loss, grad, scale) = model::loss_and_grad_parts(
        cfg.train.loss,
        w,
        x,
        cfg.train.l2_coefficient,
        cfg.train.precision,
    );
    adam.update_scaled(w, &grad, scale, active);
    loss
}

/// Mean |a_t| per step (the paper's energy curve) of weights `w` on sequences drawn
/// from `images` with the run's sequence settings and `seed` (epoch 0 of that seed).
pub fn energy_curve(cfg: &RunConfig, w: &[f32], images: &Images, seed: u64) -> Result<Vec<f64>> {
    let sampler = SequenceSampler::new(images, cfg.sequence.clone(), seed)?;
    let x = staging::shared_input(images, &sampler.epoch(0));
    let n = cfg.units() as i64;
    let wt = Tensor::from_slice(w).view([1, n, n]);
    let e = tch::no_grad(|| model::energy_per_step(&model::forward(&wt, &x, None)));
    Ok(Vec::<f64>::try_from(&e.view([-1]))?)
}
