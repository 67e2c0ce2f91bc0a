//! Runs step-v1 ONNX models (see [`epc_core::contract`]) through ONNX Runtime, in batches.
//!
//! [`StepModel::load`] checks the model's interface up front, resolves sizes the file leaves
//! open (PyTorch's exporter writes symbolic or unnamed dimensions) with one probe step, reads the
//! recurrent weights `W` from the file, and picks an execution provider. [`StepModel::run`]
//! then runs many sequences at once, `batch_size` at a time, with `h_0 = 0` and an optional
//! lesion mask applied to the state before every step.

use crate::error::one_line;
use crate::onnx_proto::{self, Found};
use crate::{Error, Result};
use epc_core::contract;
use ndarray::{s, Array2, Array3, ArrayView3};
use ort::session::Session;
use ort::value::{TensorElementType, TensorRef, ValueType};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

/// Which ONNX Runtime execution provider runs the model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionProvider {
    /// CUDA, then CoreML (where compiled in), then CPU; a provider that cannot start is
    /// reported in one line on stderr and skipped.
    #[default]
    Auto,
    /// ONNX Runtime's default CPU provider.
    Cpu,
    /// NVIDIA CUDA (needs the `cuda` feature and onnxruntime-gpu at run time).
    Cuda,
    /// Apple CoreML (needs the `coreml` feature; macOS only).
    CoreMl,
}

impl ExecutionProvider {
    /// All choices, in the order `Auto` tries them (after `Auto` itself).
    pub const ALL: [ExecutionProvider; 4] = [
        ExecutionProvider::Auto,
        ExecutionProvider::Cpu,
        ExecutionProvider::Cuda,
        ExecutionProvider::CoreMl,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionProvider::Auto => "auto",
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::CoreMl => "coreml",
        }
    }
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExecutionProvider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ExecutionProvider::Auto),
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" | "gpu" => Ok(ExecutionProvider::Cuda),
            "coreml" | "core-ml" => Ok(ExecutionProvider::CoreMl),
            other => Err(Error::Input(format!(
                "unknown execution provider {other:?} (choose auto, cpu, cuda or coreml)"
            ))),
        }
    }
}

/// How sessions are created and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// The execution provider to use.
    pub ep: ExecutionProvider,
    /// True when the user named `ep` explicitly: then a provider that cannot start is an error
    /// instead of a one-line warning and a fall-back to CPU.
    pub ep_explicit: bool,
    /// Intra-op threads; 0 leaves ONNX Runtime's default (one per core).
    pub threads: usize,
    /// Deterministic compute (same results run after run on the CPU).
    pub deterministic: bool,
    /// Sequences per run (default 256).
    pub batch_size: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            ep: ExecutionProvider::Auto,
            ep_explicit: false,
            threads: 0,
            deterministic: false,
            batch_size: 256,
        }
    }
}

/// Preactivations and activities of a run, both `[steps, seqs, units]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Activations {
    /// The preactivation `a_t` (`preact`).
    pub preact: Array3<f32>,
    /// The activity (`act`, or `h_next` where the model has no `act` output).
    pub act: Array3<f32>,
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> =
    OnceLock::new();

/// The library file the environment was loaded from.
static LIBRARY: OnceLock<PathBuf> = OnceLock::new();

/// The process-wide ONNX Runtime environment, loading the library from `ORT_DYLIB_PATH`
/// (at run time, else as it was at build time, else the system's `libonnxruntime`) on first use.
fn environment() -> Result<&'static ort::environment::Environment> {
    ENVIRONMENT
        .get_or_init(|| {
            // Run-time ORT_DYLIB_PATH first, then the library the binary was built against
            // (scripts/env.sh sets it at build time), then the system's.
            let built_with =
                option_env!("ORT_DYLIB_PATH").filter(|p| !p.is_empty() && Path::new(p).is_file());
            let lib: PathBuf = match std::env::var_os("ORT_DYLIB_PATH") {
                Some(p) if !p.is_empty() => p.into(),
                _ if built_with.is_some() => built_with.unwrap_or_default().into(),
                _ => format!(
                    "{}onnxruntime{}",
                    std::env::consts::DLL_PREFIX,
                    std::env::consts::DLL_SUFFIX
                )
                .into(),
            };
            let _ = LIBRARY.set(lib.clone());
            let builder = ort::init_from(&lib).map_err(|e| {
                format!(
                    "cannot load the library {} ({e}); set ORT_DYLIB_PATH (source scripts/env.sh)",
                    lib.display()
                )
            })?;
            builder
                .with_name("epc")
                .build()
                .map_err(|e| one_line(e.to_string()))
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// The loaded ONNX Runtime library: its file name (which carries the version in the PyPI and
/// release builds, e.g. `libonnxruntime.so.1.32.0`) and its build information.
pub fn runtime_version() -> Result<String> {
    environment()?;
    let file = LIBRARY
        .get()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let build = ort::info().split(',').next().unwrap_or_default().trim();
    Ok(format!("{file} ({build})"))
}

/// A loaded step model, ready to run batches of sequences.
pub struct StepModel {
    path: PathBuf,
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

/// Shape facts of one declared input or output.
struct Port {
    dims: Vec<i64>,
}

fn describe_type(t: &ValueType) -> String {
    match t {
        ValueType::Tensor { ty, .. } => {
            let rust = ty.to_string();
            let name = match rust.as_str() {
                "f64" => "float64",
                "f16" => "float16",
                "bf16" => "bfloat16",
                "i64" => "int64",
                "i32" => "int32",
                "i16" => "int16",
                "i8" => "int8",
                "u64" => "uint64",
                "u32" => "uint32",
                "u16" => "uint16",
                "u8" => "uint8",
                "bool" => "bool",
                "String" => "string",
                other => other,
            };
            let article = if name.starts_with("int") { "an" } else { "a" };
            format!("{article} {name} tensor")
        }
        ValueType::Sequence(_) => "a sequence".into(),
        ValueType::Map { .. } => "a map".into(),
        ValueType::Optional(_) => "an optional".into(),
    }
}

fn check_port(path: &Path, kind: &str, name: &str, t: &ValueType, what: &str) -> Result<Port> {
    match t {
        ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape,
            ..
        } => {
            let dims: Vec<i64> = shape.iter().copied().collect();
            if dims.len() != 2 {
                return Err(Error::model(
                    path,
                    format!("{kind} `{name}` has rank {} (dims {dims:?}); the step-v1 contract needs rank 2 {what}", dims.len()),
                ));
            }
            Ok(Port { dims })
        }
        other => Err(Error::model(
            path,
            format!(
                "{kind} `{name}` is {}; the step-v1 contract needs a float32 tensor {what}",
                describe_type(other)
            ),
        )),
    }
}

fn known(d: i64) -> Option<usize> {
    (d > 0).then_some(d as usize)
}

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
        onnx_proto::graph_bytes(&bytes)
            .map_err(|e| Error::model(path, format!("not an ONNX model ({e})")))?;
        let w = match onnx_proto::find_initializer(&bytes, contract::INITIALIZER_W) {
            Ok(Found::Tensor(t)) => Some(t),
            Ok(Found::Missing) => None,
            Ok(Found::Unusable(why)) => {
                eprintln!("epc: {}: initializer `W` ignored: {why}", path.display());
                None
            }
            Err(e) => return Err(Error::model(path, format!("not an ONNX model ({e})"))),
        };
        drop(bytes);
        let (session, provider) = create_session(path, opts)?;

        let mut metadata = BTreeMap::new();
        if let Ok(meta) = session.metadata() {
            if let Ok(keys) = meta.custom_keys() {
                for k in keys {
                    if let Some(v) = meta.custom(&k) {
                        metadata.insert(k, v);
                    }
                }
            }
        }
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

        // Inputs: exactly x and h.
        let names: Vec<String> = session
            .inputs()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let find_in = |n: &str| session.inputs().iter().find(|i| i.name() == n);
        let mut ports = Vec::new();
        for (name, what) in [
            (contract::INPUT_X, "[batch, n_in]"),
            (contract::INPUT_H, "[batch, n_state]"),
        ] {
            let Some(i) = find_in(name) else {
                return Err(Error::model(
                    path,
                    format!("missing input `{name}` (the model's inputs are: {}); step-v1 needs inputs x and h", names.join(", ")),
                ));
            };
            ports.push(check_port(path, "input", name, i.dtype(), what)?);
        }
        if let Some(extra) = names
            .iter()
            .find(|n| *n != contract::INPUT_X && *n != contract::INPUT_H)
        {
            return Err(Error::model(
                path,
                format!("unexpected input `{extra}`; a step-v1 model takes only x and h"),
            ));
        }
        let out_names: Vec<String> = session
            .outputs()
            .iter()
            .map(|o| o.name().to_string())
            .collect();
        let find_out = |n: &str| session.outputs().iter().find(|o| o.name() == n);
        for (name, what) in [
            (contract::OUTPUT_PREACT, "[batch, n_units]"),
            (contract::OUTPUT_H_NEXT, "[batch, n_state]"),
        ] {
            let Some(o) = find_out(name) else {
                return Err(Error::model(
                    path,
                    format!(
                        "missing output `{name}` (the model's outputs are: {}); step-v1 needs outputs preact and h_next",
                        out_names.join(", ")
                    ),
                ));
            };
            ports.push(check_port(path, "output", name, o.dtype(), what)?);
        }
        let has_act = match find_out(contract::OUTPUT_ACT) {
            Some(o) => {
                ports.push(check_port(
                    path,
                    "output",
                    contract::OUTPUT_ACT,
                    o.dtype(),
                    "[batch, n_units]",
                )?);
                true
            }
            None => false,
        };

        // Resolve sizes: what the file declares, then W, then the contract's rule n_in = n_state.
        let (x, h, pre, hn) = (
            &ports[0].dims,
            &ports[1].dims,
            &ports[2].dims,
            &ports[3].dims,
        );
        let batches: Vec<usize> = ports.iter().filter_map(|p| known(p.dims[0])).collect();
        let fixed_batch = batches.first().copied();
        if batches.iter().any(|&b| Some(b) != fixed_batch) {
            return Err(Error::model(
                path,
                format!("inputs and outputs declare different fixed batch sizes {batches:?}"),
            ));
        }
        let mut n_state = known(h[1])
            .or(known(hn[1]))
            .or(w.as_ref().and_then(|t| t.dims.first().copied()));
        let mut n_in = known(x[1]);
        if n_in.is_none() {
            n_in = n_state;
        }
        if n_state.is_none() {
            n_state = n_in;
        }
        let (Some(n_in), Some(n_state)) = (n_in, n_state) else {
            return Err(Error::model(
                path,
                "cannot resolve the sizes: x and h both declare an unknown last dimension and there is no W initializer",
            ));
        };
        if let (Some(a), Some(b)) = (known(h[1]), known(hn[1])) {
            if a != b {
                return Err(Error::model(
                    path,
                    format!("input h has {a} state entries but output h_next has {b}"),
                ));
            }
        }

        let mut model = StepModel {
            path: path.to_path_buf(),
            session,
            provider,
            n_in,
            n_state,
            n_units: known(pre[1]).unwrap_or(0),
            fixed_batch,
            has_act,
            weights: None,
            metadata,
            batch_size: opts.batch_size,
        };
        // Probe one step of zeros: confirms the sizes and reads n_units where it is symbolic.
        let b = fixed_batch.unwrap_or(1);
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
                for (row, xr) in xbuf.chunks_exact_mut(n_in).zip(xs.rows()) {
                    for (d, &v) in row.iter_mut().zip(xr.iter()) {
                        *d = v;
                    }
                }
                xbuf[b * n_in..rb * n_in].fill(0.0);
                if let Some(m) = mask {
                    for row in h[..rb * n_state].chunks_exact_mut(n_state) {
                        for (v, &k) in row.iter_mut().zip(m) {
                            *v *= k;
                        }
                    }
                }
                let xt = TensorRef::from_array_view(([rb, n_in], &xbuf[..rb * n_in]))
                    .map_err(|e| self.run_error(e))?;
                let ht = TensorRef::from_array_view(([rb, n_state], &h[..rb * n_state]))
                    .map_err(|e| self.run_error(e))?;
                let path = self.path.clone();
                let err = |e: ort::Error| Error::model(&path, format!("inference failed: {e}"));
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
        Error::model(&self.path, format!("cannot build an input tensor: {e}"))
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

/// Creates the session, trying providers as `opts` asks; returns it with the provider used.
fn create_session(path: &Path, opts: &EngineOptions) -> Result<(Session, ExecutionProvider)> {
    let env = environment()?;
    let candidates: Vec<ExecutionProvider> = match opts.ep {
        ExecutionProvider::Auto => {
            let mut v = Vec::new();
            if cfg!(feature = "cuda") {
                v.push(ExecutionProvider::Cuda);
            }
            if cfg!(all(feature = "coreml", target_os = "macos")) {
                v.push(ExecutionProvider::CoreMl);
            }
            v
        }
        ExecutionProvider::Cpu => Vec::new(),
        other => vec![other],
    };
    let strict = opts.ep_explicit && opts.ep != ExecutionProvider::Auto;
    for ep in candidates {
        match session_with(env, path, opts, ep) {
            Ok(s) => return Ok((s, ep)),
            Err(SessionError::Provider(reason)) => {
                if strict {
                    return Err(Error::Provider {
                        path: path.to_path_buf(),
                        provider: ep.name().into(),
                        reason,
                    });
                }
                eprintln!(
                    "epc: execution provider {ep} cannot start ({reason}); falling back to CPU"
                );
            }
            Err(SessionError::Model(reason)) => return Err(Error::model(path, reason)),
        }
    }
    match session_with(env, path, opts, ExecutionProvider::Cpu) {
        Ok(s) => Ok((s, ExecutionProvider::Cpu)),
        Err(SessionError::Provider(r) | SessionError::Model(r)) => Err(Error::model(path, r)),
    }
}

enum SessionError {
    Provider(String),
    Model(String),
}

fn session_with(
    env: &ort::environment::Environment,
    path: &Path,
    opts: &EngineOptions,
    ep: ExecutionProvider,
) -> std::result::Result<Session, SessionError> {
    let prov = |e: String| SessionError::Provider(one_line(e));
    let mut b = Session::builder(env).map_err(|e| prov(e.to_string()))?;
    if opts.threads > 0 {
        b = b
            .with_intra_threads(opts.threads)
            .map_err(|e| prov(e.to_string()))?;
    }
    if opts.deterministic {
        b = b
            .with_deterministic_compute(true)
            .map_err(|e| prov(e.to_string()))?;
    }
    let dispatch = match ep {
        ExecutionProvider::Cpu | ExecutionProvider::Auto => None,
        ExecutionProvider::Cuda => {
            #[cfg(feature = "cuda")]
            {
                Some(ort::ep::CUDA::default().build().error_on_failure())
            }
            #[cfg(not(feature = "cuda"))]
            {
                return Err(prov(
                    "this build has no CUDA support (rebuild with the `cuda` feature)".into(),
                ));
            }
        }
        ExecutionProvider::CoreMl => {
            #[cfg(all(feature = "coreml", target_os = "macos"))]
            {
                Some(ort::ep::CoreML::default().build().error_on_failure())
            }
            #[cfg(not(all(feature = "coreml", target_os = "macos")))]
            {
                return Err(prov(
                    "this build has no CoreML support (macOS with the `coreml` feature only)"
                        .into(),
                ));
            }
        }
    };
    if let Some(d) = dispatch {
        b = b
            .with_execution_providers([d])
            .map_err(|e| prov(e.to_string()))?;
    }
    b.commit_from_file(path).map_err(|e| {
        let reason = format!("ONNX Runtime cannot load it: {}", one_line(e.to_string()));
        // With an accelerator the failure may be the provider's; the CPU retry tells them apart.
        if ep == ExecutionProvider::Cpu {
            SessionError::Model(reason)
        } else {
            SessionError::Provider(reason)
        }
    })
}
