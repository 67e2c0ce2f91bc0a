//! Runs step models (step-v1 and step-v2, docs/CONTRACT.md) through ONNX Runtime, in batches.
//!
//! [`StepModel::open`] checks the model's interface up front (`check`), resolves sizes the
//! file leaves open (PyTorch's exporter writes symbolic or unnamed dimensions) with probe
//! steps, reads the recurrent weights `W`, the metadata and the unit [`Layout`], and picks an
//! execution provider (`providers`); every contract violation is collected, one line each.
//! [`StepModel::run`] then runs many sequences at once, `batch_size` at a time, from the zero
//! state, with an optional lesion mask applied to the state before every step (`run`).

mod check;
mod providers;
mod run;
mod runtime;
pub mod work;

pub use check::Version;
pub use providers::{EngineOptions, ExecutionProvider};
pub use run::Activations;
pub use runtime::{environment, runtime_version};

use crate::{Error, Result};
use epc_core::contract;
use epc_core::layout::{Layout, StateSpec};
use epc_exporter::onnx::{Initializer, ModelFile};
use ndarray::Array2;
use ort::session::Session;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A loaded step model, ready to run batches of sequences.
pub struct StepModel {
    path: PathBuf,
    sha256: String,
    session: Session,
    provider: ExecutionProvider,
    version: Version,
    n_in: usize,
    n_units: usize,
    states: Vec<StateSpec>,
    fixed_batch: Option<usize>,
    has_act: bool,
    optional: Vec<&'static str>,
    weights: Option<Array2<f32>>,
    metadata: BTreeMap<String, String>,
    layout: Layout,
    batch_size: usize,
    notes: Vec<String>,
    prepared: Vec<run::Prepared>,
}

impl fmt::Debug for StepModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepModel")
            .field("path", &self.path)
            .field("contract", &self.version)
            .field("provider", &self.provider)
            .field("n_in", &self.n_in)
            .field("states", &self.states)
            .field("n_units", &self.n_units)
            .field("has_w", &self.weights.is_some())
            .finish()
    }
}

/// A model file that could be read but breaks the contract: every violation, one line each.
pub type Violations = Vec<String>;

/// How a derived model differs from the model file it is derived from (see
/// [`StepModel::derive`]); the ONNX side is [`ModelFile::shuffled_bytes`] and
/// [`ModelFile::with_initializer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Derive<'a> {
    /// The shuffled-weights control: every float32 initializer of at least 2 values permuted
    /// within itself, seeded by `seed` and the initializer's name.
    Shuffled {
        /// The shuffle's seed (the same seed gives the same model).
        seed: u64,
    },
    /// The float32 initializer `name` with its values replaced by `data` (row-major, the same
    /// length; the dims stay): a lesioned connection, say, with `W`'s entry set to 0.
    Initializer {
        /// The initializer (for instance [`contract::INITIALIZER_W`]).
        name: &'a str,
        /// Its new values.
        data: &'a [f32],
    },
}

impl Derive<'_> {
    /// The label the derived model of the file `path` goes by: `path#shuffled-<seed>`, or
    /// `path#replaced-<name>`.
    pub fn label(&self, path: &Path) -> PathBuf {
        let tag = match self {
            Derive::Shuffled { seed } => format!("shuffled-{seed}"),
            Derive::Initializer { name, .. } => format!("replaced-{name}"),
        };
        let mut label = path.as_os_str().to_os_string();
        label.push(format!("#{tag}"));
        PathBuf::from(label)
    }
}

/// Refuses engine options no model can run with.
fn check_options(opts: &EngineOptions) -> Result<()> {
    if opts.batch_size == 0 {
        return Err(Error::Input(
            "the engine's batch size must be positive".into(),
        ));
    }
    Ok(())
}

impl StepModel {
    /// Loads and checks a step model (v1 or v2).
    ///
    /// Errors (one line, naming the file) for a file that is not ONNX, any contract violation
    /// (all of them, joined by `; `), a failed probe step, or an execution provider that was
    /// named explicitly but cannot start.
    pub fn load(path: &Path, opts: &EngineOptions) -> Result<StepModel> {
        Self::open(path, opts)?.map_err(|v| Error::model(path, v.join("; ")))
    }

    /// Loads and checks a step model held in memory, exactly as [`StepModel::load`] loads a
    /// file (contract check, probe steps, `W`, layout, notes), for models derived in memory
    /// (a shuffled control, a lesioned connection; see [`StepModel::derive`]). `label` stands
    /// for the file: [`StepModel::path`] returns it and errors name it (say
    /// `runs/x/seed-0/model.onnx#shuffled-1`); [`StepModel::sha256`] is the hash of `bytes`.
    /// Errors as [`StepModel::load`].
    pub fn load_bytes(label: &Path, bytes: &[u8], opts: &EngineOptions) -> Result<StepModel> {
        Self::open_bytes(label, bytes, opts)?.map_err(|v| Error::model(label, v.join("; ")))
    }

    /// Loads a step model and checks it against its contract: `Ok(Err(violations))` for a
    /// model that can be read but breaks the contract (what `epc check-model` lists); `Err`
    /// for a file that cannot be read as ONNX at all, or a provider that cannot start.
    pub fn open(
        path: &Path,
        opts: &EngineOptions,
    ) -> Result<std::result::Result<StepModel, Violations>> {
        check_options(opts)?;
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::open_from(path, &bytes, providers::Source::File, opts)
    }

    /// [`StepModel::open`] of a model held in memory, labelled `label` (see
    /// [`StepModel::load_bytes`]).
    pub fn open_bytes(
        label: &Path,
        bytes: &[u8],
        opts: &EngineOptions,
    ) -> Result<std::result::Result<StepModel, Violations>> {
        check_options(opts)?;
        Self::open_from(label, bytes, providers::Source::Memory(bytes), opts)
    }

    /// A model derived in memory from the model file at `path` ([`Derive`]), loaded as
    /// [`StepModel::load_bytes`] loads it, under the label [`Derive::label`]. Errors (one line
    /// naming `path` or the label) for a file that cannot be read, a derivation the model does
    /// not allow (no initializer of that name or length; nothing to shuffle), and as
    /// [`StepModel::load`].
    pub fn derive(path: &Path, how: Derive<'_>, opts: &EngineOptions) -> Result<StepModel> {
        check_options(opts)?;
        let file = ModelFile::read(path).map_err(Error::model_file)?;
        let bytes = match how {
            Derive::Shuffled { seed } => {
                let (bytes, permuted) = file.shuffled_bytes(seed).map_err(Error::model_file)?;
                if permuted == 0 {
                    return Err(Error::model(
                        path,
                        "no float32 initializer of 2 values or more to shuffle (weights held in nodes are not shuffled)",
                    ));
                }
                bytes
            }
            Derive::Initializer { name, data } => file
                .with_initializer(name, data)
                .map_err(Error::model_file)?,
        };
        drop(file);
        Self::load_bytes(&how.label(path), &bytes, opts)
    }

    /// The untrained network of the trained step model at `path`: its sibling
    /// `model.untrained.onnx` (or `model.untrained.v2.onnx`) in the instance folder
    /// ([`epc_core::run::untrained_model_for`]), loaded; `Ok(None)` where there is none (a run
    /// from before the initial weights were kept). Errors as [`StepModel::load`].
    pub fn untrained(path: &Path, opts: &EngineOptions) -> Result<Option<StepModel>> {
        epc_core::run::untrained_model_for(path)
            .map(|p| Self::load(&p, opts))
            .transpose()
    }

    /// The shared body of [`StepModel::open`] and [`StepModel::open_bytes`]: `bytes` are the
    /// model's, `path` names it, and `source` says where ONNX Runtime reads it from.
    fn open_from(
        path: &Path,
        bytes: &[u8],
        source: providers::Source<'_>,
        opts: &EngineOptions,
    ) -> Result<std::result::Result<StepModel, Violations>> {
        let sha256 = epc_core::data::fetch::sha256_hex(bytes);
        let file = ModelFile::from_bytes(path, bytes).map_err(Error::model_file)?;
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
        if let Err(e) = check::version(&metadata) {
            return Ok(Err(vec![e]));
        }
        let created = match providers::create_session(path, source, opts) {
            Ok(c) => c,
            Err(Error::Model { reason, .. }) => return Ok(Err(vec![reason])),
            Err(e) => return Err(e),
        };
        notes.extend(created.notes);
        let iface = match check::interface(
            &created.session,
            &metadata,
            w.as_ref().and_then(|t| t.dims.first().copied()),
        ) {
            Ok(i) => i,
            Err(v) => return Ok(Err(v)),
        };
        let mut model = StepModel {
            path: path.to_path_buf(),
            sha256,
            session: created.session,
            provider: created.provider,
            version: iface.version,
            n_in: iface.n_in,
            n_units: iface.n_units.unwrap_or(0),
            states: iface.states,
            fixed_batch: iface.fixed_batch,
            has_act: iface.has_act,
            optional: iface.optional,
            weights: None,
            metadata,
            layout: Layout::step_v1(0, 0, 0),
            batch_size: opts.batch_size,
            notes,
            prepared: Vec::new(),
        };
        let mut problems = model.probe();
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
        let n_units = model.n_units;
        match model.version {
            Version::V1 => {
                model.layout = Layout::step_v1(model.n_in, model.states[0].size, n_units);
                if !model.has_act && model.states[0].size != n_units {
                    problems.push(format!(
                        "without an `act` output, h_next must have as many entries as preact ({} vs {n_units})",
                        model.states[0].size
                    ));
                }
            }
            Version::V2 => {
                match Layout::from_metadata(
                    &model.metadata,
                    model.states.clone(),
                    model.n_in,
                    n_units,
                ) {
                    Ok(l) => model.layout = l,
                    Err(v) => problems.extend(v),
                }
            }
        }
        if let Some(t) = w {
            let rows = model.states[0].size;
            let want = match model.version {
                Version::V1 => [rows, n_units],
                Version::V2 => [n_units, n_units],
            };
            if t.dims == want {
                model.weights =
                    Some(Array2::from_shape_vec((want[0], want[1]), t.data).expect("dims checked"));
            } else {
                problems.push(format!(
                    "initializer W has dims {:?}; the contract needs {want:?}",
                    t.dims
                ));
            }
        }
        if problems.is_empty() {
            Ok(Ok(model))
        } else {
            Ok(Err(problems))
        }
    }

    /// The model file (for a model loaded from memory, its label).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SHA-256 (hex) of the model file (or bytes) as it was loaded.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The contract the model follows.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The execution provider the session actually runs on.
    pub fn provider(&self) -> ExecutionProvider {
        self.provider
    }

    /// Values per frame (`x` is `[batch, n_in]`).
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// State entries over all state tensors (the length of a lesion mask).
    pub fn n_state(&self) -> usize {
        self.layout.state_len()
    }

    /// Units reported in `preact` and `act`.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// True when the model declares an `act` output (otherwise the activity is `h_next`).
    pub fn has_act(&self) -> bool {
        self.has_act
    }

    /// The optional per-unit outputs (`drive_in`, `drive_rec`, `transmission`) the model has.
    pub fn optional_outputs(&self) -> &[&'static str] {
        &self.optional
    }

    /// The model's unit layout (for a step-v1 model, the one [`Layout::step_v1`] implies).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The recurrent weights `W` (`[n_state, n_units]` for step-v1, `[n_units, n_units]` for
    /// step-v2), read from the file's initializer of that name; `None` where the model has none.
    pub fn recurrent_weights(&self) -> Option<&Array2<f32>> {
        self.weights.as_ref()
    }

    /// True for the paper's kind of network, whatever the contract version: one population,
    /// unit i fed by pixel i and owning entry i of the only state tensor, which has one entry
    /// per unit. The analyses that read `W` as unit-to-unit weights or take `preact - x` as
    /// the internal drive apply to such models only.
    pub fn paper_shaped(&self) -> bool {
        let n = self.n_units;
        let l = &self.layout;
        l.states.len() == 1
            && l.states[0].size == n
            && self.n_in == n
            && l.populations.len() == 1
            && l.populations[0].pixels == Some([0, n])
            && l.populations[0].state.get(&l.states[0].name) == Some(&[0, n])
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
}
