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

/// The loss of each instance (`[K]`) and its gradient with respect to `w` (`[K, N, N]`),
/// by backpropagation through time written out for this model.
///
/// Same mathematics as autograd on [`forward`] + [`loss`] (sign(0) = 0, relu'(0) = 0), but
/// the weight gradient is one batched product `H^T D` over all steps (states `H`, step
/// gradients `D`, both `[K, (T-1)B, N]`) instead of T-1 products and their sum, and no
/// autograd graph is built. `x` is `[K, T, B, N]`.
pub fn loss_and_grad(kind: Loss, w: &Tensor, x: &Tensor, l2_coefficient: f64) -> (Tensor, Tensor) {
    let pre = forward(w, x, None);
    let total = loss(kind, &pre, w, l2_coefficient);
    let steps = pre.len();
    let (batch, n) = (x.size()[2], w.size()[2]);
    let scale = 1.0 / (batch * n) as f64;
    // dL/da_t from step t's own term of the loss.
    let direct = |a: &Tensor| match kind {
        Loss::L1Pre => a.sign() * scale,
        Loss::L1Post | Loss::L1PostL2w => a.gt(0.0).to_kind(a.kind()) * scale,
    };
    let mut grad = w.zeros_like();
    if steps > 1 {
        let wt = w.transpose(1, 2);
        // delta_t = dL/da_t for t = T-1 down to 1 (0-based); a_0 = x_0 does not depend on W.
        let mut deltas = vec![direct(&pre[steps - 1])];
        for t in (1..steps - 1).rev() {
            let next = deltas.last().expect("one delta at least");
            let back = next.bmm(&wt) * pre[t].gt(0.0).to_kind(pre[t].kind());
            deltas.push(direct(&pre[t]) + back);
        }
        deltas.reverse();
        let h: Vec<Tensor> = pre[..steps - 1].iter().map(Tensor::relu).collect();
        let h = Tensor::cat(&h, 1);
        let d = Tensor::cat(&deltas, 1);
        grad = h.transpose(1, 2).bmm(&d);
    }
    if kind == Loss::L1PostL2w {
        grad += w * (2.0 * l2_coefficient * steps as f64 / (n * n) as f64);
    }
    (total, grad)
}
