//! The paper's RNN (SPEC.md section 1), batched over K independent instances.
//!
//! Shapes: weights `[K, N, N]`, inputs `[K, T, B, N]` (or `[T, B, N]` shared by all
//! instances), state `[K, B, N]`. Row-vector convention: `a_t = h_{t-1} W + x_t`.

use epc_core::config::{Loss, Precision};
use rand::{Rng, SeedableRng};
use tch::{Kind, Tensor};

/// Salt that separates the initialisation stream from the data stream of the same seed; both
/// initialisations (this one and [`crate::net::init_params`]) use it, so `rnn` draws the same
/// `W` on the hand-written and the autograd path.
pub(crate) const INIT_SALT: u64 = 0x1a17_5eed;

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

/// A sequence input as the forward passes take it: `[K, T, B, n]` (per-instance frames) or
/// `[T, B, n]` (frames shared by every instance).
pub struct Frames<'a> {
    x: &'a Tensor,
    shared: bool,
    /// T.
    pub steps: i64,
    /// B.
    pub batch: i64,
}

impl<'a> Frames<'a> {
    /// Reads the layout of `x` from its rank.
    pub fn of(x: &'a Tensor) -> Self {
        let s = x.size();
        let shared = x.dim() == 3;
        let (steps, batch) = if shared { (s[0], s[1]) } else { (s[1], s[2]) };
        Self {
            x,
            shared,
            steps,
            batch,
        }
    }

    /// The frames of step `t`: `[K, B, n]` or `[B, n]`.
    pub fn at(&self, t: i64) -> Tensor {
        self.x.select(if self.shared { 0 } else { 1 }, t)
    }
}

/// Runs the network over a sequence and returns the preactivation of every step.
///
/// `w` is `[K, N, N]`; `x` is `[K, T, B, N]` (per-instance data) or `[T, B, N]` (shared data);
/// `mask`, when given, is `[K, 1, N]` or `[1, N]` and multiplies the state before each step.
pub fn forward(w: &Tensor, x: &Tensor, mask: Option<&Tensor>) -> Vec<Tensor> {
    let frames = Frames::of(x);
    let (steps, batch) = (frames.steps, frames.batch);
    let k = w.size()[0];
    let n = w.size()[2];
    let mut h = Tensor::zeros([k, batch, n], (w.kind(), w.device()));
    let mut pre = Vec::with_capacity(steps as usize);
    for t in 0..steps {
        let x_t = frames.at(t);
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
/// by backpropagation through time written out for this model. `x` is `[K, T, B, N]`.
///
/// Same mathematics as autograd on [`forward`] + [`loss`] (sign(0) = 0, relu'(0) = 0); see
/// [`loss_and_grad_parts`] for how it is computed.
pub fn loss_and_grad(kind: Loss, w: &Tensor, x: &Tensor, l2_coefficient: f64) -> (Tensor, Tensor) {
    loss_and_grad_at(kind, w, x, l2_coefficient, Precision::Fp32)
}

/// [`loss_and_grad`] with the matrix products in `precision`.
pub fn loss_and_grad_at(
    kind: Loss,
    w: &Tensor,
    x: &Tensor,
    l2_coefficient: f64,
    precision: Precision,
) -> (Tensor, Tensor) {
    let size = x.size();
    let mut time_major =
        Tensor::empty([size[1], size[0], size[2], size[3]], (x.kind(), x.device()));
    time_major.copy_(&x.transpose(0, 1));
    let (loss, grad, scale) = loss_and_grad_parts(
        kind,
        w,
        time_major.transpose(0, 1),
        l2_coefficient,
        precision,
    );
    (loss, grad * scale)
}

/// The batched products `a b` of the hand-written path, in float32 or on bfloat16 operands
/// (float32 accumulation inside the product; its result is rounded to bfloat16 once and
/// added to the float32 activations). The bf16 buffers are made once per batch.
struct Products {
    /// `W` in bfloat16 (bf16 only).
    w: Option<Tensor>,
    /// A `[K, B, N]` operand buffer and a `[K, B, N]` result buffer (bf16 only).
    operand: Option<(Tensor, Tensor)>,
}

impl Products {
    fn new(w: &Tensor, k: i64, batch: i64, n: i64, precision: Precision) -> Self {
        match precision {
            Precision::Fp32 => Self {
                w: None,
                operand: None,
            },
            Precision::Bf16 => {
                let opts = (Kind::BFloat16, w.device());
                Self {
                    w: Some(w.to_kind(Kind::BFloat16)),
                    operand: Some((
                        Tensor::empty([k, batch, n], opts),
                        Tensor::empty([k, batch, n], opts),
                    )),
                }
            }
        }
    }

    /// `out += h W` (`transpose`: `out = h W^T`, overwriting `out`).
    fn step(&self, out: &Tensor, h: &Tensor, w: &Tensor, transpose: bool) {
        // tch's in-place operations take `&mut`; shallow clones share the storage.
        let mut out = out.shallow_clone();
        match (&self.w, &self.operand) {
            (Some(wb), Some((hb, pb))) => {
                hb.shallow_clone().copy_(h);
                if transpose {
                    let _ = hb.bmm_out(pb, &wb.transpose(1, 2));
                    out.copy_(pb);
                } else {
                    let _ = hb.bmm_out(pb, wb);
                    let _ = out.g_add_(pb);
                }
            }
            _ => {
                if transpose {
                    let _ = h.bmm_out(&out, &w.transpose(1, 2));
                } else {
                    let _ = out.baddbmm_(h, w);
                }
            }
        }
    }

    /// `h^T d` over all steps, into float32.
    fn gradient(&self, h: &Tensor, d: &Tensor, w: &Tensor) -> Tensor {
        match self.w {
            Some(_) => h
                .to_kind(Kind::BFloat16)
                .transpose(1, 2)
                .bmm(&d.to_kind(Kind::BFloat16))
                .to_kind(Kind::Float),
            None => {
                let grad = w.empty_like();
                let _ = h.transpose(1, 2).bmm_out(&grad, d);
                grad
            }
        }
    }
}

/// [`loss_and_grad`] for the trainer's inner loop: returns `(loss, g, scale)` with the
/// gradient `scale * g`, so that the optimiser can apply the constant factor in its own pass
/// instead of one more pass over `[K, N, N]`; and takes `x` over (a contiguous time-major
/// `x`, as [`crate::train::Stager`] builds it, is overwritten with the preactivations; a
/// shallow clone of it held elsewhere sees the change).
///
/// Few, large operations and no autograd graph: the preactivations live in one time-major
/// `[T, K, B, N]` tensor, written in place step by step, so that each step's product writes
/// a contiguous `[K, B, N]` (libtorch then runs one batched GEMM; into a strided slice it runs
/// one GEMM per instance, measured 40% slower for K = 10). The states `relu(a_t)` and the
/// step gradients (without the loss's constant factor) are kept instance-major as
/// `[K, (T-1)*B, N]`, so that the weight gradient is one batched product `H^T D` over all
/// steps instead of T-1 products and their sum.
pub fn loss_and_grad_parts(
    kind: Loss,
    w: &Tensor,
    x: Tensor,
    l2_coefficient: f64,
    precision: Precision,
) -> (Tensor, Tensor, f64) {
    let size = x.size();
    let (k, steps, batch, n) = (size[0], size[1], size[2], size[3]);
    let opts = (w.kind(), w.device());
    // a_0 = x_0 (h_0 = 0); a_t = x_t + h_{t-1} W, accumulated in place over x.
    let all = x.transpose(0, 1).contiguous();
    let at = |t: i64| all.get(t);
    let hidden = (steps - 1) * batch;
    // Instance-major storage, viewed time-major ([T-1, K, B, N]) for the step loops.
    let instance_major = || Tensor::empty([k, hidden, n], opts);
    let time_major = |t: &Tensor| t.view([k, steps - 1, batch, n]).transpose(0, 1);
    let h = instance_major();
    let h_steps = time_major(&h);
    let products = Products::new(w, k, batch, n, precision);
    for t in 1..steps {
        let h_prev = h_steps.get(t - 1);
        let _ = at(t - 1).clamp_min_out(&h_prev, 0.0);
        products.step(&at(t), &h_prev, w, false);
    }
    // sum_t mean_(B,N) f(a_t), with the per-step denominator B*N applied at the end.
    let per_step = (batch * n) as f64;
    // Per instance: dims 1, 2 of the instance-major and per-step tensors.
    let dims: &[i64] = &[1, 2];
    let sum_f = match kind {
        Loss::L1Pre => all.norm_scalaropt_dim(1.0, [0i64, 2, 3].as_slice(), false),
        Loss::L1Post | Loss::L1PostL2w => {
            h.sum_dim_intlist(dims, false, w.kind())
                + at(steps - 1).relu().sum_dim_intlist(dims, false, w.kind())
        }
    };
    let mut total = sum_f / per_step;
    if kind == Loss::L1PostL2w {
        total += w.square().mean_dim(dims, false, w.kind()) * (l2_coefficient * steps as f64);
    }
    let scale = 1.0 / per_step;
    let mut grad = if steps > 1 {
        // d[t-1] = dL/da_t * B * N for t = 1..T-1 (a_0 = x_0 has no gradient): the loss's
        // own term first, then the recurrent term added from the last step down.
        let d = instance_major();
        let d_steps = time_major(&d);
        let later = all.narrow(0, 1, steps - 1);
        let _ = match kind {
            Loss::L1Pre => later.sign_out(&d_steps),
            Loss::L1Post | Loss::L1PostL2w => later.gt_scalar_out(&d_steps, 0.0),
        };
        let back = Tensor::empty([k, batch, n], opts);
        for t in (1..steps - 1).rev() {
            products.step(&back, &d_steps.get(t), w, true);
            let _ = at(t).threshold_backward_grad_input(&back, &back, 0.0);
            let _ = d_steps.get(t - 1).g_add_(&back);
        }
        products.gradient(&h, &d, w)
    } else {
        w.zeros_like()
    };
    if kind == Loss::L1PostL2w {
        let l2 = 2.0 * l2_coefficient * steps as f64 / (n * n) as f64;
        grad += w * (l2 / scale);
    }
    (total, grad, scale)
}
