//! Runs step-v1 ONNX models (see [`epc_core::contract`]) through ONNX Runtime, in batches.
//!
//! [`StepModel::load`] checks the model's interface up front (`check`), resolves sizes the file
//! leaves open (PyTorch's exporter writes symbolic or unnamed dimensions) with one probe step,
//! reads the recurrent weights `W` and the metadata from the file (through the exporter's ONNX
//! reader), and picks an execution provider (`providers`). [`StepModel::run`] then runs many
//! sequences at once, `batch_size` at a time, with `h_0 = 0` and an optional lesion mask
//! applied to the state before every step.

mod check;
mod providers;
mod runtime;

pub use providers::{EngineOptions, ExecutionProvider};
pub use runtime::runtime_version;

use crate::error::one_line;
use crate::{Error, Result};
use epc_core::contract;
use epc_exporter::onnx::{Initializer, ModelFile};
use ndarray::{s, Array2, Array3, ArrayView3};
use ort::session::Session;
use ort::value::TensorRef;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Preactivations and activities of a run, both `[steps, seqs, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    /// The preactivation `a_t` (`preact`).
    pub preact: Array3<f32>,
    /// The activity (`act`, or `h_next` where the model has no `act` output).
    pub act: Array3<f32>,
}

/// A loaded step model, ready to run batches of sequences.
pub struct StepModel {
    path: PathBuf,
    sha256: String,
    session: Session,
    provider: ExecutionProvider,
    n_in: usize,
    n_state: usize,
    n_units: usize,
    fixed_batch: Option<usize>,
    has_act: bool,
    weights: Option<Array2<f32>>,
    metadata: BTreeMap<String, String>,
    batch_size: usize,
    notes: Vec<String>,
}

impl fmt::Debug for StepModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepModel")
            .field("path", &self.path)
            .field("provider", &self.provider)
            .field("n_in", &self.n_in)
            .field("n_state", &self.n_state)
            .field("n_units", &self.n_units)
            .field("has_w", &self.weights.is_some())
            .finish()
    }
}

/// Shapes of preact, h_next and (where present) act from a probe step.
type ProbeShapes = (Vec<usize>, Vec<usize>, Option<Vec<usize>>);

impl StepModel {
    /// Loads and checks a step-v1 model.
    ///
    /// Errors (one line, naming the file) for a file that is not ONNX, a missing or mistyped
    /// input or output, sizes that do not fit together, a failed probe step, or an execution
    /// provider that was named explicitly but cannot start.
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<StepModel> {
        if opts.batch_size == 0 {
            return Err(Error::Input(
                "the engine's batch size must be positive".into(),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let sha256 = epc_core::data::fetch::sha256_hex(&bytes);
        let file = ModelFile::from_bytes(path, &bytes).map_err(Error::model_file)?;
        drop(bytes);
        let mut notes = Vec::new();
        let w = match file.initializer_f32(contract::INITIALIZER_W) {
            Initializer::Tensor(t) => Some(t),
            Initializer::Missing => None,
            Initializer::Unusable(why) => {
                notes.push(format!(
                    "{}: initializer `W` ignored: {why}",
                    path.display()
                ));
                None
            }
        };
        let metadata: BTreeMap<String, String> = file.metadata().into_iter().collect();
        drop(file);
        if let Some(c) = metadata.get(contract::META_CONTRACT) {
            if c != contract::STEP_V1 {
                return Err(Error::model(
                    path,
                    format!(
                        "metadata {} = {c:?}; this engine runs {:?} models",
                        contract::META_CONTRACT,
                        contract::STEP_V1
                    ),
                ));
            }
        }
        let created = providers::create_session(path, opts)?;
        notes.extend(created.notes);
        let iface = check::interface(
            path,
            &created.session,
            w.as_ref().and_then(|t| t.dims.first().copied()),
        )?;
        let (n_in, n_state) = (iface.n_in, iface.n_state);
        let mut model = StepModel {
            path: path.to_path_buf(),
            sha256,
            session: created.session,
            provider: created.provider,
            n_in,
            n_state,
            n_units: iface.n_units.unwrap_or(0),
            fixed_batch: iface.fixed_batch,
            has_act: iface.has_act,
            weights: None,
            metadata,
            batch_size: opts.batch_size,
            notes,
        };
        // Probe one step of zeros: confirms the sizes and reads n_units where it is symbolic.
        let b = iface.fixed_batch.unwrap_or(1);
        let xs = vec![0.0f32; b * n_in];
        let hs = vec![0.0f32; b * n_state];
        let (pre_shape, hn_shape, act_shape) = model.step_shapes(&xs, &hs, b).map_err(|e| {
            Error::model(
                path,
                format!("probe step with x [{b}, {n_in}] and h [{b}, {n_state}] failed: {e}"),
            )
        })?;
        if pre_shape.len() != 2 || pre_shape[0] != b {
            return Err(Error::model(
                path,
                format!(
                    "probe step: output preact has shape {pre_shape:?}, expected [{b}, n_units]"
                ),
            ));
        }
        if hn_shape != [b, n_state] {
            return Err(Error::model(
                path,
                format!(
                    "probe step: output h_next has shape {hn_shape:?}, expected [{b}, {n_state}]"
                ),
            ));
        }
        if let Some(a) = act_shape {
            if a != pre_shape {
                return Err(Error::model(
                    path,
                    format!("probe step: output act has shape {a:?} but preact has {pre_shape:?}"),
                ));
            }
        }
        if model.n_units != 0 && model.n_units != pre_shape[1] {
            return Err(Error::model(
                path,
                format!(
                    "output preact declares {} units but the probe step gave {}",
                    model.n_units, pre_shape[1]
                ),
            ));
        }
        model.n_units = pre_shape[1];
        if let Some(t) = w {
            if t.dims != [n_state, model.n_units] {
                return Err(Error::model(
                    path,
                    format!("initializer W has dims {:?}; the contract needs [n_state, n_units] = [{n_state}, {}]", t.dims, model.n_units),
                ));
            }
            model.weights = Some(
                Array2::from_shape_vec((n_state, model.n_units), t.data).expect("dims checked"),
            );
        }
        Ok(model)
    }

    /// Runs one step and returns the shapes of preact, h_next and act (no data copied).
    fn step_shapes(
        &mut self,
        x: &[f32],
        h: &[f32],
        b: usize,
    ) -> std::result::Result<ProbeShapes, String> {
        let xt = TensorRef::from_array_view(([b, self.n_in], x)).map_err(|e| e.to_string())?;
        let ht = TensorRef::from_array_view(([b, self.n_state], h)).map_err(|e| e.to_string())?;
        let outputs = self
            .session
            .run(ort::inputs![contract::INPUT_X => xt, contract::INPUT_H => ht])
            .map_err(|e| one_line(e.to_string()))?;
        let shape_of = |name: &str| -> std::result::Result<Vec<usize>, String> {
            let v = outputs
                .get(name)
                .ok_or_else(|| format!("no output `{name}`"))?;
            let (shape, _) = v
                .try_extract_tensor::<f32>()
                .map_err(|e| one_line(e.to_string()))?;
            Ok(shape.iter().map(|&d| d.max(0) as usize).collect())
        };
        let act = if self.has_act {
            Some(shape_of(contract::OUTPUT_ACT)?)
        } else {
            None
        };
        Ok((
            shape_of(contract::OUTPUT_PREACT)?,
            shape_of(contract::OUTPUT_H_NEXT)?,
            act,
        ))
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 (hex) of the model file as it was loaded.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The execution provider the session actually runs on.
    pub fn provider(&self) -> ExecutionProvider {
        self.provider
    }

    /// Values per frame (`x` is `[batch, n_in]`).
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// State entries (`h` is `[batch, n_state]`).
    pub fn n_state(&self) -> usize {
        self.n_state
    }

    /// Units reported in `preact` and `act`.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// True when the model declares an `act` output (otherwise the activity is `h_next`).
    pub fn has_act(&self) -> bool {
        self.has_act
    }

    /// The recurrent weights `W` `[n_state, n_units]`, read from the file's initializer of that
    /// name; `None` where the model has none.
    pub fn recurrent_weights(&self) -> Option<&Array2<f32>> {
        self.weights.as_ref()
    }

    /// What loading noticed but did not refuse (an unusable `W`, a provider that fell back to
    /// the CPU), one line each, for the caller to show.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The model's custom metadata (the `epc.*` properties and any others).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Sequences per run.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Runs `x` (`[steps, seqs, n_in]`) from `h_0 = 0`, `batch_size` sequences at a time.
    ///
    /// `mask` (`[n_state]`), where given, multiplies the state before every step (a lesion).
    pub fn run(&mut self, x: ArrayView3<f32>, mask: Option<&[f32]>) -> Result<Activations> {
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
        if let Some(m) = mask {
            if m.len() != self.n_state {
                return Err(Error::model(
                    &self.path,
                    format!(
                        "lesion mask has {} entries but the state has {}",
                        m.len(),
                        self.n_state
                    ),
                ));
            }
        }
        let n_units = self.n_units;
        let n_state = self.n_state;
        let mut preact = Array3::<f32>::zeros((steps, seqs, n_units));
        let mut act = Array3::<f32>::zeros((steps, seqs, n_units));
        let chunk = self.fixed_batch.unwrap_or(self.batch_size);
        let mut xbuf = vec![0.0f32; chunk * n_in];
        let mut h = vec![0.0f32; chunk * n_state];
        let mut start = 0;
        while start < seqs {
            let b = chunk.min(seqs - start);
            let rb = self.fixed_batch.unwrap_or(b); // rows sent: padded to a fixed batch size
            h[..rb * n_state].fill(0.0);
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
                if let Some(m) = mask {
                    for row in h[..rb * n_state].chunks_exact_mut(n_state) {
                        for (v, &k) in row.iter_mut().zip(m) {
                            *v *= k;
                        }
                    }
                }
                let xt =
                    TensorRef::from_array_view(([rb, n_in], direct.unwrap_or(&xbuf[..rb * n_in])))
                        .map_err(|e| self.run_error(e))?;
                let ht = TensorRef::from_array_view(([rb, n_state], &h[..rb * n_state]))
                    .map_err(|e| self.run_error(e))?;
                let path = self.path.clone();
                let err = |e: ort::Error| Error::ort(&path, "inference failed", e);
                let outputs = self
                    .session
                    .run(ort::inputs![contract::INPUT_X => xt, contract::INPUT_H => ht])
                    .map_err(err)?;
                let take = |name: &str, width: usize| -> Result<&[f32]> {
                    let v = outputs.get(name).ok_or_else(|| {
                        Error::model(&path, format!("the run returned no output `{name}`"))
                    })?;
                    let (shape, data) = v.try_extract_tensor::<f32>().map_err(err)?;
                    if shape.len() != 2 || shape[0] as usize != rb || shape[1] as usize != width {
                        return Err(Error::model(
                            &path,
                            format!(
                                "output `{name}` has shape {:?}, expected [{rb}, {width}]",
                                &shape[..]
                            ),
                        ));
                    }
                    Ok(&data[..b * width])
                };
                let p = take(contract::OUTPUT_PREACT, n_units)?;
                fill_rows(&mut preact, t, start, b, p);
                let hn = take(contract::OUTPUT_H_NEXT, n_state)?;
                if self.has_act {
                    fill_rows(&mut act, t, start, b, take(contract::OUTPUT_ACT, n_units)?);
                } else {
                    if n_state != n_units {
                        return Err(Error::model(
                            &path,
                            "without an `act` output, h_next must have as many entries as preact",
                        ));
                    }
                    fill_rows(&mut act, t, start, b, hn);
                }
                h[..b * n_state].copy_from_slice(hn);
            }
            start += b;
        }
        Ok(Activations { preact, act })
    }

    fn run_error(&self, e: ort::Error) -> Error {
        Error::ort(&self.path, "cannot build an input tensor", e)
    }
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
