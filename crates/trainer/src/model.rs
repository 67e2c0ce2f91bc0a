//! The paper's RNN (SPEC.md section 1), batched over K independent instances.
//!
//! Shapes: weights `[K, N, N]`, inputs `[K, T, B, N]` (or `[T, B, N]` shared by all
//! instances), state `[K, B, N]`. Row-vector convention: `a_t = h_{t-1} W + x_t`.

use epc_core::config::Loss;
use rand::{Rng, SeedableRng};
use tch::{Kind, Tensor};

/// Salt that separates the initialisation stream from the data stream of the same seed.
const INIT_SALT: u64 = 0x1a17_5eed;

/// Draws W ~ U(-1/sqrt(N), 1/sqrt(N)) for one instance, from the run seed alone.
///
/// Drawn on the host with a portable RNG so that the same seed gives the same
/// initial weights on every device and in batched or separate runs.
pub fn init_weights(units: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ INIT_SALT);
    let bound = 1.0 / (units as f32).sqrt();
    (0..units * units)
        .map(|_| rng.gen_range(-bound..bound))
        .collect()
}

/// Runs the network over a sequence and returns the preactivation of every step.
///
/// `w` is `[K, N, N]`; `x` is `[K, T, B, N]` (per-instance data) or `[T, B, N]` (shared data);
/// `mask`, when given, is `[K, 1, N]` or `[1, N]` and multiplies the state before each step.
pub fn forward(w: &Tensor, x: &Tensor, mask: Option<&Tensor>) -> Vec<Tensor> {
    let shared = x.dim() == 3;
    let (steps, batch) = if shared {
        (x.size()[0], x.size()[1])
    } else {
        (x.size()[1], x.size()[2])
    };
    let k = w.size()[0];
    let n = w.size()[2];
    let mut h = Tensor::zeros([k, batch, n], (w.kind(), w.device()));
    let mut pre = Vec::with_capacity(steps as usize);
    for t in 0..steps {
        let x_t = if shared {
            x.select(0, t)
        } else {
            x.select(1, t)
        };
        let a = if t == 0 {
            // h_0 = 0, so a_1 = x_1 exactly (no rounding from a zero product).
            x_t.expand([k, batch, n], false).shallow_clone()
        } else {
            let h_in = match mask {
                Some(m) => &h * m,
                None => h.shallow_clone(),
            };
            h_in.bmm(w) + x_t
        };
        h = a.relu();
        pre.push(a);
    }
    pre
}

/// The loss of each instance, `[K]`: a sum over steps of means over batch and units.
///
/// `l2_coefficient` is used by `l1-post-l2w` only (counted at every step, as published).
pub fn loss(kind: Loss, preacts: &[Tensor], w: &Tensor, l2_coefficient: f64) -> Tensor {
    let dims: &[i64] = &[1, 2];
    let mut total: Option<Tensor> = None;
    for a in preacts {
        let step = match kind {
            Loss::L1Pre => a.abs().mean_dim(dims, false, a.kind()),
            Loss::L1Post => a.relu().mean_dim(dims, false, a.kind()),
            Loss::L1PostL2w => {
                a.relu().mean_dim(dims, false, a.kind())
                    + w.square().mean_dim(dims, false, w.kind()) * l2_coefficient
            }
        };
        total = Some(match total {
            Some(t) => t + step,
            None => step,
        });
    }
    total.expect("at least one step")
}

/// Mean |a_t| per step and instance, `[K, T]`, from the preactivations.
pub fn energy_per_step(preacts: &[Tensor]) -> Tensor {
    let per: Vec<Tensor> = preacts
        .iter()
        .map(|a| a.abs().mean_dim([1i64, 2].as_slice(), false, Kind::Double))
        .collect();
    Tensor::stack(&per, 1)
}
