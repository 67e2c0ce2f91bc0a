//! The general (autograd) path: it agrees with the paper RNN's hand-written gradient, and every
//! architecture trains on the embedded digits, lowers its loss, and resumes bit-identically.

mod common;

use common::request;
use epc_core::arch::{dale_weights, inhibitory_units, ArchSpec, NamedArray};
use epc_core::config::{Architecture, DeviceChoice, Loss, RunConfig};
use epc_core::run::InstanceDir;
use epc_trainer::checkpoint;
use epc_trainer::net::{init_params, stack_params, Net};
use epc_trainer::train::{self, RunOptions};
use epc_trainer::{model, Silent};
use rand::{Rng, SeedableRng};
use std::path::Path;
use tch::{Device, Kind, Tensor};

const OTHERS: [Architecture; 5] = [
    Architecture::RnnLatent,
    Architecture::Hierarchical,
    Architecture::Dale,
    Architecture::LstmErr,
    Architecture::GruErr,
];

fn config(arch: Architecture, epochs: usize) -> RunConfig {
    let mut c = RunConfig::default();
    c.model.architecture = arch;
    match arch {
        Architecture::RnnLatent => c.model.latent = Some(6),
        Architecture::Hierarchical | Architecture::LstmErr | Architecture::GruErr => {
            c.model.units = 12
        }
        _ => {}
    }
    c.train.epochs = epochs;
    c.train.device = DeviceChoice::Cpu;
    c.resolve().unwrap()
}

fn checkpoint_params(dir: &Path, spec: &ArchSpec) -> Vec<NamedArray> {
    checkpoint::load_params(&InstanceDir::new(dir).checkpoint(), &spec.params)
        .unwrap()
        .params
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// The rnn through autograd on `Net` against `model::loss_and_grad`, written out by hand: two
/// independent computations of the same loss and gradient, for all three losses.
#[test]
fn autograd_path_matches_the_hand_written_gradient_of_the_paper_rnn() {
    let cfg = config(Architecture::Rnn, 1);
    let spec = ArchSpec::of(&cfg).unwrap();
    let (k, steps, batch, n) = (2i64, 5i64, 4i64, 64i64);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let x: Vec<f32> = (0..k * steps * batch * n)
        .map(|_| rng.gen_range(0.0..1.0))
        .collect();
    let x = Tensor::from_slice(&x).view([k, steps, batch, n]);
    let p0 = init_params(&spec, 0);
    let p1 = init_params(&spec, 1);
    // The general path draws the rnn's W exactly as the hand-written path does.
    assert_eq!(p0[0].data, model::init_weights(64, 0));
    let net = Net::new(&spec, Device::Cpu);
    for loss in [Loss::L1Pre, Loss::L1Post, Loss::L1PostL2w] {
        let params: Vec<Tensor> = stack_params(&[&p0, &p1], Device::Cpu)
            .into_iter()
            .map(|t| t.set_requires_grad(true))
            .collect();
        let pre = net.forward(&params, &x);
        let l = net.loss(loss, &pre, &params, 3708.0);
        l.sum(Kind::Float).backward();
        let w = params[0].detach();
        let (want_loss, want_grad) = model::loss_and_grad(loss, &w, &x, 3708.0);
        let dl = max_abs_diff(&l.detach(), &want_loss);
        let dg = max_abs_diff(&params[0].grad(), &want_grad);
        let scale = want_grad.abs().max().double_value(&[]);
        assert!(dl < 1e-5, "{loss:?}: loss differs by {dl}");
        assert!(
            dg < 1e-5 * scale.max(1e-3),
            "{loss:?}: gradient differs by {dg} (max {scale})"
        );
    }
}

/// Every architecture trains (loss falls over 40 epochs), and a run stopped after 20 epochs and
/// resumed to 40 ends with exactly the parameters and Adam moments of an uninterrupted run.
#[test]
fn every_architecture_trains_and_resumes_bit_identically() {
    for arch in OTHERS {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config(arch, 40);
        let spec = ArchSpec::of(&cfg).unwrap();
        let straight = tmp.path().join("straight");
        let out = train::train(&request(&cfg, &[3], &straight), &mut Silent).unwrap();
        assert_eq!(out[0].epochs_trained, 40, "{arch:?}");
        let hist = InstanceDir::new(&out[0].dir).read_history().unwrap();
        let (first, last) = (hist[0].val_loss, hist[39].val_loss);
        assert!(
            last < 0.97 * first,
            "{arch:?}: validation loss {first} -> {last}"
        );

        let split = tmp.path().join("split");
        train::train(&request(&config(arch, 20), &[3], &split), &mut Silent).unwrap();
        train::resume(&split, Some(40), &RunOptions::default(), &mut Silent).unwrap();
        let a = checkpoint::load_params(&InstanceDir::new(&out[0].dir).checkpoint(), &spec.params)
            .unwrap();
        let b = checkpoint::load_params(&split.join("seed-3/checkpoint.safetensors"), &spec.params)
            .unwrap();
        assert_eq!(a.params, b.params, "{arch:?}: resumed parameters differ");
        assert_eq!(
            (a.m, a.v),
            (b.m, b.v),
            "{arch:?}: resumed Adam moments differ"
        );
        // The final weights file holds the architecture's parameters by name.
        let w =
            epc_exporter::read_params_safetensors(&InstanceDir::new(&out[0].dir).weights(), &spec)
                .unwrap();
        assert_eq!(
            w.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
            spec.params
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
        );
        if arch == Architecture::Dale {
            // Dale's law holds by construction: every outgoing weight keeps its unit's sign.
            let weff = dale_weights(&w[0].data, 64, 0.2);
            let inh = inhibitory_units(64, 0.2);
            assert_eq!(inh.len(), 12);
            for i in 0..64 {
                let row = &weff[i * 64..(i + 1) * 64];
                if inh.contains(&i) {
                    assert!(row.iter().all(|&v| v <= 0.0));
                } else {
                    assert!(row.iter().all(|&v| v >= 0.0));
                }
            }
        }
    }
}

/// The bias ablation: a gated network without biases starts from the same weights as one with
/// them (the biases are drawn last), trains, and its weights file holds no bias.
#[test]
fn gated_networks_train_without_biases_from_the_same_initial_weights() {
    for arch in [Architecture::LstmErr, Architecture::GruErr] {
        let with = ArchSpec::of(&config(arch, 1)).unwrap();
        let mut cfg = config(arch, 20);
        cfg.model.bias = Some(false);
        let cfg = cfg.resolve().unwrap();
        let without = ArchSpec::of(&cfg).unwrap();
        let p_with = init_params(&with, 5);
        let p_without = init_params(&without, 5);
        assert_eq!(p_without.len(), 3, "{arch:?}");
        assert_eq!(
            p_without[..],
            p_with[..3],
            "{arch:?}: initial weights differ"
        );
        let tmp = tempfile::tempdir().unwrap();
        let out = train::train(&request(&cfg, &[5], tmp.path()), &mut Silent).unwrap();
        let hist = InstanceDir::new(&out[0].dir).read_history().unwrap();
        let (first, last) = (hist[0].val_loss, hist[19].val_loss);
        assert!(last < first, "{arch:?}: validation loss {first} -> {last}");
        let w = epc_exporter::read_params_safetensors(
            &InstanceDir::new(&out[0].dir).weights(),
            &without,
        )
        .unwrap();
        let names: Vec<&str> = w.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["W_pred", "W_ih", "W_hh"], "{arch:?}");
        // It exports (the ONNX graph without biases is checked against the equations in
        // tests/arch_onnx.rs).
        let onnx = tmp.path().join("model.onnx");
        epc_exporter::export_run(&InstanceDir::new(&out[0].dir), Some(&onnx), false).unwrap();
        assert!(onnx.is_file(), "{arch:?}");
    }
}

/// Instances stacked into one computation train as they would one after another.
#[test]
fn batched_instances_match_separate_runs_on_the_autograd_path() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(Architecture::LstmErr, 5);
    let spec = ArchSpec::of(&cfg).unwrap();
    train::train(&request(&cfg, &[0, 1], &tmp.path().join("b")), &mut Silent).unwrap();
    let mut one = request(&cfg, &[0, 1], &tmp.path().join("s"));
    one.options.batch_instances = 1;
    train::train(&one, &mut Silent).unwrap();
    for seed in ["seed-0", "seed-1"] {
        let a = checkpoint_params(&tmp.path().join("b").join(seed), &spec);
        let b = checkpoint_params(&tmp.path().join("s").join(seed), &spec);
        for (pa, pb) in a.iter().zip(&b) {
            let d = pa
                .data
                .iter()
                .zip(&pb.data)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                d < 1e-5,
                "{seed} {}: batched and separate differ by {d}",
                pa.name
            );
        }
    }
}

/// A checkpoint of one architecture is refused when resumed as another.
#[test]
fn a_checkpoint_of_another_architecture_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    train::train(
        &request(&config(Architecture::GruErr, 1), &[0], tmp.path()),
        &mut Silent,
    )
    .unwrap();
    let lstm = ArchSpec::of(&config(Architecture::LstmErr, 1)).unwrap();
    let e = checkpoint::load_params(
        &tmp.path().join("seed-0/checkpoint.safetensors"),
        &lstm.params,
    )
    .unwrap_err()
    .to_string();
    // The GRU's W_ih has 3 gate blocks, the LSTM's 4.
    assert!(
        e.contains("checkpoint.safetensors")
            && e.contains("W_ih is F32 [64, 36], expected F32 [64, 48]"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);
}
