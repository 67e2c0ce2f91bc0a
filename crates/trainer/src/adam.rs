//! Adam, written out so that its state can be checkpointed and batched over instances.
//!
//! Matches `torch.optim.Adam` with default options (no weight decay, no AMSGrad):
//! m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; w -= lr * m_hat / (sqrt(v_hat) + eps).
//! Element-wise, so K stacked instances evolve exactly as K separate runs.

use epc_core::config::OptimConfig;
use tch::Tensor;

/// Adam's moment estimates and step count for one stacked parameter.
#[derive(Debug)]
pub struct Adam {
    /// Settings.
    pub cfg: OptimConfig,
    /// First-moment estimate, same shape as the parameter.
    pub m: Tensor,
    /// Second-moment estimate, same shape as the parameter.
    pub v: Tensor,
    /// Number of updates taken so far.
    pub step: u64,
}

impl Adam {
    /// Fresh state for a parameter shaped like `param`.
    pub fn new(cfg: OptimConfig, param: &Tensor) -> Self {
        Self {
            cfg,
            m: param.zeros_like(),
            v: param.zeros_like(),
            step: 0,
        }
    }

    /// Applies one update to `param` from `grad`; `active` (`[K, 1, 1]`, 0 or 1) freezes
    /// instances (pass `None` when all are active: it saves a pass).
    ///
    /// In place and in the order of `torch.optim.Adam`'s single-tensor path: the moments
    /// by `lerp_`, then `param += -lr / bias1 * m / (sqrt(v) / sqrt(bias2) + eps)`.
    pub fn update(&mut self, param: &mut Tensor, grad: &Tensor, active: Option<&Tensor>) {
        self.step += 1;
        let c = &self.cfg;
        tch::no_grad(|| {
            let _ = self.m.lerp_(grad, 1.0 - c.beta1);
            let _ = self.v.lerp_(&grad.square(), 1.0 - c.beta2);
            let bias1 = 1.0 - c.beta1.powi(self.step as i32);
            let bias2_sqrt = (1.0 - c.beta2.powi(self.step as i32)).sqrt();
            let step_size = c.lr / bias1;
            // denom' = -(sqrt(v) / sqrt(bias2) + eps) / step_size, so param += m / denom'.
            let mut denom = self.v.sqrt();
            let _ = denom.g_add_scalar_(c.eps * bias2_sqrt);
            let _ = denom.g_mul_scalar_(-1.0 / (step_size * bias2_sqrt));
            match active {
                None => {
                    let _ = param.addcdiv_(&self.m, &denom);
                }
                Some(a) => {
                    let _ = param.g_add_(&(&self.m / &denom * a));
                }
            }
        });
    }
}
