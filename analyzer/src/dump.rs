//! `epc dump` as a library call: a model's activations on the analysis sequences, written as
//! an HDF5 file (schema in `epc_exporter::h5`), with the sequence set that was actually drawn.

use crate::engine::{Activations, EngineOptions, StepModel};
use crate::options::Lesion;
use crate::pipeline::{check_fit, lesion_seed, prediction_units_of};
use crate::sequences::{frames, labels, test_set, SetInfo, STEPS};
use crate::{analysis, Error, Result};
use epc_core::data::{self, DataSource, DatasetKind, Images};
use epc_exporter::h5::{ActivationDump, DumpAttributes};
use ndarray::{Array2, Array3};
use std::path::PathBuf;

/// What [`dump`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpOptions {
    /// The step-v1 model.
    pub model: PathBuf,
    /// The data set whose test split is run (`None`: the model's `epc.dataset`, else digits).
    pub dataset: Option<DatasetKind>,
    /// Where the data set's files are (`None`: embedded digits or the download cache).
    pub data_dir: Option<PathBuf>,
    /// Intact, or which units to silence.
    pub lesion: Lesion,
    /// Seed of the sequences (and of the random lesion), as `epc analyze --seed`.
    pub seed: u64,
    /// The HDF5 file (written atomically).
    pub out: PathBuf,
    /// Engine settings.
    pub engine: EngineOptions,
}

/// What [`dump`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpOutcome {
    /// The file.
    pub path: PathBuf,
    /// The data set run.
    pub dataset: DatasetKind,
    /// The sequence set drawn.
    pub set: SetInfo,
    /// Units of the model.
    pub units: usize,
    /// Units silenced.
    pub lesioned: Vec<usize>,
    /// What loading the model noticed (see [`StepModel::notes`]).
    pub notes: Vec<String>,
}

/// The test sequences of a run, its activations and the units it silenced.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// Frames `[steps, seqs, dim]`.
    pub x: Array3<f32>,
    /// Class of every frame `[seqs, steps]`.
    pub labels: Array2<u8>,
    /// The sequence set drawn.
    pub set: SetInfo,
    /// The activations.
    pub activations: Activations,
    /// The lesioned units (empty when intact).
    pub lesioned: Vec<usize>,
}

/// Runs the test sequences of [`crate::analyze`] (same seed, same sequences) through `model`,
/// intact or lesioned; a lesion first finds the prediction units as [`crate::analyze`] does (on
/// the class sets). The random lesion uses the seed [`crate::analyze`] uses for the first model.
pub fn run_test_sequences(
    model: &mut StepModel,
    test: &Images,
    seed: u64,
    lesion: Lesion,
) -> Result<TestRun> {
    check_fit(model, test)?;
    let spec = test_set(test, seed)?;
    let x = frames(test, &spec.seqs, STEPS);
    let set_labels = labels(&spec.seqs);
    if lesion == Lesion::None {
        return Ok(TestRun {
            activations: model.run(x.view(), None)?,
            x,
            labels: set_labels,
            set: spec.info,
            lesioned: Vec::new(),
        });
    }
    let n = model.n_state();
    if model.n_units() != n {
        return Err(Error::model(
            model.path(),
            "lesions need as many units as state entries",
        ));
    }
    let pred = prediction_units_of(model, test, seed)?;
    let units = match lesion {
        Lesion::Prediction => pred,
        _ => analysis::random_units(&pred, n, pred.len(), lesion_seed(seed, 0)),
    };
    let mask = analysis::lesion_mask(&units, n);
    let activations = model.run(x.view(), Some(&mask))?;
    Ok(TestRun {
        x,
        labels: set_labels,
        set: spec.info,
        activations,
        lesioned: units,
    })
}

/// Runs the model over the test sequences and writes the dump (see the module docs).
pub fn dump(opts: &DumpOptions) -> Result<DumpOutcome> {
    let mut model = StepModel::load(&opts.model, &opts.engine)?;
    let kind = opts
        .dataset
        .or_else(|| epc_core::contract::dataset_of(model.metadata()))
        .unwrap_or(DatasetKind::Digits);
    let ds = data::load(&DataSource::new(kind, opts.data_dir.clone()))?;
    let run = run_test_sequences(&mut model, &ds.test, opts.seed, opts.lesion)?;
    let bytes = std::fs::read(&opts.model).map_err(|e| Error::io(&opts.model, e))?;
    let meta: Vec<(String, String)> = model
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (steps, sequences, n_in) = run.x.dim();
    let units = run.activations.preact.dim().2;
    let mask = (opts.lesion != Lesion::None).then(|| analysis::lesion_mask(&run.lesioned, units));
    let sequence_json = serde_json::to_string(&run.set)
        .map_err(|e| Error::Input(format!("cannot serialise the sequence set: {e}")))?;
    let dump = ActivationDump {
        steps,
        sequences,
        n_in,
        units,
        input: run.x.iter().copied().collect(),
        preact: run.activations.preact.iter().copied().collect(),
        act: run.activations.act.iter().copied().collect(),
        labels: run.labels.iter().map(|&l| l as i32).collect(),
        lesion_mask: mask,
        attrs: DumpAttributes {
            model_path: opts.model.display().to_string(),
            model_sha256: data::fetch::sha256_hex(&bytes),
            contract: model
                .metadata()
                .get(epc_core::contract::META_CONTRACT)
                .cloned()
                .unwrap_or_default(),
            model_metadata_json: epc_exporter::onnx::metadata_json(&meta),
            dataset: kind.name().into(),
            split: "test".into(),
            sequence_json,
            seed: opts.seed,
            toolkit_version: epc_core::TOOLKIT_VERSION.into(),
            created_utc: epc_exporter::utc_now(),
            lesion: format!("{} ({} units)", opts.lesion, run.lesioned.len()),
        },
    };
    epc_exporter::h5::write_dump(&opts.out, &dump)?;
    Ok(DumpOutcome {
        path: opts.out.clone(),
        dataset: kind,
        set: run.set,
        units,
        lesioned: run.lesioned,
        notes: model.notes().to_vec(),
    })
}
