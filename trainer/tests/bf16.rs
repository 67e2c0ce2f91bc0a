//! `--precision bf16`: the matrix products on bfloat16 operands with float32 accumulation.
//! Checked against an independent emulation (float64 products of operands rounded to
//! bfloat16), against float32 (the differences are rounding-sized, and not zero), on both
//! the hand-written path and the autograd path of every architecture.

use epc_core::arch::ArchSpec;
use epc_core::config::{Architecture, DeviceChoice, Loss, Precision, RunConfig};
use epc_trainer::model;
use epc_trainer::net::{init_params, stack_params, Net};
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};

fn frames(k: i64, steps: i64, batch: i64, n: i64, seed: u64) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // Sparse, non-negative frames like ink on a blank page.
    let x: Vec<f32> = (0..k * steps * batch * n)
        .map(|_| {
            if rng.gen_bool(0.2) {
                rng.gen_range(0.0..1.0)
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_slice(&x).view([k, steps, batch, n])
}

fn weights(k: i64, n: i64, seed: u64) -> Tensor {
    let w: Vec<f32> = (0..k)
        .flat_map(|i| model::init_weights(n as usize, seed + i as u64))
        .collect();
    Tensor::from_slice(&w).view([k, n, n])
}

/// A value rounded to bfloat16 and back, in float64.
fn bf16(t: &Tensor) -> Tensor {
    t.to_kind(Kind::BFloat16).to_kind(Kind::Double)
}

fn rel(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a.to_kind(Kind::Double) - b.to_kind(Kind::Double))
        .norm()
        .double_value(&[]);
    d / b.to_kind(Kind::Double).norm().double_value(&[])
}

#[test]
fn bf16_losses_match_an_independent_emulation_and_stay_near_fp32() {
    if !epc_trainer::device::cpu_has_bf16() {
        eprintln!("skipped: this CPU has no native bf16");
        return;
    }
    let (k, steps, batch, n) = (2i64, 10i64, 16i64, 96i64);
    let x = frames(k, steps, batch, n, 1);
    let w = weights(k, n, 5);
    for kind in [Loss::L1Pre, Loss::L1Post, Loss::L1PostL2w] {
        let (loss16, grad16) = model::loss_and_grad_at(kind, &w, &x, 0.37, Precision::Bf16);
        let (loss32, grad32) = model::loss_and_grad_at(kind, &w, &x, 0.37, Precision::Fp32);
        // The emulation: a_t = x_t + bf16(bf16(h) bf16(W)), everything else in float64.
        let xd = x.to_kind(Kind::Double);
        let wd = bf16(&w);
        let mut pre = vec![xd.select(1, 0)];
        for t in 1..steps {
            let h = pre[(t - 1) as usize].relu();
            pre.push(xd.select(1, t) + bf16(&bf16(&h).bmm(&wd)));
        }
        let emulated = model::loss(kind, &pre, &w.to_kind(Kind::Double), 0.37);
        let e = rel(&loss16, &emulated);
        assert!(e < 1e-5, "{kind:?}: bf16 loss vs emulation, relative {e}");
        let d = rel(&loss16, &loss32);
        assert!(
            d > 0.0 && d < 2e-3,
            "{kind:?}: bf16 vs fp32 loss, relative {d}"
        );
        let g = rel(&grad16, &grad32);
        assert!(
            g > 0.0 && g < 3e-2,
            "{kind:?}: bf16 vs fp32 gradient, relative {g}"
        );
    }
}

fn config(arch: Architecture) -> RunConfig {
    let mut c = RunConfig::default();
    c.model.architecture = arch;
    match arch {
        Architecture::RnnLatent => c.model.latent = Some(6),
        Architecture::Hierarchical | Architecture::LstmErr | Architecture::GruErr => {
            c.model.units = 24
        }
        _ => {}
    }
    c.train.device = DeviceChoice::Cpu;
    c.resolve().unwrap()
}

#[test]
fn every_architecture_s_bf16_loss_and_gradient_stay_near_fp32() {
    if !epc_trainer::device::cpu_has_bf16() {
        eprintln!("skipped: this CPU has no native bf16");
        return;
    }
    let x = frames(2, 6, 8, 64, 2);
    for arch in [
        Architecture::Rnn,
        Architecture::RnnLatent,
        Architecture::Hierarchical,
        Architecture::Dale,
        Architecture::LstmErr,
        Architecture::GruErr,
    ] {
        let spec = ArchSpec::of(&config(arch)).unwrap();
        let p = stack_params(
            &[&init_params(&spec, 0), &init_params(&spec, 1)],
            Device::Cpu,
        );
        let mut out = Vec::new();
        for precision in [Precision::Fp32, Precision::Bf16] {
            let net = Net::new(&spec, Device::Cpu).with_precision(precision);
            let params: Vec<Tensor> = p.iter().map(|t| t.copy().set_requires_grad(true)).collect();
            let pre = net.forward(&params, &x);
            let loss = net.loss(Loss::L1Pre, &pre, &params, 3708.0);
            loss.sum(Kind::Float).backward();
            assert_eq!(
                params[0].grad().kind(),
                Kind::Float,
                "{arch:?}: fp32 gradients"
            );
            out.push((loss.detach(), params[0].grad()));
        }
        let d = rel(&out[1].0, &out[0].0);
        assert!(
            d > 0.0 && d < 5e-3,
            "{arch:?}: bf16 vs fp32 loss, relative {d}"
        );
        let g = rel(&out[1].1, &out[0].1);
        assert!(g < 5e-2, "{arch:?}: bf16 vs fp32 gradient, relative {g}");
        if arch == Architecture::Rnn {
            // The autograd path in bf16 agrees with the hand-written path in bf16.
            let w = p[0].copy();
            let (hand, _) = model::loss_and_grad_at(Loss::L1Pre, &w, &x, 0.0, Precision::Bf16);
            let e = rel(&out[1].0, &hand);
            assert!(
                e < 1e-5,
                "rnn: autograd bf16 vs hand-written bf16, relative {e}"
            );
        }
    }
}
