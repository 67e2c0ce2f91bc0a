//! The general path: any architecture of [`epc_core::arch`] as libtorch operations, trained by
//! autograd (docs/NETWORKS.md). The paper's RNN trains on the hand-written path of
//! [`crate::model`]; it runs here too, which the tests use to check the two against each other.
//!
//! Shapes: every parameter is stacked over K instances (`[K, ...]`); inputs are `[K, T, B, n]`
//! or `[T, B, n]` (shared by all instances); states `[K, B, size]`.

use crate::adam::Adam;
use epc_core::arch::{dale_signs, ArchSpec, NamedArray};
use epc_core::config::{Architecture, Loss, Precision, RunConfig};
use rand::{Rng, SeedableRng};
use tch::{Device, Kind, Tensor};

/// The initial parameters of one instance, drawn on the host from `seed` alone, parameter
/// after parameter in the spec's order.
pub fn init_params(spec: &ArchSpec, seed: u64) -> Vec<NamedArray> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ crate::model::INIT_SALT);
    spec.params
        .iter()
        .map(|p| {
            let b = p.init_bound;
            let mut data: Vec<f32> = if spec.arch == Architecture::Dale {
                (0..p.numel()).map(|_| rng.gen_range(0.0..b)).collect()
            } else {
                (0..p.numel()).map(|_| rng.gen_range(-b..b)).collect()
            };
            if spec.arch == Architecture::Dale {
                // Inhibitory rows scaled so that an average unit gets as much inhibition as
                // excitation at the start.
                let n = spec.n_in;
                let f = spec.inhibitory;
                let scale = ((1.0 - f) / f) as f32;
                for i in epc_core::arch::inhibitory_units(n, f) {
                    data[i * n..(i + 1) * n]
                        .iter_mut()
                        .for_each(|v| *v *= scale);
                }
            }
            NamedArray {
                name: p.name.clone(),
                shape: p.shape.clone(),
                data,
            }
        })
        .collect()
}

/// What one step gives: the preactivations and activities of every unit (`[K, B, units]`)
/// and the next value of every state.
pub struct StepOut {
    /// `preact`, what the energy loss penalises.
    pub preact: Tensor,
    /// `act`, the signal each unit sends.
    pub act: Tensor,
    /// The next states, in the spec's state order.
    pub next: Vec<Tensor>,
}

/// One architecture's step as libtorch operations.
#[derive(Debug)]
pub struct Net {
    spec: ArchSpec,
    /// `dale`: the row signs, `[1, n, 1]`.
    signs: Option<Tensor>,
    /// The arithmetic of the matrix products.
    precision: Precision,
}

impl Net {
    /// The network of `spec`, with its constants on `dev`.
    pub fn new(spec: &ArchSpec, dev: Device) -> Self {
        let signs = (spec.arch == Architecture::Dale).then(|| {
            Tensor::from_slice(&dale_signs(spec.n_in, spec.inhibitory))
                .view([1, spec.n_in as i64, 1])
                .to_device(dev)
        });
        Self {
            spec: spec.clone(),
            signs,
            precision: Precision::Fp32,
        }
    }

    /// The same network with its matrix products in `precision` (bf16: the weight matrices
    /// are cast once per sequence in [`Net::effective`], each product's other operand per
    /// step, and every product's result back to float32; autograd carries the gradients
    /// through the casts to the float32 parameters).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// `a w`, in the precision of `w` (float32 results either way).
    fn mm(a: &Tensor, w: &Tensor) -> Tensor {
        if w.kind() == Kind::BFloat16 {
            a.to_kind(Kind::BFloat16).matmul(w).to_kind(Kind::Float)
        } else {
            a.matmul(w)
        }
    }

    /// The spec.
    pub fn spec(&self) -> &ArchSpec {
        &self.spec
    }

    fn param<'a>(&self, p: &'a [Tensor], name: &str) -> &'a Tensor {
        let i = self
            .spec
            .params
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("{} has no parameter {name}", self.spec.arch.name()));
        &p[i]
    }

    /// Zero states for `k` instances and a batch of `b`.
    pub fn zero_states(&self, k: i64, b: i64, dev: Device) -> Vec<Tensor> {
        self.spec
            .layout
            .states
            .iter()
            .map(|s| Tensor::zeros([k, b, s.size as i64], (Kind::Float, dev)))
            .collect()
    }

    /// The parameters as the steps use them: `dale`'s magnitudes `P` replaced by the signed
    /// weights `|P| ⊙ σ` (computed once per sequence, not once per step: one node in the
    /// autograd graph instead of ten), the others as they are.
    pub fn effective(&self, p: &[Tensor]) -> Vec<Tensor> {
        p.iter()
            .map(|t| {
                let t = match &self.signs {
                    Some(s) => t.abs() * s,
                    None => t.shallow_clone(),
                };
                // Weight matrices ([K, rows, cols]) in bf16; biases ([K, n]) stay float32.
                if self.precision == Precision::Bf16 && t.dim() == 3 {
                    t.to_kind(Kind::BFloat16)
                } else {
                    t
                }
            })
            .collect()
    }

    /// One step from frame `x` (`[K, B, n]` or `[B, n]`) and `states`, with parameters `p`
    /// (stacked, in the spec's order, as [`Net::effective`] returns them).
    pub fn step(&self, p: &[Tensor], x: &Tensor, states: &[Tensor]) -> StepOut {
        let w = |name: &str| self.param(p, name);
        match self.spec.arch {
            Architecture::Rnn | Architecture::RnnLatent | Architecture::Dale => {
                let h = &states[0];
                let weights = match &self.signs {
                    Some(_) => w("P"),
                    None => w("W"),
                };
                let latent = (h.size()[2] as usize - self.spec.n_in) as i64;
                let drive = if latent > 0 {
                    x.constant_pad_nd([0, latent])
                } else {
                    x.shallow_clone()
                };
                let a = Self::mm(h, weights) + drive;
                let act = a.relu();
                StepOut {
                    next: vec![act.shallow_clone()],
                    preact: a,
                    act,
                }
            }
            Architecture::Hierarchical => {
                let layers = self.spec.layers;
                let a0 = x + Self::mm(&states[0], w("T1"));
                let mut below = a0.relu();
                let (mut pre, mut act) = (vec![a0], vec![below.shallow_clone()]);
                for l in 1..=layers {
                    let a = Self::mm(&below, w(&format!("B{l}")))
                        + Self::mm(&states[l - 1], w(&format!("R{l}")));
                    // Out of place (not `+=`): the graph keeps every intermediate as it was.
                    let a = if l < layers {
                        a + Self::mm(&states[l], w(&format!("T{}", l + 1)))
                    } else {
                        a
                    };
                    below = a.relu();
                    pre.push(a);
                    act.push(below.shallow_clone());
                }
                let next = act[1..].iter().map(Tensor::shallow_clone).collect();
                StepOut {
                    preact: Tensor::cat(&pre, 2),
                    act: Tensor::cat(&act, 2),
                    next,
                }
            }
            Architecture::LstmErr | Architecture::GruErr => {
                let h = &states[0];
                let e = x + Self::mm(h, w("W_pred"));
                let (h_next, next) = if self.spec.arch == Architecture::LstmErr {
                    let z = Self::mm(&e, w("W_ih")) + Self::mm(h, w("W_hh"));
                    let z = if self.spec.bias {
                        z + w("b").unsqueeze(1)
                    } else {
                        z
                    };
                    let g = z.chunk(4, 2);
                    let c = g[1].sigmoid() * &states[1] + g[0].sigmoid() * g[2].tanh();
                    let hn = g[3].sigmoid() * c.tanh();
                    (hn.shallow_clone(), vec![hn, c])
                } else {
                    let (gi, gh) = (Self::mm(&e, w("W_ih")), Self::mm(h, w("W_hh")));
                    // Out of place (not `+=`): the graph keeps every intermediate as it was.
                    let (gi, gh) = if self.spec.bias {
                        (gi + w("b_ih").unsqueeze(1), gh + w("b_hh").unsqueeze(1))
                    } else {
                        (gi, gh)
                    };
                    let (i, hh) = (gi.chunk(3, 2), gh.chunk(3, 2));
                    let r = (&i[0] + &hh[0]).sigmoid();
                    let u = (&i[1] + &hh[1]).sigmoid();
                    let g = (&i[2] + r * &hh[2]).tanh();
                    let hn = (-&u + 1.0) * g + u * h;
                    (hn.shallow_clone(), vec![hn])
                };
                let units = Tensor::cat(&[e, h_next], 2);
                StepOut {
                    preact: units.shallow_clone(),
                    act: units,
                    next,
                }
            }
        }
    }

    /// The preactivations of every step over inputs `x` (`[K, T, B, n]` or `[T, B, n]`).
    pub fn forward(&self, p: &[Tensor], x: &Tensor) -> Vec<Tensor> {
        self.run(p, x, |out| out.preact)
    }

    /// Runs every step over `x` from zero states and keeps `keep` of each step's output (the
    /// states are passed on before `keep` sees it). One loop for training and for the export
    /// check, so the two cannot drift apart.
    fn run<T>(&self, p: &[Tensor], x: &Tensor, mut keep: impl FnMut(StepOut) -> T) -> Vec<T> {
        let frames = crate::model::Frames::of(x);
        let p = &self.effective(p);
        let k = p[0].size()[0];
        let mut states = self.zero_states(k, frames.batch, p[0].device());
        let mut kept = Vec::with_capacity(frames.steps as usize);
        for t in 0..frames.steps {
            let mut out = self.step(p, &frames.at(t), &states);
            states = std::mem::take(&mut out.next);
            kept.push(keep(out));
        }
        kept
    }

    /// The loss of each instance, `[K]` (docs/NETWORKS.md): a sum over steps of means
    /// over the batch and the units the loss covers (the first ones of `preact`).
    pub fn loss(
        &self,
        kind: Loss,
        preacts: &[Tensor],
        p: &[Tensor],
        l2_coefficient: f64,
    ) -> Tensor {
        let covered = self.spec.loss_units() as i64;
        let dims: &[i64] = &[1, 2];
        let mut total: Option<Tensor> = None;
        for a in preacts {
            let a = a.narrow(2, 0, covered);
            let step = match kind {
                Loss::L1Pre => a.abs().mean_dim(dims, false, Kind::Float),
                Loss::L1Post | Loss::L1PostL2w => a.relu().mean_dim(dims, false, Kind::Float),
            };
            total = Some(match total {
                Some(t) => t + step,
                None => step,
            });
        }
        let total = total.expect("at least one step");
        if kind == Loss::L1PostL2w {
            let count = self.spec.param_count() as f64;
            let sq: Vec<Tensor> = p
                .iter()
                .map(|t| {
                    t.square()
                        .flatten(1, -1)
                        .sum_dim_intlist(1, false, Kind::Float)
                })
                .collect();
            let mean_sq = Tensor::stack(&sq, 0).sum_dim_intlist(0, false, Kind::Float) / count;
            return total + mean_sq * (l2_coefficient * preacts.len() as f64);
        }
        total
    }
}

/// One optimisation step of stacked instances on the autograd path: the loss of each instance
/// (`[K]`, before the update) on the batch `x` (`[K, T, B, n]`), then one Adam update of
/// every parameter (`params` require gradients; `adams` one per parameter). `active` freezes
/// stopped instances. What `epc train` runs per batch for every architecture but `rnn`.
pub fn train_step(
    net: &Net,
    cfg: &RunConfig,
    params: &mut [Tensor],
    adams: &mut [Adam],
    x: &Tensor,
    active: Option<&[bool]>,
) -> Tensor {
    for p in params.iter_mut() {
        p.zero_grad();
    }
    let pre = net.forward(params, x);
    let loss = net.loss(cfg.train.loss, &pre, params, cfg.train.l2_coefficient);
    // Instances are independent, so the gradient of the sum is each one's own gradient.
    loss.sum(loss.kind()).backward();
    for (p, adam) in params.iter_mut().zip(adams) {
        let g = p.grad();
        adam.update(p, &g, active);
    }
    loss.detach()
}

/// Host arrays of K instances stacked into one tensor per parameter on `dev`.
pub fn stack_params(instances: &[&[NamedArray]], dev: Device) -> Vec<Tensor> {
    let first = instances[0];
    (0..first.len())
        .map(|j| {
            let flat: Vec<f32> = instances
                .iter()
                .flat_map(|ps| ps[j].data.iter().copied())
                .collect();
            let mut shape = vec![instances.len() as i64];
            shape.extend(first[j].shape.iter().map(|&d| d as i64));
            Tensor::from_slice(&flat)
                .view(shape.as_slice())
                .to_device(dev)
        })
        .collect()
}

/// A single instance run on the CPU from host arrays over `x` (`[T, B, n]`, row-major), from
/// zero states: `preact` and `act` of every step, each `[T, B, units]` row-major. What an
/// exported model is checked against.
pub fn run_host(
    spec: &ArchSpec,
    params: &[NamedArray],
    x: &[f32],
    steps: usize,
) -> (Vec<f32>, Vec<f32>) {
    let net = Net::new(spec, Device::Cpu);
    let p = stack_params(&[params], Device::Cpu);
    let batch = (x.len() / (steps * spec.n_in)) as i64;
    let xt = Tensor::from_slice(x).view([steps as i64, batch, spec.n_in as i64]);
    let (mut pre, mut act) = (Vec::new(), Vec::new());
    tch::no_grad(|| {
        net.run(&p, &xt, |out| {
            pre.extend(crate::train::host_vec(&out.preact));
            act.extend(crate::train::host_vec(&out.act));
        })
    });
    (pre, act)
}
