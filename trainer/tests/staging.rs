//! The trainer's inner loop pieces: the time-major staging of stacked instances' batches and
//! the training step that takes the staged batch over, against the plain per-instance
//! batches and the public gradient.

use epc_core::config::{Loss, RunConfig};
use epc_core::data::digits;
use epc_core::sequence::{Batch, Sequence, SequenceSampler};
use epc_trainer::adam::Adam;
use epc_trainer::{model, train};
use tch::{Device, Kind, Tensor};

fn draws(cfg: &RunConfig, seeds: &[u64]) -> (epc_core::data::Images, Vec<Vec<Sequence>>) {
    let (train_images, _) = digits::embedded();
    let seqs = seeds
        .iter()
        .map(|&s| {
            SequenceSampler::new(&train_images, cfg.sequence.clone(), s)
                .unwrap()
                .epoch(0)
        })
        .collect();
    (train_images, seqs)
}

#[test]
fn staged_instances_hold_each_instance_batch_in_order() {
    let cfg = RunConfig::default().resolve().unwrap();
    let (images, seqs) = draws(&cfg, &[3, 4, 5]);
    let rows = 8..20;
    let mut stager = train::Stager::default();
    let x = stager.stage(&images, &seqs, rows.clone(), Device::Cpu);
    let (t, b, n) = (cfg.sequence.length, rows.len(), images.dim());
    assert_eq!(x.size(), [3, t as i64, b as i64, n as i64]);
    for (k, s) in seqs.iter().enumerate() {
        let want = Batch::from_sequences(&images, &s[rows.clone()]);
        let got: Vec<f32> = Vec::try_from(&x.get(k as i64).contiguous().view([-1])).unwrap();
        assert_eq!(got, want.x, "instance {k}");
    }
    // The buffer is reused: a second, smaller batch is staged correctly too.
    let x2 = stager.stage(&images, &seqs[1..], 0..5, Device::Cpu);
    let want = Batch::from_sequences(&images, &seqs[2][0..5]);
    let got: Vec<f32> = Vec::try_from(&x2.get(1).contiguous().view([-1])).unwrap();
    assert_eq!(got, want.x);
}

/// `train_step` (gradient without its factor, the factor applied inside the fused Adam pass,
/// the staged batch reused for the preactivations) moves the weights as Adam would with the
/// public `loss_and_grad`, for every loss.
#[test]
fn train_step_matches_adam_on_the_public_gradient() {
    for loss in [Loss::L1Pre, Loss::L1Post, Loss::L1PostL2w] {
        let mut cfg = RunConfig::default();
        cfg.train.loss = loss;
        cfg.train.l2_coefficient = 0.3;
        let cfg = cfg.resolve().unwrap();
        let (images, seqs) = draws(&cfg, &[7, 8]);
        let units = images.dim();
        let init: Vec<f32> = [7u64, 8]
            .iter()
            .flat_map(|&s| model::init_weights(units, s))
            .collect();
        let w0 = Tensor::from_slice(&init).view([2, units as i64, units as i64]);
        let mut stager = train::Stager::default();
        let mut w = w0.copy();
        let mut adam = Adam::new(cfg.optim.clone(), &w);
        let mut w_ref = w0.copy();
        let mut adam_ref = Adam::new(cfg.optim.clone(), &w_ref);
        for batch in 0..3 {
            let rows = batch * 16..(batch + 1) * 16;
            let x = stager.stage(&images, &seqs, rows, Device::Cpu);
            let (want_loss, grad) = model::loss_and_grad(loss, &w_ref, &x, 0.3);
            adam_ref.update(&mut w_ref, &grad, None);
            let got_loss = train::train_step(&cfg, &mut w, &mut adam, x, None);
            let loss_diff = (got_loss - &want_loss).abs().max().double_value(&[]);
            assert!(loss_diff < 1e-5, "{loss:?}: loss differs by {loss_diff}");
        }
        let moved = (&w_ref - &w0).abs().max().double_value(&[]);
        let diff = (&w - &w_ref).abs().max().double_value(&[]);
        assert!(moved > 1e-4, "{loss:?}: the weights did not move ({moved})");
        assert!(
            diff < 1e-3 * moved,
            "{loss:?}: train_step differs from Adam on loss_and_grad by {diff} (moved {moved})"
        );
        assert_eq!(w.kind(), Kind::Float);
        // The moments hold the gradient itself, factor included.
        let m_scale = adam_ref.m.abs().max().double_value(&[]);
        let m_diff = (&adam.m - &adam_ref.m).abs().max().double_value(&[]);
        assert!(
            m_diff < 1e-4 * m_scale,
            "{loss:?}: first moments differ by {m_diff} (scale {m_scale})"
        );
    }
}
