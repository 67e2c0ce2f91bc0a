//! The step loop: frames and state in, activations out, one session run per step.
//!
//! The outputs of every step are written by ONNX Runtime into tensors allocated once per chunk
//! size (`OutputSelector::preallocate`), then copied once into the caller's arrays, which
//! [`StepModel::run_into`] reuses from call to call; a fresh allocation per step and output
//! (page faults on tens of megabytes at batch 1,024) was what made the step loop slower than
//! tch.

use super::StepModel;
use crate::error::one_line;
use crate::{Error, Result};
use epc_core::contract;
use ndarray::{s, Array3, ArrayView3};
use ort::memory::Allocator;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, SessionInputValue};
use ort::value::{DynValue, Tensor, TensorRef};

/// What a run computed, each `[steps, seqs, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    /// The preactivation `a_t` (`preact`): what the energy loss penalises.
    pub preact: Array3<f32>,
    /// The activity (`act`, or `h_next` where a step-v1 model has no `act` output).
    pub act: Array3<f32>,
    /// The input drive (step-v2 `drive_in`), where the model has it.
    pub drive_in: Option<Array3<f32>>,
    /// The recurrent drive (step-v2 `drive_rec`), where the model has it.
    pub drive_rec: Option<Array3<f32>>,
    /// The synaptic transmission (step-v2 `transmission`), where the model has it.
    pub transmission: Option<Array3<f32>>,
}

impl Activations {
    /// Empty activations, to be filled by [`StepModel::run_into`].
    pub fn empty() -> Self {
        Self {
            preact: Array3::zeros((0, 0, 0)),
            act: Array3::zeros((0, 0, 0)),
            drive_in: None,
            drive_rec: None,
            transmission: None,
        }
    }

    /// The array of an output by its contract name.
    fn slot(&mut self, name: &str) -> Option<&mut Array3<f32>> {
        match name {
            contract::OUTPUT_PREACT => Some(&mut self.preact),
            contract::OUTPUT_ACT => Some(&mut self.act),
            contract::OUTPUT_DRIVE_IN => self.drive_in.as_mut(),
            contract::OUTPUT_DRIVE_REC => self.drive_rec.as_mut(),
            contract::OUTPUT_TRANSMISSION => self.transmission.as_mut(),
            _ => None,
        }
    }

    /// Gives every array the shape `dim`, keeping the storage where it already has it (the
    /// contents are overwritten by the run).
    fn shape_for(&mut self, dim: (usize, usize, usize), optional: &[&str]) {
        let fit = |a: &mut Array3<f32>| {
            if a.dim() != dim {
                *a = Array3::zeros(dim);
            }
        };
        fit(&mut self.preact);
        fit(&mut self.act);
        for (name, slot) in [
            (contract::OUTPUT_DRIVE_IN, &mut self.drive_in),
            (contract::OUTPUT_DRIVE_REC, &mut self.drive_rec),
            (contract::OUTPUT_TRANSMISSION, &mut self.transmission),
        ] {
            if optional.contains(&name) {
                fit(slot.get_or_insert_with(|| Array3::zeros(dim)));
            } else {
                *slot = None;
            }
        }
    }
}

/// A lesion mask over the state entries: one for every sequence, or one per sequence.
#[derive(Debug, Clone, Copy)]
enum Mask<'a> {
    Shared(&'a [f32]),
    PerRow(&'a [f32]),
}

impl<'a> Mask<'a> {
    fn values(self) -> &'a [f32] {
        match self {
            Mask::Shared(v) | Mask::PerRow(v) => v,
        }
    }
}

/// Run options with every output preallocated for `rows` rows.
pub(crate) struct Prepared {
    rows: usize,
    options: RunOptions<HasSelectedOutputs>,
}

impl StepModel {
    /// The per-unit outputs a run copies out, with their widths: preact, act (where present)
    /// and the optional ones. They are preallocated; the states' next values are not, because
    /// they become the next step's inputs as they are.
    fn fetched_ports(&self) -> Vec<(String, usize)> {
        let mut v = vec![(contract::OUTPUT_PREACT.to_string(), self.n_units)];
        if self.has_act {
            v.push((contract::OUTPUT_ACT.to_string(), self.n_units));
        }
        v.extend(self.optional.iter().map(|n| (n.to_string(), self.n_units)));
        v
    }

    fn prepare(&mut self, rows: usize) -> Result<usize> {
        if let Some(i) = self.prepared.iter().position(|p| p.rows == rows) {
            return Ok(i);
        }
        let mut sel = OutputSelector::no_default();
        for (name, width) in self.fetched_ports() {
            let t = Tensor::<f32>::new(&Allocator::default(), [rows, width])
                .map_err(|e| Error::ort(&self.path, "cannot allocate an output", e))?;
            sel = sel.with(name.clone()).preallocate(name, t);
        }
        for s in &self.states {
            sel = sel.with(s.output());
        }
        let options = RunOptions::new()
            .map_err(|e| Error::ort(&self.path, "cannot create run options", e))?
            .with_outputs(sel);
        // Two sizes are live in practice: the full chunk and a set's remainder.
        if self.prepared.len() == 2 {
            self.prepared.remove(0);
        }
        self.prepared.push(Prepared { rows, options });
        Ok(self.prepared.len() - 1)
    }

    /// Runs `x` (`[steps, seqs, n_in]`) from the zero state, `batch_size` sequences at a time.
    ///
    /// `mask` (over all state entries, [`StepModel::n_state`] of them, the state tensors in
    /// order), where given, multiplies the state before every step (a lesion; see
    /// [`epc_core::layout::Layout::lesion_mask`]).
    pub fn run(&mut self, x: ArrayView3<f32>, mask: Option<&[f32]>) -> Result<Activations> {
        let mut out = Activations::empty();
        self.run_into(x, mask, &mut out)?;
        Ok(out)
    }

    /// [`StepModel::run`] into `out`, whose arrays are reused where they have the right shape.
    pub fn run_into(
        &mut self,
        x: ArrayView3<f32>,
        mask: Option<&[f32]>,
        out: &mut Activations,
    ) -> Result<()> {
        self.run_masked(x, mask.map(Mask::Shared), out)
    }

    /// [`StepModel::run_into`] with a lesion mask per sequence: `masks` holds
    /// [`StepModel::n_state`] entries for each sequence of `x`, in order (many lesions of one
    /// model in one batched run: the draws of a null distribution, a dose-response grid).
    pub fn run_rows_into(
        &mut self,
        x: ArrayView3<f32>,
        masks: &[f32],
        out: &mut Activations,
    ) -> Result<()> {
        self.run_masked(x, Some(Mask::PerRow(masks)), out)
    }

    fn run_masked(
        &mut self,
        x: ArrayView3<f32>,
        mask: Option<Mask>,
        out: &mut Activations,
    ) -> Result<()> {
        let (steps, seqs, n_in) = x.dim();
        if n_in != self.n_in {
            return Err(Error::model(
                &self.path,
                format!(
                    "frames have {n_in} values but the model takes {}",
                    self.n_in
                ),
            ));
        }
        let n_state: usize = self.states.iter().map(|s| s.size).sum();
        let want = match mask {
            Some(Mask::PerRow(_)) => seqs * n_state,
            _ => n_state,
        };
        if let Some(m) = mask.map(Mask::values).filter(|m| m.len() != want) {
            return Err(Error::model(
                &self.path,
                format!(
                    "lesion mask has {} entries but the state has {n_state}{}",
                    m.len(),
                    if want == n_state {
                        String::new()
                    } else {
                        format!(" for each of {seqs} sequences")
                    }
                ),
            ));
        }
        out.shape_for((steps, seqs, self.n_units), &self.optional);
        let ports = self.fetched_ports();
        let chunk = self.fixed_batch.unwrap_or(self.batch_size);
        let cap = self.fixed_batch.unwrap_or(chunk.min(seqs));
        let mut xbuf = vec![0.0f32; cap * n_in];
        // The zero state of the first step; later steps take the previous step's outputs as
        // they are (moved, not copied).
        let zeros: Vec<Vec<f32>> = self
            .states
            .iter()
            .map(|s| vec![0.0f32; cap * s.size])
            .collect();
        let mut start = 0;
        while start < seqs {
            let b = chunk.min(seqs - start);
            let rb = self.fixed_batch.unwrap_or(b); // rows sent: padded to a fixed batch size
            let slot = self.prepare(rb)?;
            let mut state: Vec<Option<DynValue>> = self.states.iter().map(|_| None).collect();
            for t in 0..steps {
                let xs = x.slice(s![t, start..start + b, ..]);
                // A standard-layout input is handed over as it is; others (and padded
                // batches) are gathered into the staging buffer.
                let contiguous = xs.as_slice();
                let direct = contiguous.filter(|_| rb == b);
                if direct.is_none() {
                    match contiguous {
                        Some(src) => xbuf[..b * n_in].copy_from_slice(src),
                        None => {
                            for (row, xr) in xbuf.chunks_exact_mut(n_in).zip(xs.rows()) {
                                for (d, &v) in row.iter_mut().zip(xr.iter()) {
                                    *d = v;
                                }
                            }
                        }
                    }
                    xbuf[b * n_in..rb * n_in].fill(0.0);
                }
                let path = &self.path;
                let err = |e: ort::Error| Error::ort(path, "inference failed", e);
                if let Some(m) = mask {
                    let mut off = 0;
                    for (value, spec) in state.iter_mut().zip(&self.states) {
                        let range = off..off + spec.size;
                        off += spec.size;
                        let Some(value) = value.as_mut() else {
                            continue; // the zero state needs no mask
                        };
                        let (_, data) = value.try_extract_tensor_mut::<f32>().map_err(err)?;
                        // Padded rows (a fixed batch size) keep their values: nothing reads them.
                        for (r, row) in data.chunks_exact_mut(spec.size).take(b).enumerate() {
                            let mk = match m {
                                Mask::Shared(all) => &all[range.clone()],
                                Mask::PerRow(all) => {
                                    let at = (start + r) * n_state;
                                    &all[at + range.start..at + range.end]
                                }
                            };
                            for (v, &k) in row.iter_mut().zip(mk) {
                                *v *= k;
                            }
                        }
                    }
                }
                let build = |e: ort::Error| Error::ort(path, "cannot build an input tensor", e);
                let mut inputs: Vec<(&str, SessionInputValue)> =
                    Vec::with_capacity(1 + state.len());
                let xv = direct.unwrap_or(&xbuf[..rb * n_in]);
                inputs.push((
                    contract::INPUT_X,
                    TensorRef::from_array_view(([rb, n_in], xv))
                        .map_err(build)?
                        .into(),
                ));
                for ((value, zero), spec) in state.iter().zip(&zeros).zip(&self.states) {
                    let v: SessionInputValue = match value {
                        Some(v) => v.into(),
                        None => {
                            TensorRef::from_array_view(([rb, spec.size], &zero[..rb * spec.size]))
                                .map_err(build)?
                                .into()
                        }
                    };
                    inputs.push((spec.name.as_str(), v));
                }
                let mut outputs = self
                    .session
                    .run_with_options(inputs, &self.prepared[slot].options)
                    .map_err(err)?;
                super::work::record(super::work::StepShape {
                    rows: rb,
                    n_state,
                    n_units: self.n_units,
                });
                for (name, width) in &ports {
                    let data = output_rows(&outputs, path, name, rb, *width)?;
                    if let Some(dst) = out.slot(name) {
                        fill_rows(dst, t, start, b, &data[..b * width]);
                    }
                }
                for (k, spec) in self.states.iter().enumerate() {
                    let name = spec.output();
                    let data = output_rows(&outputs, path, &name, rb, spec.size)?;
                    if k == 0 && !self.has_act {
                        // step-v1 without `act`: the activity is h_next (checked square at load).
                        fill_rows(&mut out.act, t, start, b, &data[..b * spec.size]);
                    }
                    state[k] = outputs.remove(&name);
                }
            }
            start += b;
        }
        Ok(())
    }

    /// Runs probe steps from the zero state (a frame of zeros, then a frame of 0.5), checks
    /// every output's shape and that it is finite, and sets `n_units` where the file left it
    /// open. Returns the violations.
    pub(super) fn probe(&mut self) -> Vec<String> {
        let b = self.fixed_batch.unwrap_or(1);
        let mut problems = Vec::new();
        for value in [0.0f32, 0.5] {
            let xs = vec![value; b * self.n_in];
            let states: Vec<Vec<f32>> = self.states.iter().map(|s| vec![0.0; b * s.size]).collect();
            let mut inputs: Vec<(&str, SessionInputValue)> = Vec::new();
            let shapes = std::iter::once((contract::INPUT_X, self.n_in, &xs)).chain(
                self.states
                    .iter()
                    .zip(&states)
                    .map(|(s, v)| (s.name.as_str(), s.size, v)),
            );
            for (name, width, data) in shapes {
                match TensorRef::from_array_view(([b, width], data.as_slice())) {
                    Ok(t) => inputs.push((name, t.into())),
                    Err(e) => return vec![format!("cannot build the probe input `{name}`: {e}")],
                }
            }
            let outputs = match self.session.run(inputs) {
                Ok(o) => o,
                Err(e) => {
                    return vec![format!(
                        "probe step with x [{b}, {}] failed: {}",
                        self.n_in,
                        one_line(e.to_string())
                    )]
                }
            };
            let read = |name: &str| -> std::result::Result<Option<(Vec<usize>, bool)>, String> {
                let Some(v) = outputs.get(name) else {
                    return Ok(None);
                };
                let (shape, data) = v.try_extract_tensor::<f32>().map_err(|e| {
                    format!("probe step: output `{name}`: {}", one_line(e.to_string()))
                })?;
                Ok(Some((
                    shape.iter().map(|&d| d.max(0) as usize).collect(),
                    data.iter().all(|v| v.is_finite()),
                )))
            };
            let (pre, pre_finite) = match read(contract::OUTPUT_PREACT) {
                Ok(Some(p)) => p,
                Ok(None) => return vec!["probe step: no output `preact`".into()],
                Err(e) => return vec![e],
            };
            if pre.len() != 2 || pre[0] != b {
                problems.push(format!(
                    "probe step: output preact has shape {pre:?}, expected [{b}, n_units]"
                ));
                return problems;
            }
            if self.n_units != 0 && self.n_units != pre[1] {
                problems.push(format!(
                    "output preact declares {} units but the probe step gave {}",
                    self.n_units, pre[1]
                ));
            }
            let n_units = pre[1];
            let mut expected: Vec<(String, usize, bool)> =
                vec![(contract::OUTPUT_PREACT.into(), n_units, pre_finite)];
            let mut others: Vec<(String, usize)> = Vec::new();
            if self.has_act {
                others.push((contract::OUTPUT_ACT.into(), n_units));
            }
            others.extend(self.optional.iter().map(|n| (n.to_string(), n_units)));
            others.extend(self.states.iter().map(|s| (s.output(), s.size)));
            for (name, width) in others {
                match read(&name) {
                    Err(e) => problems.push(e),
                    Ok(Some((shape, finite))) => {
                        if shape != [b, width] {
                            problems.push(format!(
                                "probe step: output `{name}` has shape {shape:?}, expected [{b}, {width}]"
                            ));
                        }
                        expected.push((name, width, finite));
                    }
                    Ok(None) => problems.push(format!("probe step: no output `{name}`")),
                }
            }
            for (name, _, finite) in &expected {
                if !finite {
                    problems.push(format!(
                        "probe step: output `{name}` is not finite for a frame of {value} from the zero state"
                    ));
                }
            }
            if !problems.is_empty() {
                return problems;
            }
            self.n_units = n_units;
        }
        problems
    }
}

/// The data of output `name`, checked to be `[rows, width]`.
fn output_rows<'o>(
    outputs: &'o ort::session::SessionOutputs,
    path: &std::path::Path,
    name: &str,
    rows: usize,
    width: usize,
) -> Result<&'o [f32]> {
    let v = outputs
        .get(name)
        .ok_or_else(|| Error::model(path, format!("the run returned no output `{name}`")))?;
    let (shape, data) = v
        .try_extract_tensor::<f32>()
        .map_err(|e| Error::ort(path, "inference failed", e))?;
    if shape.len() != 2 || shape[0] as usize != rows || shape[1] as usize != width {
        return Err(Error::model(
            path,
            format!(
                "output `{name}` has shape {:?}, expected [{rows}, {width}]",
                &shape[..]
            ),
        ));
    }
    Ok(data)
}

fn fill_rows(dst: &mut Array3<f32>, t: usize, start: usize, b: usize, src: &[f32]) {
    let mut view = dst.slice_mut(s![t, start..start + b, ..]);
    let width = view.ncols();
    for (mut row, chunk) in view.rows_mut().into_iter().zip(src.chunks_exact(width)) {
        row.as_slice_mut()
            .expect("rows of a standard array are contiguous")
            .copy_from_slice(chunk);
    }
}
