//! The epoch loop: K instances (seeds) trained together as stacked computations, with
//! validation, early stopping, non-finite checks and a checkpoint per instance every epoch.

use super::group::Group;
use super::outcome::{self, InstanceResult};
use super::staging::{host_vec, validation_batch, Stager};
use super::{configure_threads, snapshots, Instance, InstanceOutcome, RunOptions};
use crate::checkpoint::{self, Checkpoint, EpochRecord, LoopState, StopReason};
use crate::guard::catch_torch;
use crate::observe::{TrainEvent, TrainObserver};
use crate::{device, Error, Result};
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::RunConfig;
use epc_core::data::Splits;
use epc_core::sequence::{Sequence, SequenceSampler};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// What one epoch gave one instance: its losses and its new host arrays.
#[derive(Default)]
struct EpochResult {
    train_loss: f64,
    val_loss: f64,
    /// Training sequences the epoch used (its group's shortest draw) and this instance drew.
    sequences: usize,
    drawn: usize,
    /// Its group's Adam step count after the epoch (groups may train different numbers of
    /// batches).
    adam_step: u64,
    params: Vec<NamedArray>,
    m: Vec<NamedArray>,
    v: Vec<NamedArray>,
}

/// Everything the loop needs that does not change from epoch to epoch.
struct Setup<'a> {
    cfg: &'a RunConfig,
    splits: &'a Splits,
    dev: Device,
    val_x: Option<Tensor>,
}

/// Trains `instances` from their checkpoints to the config's last epoch, then writes their
/// final files.
pub(super) fn run(
    cfg: &RunConfig,
    splits: &Splits,
    instances: Vec<Instance>,
    options: &RunOptions,
    observer: &mut dyn TrainObserver,
) -> Result<Vec<InstanceOutcome>> {
    let dev = device::select(cfg.train.device)?;
    device::check_precision(dev, cfg.train.precision)?;
    let spec = ArchSpec::of(cfg)?;
    let threads = configure_threads(options.threads, spec.n_units());
    let dev_name = if dev == Device::Cpu {
        format!("cpu, {threads} thread(s)")
    } else {
        device::name(dev)
    };
    let k = instances.len();
    let mut states: Vec<LoopState> = instances.iter().map(|i| i.ck.state.clone()).collect();
    if states
        .iter()
        .any(|s| s.epochs_done != states[0].epochs_done)
    {
        return Err(Error::Invalid(
            "instances were checkpointed at different epochs; resume them separately".into(),
        ));
    }
    let start_epoch = states[0].epochs_done;
    observer.on_event(TrainEvent::Started {
        instances: k,
        architecture: cfg.model.architecture.name(),
        dataset: cfg.data.dataset.name(),
        device: &dev_name,
        loss: cfg.train.loss.name(),
        epochs: cfg.train.epochs,
        done: start_epoch,
        validation: !splits.val.is_empty(),
    });
    let samplers: Vec<SequenceSampler> = instances
        .iter()
        .map(|i| SequenceSampler::new(&splits.train, cfg.sequence.clone(), i.seed))
        .collect::<epc_core::Result<_>>()?;
    let setup = Setup {
        cfg,
        splits,
        dev,
        val_x: validation_batch(cfg, &splits.val, dev)?,
    };
    let group_size = match options.batch_instances {
        0 => k,
        g => g.min(k),
    };
    // A group continues from one Adam step count, so its members must have been trained in
    // one group before (their counts differ where groups trained different numbers of batches).
    if states
        .chunks(group_size)
        .any(|part| part.iter().any(|s| s.adam_step != part[0].adam_step))
    {
        return Err(Error::Invalid(
            "these instances were trained in other groups (their Adam step counts differ); \
             resume with the first run's --batch-instances, or each separately"
                .into(),
        ));
    }
    let mut groups: Vec<Group> = (0..k)
        .step_by(group_size)
        .map(|start| {
            Group::new(
                cfg,
                &spec,
                &instances,
                start..(start + group_size).min(k),
                dev,
            )
        })
        .collect();
    let mut best: Vec<Vec<NamedArray>> = instances.iter().map(|i| i.ck.best.clone()).collect();
    let mut stager = Stager::default();
    let outputs = Outputs {
        device: &dev_name,
        export_onnx: options.export_onnx,
    };
    for epoch in start_epoch..cfg.train.epochs {
        let active: Vec<bool> = states.iter().map(|s| s.stopped.is_none()).collect();
        if !active.iter().any(|&a| a) {
            break;
        }
        let t0 = Instant::now();
        let epoch_seqs: Vec<Vec<Sequence>> =
            samplers.iter().map(|s| s.epoch(epoch as u64)).collect();
        // Each group trains its instances on as many sequences as its shortest member drew
        // (the sampler draws until a class runs out, so on most streams the count depends on
        // the seed): one instance per group trains exactly as a separate run would.
        let group_seqs: Vec<usize> = groups
            .iter()
            .map(|g| {
                epoch_seqs[g.range.clone()]
                    .iter()
                    .map(Vec::len)
                    .min()
                    .unwrap_or(0)
            })
            .collect();
        let bs = cfg.sequence.batch_size;
        if group_seqs.contains(&0) {
            return Err(Error::Invalid(format!(
                "the training split of {} yields no sequence",
                cfg.data.dataset
            )));
        }
        observer.on_event(TrainEvent::EpochStarted {
            epoch: epoch + 1,
            batches: group_seqs.iter().map(|n| n.div_ceil(bs)).sum(),
        });
        // The schedule's rate is a function of the epoch alone, so a resumed run sets the same.
        let lr = cfg.optim.schedule.lr(cfg.optim.lr, epoch, cfg.train.epochs);
        for g in &mut groups {
            g.set_lr(lr);
        }
        let mut results: Vec<EpochResult> = (0..k).map(|_| EpochResult::default()).collect();
        for (g, &n_seq) in groups.iter_mut().zip(&group_seqs) {
            if active[g.range.clone()].iter().any(|&a| a) {
                train_group_epoch(
                    &setup,
                    g,
                    epoch,
                    &epoch_seqs,
                    n_seq,
                    &active,
                    &mut stager,
                    &mut results,
                    observer,
                )?;
            }
        }
        let seconds = t0.elapsed().as_secs_f64();
        let timing = EpochTiming { epoch, seconds, lr };
        let mut shown = Vec::new();
        for i in (0..k).filter(|&i| active[i]) {
            let r = std::mem::take(&mut results[i]);
            shown.push((r.train_loss, r.val_loss));
            let st = &mut states[i];
            let (stopped, written) =
                record_epoch(cfg, st, &mut best[i], r, &timing, &instances[i], &outputs)?;
            for patience in written {
                observer.on_event(TrainEvent::PatienceSnapshot {
                    seed: instances[i].seed,
                    patience,
                    epoch: st.epochs_done,
                    dir: instances[i].dir.patience_snapshot(patience).path(),
                });
            }
            if let Some(reason) = stopped {
                observer.on_event(TrainEvent::InstanceStopped {
                    seed: instances[i].seed,
                    reason: &reason,
                    kept_epoch: st.epochs_done,
                });
            }
        }
        observer.on_event(TrainEvent::EpochFinished {
            epoch: epoch + 1,
            losses: &shown,
            seconds,
        });
    }
    observer.on_event(TrainEvent::Finished);
    outcome::finish(
        cfg,
        &instances,
        &states,
        &best,
        &dev_name,
        options.export_onnx,
    )
}

/// One epoch of one group: every batch, then the validation loss; fills `results` for the
/// group's instances with their losses and host copies of weights and moments.
#[allow(clippy::too_many_arguments)]
fn train_group_epoch(
    setup: &Setup,
    g: &mut Group,
    epoch: usize,
    epoch_seqs: &[Vec<Sequence>],
    n_seq: usize,
    active: &[bool],
    stager: &mut Stager,
    results: &mut [EpochResult],
    observer: &mut dyn TrainObserver,
) -> Result<()> {
    let (cfg, dev) = (setup.cfg, setup.dev);
    let r = g.range.clone();
    let flags = &active[r.clone()];
    let mask = (!flags.iter().all(|&a| a)).then_some(flags);
    let bs = cfg.sequence.batch_size;
    let n_batches = n_seq.div_ceil(bs);
    let (tl, vl) = catch_torch(&format!("training epoch {}", epoch + 1), || {
        let mut loss_sum = Tensor::zeros([r.len() as i64], (Kind::Double, dev));
        for b in 0..n_batches {
            // A stop signal ends the run between batches; the last epoch's checkpoint is
            // already on disk, and the epoch in progress is dropped.
            epc_core::interrupt::check()?;
            let rows = b * bs..((b + 1) * bs).min(n_seq);
            let x = stager.stage(&setup.splits.train, &epoch_seqs[r.clone()], rows, dev);
            let l = g.train_batch(cfg, x, mask);
            loss_sum += l.to_kind(Kind::Double);
            observer.on_event(TrainEvent::Batch);
        }
        let tl = host_vec(&(loss_sum / n_batches as f64));
        let vl = match &setup.val_x {
            Some(vx) => host_vec(&g.loss_on(cfg, vx)),
            None => tl.clone(),
        };
        Ok::<_, epc_core::Error>((tl, vl))
    })??;
    for ((j, i), host) in r.enumerate().zip(g.host()) {
        results[i] = EpochResult {
            train_loss: tl[j] as f64,
            val_loss: vl[j] as f64,
            sequences: n_seq,
            drawn: epoch_seqs[i].len(),
            adam_step: g.step(),
            params: host.params,
            m: host.m,
            v: host.v,
        };
    }
    Ok(())
}

/// What an epoch shares across its instances.
struct EpochTiming {
    /// 0-based.
    epoch: usize,
    seconds: f64,
    lr: f64,
}

/// Where an instance's results go besides its checkpoint.
struct Outputs<'a> {
    /// The device, in words (recorded in the training state).
    device: &'a str,
    /// Whether results are exported as ONNX.
    export_onnx: bool,
}

/// Books one finished epoch of one instance: history, best weights, early stopping, patience
/// snapshots and its checkpoint. Returns the reason when the instance stopped for good at
/// this epoch, and the patiences whose snapshots it wrote.
fn record_epoch(
    cfg: &RunConfig,
    st: &mut LoopState,
    best: &mut Vec<NamedArray>,
    r: EpochResult,
    timing: &EpochTiming,
    inst: &Instance,
    out: &Outputs,
) -> Result<(Option<StopReason>, Vec<usize>)> {
    let EpochTiming { epoch, seconds, lr } = *timing;
    if !r.train_loss.is_finite() || !r.val_loss.is_finite() {
        // The checkpoint of the epoch before stays as it is.
        let reason = StopReason::NonFinite {
            epoch: epoch + 1,
            train_loss: r.train_loss,
            val_loss: r.val_loss,
        };
        st.stopped = Some(reason.clone());
        return Ok((Some(reason), Vec::new()));
    }
    // Over every trained value (for the paper's RNN, its W).
    let values = || {
        r.params
            .iter()
            .flat_map(|p| p.data.iter().map(|&v| v as f64))
    };
    let nn = values().count().max(1) as f64;
    let mean_abs = values().map(f64::abs).sum::<f64>() / nn;
    let mean_sq = values().map(|v| v * v).sum::<f64>() / nn;
    st.history.push(EpochRecord {
        epoch: epoch + 1,
        train_loss: r.train_loss,
        val_loss: r.val_loss,
        mean_abs_w: mean_abs,
        mean_sq_w: mean_sq,
        seconds,
        lr: Some(lr),
        sequences: Some(r.sequences),
        drawn: Some(r.drawn),
    });
    st.epochs_done = epoch + 1;
    st.adam_step = r.adam_step;
    if r.val_loss < st.best_val - cfg.train.min_delta {
        st.best_val = r.val_loss;
        st.best_epoch = epoch + 1;
        *best = r.params.clone();
    }
    // Early stopping judges the mean of the last `smoothing` validation losses, and never
    // before the minimum number of epochs.
    let window = cfg.train.smoothing.min(st.history.len());
    let smoothed = st.history[st.history.len() - window..]
        .iter()
        .map(|h| h.val_loss)
        .sum::<f64>()
        / window as f64;
    // The relative threshold scales the best so far; before the first epoch there is none
    // (an infinite best, which any finite loss improves).
    let relative = match st.best_smoothed.is_finite() {
        true => cfg.train.min_rel_delta * st.best_smoothed.abs(),
        false => 0.0,
    };
    if smoothed < st.best_smoothed - cfg.train.min_delta - relative {
        st.best_smoothed = smoothed;
        st.since_improvement = 0;
    } else {
        st.since_improvement += 1;
        if epoch + 1 >= snapshots::min_epochs(cfg)
            && cfg
                .train
                .patience
                .is_some_and(|p| st.since_improvement >= p)
        {
            st.stopped = Some(StopReason::EarlyStop {
                epochs_without_improvement: st.since_improvement,
            });
        }
    }
    // Patience snapshots are written before the checkpoint: a run killed in between writes
    // them again on resume (the folder appears only once complete).
    let result = InstanceResult {
        state: st,
        last: &r.params,
        best,
        device: out.device,
        export_onnx: out.export_onnx,
    };
    let written = snapshots::due(cfg, &result, inst);
    for &p in &written {
        snapshots::write(inst, p, &result, true)?;
    }
    let ck = Checkpoint {
        params: r.params,
        m: r.m,
        v: r.v,
        best: best.clone(),
        state: st.clone(),
    };
    inst.dir.write_history(&st.history)?;
    checkpoint::save(&inst.dir.checkpoint(), &ck)?;
    Ok((st.stopped.clone(), written))
}
