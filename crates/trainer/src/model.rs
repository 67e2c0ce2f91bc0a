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
            // x_t + h W in one kernel (the add rides on the matrix product).
            x_t.baddbmm(&h_in, w, 1.0, 1.0)
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
/// with few, large operations: the steps' preactivations are handled as one `[K, T*B, N]`
/// tensor, the step gradients are computed without the loss's constant factor (applied once
/// at the end), and the weight gradient is one batched product `H^T D` over all steps instead
/// of T-1 products and their sum. No autograd graph is built. `x` is `[K, T, B, N]`.
pub fn loss_and_grad(kind: Loss, w: &Tensor, x: &Tensor, l2_coefficient: f64) -> (Tensor, Tensor) {
    let pre = forward(w, x, None);
    let steps = pre.len() as i64;
    let (batch, n) = (x.size()[2], w.size()[2]);
    let all = Tensor::cat(&pre, 1);
    let dims: &[i64] = &[1, 2];
    // sum_t mean_(B,N) f(a_t) = T * mean_(T*B,N) f(a): every step has the same B and N.
    let (total, direct) = match kind {
        Loss::L1Pre => (
            all.abs().mean_dim(dims, false, all.kind()) * steps as f64,
            all.sign(),
        ),
        Loss::L1Post | Loss::L1PostL2w => {
            let post = all.relu().mean_dim(dims, false, all.kind()) * steps as f64;
            (post, all.gt(0.0).to_kind(all.kind()))
        }
    };
    let total = match kind {
        Loss::L1PostL2w => {
            total + w.square().mean_dim(dims, false, w.kind()) * (l2_coefficient * steps as f64)
        }
        _ => total,
    };
    let at = |t: i64| all.narrow(1, t * batch, batch);
    let mut grad = w.zeros_like();
    if steps > 1 {
        let wt = w.transpose(1, 2);
        // Unscaled delta_t = dL/da_t * B * N, for t = T-1 down to 1 (0-based): a_0 = x_0.
        let mut deltas = vec![direct.narrow(1, (steps - 1) * batch, batch)];
        for t in (1..steps - 1).rev() {
            let back = deltas.last().expect("one delta at least").bmm(&wt);
            let mut d = at(t).threshold_backward(&back, 0.0);
            let _ = d.g_add_(&direct.narrow(1, t * batch, batch));
            deltas.push(d);
        }
        deltas.reverse();
        let h = all.narrow(1, 0, (steps - 1) * batch).relu();
        let d = Tensor::cat(&deltas, 1);
        grad = h.transpose(1, 2).bmm(&d);
        let _ = grad.g_mul_scalar_(1.0 / (batch * n) as f64);
    }
    if kind == Loss::L1PostL2w {
        grad += w * (2.0 * l2_coefficient * steps as f64 / (n * n) as f64);
    }
    (total, grad)
}
