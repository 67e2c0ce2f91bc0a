//! docs/NETWORKS.md in plain Rust (f64, naive loops), one sequence at a time: the
//! independent reference the exported step models are compared with.
#![allow(dead_code)]
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

use epc_core::arch::{ArchSpec, NamedArray};
use epc_core::config::Architecture;

/// What one step computes for one sequence.
#[derive(Debug, Default)]
pub struct Step {
    /// `preact`.
    pub preact: Vec<f64>,
    /// `act`.
    pub act: Vec<f64>,
    /// The next value of each state, in the layout's order.
    pub next: Vec<Vec<f64>>,
    /// `drive_in`, where the architecture has it.
    pub drive_in: Option<Vec<f64>>,
    /// `drive_rec`, where the architecture has it.
    pub drive_rec: Option<Vec<f64>>,
    /// `transmission`, where the architecture writes it (hierarchical, lstm-err, gru-err).
    pub transmission: Option<Vec<f64>>,
}

fn p<'a>(params: &'a [NamedArray], name: &str) -> &'a NamedArray {
    params.iter().find(|a| a.name == name).unwrap()
}

/// `v [rows]` times `w [rows, cols]`.
fn vecmat(v: &[f64], w: &NamedArray) -> Vec<f64> {
    let (rows, cols) = (w.shape[0], w.shape[1]);
    assert_eq!(v.len(), rows);
    let mut out = vec![0.0; cols];
    for i in 0..rows {
        for j in 0..cols {
            out[j] += v[i] * f64::from(w.data[i * cols + j]);
        }
    }
    out
}

/// `|v| [rows]` times `|w| [rows, cols]`: the transmission through `w` of activity `v`.
fn absmat(v: &[f64], w: &NamedArray) -> Vec<f64> {
    let a: Vec<f64> = v.iter().map(|x| x.abs()).collect();
    let mut m = w.clone();
    m.data.iter_mut().for_each(|x| *x = x.abs());
    vecmat(&a, &m)
}

/// Into each of `m` gated units, the sum over its `gates` gate columns of `t` `[gates m]`.
fn per_unit(t: &[f64], m: usize) -> Vec<f64> {
    (0..m)
        .map(|k| (0..t.len() / m).map(|g| t[g * m + k]).sum())
        .collect()
}

fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x + y).collect()
}

/// `a + b`, where the parameter `b` exists (a gated network without biases has none).
fn bias(a: &[f64], params: &[NamedArray], name: &str) -> Vec<f64> {
    match params.iter().find(|p| p.name == name) {
        Some(b) => a
            .iter()
            .zip(&b.data)
            .map(|(x, y)| x + f64::from(*y))
            .collect(),
        None => a.to_vec(),
    }
}

fn relu(a: &[f64]) -> Vec<f64> {
    a.iter().map(|v| v.max(0.0)).collect()
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// `a_t = h W + [x, 0]`, `h_t = relu(a_t)` with `w` `[N, N]` row-major.
fn relu_rnn_step(w: &NamedArray, x: &[f64], h: &[f64]) -> Step {
    let rec = vecmat(h, w);
    let mut drive_in = x.to_vec();
    drive_in.resize(h.len(), 0.0);
    let preact = add(&rec, &drive_in);
    let act = relu(&preact);
    Step {
        next: vec![act.clone()],
        preact,
        act,
        drive_in: Some(drive_in),
        drive_rec: Some(rec),
        transmission: None,
    }
}

/// `dale`'s signed weights, computed here from the documented rule.
pub fn dale_w(spec: &ArchSpec, params: &[NamedArray]) -> NamedArray {
    let pm = p(params, "P");
    let n = pm.shape[0];
    let f = spec.inhibitory;
    let mut w = pm.clone();
    for i in 0..n {
        let inhibitory = ((i + 1) as f64 * f).floor() > (i as f64 * f).floor();
        for j in 0..n {
            let m = pm.data[i * n + j].abs();
            w.data[i * n + j] = if inhibitory { -m } else { m };
        }
    }
    w.name = "W".into();
    w
}

/// One step of `spec`'s network for one sequence: frame `x`, the states in the layout's
/// order.
pub fn reference(spec: &ArchSpec, params: &[NamedArray], x: &[f64], states: &[Vec<f64>]) -> Step {
    let m = spec.hidden;
    match spec.arch {
        Architecture::Rnn | Architecture::RnnLatent => relu_rnn_step(p(params, "W"), x, &states[0]),
        Architecture::Dale => relu_rnn_step(&dale_w(spec, params), x, &states[0]),
        Architecture::Hierarchical => {
            let layers = spec.layers;
            let td0 = vecmat(&states[0], p(params, "T1"));
            let a0 = add(x, &td0);
            let s = relu(&a0);
            let (mut preact, mut act) = (a0.clone(), s.clone());
            let (mut drive_in, mut next) = (x.to_vec(), Vec::new());
            let mut below = s;
            for l in 1..=layers {
                let bu = vecmat(&below, p(params, &format!("B{l}")));
                let mut a = add(&bu, &vecmat(&states[l - 1], p(params, &format!("R{l}"))));
                if l < layers {
                    a = add(&a, &vecmat(&states[l], p(params, &format!("T{}", l + 1))));
                }
                let h = relu(&a);
                preact.extend(&a);
                act.extend(&h);
                drive_in.extend(&bu);
                next.push(h.clone());
                below = h;
            }
            let drive_rec = preact.iter().zip(&drive_in).map(|(a, d)| a - d).collect();
            // Transmission from this step's activities: population 0 is the sensory one,
            // population l the layer l (`next[l - 1]`).
            let act_sensory: Vec<f64> = act[..spec.n_in].to_vec();
            let pop = |l: usize| -> &Vec<f64> {
                if l == 0 {
                    &act_sensory
                } else {
                    &next[l - 1]
                }
            };
            let mut transmission = Vec::new();
            for l in 0..=layers {
                let mut t = vec![0.0; pop(l).len()];
                if l >= 1 {
                    t = add(&t, &absmat(pop(l - 1), p(params, &format!("B{l}"))));
                    t = add(&t, &absmat(pop(l), p(params, &format!("R{l}"))));
                }
                if l < layers {
                    t = add(&t, &absmat(pop(l + 1), p(params, &format!("T{}", l + 1))));
                }
                transmission.extend(t);
            }
            Step {
                preact,
                act,
                next,
                drive_in: Some(drive_in),
                drive_rec: Some(drive_rec),
                transmission: Some(transmission),
            }
        }
        Architecture::LstmErr => {
            let (h, c) = (&states[0], &states[1]);
            let e = add(x, &vecmat(h, p(params, "W_pred")));
            let z = bias(
                &add(
                    &vecmat(&e, p(params, "W_ih")),
                    &vecmat(h, p(params, "W_hh")),
                ),
                params,
                "b",
            );
            let (mut h1, mut c1) = (vec![0.0; m], vec![0.0; m]);
            for k in 0..m {
                let i = sigmoid(z[k]);
                let f = sigmoid(z[m + k]);
                let g = z[2 * m + k].tanh();
                let o = sigmoid(z[3 * m + k]);
                c1[k] = f * c[k] + i * g;
                h1[k] = o * c1[k].tanh();
            }
            let mut transmission = absmat(&h1, p(params, "W_pred"));
            transmission.extend(per_unit(
                &add(
                    &absmat(&e, p(params, "W_ih")),
                    &absmat(&h1, p(params, "W_hh")),
                ),
                m,
            ));
            let mut preact = e;
            preact.extend(&h1);
            Step {
                act: preact.clone(),
                preact,
                next: vec![h1, c1],
                transmission: Some(transmission),
                ..Step::default()
            }
        }
        Architecture::GruErr => {
            let h = &states[0];
            let e = add(x, &vecmat(h, p(params, "W_pred")));
            let gx = bias(&vecmat(&e, p(params, "W_ih")), params, "b_ih");
            let gh = bias(&vecmat(h, p(params, "W_hh")), params, "b_hh");
            let mut h1 = vec![0.0; m];
            for k in 0..m {
                let r = sigmoid(gx[k] + gh[k]);
                let u = sigmoid(gx[m + k] + gh[m + k]);
                let g = (gx[2 * m + k] + r * gh[2 * m + k]).tanh();
                h1[k] = (1.0 - u) * g + u * h[k];
            }
            let mut transmission = absmat(&h1, p(params, "W_pred"));
            transmission.extend(per_unit(
                &add(
                    &absmat(&e, p(params, "W_ih")),
                    &absmat(&h1, p(params, "W_hh")),
                ),
                m,
            ));
            let mut preact = e;
            preact.extend(&h1);
            Step {
                act: preact.clone(),
                preact,
                next: vec![h1],
                transmission: Some(transmission),
                ..Step::default()
            }
        }
    }
}
