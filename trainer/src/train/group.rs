//! Instances trained together as one stacked computation, on one of two paths: the paper's
//! RNN by its hand-written gradient ([`crate::model`]), every other architecture by autograd
//! over [`crate::net::Net`].

use super::staging::host_vec;
use super::{train_step, Instance};
use crate::adam::Adam;
use crate::model;
use crate::net::{stack_params, Net};
use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::{Architecture, RunConfig};
use tch::{Device, Tensor};

/// The stacked parameters of some instances, their optimiser states and their network.
pub(super) struct Group {
    /// The instances (indices into the run's list).
    pub range: std::ops::Range<usize>,
    params: Vec<Tensor>,
    adams: Vec<Adam>,
    /// `None`: the paper's RNN on its hand-written path.
    net: Option<Net>,
    spec: ArchSpec,
}

/// One instance's parameters and moments, copied to the host.
pub(super) struct HostState {
    pub params: Vec<NamedArray>,
    pub m: Vec<NamedArray>,
    pub v: Vec<NamedArray>,
}

impl Group {
    /// Stacks the checkpoints of `instances[range]` on `dev`.
    pub fn new(
        cfg: &RunConfig,
        spec: &ArchSpec,
        instances: &[Instance],
        range: std::ops::Range<usize>,
        dev: Device,
    ) -> Self {
        let part = &instances[range.clone()];
        let stack = |f: fn(&Instance) -> &[NamedArray]| {
            stack_params(&part.iter().map(f).collect::<Vec<_>>(), dev)
        };
        let params = stack(|i| &i.ck.params);
        let (m, v) = (stack(|i| &i.ck.m), stack(|i| &i.ck.v));
        let adams = params
            .iter()
            .zip(m)
            .zip(v)
            .map(|((p, m), v)| {
                let mut adam = Adam::new(cfg.optim.clone(), p);
                adam.m = m;
                adam.v = v;
                adam.step = part[0].ck.state.adam_step;
                adam
            })
            .collect();
        let net = (spec.arch != Architecture::Rnn)
            .then(|| Net::new(spec, dev).with_precision(cfg.train.precision));
        let params = if net.is_some() {
            params
                .into_iter()
                .map(|p| p.set_requires_grad(true))
                .collect()
        } else {
            params
        };
        Self {
            range,
            params,
            adams,
            net,
            spec: spec.clone(),
        }
    }

    /// Adam updates taken.
    pub fn step(&self) -> u64 {
        self.adams[0].step
    }

    /// Sets the learning rate of the coming updates.
    pub fn set_lr(&mut self, lr: f64) {
        for a in &mut self.adams {
            a.cfg.lr = lr;
        }
    }

    /// One optimisation step on a staged batch `x` (`[K, T, B, n]`, taken over): the loss of
    /// each instance (`[K]`, before the update). `active` freezes stopped instances.
    pub fn train_batch(&mut self, cfg: &RunConfig, x: Tensor, active: Option<&[bool]>) -> Tensor {
        let Some(net) = &self.net else {
            return train_step(cfg, &mut self.params[0], &mut self.adams[0], x, active);
        };
        crate::net::train_step(net, cfg, &mut self.params, &mut self.adams, &x, active)
    }

    /// The loss of each instance on the shared validation input `x` (`[T, B, n]`).
    pub fn loss_on(&self, cfg: &RunConfig, x: &Tensor) -> Tensor {
        tch::no_grad(|| match &self.net {
            None => {
                let pre = model::forward(&self.params[0], x, None);
                model::loss(
                    cfg.train.loss,
                    &pre,
                    &self.params[0],
                    cfg.train.l2_coefficient,
                )
            }
            Some(net) => {
                let pre = net.forward(&self.params, x);
                net.loss(cfg.train.loss, &pre, &self.params, cfg.train.l2_coefficient)
            }
        })
    }

    /// Every instance's parameters and moments on the host, in the group's order.
    pub fn host(&self) -> Vec<HostState> {
        let k = self.range.len();
        let split = |tensors: Vec<&Tensor>| -> Vec<Vec<NamedArray>> {
            let flat: Vec<Vec<f32>> = tensors.iter().map(|t| host_vec(&t.detach())).collect();
            (0..k)
                .map(|j| {
                    self.spec
                        .params
                        .iter()
                        .zip(&flat)
                        .map(|(spec, values)| {
                            let n = spec.numel();
                            NamedArray {
                                name: spec.name.clone(),
                                shape: spec.shape.clone(),
                                data: values[j * n..(j + 1) * n].to_vec(),
                            }
                        })
                        .collect()
                })
                .collect()
        };
        let params = split(self.params.iter().collect());
        let m = split(self.adams.iter().map(|a| &a.m).collect());
        let v = split(self.adams.iter().map(|a| &a.v).collect());
        params
            .into_iter()
            .zip(m)
            .zip(v)
            .map(|((params, m), v)| HostState { params, m, v })
            .collect()
    }
}
