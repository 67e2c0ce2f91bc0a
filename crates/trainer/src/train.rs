//! The training loop: K instances (seeds) trained together as one batched computation.

use crate::adam::Adam;
use crate::checkpoint::{self, Checkpoint, EpochRecord, LoopState};
use crate::guard::catch_torch;
use crate::progress::Progress;
use crate::{device, model, Error, Result};
use epc_core::config::{instance_dir, instance_dirs, RunConfig};
use epc_core::data::{self, DataSource, Images, Splits};
use epc_core::sequence::{write_frames, Batch, Sequence, SequenceSampler};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// Name of the resolved config inside an instance folder.
pub const CONFIG_FILE: &str = "config.json";
/// Name of the final weights (the best validation epoch) inside an instance folder.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// Name of the last epoch's weights inside an instance folder.
pub const LAST_WEIGHTS_FILE: &str = "last.safetensors";
/// Name of the per-epoch history (JSON lines).
pub const HISTORY_FILE: &str = "history.jsonl";
/// Name of the training summary written at the end.
pub const STATE_FILE: &str = "train_state.json";

/// Salt separating the validation sequences' stream from any training stream.
const VAL_SALT: u64 = 0x7a11_da7e;

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
    /// Write `model.onnx` for every instance at the end.
    pub export_onnx: bool,
    /// Show a progress bar (true) or plain log lines (false).
    pub progress_bar: bool,
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

/// How one instance ended.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct InstanceOutcome {
    /// The instance's seed.
    pub seed: u64,
    /// Its folder.
    pub dir: PathBuf,
    /// Epochs completed.
    pub epochs_trained: usize,
    /// Epoch with the lowest validation loss (its weights are `weights.safetensors`).
    pub best_epoch: usize,
    /// The lowest validation loss.
    pub best_val_loss: f64,
    /// Why it stopped early (patience, non-finite loss), if it did.
    pub stopped: Option<String>,
    /// The device it trained on.
    pub device: String,
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

/// Trains every seed of `req` from scratch. Refuses a run folder that already holds any of them.
pub fn train(req: &TrainRequest) -> Result<Vec<InstanceOutcome>> {
    if req.seeds.is_empty() {
        return Err(Error::Invalid("no seed given".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(s) = req.seeds.iter().find(|s| !seen.insert(**s)) {
        return Err(Error::Invalid(format!("seed {s} given twice")));
    }
    for &s in &req.seeds {
        let dir = instance_dir(&req.out, s);
        if dir.join(CONFIG_FILE).exists() {
            return Err(Error::Invalid(format!(
                "{} already holds a run; use --resume {} or another --out",
                dir.display(),
                req.out.display()
            )));
        }
    }
    let cfg = req.config.clone().resolve()?;
    // Data problems surface before anything is written, so a failed start leaves no run folder.
    let splits = load_splits(&cfg)?;
    let units = cfg.units();
    let mut instances = Vec::new();
    for &seed in &req.seeds {
        let dir = instance_dir(&req.out, seed);
        let mut c = cfg.clone();
        c.seed = seed;
        epc_core::fsutil::write_json_atomic(&dir.join(CONFIG_FILE), &c)?;
        let w = model::init_weights(units, seed);
        let zeros = vec![0.0; units * units];
        let ck = Checkpoint {
            best_w: w.clone(),
            w,
            m: zeros.clone(),
            v: zeros,
            state: LoopState::default(),
        };
        instances.push((seed, dir, ck));
    }
    run(&cfg, &splits, instances, &req.options)
}

/// Continues a killed run from the checkpoints in `run_dir/seed-*/`.
pub fn resume(run_dir: &Path, options: &RunOptions) -> Result<Vec<InstanceOutcome>> {
    let dirs = instance_dirs(run_dir)?;
    if dirs.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no seed-* instance folders to resume",
            run_dir.display()
        )));
    }
    let mut shared: Option<RunConfig> = None;
    let mut instances = Vec::new();
    for dir in dirs {
        let cfg = RunConfig::from_json_file(&dir.join(CONFIG_FILE))?;
        let mut key = cfg.clone();
        key.seed = 0;
        match &shared {
            None => shared = Some(key),
            Some(s) if *s != key => {
                return Err(Error::Invalid(format!(
                    "{}: config differs from the other instances; resume them separately",
                    dir.display()
                )))
            }
            Some(_) => {}
        }
        let units = cfg.units();
        let ck_path = dir.join(checkpoint::FILE);
        let ck = if ck_path.exists() {
            checkpoint::load(&ck_path, units)?
        } else {
            let w = model::init_weights(units, cfg.seed);
            let zeros = vec![0.0; units * units];
            Checkpoint {
                best_w: w.clone(),
                w,
                m: zeros.clone(),
                v: zeros,
                state: LoopState::default(),
            }
        };
        instances.push((cfg.seed, dir, ck));
    }
    let cfg = shared.expect("one instance at least");
    let splits = load_splits(&cfg)?;
    run(&cfg, &splits, instances, options)
}

/// Host-side staging of the batches of stacked instances, reusing its buffer across batches.
#[derive(Debug, Default)]
pub struct Stager {
    host: Vec<f32>,
}

impl Stager {
    /// Builds `[K, T, B, N]` on `dev` from sequences `rows` of each instance's epoch draw.
    ///
    /// The frames are written once into the reused host buffer, time-major
    /// (`[T, K, B, N]`, what [`model::loss_and_grad_parts`] computes in), then copied once to
    /// a fresh tensor, returned as its `[K, T, B, N]` view.
    pub fn stage(
        &mut self,
        images: &Images,
        epoch_seqs: &[Vec<Sequence>],
        rows: std::ops::Range<usize>,
        dev: Device,
    ) -> Tensor {
        let k = epoch_seqs.len();
        let steps = epoch_seqs
            .first()
            .and_then(|s| s.get(rows.start))
            .map_or(0, |s| s.frames.len());
        let (batch, dim) = (rows.len(), images.dim());
        self.host.resize(steps * k * batch * dim, 0.0);
        for (i, seqs) in epoch_seqs.iter().enumerate() {
            let out = &mut self.host[i * batch * dim..];
            write_frames(images, &seqs[rows.clone()], out, k * batch * dim);
        }
        Tensor::from_slice(&self.host)
            .view([steps as i64, k as i64, batch as i64, dim as i64])
            .to_device(dev)
            .transpose(0, 1)
    }
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
    let (loss, grad, scale) =
        model::loss_and_grad_parts(cfg.train.loss, w, x, cfg.train.l2_coefficient);
    adam.update_scaled(w, &grad, scale, active);
    loss
}

fn host_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(
        &t.to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]),
    )
    .expect("f32 tensor")
}

fn stack_host(arrays: &[&Vec<f32>], units: usize, dev: Device) -> Tensor {
    let flat: Vec<f32> = arrays.iter().flat_map(|a| a.iter().copied()).collect();
    Tensor::from_slice(&flat)
        .view([arrays.len() as i64, units as i64, units as i64])
        .to_device(dev)
}

/// The validation sequences: one fixed draw, identical for every instance and epoch.
fn validation_batch(cfg: &RunConfig, val: &Images, dev: Device) -> Result<Option<Tensor>> {
    if val.is_empty() {
        return Ok(None);
    }
    let sampler = SequenceSampler::new(val, cfg.sequence.clone(), cfg.data.split_seed ^ VAL_SALT)
        .map_err(|e| {
        Error::Invalid(format!(
            "validation split of {} images: {e}; raise --val-fraction",
            val.len()
        ))
    })?;
    let seqs = sampler.epoch(0);
    if seqs.is_empty() {
        return Ok(None);
    }
    Ok(Some(shared_input(val, &seqs).to_device(dev)))
}

/// Sequences as one `[T, B, N]` input shared by every instance.
fn shared_input(images: &Images, seqs: &[Sequence]) -> Tensor {
    let b = Batch::from_sequences(images, seqs);
    Tensor::from_slice(&b.x).view([b.steps as i64, b.batch as i64, b.dim as i64])
}

/// Instances trained together as one stacked computation.
struct Group {
    range: std::ops::Range<usize>,
    w: Tensor,
    adam: Adam,
}

impl Group {
    fn new(
        cfg: &RunConfig,
        instances: &[(u64, PathBuf, Checkpoint)],
        range: std::ops::Range<usize>,
        dev: Device,
    ) -> Self {
        let units = cfg.units();
        let part = &instances[range.clone()];
        let stack = |f: fn(&Checkpoint) -> &Vec<f32>| {
            stack_host(
                &part.iter().map(|i| f(&i.2)).collect::<Vec<_>>(),
                units,
                dev,
            )
        };
        let w = stack(|c| &c.w);
        let mut adam = Adam::new(cfg.optim.clone(), &w);
        adam.m = stack(|c| &c.m);
        adam.v = stack(|c| &c.v);
        adam.step = part[0].2.state.adam_step;
        Self { range, w, adam }
    }
}

fn run(
    cfg: &RunConfig,
    splits: &Splits,
    instances: Vec<(u64, PathBuf, Checkpoint)>,
    options: &RunOptions,
) -> Result<Vec<InstanceOutcome>> {
    let dev = device::select(cfg.train.device)?;
    let threads = configure_threads(options.threads, cfg.units());
    let dev_name = if dev == Device::Cpu {
        format!("cpu, {threads} thread(s)")
    } else {
        device::name(dev)
    };
    eprintln!(
        "epc: training {} instance(s) of {} on {} ({dev_name}), loss {}, up to {} epochs",
        instances.len(),
        cfg.model.architecture.name(),
        cfg.data.dataset,
        cfg.train.loss.name(),
        cfg.train.epochs
    );
    let units = cfg.units();
    let k = instances.len();
    let samplers: Vec<SequenceSampler> = instances
        .iter()
        .map(|(seed, _, _)| SequenceSampler::new(&splits.train, cfg.sequence.clone(), *seed))
        .collect::<epc_core::Result<_>>()?;
    let val_x = validation_batch(cfg, &splits.val, dev)?;

    let mut states: Vec<LoopState> = instances.iter().map(|i| i.2.state.clone()).collect();
    if states
        .iter()
        .any(|s| s.adam_step != states[0].adam_step || s.epochs_done != states[0].epochs_done)
    {
        return Err(Error::Invalid(
            "instances were checkpointed at different epochs; resume them separately".into(),
        ));
    }
    let group_size = match options.batch_instances {
        0 => k,
        g => g.min(k),
    };
    let mut groups: Vec<Group> = (0..k)
        .step_by(group_size)
        .map(|start| Group::new(cfg, &instances, start..(start + group_size).min(k), dev))
        .collect();
    let mut best: Vec<Vec<f32>> = instances.iter().map(|i| i.2.best_w.clone()).collect();
    let dirs: Vec<PathBuf> = instances.iter().map(|i| i.1.clone()).collect();
    let seeds: Vec<u64> = instances.iter().map(|i| i.0).collect();

    let start_epoch = states[0].epochs_done;
    let mut stager = Stager::default();
    let mut progress = Progress::new(options.progress_bar, cfg.train.epochs, start_epoch);
    for epoch in start_epoch..cfg.train.epochs {
        let active: Vec<bool> = states.iter().map(|s| s.stopped.is_none()).collect();
        if !active.iter().any(|&a| a) {
            break;
        }
        let t0 = Instant::now();
        let epoch_seqs: Vec<Vec<Sequence>> =
            samplers.iter().map(|s| s.epoch(epoch as u64)).collect();
        let n_seq = epoch_seqs.iter().map(Vec::len).min().unwrap_or(0);
        let bs = cfg.sequence.batch_size;
        let n_batches = n_seq.div_ceil(bs);
        if n_batches == 0 {
            return Err(Error::Invalid(format!(
                "the training split of {} yields no sequence",
                cfg.data.dataset
            )));
        }
        progress.start_epoch(epoch + 1, n_batches * groups.len());
        let mut train_loss = vec![f64::NAN; k];
        let mut val_loss = vec![f64::NAN; k];
        let mut host = vec![(Vec::new(), Vec::new(), Vec::new()); k];
        for g in &mut groups {
            let r = g.range.clone();
            if !active[r.clone()].iter().any(|&a| a) {
                continue;
            }
            let flags = &active[r.clone()];
            let mask = (!flags.iter().all(|&a| a)).then_some(flags);
            let (tl, vl) = catch_torch(&format!("training epoch {}", epoch + 1), || {
                let mut loss_sum = Tensor::zeros([r.len() as i64], (Kind::Double, dev));
                for b in 0..n_batches {
                    let rows = b * bs..((b + 1) * bs).min(n_seq);
                    let x = stager.stage(&splits.train, &epoch_seqs[r.clone()], rows, dev);
                    let l = train_step(cfg, &mut g.w, &mut g.adam, x, mask);
                    loss_sum += l.to_kind(Kind::Double);
                    progress.batch();
                }
                let tl = host_vec(&(loss_sum / n_batches as f64));
                let vl = match &val_x {
                    Some(vx) => {
                        let pre = model::forward(&g.w, vx, None);
                        host_vec(&model::loss(
                            cfg.train.loss,
                            &pre,
                            &g.w,
                            cfg.train.l2_coefficient,
                        ))
                    }
                    None => tl.clone(),
                };
                (tl, vl)
            })?;
            let nn = units * units;
            let (w_host, m_host, v_host) =
                (host_vec(&g.w), host_vec(&g.adam.m), host_vec(&g.adam.v));
            for (j, i) in r.enumerate() {
                train_loss[i] = tl[j] as f64;
                val_loss[i] = vl[j] as f64;
                let part = |v: &[f32]| v[j * nn..(j + 1) * nn].to_vec();
                host[i] = (part(&w_host), part(&m_host), part(&v_host));
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let adam_step = groups.iter().map(|g| g.adam.step).max().unwrap_or(0);
        let nn = units * units;
        for i in (0..k).filter(|&i| active[i]) {
            let (wi, mi, vi) = std::mem::take(&mut host[i]);
            let st = &mut states[i];
            if !train_loss[i].is_finite() || !val_loss[i].is_finite() {
                st.stopped = Some(format!(
                    "non-finite loss at epoch {} (train {}, validation {})",
                    epoch + 1,
                    train_loss[i],
                    val_loss[i]
                ));
                progress.note(&format!(
                    "seed {}: {}; keeping the checkpoint of epoch {}",
                    seeds[i],
                    st.stopped.as_ref().unwrap(),
                    st.epochs_done
                ));
                continue;
            }
            let mean_abs = wi.iter().map(|v| v.abs() as f64).sum::<f64>() / nn as f64;
            let mean_sq = wi.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / nn as f64;
            st.history.push(EpochRecord {
                epoch: epoch + 1,
                train_loss: train_loss[i],
                val_loss: val_loss[i],
                mean_abs_w: mean_abs,
                mean_sq_w: mean_sq,
                seconds,
            });
            st.epochs_done = epoch + 1;
            st.adam_step = adam_step;
            if val_loss[i] < st.best_val - cfg.train.min_delta {
                st.best_val = val_loss[i];
                st.best_epoch = epoch + 1;
                st.since_improvement = 0;
                best[i] = wi.to_vec();
            } else {
                st.since_improvement += 1;
                if cfg
                    .train
                    .patience
                    .is_some_and(|p| st.since_improvement >= p)
                {
                    st.stopped = Some(format!(
                        "early stop: no validation improvement for {} epochs",
                        st.since_improvement
                    ));
                }
            }
            let ck = Checkpoint {
                w: wi,
                m: mi,
                v: vi,
                best_w: best[i].clone(),
                state: st.clone(),
            };
            write_history(&dirs[i], &st.history)?;
            checkpoint::save(&dirs[i].join(checkpoint::FILE), units, &ck)?;
        }
        let shown: Vec<(f64, f64)> = (0..k)
            .filter(|&i| active[i])
            .map(|i| (train_loss[i], val_loss[i]))
            .collect();
        progress.end_epoch(epoch + 1, &shown, seconds);
    }
    progress.finish();
    finish(
        cfg,
        &seeds,
        &dirs,
        &states,
        &best,
        &dev_name,
        options.export_onnx,
    )
}

fn write_history(dir: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut text = String::new();
    for r in history {
        text.push_str(&serde_json::to_string(r).expect("record serialises"));
        text.push('\n');
    }
    epc_core::fsutil::write_atomic(&dir.join(HISTORY_FILE), text.as_bytes())?;
    Ok(())
}

fn finish(
    cfg: &RunConfig,
    seeds: &[u64],
    dirs: &[PathBuf],
    states: &[LoopState],
    best: &[Vec<f32>],
    dev_name: &str,
    export_onnx: bool,
) -> Result<Vec<InstanceOutcome>> {
    let units = cfg.units();
    let mut outcomes = Vec::new();
    let mut failures = Vec::new();
    for i in 0..seeds.len() {
        let st = &states[i];
        let outcome = InstanceOutcome {
            seed: seeds[i],
            dir: dirs[i].clone(),
            epochs_trained: st.epochs_done,
            best_epoch: st.best_epoch,
            best_val_loss: st.best_val,
            stopped: st.stopped.clone(),
            device: dev_name.to_string(),
        };
        if st
            .stopped
            .as_deref()
            .is_some_and(|s| s.starts_with("non-finite"))
        {
            failures.push(format!(
                "seed {}: {}",
                seeds[i],
                st.stopped.as_ref().unwrap()
            ));
        }
        if st.epochs_done > 0 {
            let ck = checkpoint::load(&dirs[i].join(checkpoint::FILE), units)?;
            epc_exporter::write_weights_safetensors(
                &dirs[i].join(LAST_WEIGHTS_FILE),
                &ck.w,
                units,
            )?;
            epc_exporter::write_weights_safetensors(&dirs[i].join(WEIGHTS_FILE), &best[i], units)?;
            epc_core::fsutil::write_json_atomic(
                &dirs[i].join(STATE_FILE),
                &serde_json::json!({
                    "epochs_trained": st.epochs_done,
                    "best_epoch": st.best_epoch,
                    "best_val_loss": st.best_val,
                    "stopped": st.stopped,
                    "device": dev_name,
                }),
            )?;
            if export_onnx {
                epc_exporter::export_run(&dirs[i], None, false)?;
            }
        }
        outcomes.push(outcome);
    }
    if !failures.is_empty() {
        return Err(Error::NonFinite(failures.join("; ")));
    }
    Ok(outcomes)
}

/// Mean |a_t| per step (the paper's energy curve) of weights `w` on sequences drawn
/// from `images` with the run's sequence settings and `seed` (epoch 0 of that seed).
pub fn energy_curve(cfg: &RunConfig, w: &[f32], images: &Images, seed: u64) -> Result<Vec<f64>> {
    let sampler = SequenceSampler::new(images, cfg.sequence.clone(), seed)?;
    let x = shared_input(images, &sampler.epoch(0));
    let n = cfg.units() as i64;
    let wt = Tensor::from_slice(w).view([1, n, n]);
    let e = tch::no_grad(|| model::energy_per_step(&model::forward(&wt, &x, None)));
    Ok(Vec::<f64>::try_from(&e.view([-1]))?)
}
