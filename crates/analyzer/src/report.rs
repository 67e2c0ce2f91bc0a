//! The complete analysis of one or several models, written atomically to a folder.
//!
//! Data: the official test split for every analysis; the official training split (all of it)
//! for the median images of the reference curves. Sequences: length 10, ascending class order,
//! drawn by [`SequenceSampler`] from `seed` (epoch 0): the test set (random start classes), the
//! distractor set (frame index 8 replaced) and the deterministic set (start class 0, exemplars in
//! data-set order; its first sequence is "the sequence 0..9" of the drive figures).

use crate::analysis::{self, DriveCurves, EnergyCurves, ReferenceCurves, UnitType, MEASURES};
use crate::engine::{Activations, EngineOptions, StepModel};
use crate::figures::{self, ImageRows, Line, Panel, PALETTE};
use crate::stats::{self, Interval};
use crate::{Error, Result};
use epc_core::data::{DataSource, Dataset, DatasetKind, ImageShape, Images};
use epc_core::sequence::{Batch, Sequence, SequenceConfig, SequenceSampler};
use epc_core::{fsutil, NUM_CLASSES};
use ndarray::{s, Array2, Array3, ArrayView3, Axis};
use plotters::style::RGBColor;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Instant;

/// Frames per analysed sequence.
pub const STEPS: usize = 10;
/// 0-based frame index replaced in the error-unit test.
pub const DISTRACTOR_AT: usize = 8;

/// What [`analyze`] does.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// The step-v1 ONNX models (several: instances of one run, summarised with CIs).
    pub models: Vec<PathBuf>,
    /// The data set the models were trained on.
    pub dataset: DatasetKind,
    /// Where the data set's files are (`None`: embedded digits or the download cache).
    pub data_dir: Option<PathBuf>,
    /// The report folder (replaced atomically when everything succeeded).
    pub out: PathBuf,
    /// Engine settings.
    pub engine: EngineOptions,
    /// Seed of the sequences, the random lesion and the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples of the across-model CIs (10,000).
    pub bootstrap: usize,
    /// Draw the figures (PNG and SVG).
    pub figures: bool,
}

impl AnalysisOptions {
    /// Options with the defaults: seed 0, 10,000 resamples, figures on, default engine.
    pub fn new(models: Vec<PathBuf>, dataset: DatasetKind, out: PathBuf) -> Self {
        Self {
            models,
            dataset,
            data_dir: None,
            out,
            engine: EngineOptions::default(),
            seed: 0,
            bootstrap: 10_000,
            figures: true,
        }
    }
}

/// Which units a run silences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lesion {
    /// Intact network.
    #[default]
    None,
    /// All prediction units zeroed before every step.
    Prediction,
    /// As many random non-prediction units zeroed (seeded).
    Random,
}

impl Lesion {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lesion::None => "none",
            Lesion::Prediction => "prediction",
            Lesion::Random => "random",
        }
    }
}

impl std::fmt::Display for Lesion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Lesion {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" | "intact" => Ok(Lesion::None),
            "prediction" => Ok(Lesion::Prediction),
            "random" => Ok(Lesion::Random),
            other => Err(Error::Input(format!(
                "unknown lesion {other:?} (choose none, prediction or random)"
            ))),
        }
    }
}

/// A model's identity in the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelInfo {
    /// Short unique name used as the key everywhere else.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Execution provider used.
    pub provider: String,
    /// Values per frame.
    pub n_in: usize,
    /// State entries.
    pub n_state: usize,
    /// Units.
    pub n_units: usize,
    /// Whether the file has the recurrent weights `W` (needed for `st`, `ec`, postsynaptic drive).
    pub has_w: bool,
    /// The model's metadata (`epc.*`).
    pub metadata: BTreeMap<String, String>,
}

/// Units flagged per class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitSet {
    /// Units flagged for at least one class.
    pub count: usize,
    /// Those units, ascending.
    pub indices: Vec<usize>,
    /// Units flagged for each class 0..9.
    pub per_class: Vec<usize>,
}

impl UnitSet {
    fn from_flags(flags: &[Vec<bool>]) -> Self {
        let indices = analysis::any_class(flags);
        Self {
            count: indices.len(),
            indices,
            per_class: flags
                .iter()
                .map(|f| f.iter().filter(|&&b| b).count())
                .collect(),
        }
    }
}

/// A per-step mean with its bootstrap 95% CI across models.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CiCurve {
    /// Mean across models.
    pub mean: Vec<f64>,
    /// Lower bound.
    pub lo: Vec<f64>,
    /// Upper bound.
    pub hi: Vec<f64>,
}

/// Curves per measure, then per model.
pub type MeasureCurves = BTreeMap<String, BTreeMap<String, Vec<f64>>>;

/// The lesion study.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LesionSummary {
    /// Units silenced per model (= its prediction-unit count).
    pub size: BTreeMap<String, usize>,
    /// The random non-prediction units silenced per model.
    pub random_units: BTreeMap<String, Vec<usize>>,
    /// Energy per measure, per model, with the prediction units lesioned.
    pub prediction: MeasureCurves,
    /// Energy per measure, per model, with random units lesioned.
    pub random: MeasureCurves,
    /// With several models: condition (`intact`, `prediction`, `random`) → measure → CI curve.
    pub ci: Option<BTreeMap<String, BTreeMap<String, CiCurve>>>,
}

/// Drive curves of one model on the deterministic set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriveSummary {
    /// Intact network.
    pub intact: DriveCurves,
    /// Prediction units lesioned.
    pub prediction_lesion: Option<DriveCurves>,
    /// Random units lesioned.
    pub random_lesion: Option<DriveCurves>,
}

/// Postsynaptic drive h_i * sum_j W_ij after k = 0..9 preceding frames (deterministic set).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Postsynaptic {
    /// Mean over the prediction units (`None` when there are none).
    pub prediction: Option<Vec<f64>>,
    /// Mean over the error units of class 0 (`None` when there are none).
    pub error_class0: Option<Vec<f64>>,
}

/// Numbers of sequences analysed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SequenceCounts {
    /// Test sequences (random start class).
    pub test: usize,
    /// Distractor sequences.
    pub distractor: usize,
    /// Deterministic sequences 0..9.
    pub deterministic: usize,
}

/// Everything `summary.json` holds (its schema; see the README).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Toolkit version.
    pub toolkit_version: String,
    /// Data set name.
    pub dataset: String,
    /// Seed of sequences, random lesions and bootstrap.
    pub seed: u64,
    /// Steps per sequence.
    pub steps: usize,
    /// Sequences analysed.
    pub sequences: SequenceCounts,
    /// The models.
    pub models: Vec<ModelInfo>,
    /// Energy per measure (`pre`, `ap`, `st`, `ec`), per model, one value per step.
    pub energy: MeasureCurves,
    /// With several models: measure → mean and bootstrap 95% CI across models.
    pub energy_ci: Option<BTreeMap<String, CiCurve>>,
    /// Reference curves (`input`, `dataset_median`, `category_median`).
    pub reference: ReferenceCurves,
    /// Prediction units per model.
    pub prediction_units: BTreeMap<String, UnitSet>,
    /// Error units per model.
    pub error_units: BTreeMap<String, UnitSet>,
    /// Count per unit type, per model.
    pub unit_types: BTreeMap<String, BTreeMap<String, usize>>,
    /// Median input-pixel variance (test images) per unit type, per model.
    pub input_variance: BTreeMap<String, BTreeMap<String, Option<f64>>>,
    /// The lesion study.
    pub lesion: LesionSummary,
    /// Input, internal and total drive per step on the deterministic set, per model.
    pub drive: BTreeMap<String, DriveSummary>,
    /// Postsynaptic drive per model.
    pub postsynaptic: BTreeMap<String, Postsynaptic>,
    /// Analyses skipped and why.
    pub notes: Vec<String>,
    /// Wall time of the analysis in seconds.
    pub elapsed_s: f64,
}

/// Sequences as arrays: `x` `[steps, seqs, dim]`, `labels` `[seqs, steps]`.
struct SeqSet {
    x: Array3<f32>,
    labels: Array2<u8>,
}

/// Fewest test sequences the per-class statistics are computed on: a small test split (the
/// 360 digits give 33 sequences an epoch, about 3 per class) is drawn for several epochs,
/// each a fresh draw of start classes and exemplars, until there are this many.
pub const MIN_SEQUENCES: usize = 400;

/// Most epochs drawn to reach [`MIN_SEQUENCES`].
pub const MAX_EPOCHS: u64 = 20;

/// The sequences the analyses use: epochs 0, 1, ... of `seed` until [`MIN_SEQUENCES`] are
/// drawn (one epoch when exemplars are not shuffled, since every epoch would be the same).
pub fn draw_sequences(images: &Images, cfg: SequenceConfig, seed: u64) -> Result<Vec<Sequence>> {
    let epochs = if cfg.shuffle { MAX_EPOCHS } else { 1 };
    let sampler = SequenceSampler::new(images, cfg, seed)?;
    let mut seqs = Vec::new();
    for e in 0..epochs {
        seqs.extend(sampler.epoch(e));
        if seqs.len() >= MIN_SEQUENCES {
            break;
        }
    }
    Ok(seqs)
}

fn sequence_set(images: &Images, cfg: SequenceConfig, seed: u64) -> Result<SeqSet> {
    let seqs = draw_sequences(images, cfg, seed)?;
    if seqs.is_empty() {
        return Err(Error::Input("the test split yields no sequence".into()));
    }
    let b = Batch::from_sequences(images, &seqs);
    let x = Array3::from_shape_vec((b.steps, b.batch, b.dim), b.x).expect("batch layout");
    let labels = Array2::from_shape_vec((b.batch, b.steps), b.labels).expect("batch layout");
    Ok(SeqSet { x, labels })
}

fn test_config() -> SequenceConfig {
    SequenceConfig {
        length: STEPS,
        ..SequenceConfig::default()
    }
}

fn lesion_seed(seed: u64, model_index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(model_index as u64 + 1)
}

/// The test sequences of a run, its activations and the units it silenced.
#[derive(Debug, Clone)]
pub struct TestRun {
    /// Frames `[steps, seqs, dim]`.
    pub x: Array3<f32>,
    /// Class of every frame `[seqs, steps]`.
    pub labels: Array2<u8>,
    /// The activations.
    pub activations: Activations,
    /// The lesioned units (empty when intact).
    pub lesioned: Vec<usize>,
}

/// Runs the test sequences of [`analyze`] (same seed, same sequences) through `model`, intact
/// or lesioned; a lesion first finds the prediction units with an intact run. The random
/// lesion uses the seed [`analyze`] uses for the first model.
pub fn run_test_sequences(
    model: &mut StepModel,
    test: &Images,
    seed: u64,
    lesion: Lesion,
) -> Result<TestRun> {
    check_fit(model, test)?;
    let set = sequence_set(test, test_config(), seed)?;
    let intact = model.run(set.x.view(), None)?;
    if lesion == Lesion::None {
        return Ok(TestRun {
            x: set.x,
            labels: set.labels,
            activations: intact,
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
    let last: Vec<u8> = set.labels.column(STEPS - 1).to_vec();
    let pred = analysis::any_class(&analysis::prediction_units(
        intact.preact.index_axis(Axis(0), STEPS - 1),
        &last,
    ));
    let units = match lesion {
        Lesion::Prediction => pred,
        _ => analysis::random_units(&pred, n, pred.len(), lesion_seed(seed, 0)),
    };
    let mask = analysis::lesion_mask(&units, n);
    let activations = model.run(set.x.view(), Some(&mask))?;
    Ok(TestRun {
        x: set.x,
        labels: set.labels,
        activations,
        lesioned: units,
    })
}

fn check_fit(model: &StepModel, images: &Images) -> Result<()> {
    if model.n_in() != images.dim() {
        return Err(Error::Input(format!(
            "{}: the model takes {} values per frame but the data set's images have {} pixels ({:?})",
            model.path().display(),
            model.n_in(),
            images.dim(),
            images.shape
        )));
    }
    Ok(())
}

/// Shared inputs of every model's analysis.
struct Context {
    shape: ImageShape,
    test: SeqSet,
    distractor: SeqSet,
    distractor_expected: Vec<u8>,
    det: SeqSet,
    pixel_var: Vec<f64>,
}

/// Images of the first deterministic sequence, one per step.
struct DriveImages {
    input: Vec<Vec<f32>>,
    internal: Vec<Vec<f32>>,
    total: Vec<Vec<f32>>,
    internal_prediction: Option<Vec<Vec<f32>>>,
    internal_random: Option<Vec<Vec<f32>>>,
}

struct ModelResult {
    info: ModelInfo,
    energy: EnergyCurves,
    pred: Vec<Vec<bool>>,
    err: Vec<Vec<bool>>,
    types: Vec<UnitType>,
    variance: Option<BTreeMap<String, Option<f64>>>,
    lesion: Option<(Vec<usize>, EnergyCurves, EnergyCurves)>,
    drive: Option<DriveSummary>,
    images: Option<DriveImages>,
    postsynaptic: Option<Postsynaptic>,
}

fn images_of(x: ArrayView3<f32>, seq: usize) -> Vec<Vec<f32>> {
    (0..x.dim().0)
        .map(|t| x.slice(s![t, seq, ..]).to_vec())
        .collect()
}

fn internal_images(x: ArrayView3<f32>, preact: ArrayView3<f32>) -> Vec<Vec<f32>> {
    (0..x.dim().0)
        .map(|t| {
            preact
                .slice(s![t, 0, ..])
                .iter()
                .zip(x.slice(s![t, 0, ..]).iter())
                .map(|(a, b)| a - b)
                .collect()
        })
        .collect()
}

fn analyze_model(
    index: usize,
    name: String,
    model: &mut StepModel,
    opts: &AnalysisOptions,
    ctx: &Context,
    notes: &mut Vec<String>,
) -> Result<ModelResult> {
    let path = model.path().to_path_buf();
    let path = path.as_path();
    let dim = ctx.shape.len();
    if model.n_in() != dim {
        return Err(Error::Input(format!(
            "{}: the model takes {} values per frame but {} images have {dim} pixels",
            path.display(),
            model.n_in(),
            opts.dataset
        )));
    }
    let n = model.n_units();
    let square = n == model.n_state();
    let w = model.recurrent_weights().cloned();
    let wv = w.as_ref().map(|w| w.view());
    if w.is_none() {
        notes.push(format!(
            "{name}: no initializer W, so st, ec and the postsynaptic drive are omitted"
        ));
    }
    let info = ModelInfo {
        name: name.clone(),
        path: path.to_path_buf(),
        provider: model.provider().to_string(),
        n_in: model.n_in(),
        n_state: model.n_state(),
        n_units: n,
        has_w: w.is_some(),
        metadata: model.metadata().clone(),
    };

    let intact = model.run(ctx.test.x.view(), None)?;
    let energy = analysis::energy_curves(intact.preact.view(), wv);
    let last: Vec<u8> = ctx.test.labels.column(STEPS - 1).to_vec();
    let pred = analysis::prediction_units(intact.preact.index_axis(Axis(0), STEPS - 1), &last);
    let distr = model.run(ctx.distractor.x.view(), None)?;
    let shown: Vec<u8> = ctx.test.labels.column(DISTRACTOR_AT).to_vec();
    let z = analysis::error_z(
        intact.act.index_axis(Axis(0), DISTRACTOR_AT),
        &shown,
        distr.act.index_axis(Axis(0), DISTRACTOR_AT),
        &ctx.distractor_expected,
    );
    drop((intact, distr));
    let err = analysis::error_units(&z);
    let types = analysis::classify(&pred, &err);
    let variance = (n == dim).then(|| analysis::variance_by_type(&types, &ctx.pixel_var));
    let pred_units = analysis::any_class(&pred);

    let det_intact = model.run(ctx.det.x.view(), None)?;
    let mut drive = (n == dim).then(|| DriveSummary {
        intact: analysis::drive_curves(ctx.det.x.view(), det_intact.preact.view()),
        prediction_lesion: None,
        random_lesion: None,
    });
    let mut images = (n == dim).then(|| DriveImages {
        input: images_of(ctx.det.x.view(), 0),
        internal: internal_images(ctx.det.x.view(), det_intact.preact.view()),
        total: images_of(det_intact.preact.view(), 0),
        internal_prediction: None,
        internal_random: None,
    });
    if n != dim {
        notes.push(format!("{name}: {n} units but {dim} pixels, so the drive images, unit map and pixel variance are omitted"));
    }

    let lesion = if square {
        let random = analysis::random_units(
            &pred_units,
            n,
            pred_units.len(),
            lesion_seed(opts.seed, index),
        );
        let mp = analysis::lesion_mask(&pred_units, n);
        let mr = analysis::lesion_mask(&random, n);
        let lp = model.run(ctx.test.x.view(), Some(&mp))?;
        let ep = analysis::energy_curves(lp.preact.view(), wv);
        drop(lp);
        let lr = model.run(ctx.test.x.view(), Some(&mr))?;
        let er = analysis::energy_curves(lr.preact.view(), wv);
        drop(lr);
        if n == dim {
            let dp = model.run(ctx.det.x.view(), Some(&mp))?;
            let dr = model.run(ctx.det.x.view(), Some(&mr))?;
            if let Some(d) = drive.as_mut() {
                d.prediction_lesion =
                    Some(analysis::drive_curves(ctx.det.x.view(), dp.preact.view()));
                d.random_lesion = Some(analysis::drive_curves(ctx.det.x.view(), dr.preact.view()));
            }
            if let Some(im) = images.as_mut() {
                im.internal_prediction = Some(internal_images(ctx.det.x.view(), dp.preact.view()));
                im.internal_random = Some(internal_images(ctx.det.x.view(), dr.preact.view()));
            }
        }
        Some((random, ep, er))
    } else {
        notes.push(format!(
            "{name}: {n} units but {} state entries, so the lesion study is omitted",
            model.n_state()
        ));
        None
    };

    let postsynaptic = match (&w, square) {
        (Some(w), true) => {
            let err0: Vec<usize> = (0..n).filter(|&i| err[0][i]).collect();
            let pd = |units: &[usize]| {
                (!units.is_empty()).then(|| {
                    analysis::postsynaptic_drive(det_intact.act.view(), w.view(), units, None)
                })
            };
            Some(Postsynaptic {
                prediction: pd(&pred_units),
                error_class0: pd(&err0),
            })
        }
        _ => None,
    };
    Ok(ModelResult {
        info,
        energy,
        pred,
        err,
        types,
        variance,
        lesion,
        drive,
        images,
        postsynaptic,
    })
}

/// Short unique names: file stems, else parent/stem, else numbered.
fn model_names(paths: &[PathBuf]) -> Vec<String> {
    let stem = |p: &Path| {
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into())
    };
    let unique = |v: &[String]| {
        let mut s = v.to_vec();
        s.sort();
        s.dedup();
        s.len() == v.len()
    };
    let stems: Vec<String> = paths.iter().map(|p| stem(p)).collect();
    if unique(&stems) {
        return stems;
    }
    let with_parent: Vec<String> = paths
        .iter()
        .map(|p| match p.parent().and_then(|d| d.file_name()) {
            Some(d) => format!("{}/{}", d.to_string_lossy(), stem(p)),
            None => stem(p),
        })
        .collect();
    if unique(&with_parent) {
        return with_parent;
    }
    stems
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{i}-{s}"))
        .collect()
}

/// Per-step CI across models of curves that all models have.
fn ci_curve(curves: &[&Vec<f64>], resamples: usize, seed: u64) -> CiCurve {
    let steps = curves.first().map_or(0, |c| c.len());
    let mut out = CiCurve {
        mean: Vec::new(),
        lo: Vec::new(),
        hi: Vec::new(),
    };
    for t in 0..steps {
        let v: Vec<f64> = curves.iter().map(|c| c[t]).collect();
        let Interval { mean, lo, hi } =
            stats::bootstrap_mean_ci(&v, resamples, seed.wrapping_add(t as u64));
        out.mean.push(mean);
        out.lo.push(lo);
        out.hi.push(hi);
    }
    out
}

fn measure_map<'a>(
    names: &[String],
    curves: impl Fn(usize) -> Option<&'a EnergyCurves>,
) -> MeasureCurves {
    let mut out = MeasureCurves::new();
    for m in MEASURES {
        let mut per = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            if let Some(c) = curves(i).and_then(|e| e.get(m)) {
                per.insert(name.clone(), c.clone());
            }
        }
        if !per.is_empty() {
            out.insert(m.to_string(), per);
        }
    }
    out
}

/// CI per measure over the models that all have the measure (with at least 2 models).
fn measure_ci(
    map: &MeasureCurves,
    n_models: usize,
    resamples: usize,
    seed: u64,
) -> BTreeMap<String, CiCurve> {
    map.iter()
        .filter(|(_, per)| per.len() == n_models && n_models > 1)
        .map(|(m, per)| {
            (
                m.clone(),
                ci_curve(&per.values().collect::<Vec<_>>(), resamples, seed),
            )
        })
        .collect()
}

/// Removes a half-written temporary folder unless the report was committed.
struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Runs every analysis of SPEC.md sections 5-6 on `opts.models` and writes the report to
/// `opts.out` (see [`analyze_data`]); loads the data set first.
pub fn analyze(opts: &AnalysisOptions) -> Result<Summary> {
    let models = load_models(opts)?;
    let out = prepare_out(&opts.out)?;
    let data = epc_core::data::load(&DataSource::new(opts.dataset, opts.data_dir.clone()))?;
    analyze_into(opts, &data, models, out)
}

/// Loads and checks every model before any heavy work, so a bad file fails fast.
fn load_models(opts: &AnalysisOptions) -> Result<Vec<StepModel>> {
    if opts.models.is_empty() {
        return Err(Error::Input(
            "no model to analyse (give at least one --model)".into(),
        ));
    }
    opts.models
        .iter()
        .map(|p| StepModel::load(p, &opts.engine))
        .collect()
}

/// [`analyze`] on a data set already in memory (`opts.dataset` and `opts.data_dir` only name it).
///
/// Everything is computed first; the files are then written into a temporary folder beside
/// `opts.out`, which replaces `opts.out` in one rename. On any error nothing is left behind.
pub fn analyze_data(opts: &AnalysisOptions, data: &Dataset) -> Result<Summary> {
    let models = load_models(opts)?;
    let out = prepare_out(&opts.out)?;
    analyze_into(opts, data, models, out)
}

fn prepare_out(out: &Path) -> Result<TempDir> {
    if out.exists() && !out.is_dir() {
        return Err(Error::io(
            out,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "exists and is not a folder",
            ),
        ));
    }
    // Only an empty folder or an earlier report may be replaced: never a run or data folder.
    if out.is_dir() {
        let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        if entries.next().is_some() && !out.join("summary.json").is_file() {
            return Err(Error::io(
                out,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is neither empty nor an earlier epc report; choose another --out",
                ),
            ));
        }
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = fsutil::temp_sibling(out);
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    Ok(TempDir {
        path: tmp,
        keep: false,
    })
}

fn analyze_into(
    opts: &AnalysisOptions,
    data: &Dataset,
    mut models: Vec<StepModel>,
    mut tmp: TempDir,
) -> Result<Summary> {
    let start = Instant::now();
    let shape = data.test.shape;
    let test = sequence_set(&data.test, test_config(), opts.seed)?;
    let distractor = sequence_set(
        &data.test,
        SequenceConfig {
            distractor_at: Some(DISTRACTOR_AT),
            ..test_config()
        },
        opts.seed,
    )?;
    let distractor_expected: Vec<u8> = distractor
        .labels
        .column(DISTRACTOR_AT - 1)
        .iter()
        .map(|&c| ((c as usize + 1) % NUM_CLASSES) as u8)
        .collect();
    let det = sequence_set(
        &data.test,
        SequenceConfig {
            start_class: Some(0),
            shuffle: false,
            ..test_config()
        },
        opts.seed,
    )?;
    let (dataset_median, class_medians) = analysis::median_images(&data.train);
    let reference = analysis::reference_curves(
        test.x.view(),
        test.labels.view(),
        &dataset_median,
        &class_medians,
    );
    let ctx = Context {
        shape,
        pixel_var: analysis::pixel_variance(&data.test),
        test,
        distractor,
        distractor_expected,
        det,
    };

    let names = model_names(&opts.models);
    let mut notes = Vec::new();
    let mut results = Vec::new();
    for (i, (model, name)) in models.iter_mut().zip(&names).enumerate() {
        results.push(analyze_model(
            i,
            name.clone(),
            model,
            opts,
            &ctx,
            &mut notes,
        )?);
    }
    let nm = results.len();
    let energy = measure_map(&names, |i| Some(&results[i].energy));
    let lesion_pred = measure_map(&names, |i| results[i].lesion.as_ref().map(|l| &l.1));
    let lesion_rand = measure_map(&names, |i| results[i].lesion.as_ref().map(|l| &l.2));
    let energy_ci = (nm > 1).then(|| measure_ci(&energy, nm, opts.bootstrap, opts.seed));
    let lesion_ci = (nm > 1).then(|| {
        [
            ("intact", &energy),
            ("prediction", &lesion_pred),
            ("random", &lesion_rand),
        ]
        .into_iter()
        .map(|(k, m)| (k.to_string(), measure_ci(m, nm, opts.bootstrap, opts.seed)))
        .collect()
    });
    let summary = Summary {
        toolkit_version: epc_core::TOOLKIT_VERSION.to_string(),
        dataset: opts.dataset.name().to_string(),
        seed: opts.seed,
        steps: STEPS,
        sequences: SequenceCounts {
            test: ctx.test.x.dim().1,
            distractor: ctx.distractor.x.dim().1,
            deterministic: ctx.det.x.dim().1,
        },
        models: results.iter().map(|r| r.info.clone()).collect(),
        energy,
        energy_ci,
        reference,
        prediction_units: results
            .iter()
            .map(|r| (r.info.name.clone(), UnitSet::from_flags(&r.pred)))
            .collect(),
        error_units: results
            .iter()
            .map(|r| (r.info.name.clone(), UnitSet::from_flags(&r.err)))
            .collect(),
        unit_types: results
            .iter()
            .map(|r| (r.info.name.clone(), analysis::type_counts(&r.types)))
            .collect(),
        input_variance: results
            .iter()
            .filter_map(|r| Some((r.info.name.clone(), r.variance.clone()?)))
            .collect(),
        lesion: LesionSummary {
            size: results
                .iter()
                .filter(|r| r.lesion.is_some())
                .map(|r| (r.info.name.clone(), analysis::any_class(&r.pred).len()))
                .collect(),
            random_units: results
                .iter()
                .filter_map(|r| Some((r.info.name.clone(), r.lesion.as_ref()?.0.clone())))
                .collect(),
            prediction: lesion_pred,
            random: lesion_rand,
            ci: lesion_ci,
        },
        drive: results
            .iter()
            .filter_map(|r| Some((r.info.name.clone(), r.drive.clone()?)))
            .collect(),
        postsynaptic: results
            .iter()
            .filter_map(|r| Some((r.info.name.clone(), r.postsynaptic.clone()?)))
            .collect(),
        notes,
        elapsed_s: 0.0,
    };

    let dir = tmp.path.clone();
    write_csvs(&dir, &summary, &results)?;
    let figs = if opts.figures {
        draw_figures(
            &dir,
            &summary,
            &results,
            shape,
            &ctx.pixel_var,
            opts.bootstrap,
            opts.seed,
        )?
    } else {
        Vec::new()
    };
    std::fs::write(dir.join("report.md"), report_md(&summary, &figs))
        .map_err(|e| Error::io(dir.join("report.md"), e))?;
    let mut summary = summary;
    summary.elapsed_s = start.elapsed().as_secs_f64();
    let mut json = serde_json::to_string_pretty(&summary)
        .map_err(|e| Error::Input(format!("cannot serialise the summary: {e}")))?;
    json.push('\n');
    std::fs::write(dir.join("summary.json"), json)
        .map_err(|e| Error::io(dir.join("summary.json"), e))?;
    commit(&mut tmp, &opts.out)?;
    Ok(summary)
}

/// Moves the finished temporary folder to `out`, replacing an old report there.
fn commit(tmp: &mut TempDir, out: &Path) -> Result<()> {
    let old = out.with_file_name(format!(
        ".{}.old-{}",
        out.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp.path, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        return Err(Error::io(out, e));
    }
    tmp.keep = true;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
}

fn classes(flags: &[Vec<bool>], unit: usize) -> String {
    (0..flags.len())
        .filter(|&c| flags[c][unit])
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

fn write_csvs(dir: &Path, s: &Summary, results: &[ModelResult]) -> Result<()> {
    let mut e = String::from("step,measure,model,value\n");
    for (m, per) in &s.energy {
        for (model, curve) in per {
            for (t, v) in curve.iter().enumerate() {
                let _ = writeln!(e, "{},{m},{model},{v}", t + 1);
            }
        }
    }
    for (m, curve) in [
        ("input", &s.reference.input),
        ("dataset_median", &s.reference.dataset_median),
        ("category_median", &s.reference.category_median),
    ] {
        for (t, v) in curve.iter().enumerate() {
            let _ = writeln!(e, "{},{m},reference,{v}", t + 1);
        }
    }
    write_file(dir, "energy.csv", &e)?;

    let mut l = String::from("step,lesion,measure,model,value\n");
    for (cond, map) in [
        ("intact", &s.energy),
        ("prediction", &s.lesion.prediction),
        ("random", &s.lesion.random),
    ] {
        for (m, per) in map {
            for (model, curve) in per {
                for (t, v) in curve.iter().enumerate() {
                    let _ = writeln!(l, "{},{cond},{m},{model},{v}", t + 1);
                }
            }
        }
    }
    write_file(dir, "lesion.csv", &l)?;

    let mut ci = String::from("step,condition,measure,mean,lo,hi\n");
    if let Some(map) = &s.lesion.ci {
        for (cond, per) in map {
            for (m, c) in per {
                for t in 0..c.mean.len() {
                    let _ = writeln!(
                        ci,
                        "{},{cond},{m},{},{},{}",
                        t + 1,
                        c.mean[t],
                        c.lo[t],
                        c.hi[t]
                    );
                }
            }
        }
    }
    write_file(dir, "ci.csv", &ci)?;

    let mut u = String::from("model,unit,type,predicts,errors\n");
    for r in results {
        for (i, t) in r.types.iter().enumerate() {
            let _ = writeln!(
                u,
                "{},{i},{},{},{}",
                r.info.name,
                t.name(),
                classes(&r.pred, i),
                classes(&r.err, i)
            );
        }
    }
    write_file(dir, "units.csv", &u)?;

    let mut v = String::from("model,type,median_input_variance\n");
    for (model, per) in &s.input_variance {
        for (t, x) in per {
            let _ = writeln!(
                v,
                "{model},{t},{}",
                x.map(|x| x.to_string()).unwrap_or_default()
            );
        }
    }
    write_file(dir, "input_variance.csv", &v)?;

    let mut d = String::from("step,condition,kind,model,value\n");
    for (model, ds) in &s.drive {
        for (cond, c) in [
            ("intact", Some(&ds.intact)),
            ("prediction", ds.prediction_lesion.as_ref()),
            ("random", ds.random_lesion.as_ref()),
        ] {
            let Some(c) = c else { continue };
            for (kind, curve) in [
                ("input", &c.input),
                ("internal", &c.internal),
                ("total", &c.total),
            ] {
                for (t, x) in curve.iter().enumerate() {
                    let _ = writeln!(d, "{},{cond},{kind},{model},{x}", t + 1);
                }
            }
        }
    }
    write_file(dir, "drive.csv", &d)?;

    let mut p = String::from("frames,group,model,value\n");
    for (model, ps) in &s.postsynaptic {
        for (group, c) in [
            ("prediction", &ps.prediction),
            ("error_class0", &ps.error_class0),
        ] {
            let Some(c) = c else { continue };
            for (k, x) in c.iter().enumerate() {
                let _ = writeln!(p, "{k},{group},{model},{x}");
            }
        }
    }
    write_file(dir, "postsynaptic.csv", &p)
}

/// One figure in the report: file stem, title, one-line meaning.
struct Figure {
    stem: &'static str,
    title: &'static str,
    caption: String,
}

/// A line for one condition: the single model's curve, or the mean with its CI band.
fn summary_line(
    label: &str,
    color: RGBColor,
    curves: &[&Vec<f64>],
    resamples: usize,
    seed: u64,
    dashed: bool,
) -> Option<Line> {
    match curves.len() {
        0 => None,
        1 => Some(Line {
            label: label.into(),
            color,
            values: curves[0].clone(),
            band: None,
            dashed,
        }),
        n => {
            let c = ci_curve(curves, resamples, seed);
            Some(Line {
                label: format!("{label} (mean of {n}, 95% CI)"),
                color,
                values: c.mean,
                band: Some((c.lo, c.hi)),
                dashed,
            })
        }
    }
}

fn curves_of<'a>(map: &'a MeasureCurves, measure: &str) -> Vec<&'a Vec<f64>> {
    map.get(measure)
        .map(|per| per.values().collect())
        .unwrap_or_default()
}

fn finite_curves(v: &[Option<&Vec<f64>>]) -> Vec<Vec<f64>> {
    v.iter().flatten().map(|c| (*c).clone()).collect()
}

#[allow(clippy::too_many_arguments)]
fn draw_figures(
    dir: &Path,
    s: &Summary,
    results: &[ModelResult],
    shape: ImageShape,
    pixel_var: &[f64],
    resamples: usize,
    seed: u64,
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    let measures: Vec<&str> = MEASURES
        .iter()
        .copied()
        .filter(|m| s.energy.contains_key(*m))
        .collect();
    let refs = |ls: &mut Vec<Line>| {
        for (label, curve, color) in [
            ("input", &s.reference.input, PALETTE[7]),
            ("dataset median", &s.reference.dataset_median, PALETTE[4]),
            ("category median", &s.reference.category_median, PALETTE[2]),
        ] {
            ls.push(Line {
                label: label.into(),
                color,
                values: curve.clone(),
                band: None,
                dashed: true,
            });
        }
    };

    // Fig 2A: energy curves.
    let mut panels = Vec::new();
    for m in &measures {
        let mut lines = Vec::new();
        let curves = curves_of(&s.energy, m);
        if curves.len() > 1 {
            lines.extend(summary_line(
                "network", PALETTE[0], &curves, resamples, seed, false,
            ));
        } else {
            for (i, (name, c)) in s.energy[*m].iter().enumerate() {
                lines.push(Line {
                    label: name.clone(),
                    color: PALETTE[i % 10],
                    values: c.clone(),
                    band: None,
                    dashed: false,
                });
            }
        }
        if *m == "pre" {
            refs(&mut lines);
        }
        panels.push(Panel {
            title: format!("energy: {m}"),
            x_label: "step".into(),
            y_label: format!("mean {m}"),
            x_start: 1,
            lines,
        });
    }
    figures::line_panels(dir, "fig2a_energy", &panels)?;
    figs.push(Figure {
        stem: "fig2a_energy",
        title: "Fig 2A: energy per step",
        caption: "Energy per time step on the test sequences; a network that predicts its input falls below the dataset-median curve towards the category-median curve (dashed).".into(),
    });

    let first = &results[0];
    let cols: Vec<String> = (1..=STEPS).map(|t| format!("t={t}")).collect();
    if let Some(im) = &first.images {
        let g = ImageRows {
            shape,
            col_labels: cols.clone(),
            rows: vec![
                ("input x_t".into(), &im.input[..]),
                ("internal hW".into(), &im.internal[..]),
                ("total a_t".into(), &im.total[..]),
            ],
        };
        figures::image_rows(dir, "fig2c_drive", &g)?;
        figs.push(Figure {
            stem: "fig2c_drive",
            title: "Fig 2C: input, internal and total drive (sequence 0..9)",
            caption: format!("Model {}: the input, the recurrent (internal) drive h_(t-1)W and their sum a_t at each step of the first deterministic sequence 0..9 (red > 0 > blue); inhibition that mirrors the next digit is prediction.", first.info.name),
        });
        if let (Some(p), Some(r)) = (&im.internal_prediction, &im.internal_random) {
            let g = ImageRows {
                shape,
                col_labels: (0..STEPS).map(|k| format!("k={k}")).collect(),
                rows: vec![
                    ("intact".into(), &im.internal[..]),
                    ("pred. lesion".into(), &p[..]),
                    ("random lesion".into(), &r[..]),
                ],
            };
            figures::image_rows(dir, "fig4b_internal_drive", &g)?;
            figs.push(Figure {
                stem: "fig4b_internal_drive",
                title: "Fig 4B: internal drive after k frames, intact and lesioned",
                caption: "What the network predicts (internal drive h W) after k = 0..9 preceding frames of the sequence 0..9, intact, with the prediction units lesioned and with as many random units lesioned.".into(),
            });
        }
    }
    if first.types.len() == shape.len() {
        figures::type_map(dir, "fig3a_unit_types", &first.types, shape)?;
        figs.push(Figure {
            stem: "fig3a_unit_types",
            title: "Fig 3A: unit types",
            caption: format!("Model {}: each unit at its pixel's position, coloured by type (e: error, p: prediction, h: hybrid; 1: one class, 2: several).", first.info.name),
        });
        let mut bars = Vec::new();
        for t in UnitType::ALL {
            // Pooled over the models: every unit of this type, its pixel's variance.
            let v: Vec<f64> = results
                .iter()
                .filter(|r| r.types.len() == shape.len())
                .flat_map(|r| {
                    r.types
                        .iter()
                        .zip(pixel_var)
                        .filter(|(ty, _)| **ty == t)
                        .map(|(_, &v)| v)
                })
                .collect();
            bars.push((
                t.name().to_string(),
                (!v.is_empty()).then(|| stats::median(&v)),
            ));
        }
        figures::bars(
            dir,
            "fig3b_input_variance",
            "median input-pixel variance per unit type",
            "variance",
            &bars,
        )?;
        figs.push(Figure {
            stem: "fig3b_input_variance",
            title: "Fig 3B: input variance per unit type",
            caption: "Median variance (over the test images) of the pixel that drives each unit, per unit type, pooled over models; prediction units sit where the input hardly varies.".into(),
        });
    }

    // Fig 4A: lesions.
    let mut panels = Vec::new();
    for m in measures
        .iter()
        .filter(|m| s.lesion.prediction.contains_key(**m))
    {
        let mut lines = Vec::new();
        for (label, map, color) in [
            ("intact", &s.energy, PALETTE[0]),
            (
                "prediction units lesioned",
                &s.lesion.prediction,
                PALETTE[3],
            ),
            ("random units lesioned", &s.lesion.random, PALETTE[1]),
        ] {
            lines.extend(summary_line(
                label,
                color,
                &curves_of(map, m),
                resamples,
                seed,
                false,
            ));
        }
        if *m == "pre" {
            lines.push(Line {
                label: "dataset median".into(),
                color: PALETTE[4],
                values: s.reference.dataset_median.clone(),
                band: None,
                dashed: true,
            });
            lines.push(Line {
                label: "category median".into(),
                color: PALETTE[2],
                values: s.reference.category_median.clone(),
                band: None,
                dashed: true,
            });
        }
        panels.push(Panel {
            title: format!("lesion: {m}"),
            x_label: "step".into(),
            y_label: format!("mean {m}"),
            x_start: 1,
            lines,
        });
    }
    if !panels.is_empty() {
        figures::line_panels(dir, "fig4a_lesion", &panels)?;
        figs.push(Figure {
            stem: "fig4a_lesion",
            title: "Fig 4A: lesion study",
            caption: "Energy per step with the prediction units silenced before every step versus as many random non-prediction units; if the prediction units carry the predictions, their lesion keeps energy near the dataset-median curve while a random lesion stays near the intact curve.".into(),
        });
    }

    // Fig 4C: postsynaptic drive.
    let pred: Vec<Vec<f64>> = finite_curves(
        &s.postsynaptic
            .values()
            .map(|p| p.prediction.as_ref())
            .collect::<Vec<_>>(),
    );
    let err0: Vec<Vec<f64>> = finite_curves(
        &s.postsynaptic
            .values()
            .map(|p| p.error_class0.as_ref())
            .collect::<Vec<_>>(),
    );
    if !pred.is_empty() || !err0.is_empty() {
        let mut lines = Vec::new();
        lines.extend(summary_line(
            "prediction units",
            PALETTE[0],
            &pred.iter().collect::<Vec<_>>(),
            resamples,
            seed,
            false,
        ));
        lines.extend(summary_line(
            "error units, class 0",
            PALETTE[3],
            &err0.iter().collect::<Vec<_>>(),
            resamples,
            seed,
            false,
        ));
        let panel = Panel {
            title: "postsynaptic drive h_i * sum_j W_ij".into(),
            x_label: "preceding frames".into(),
            y_label: "mean drive".into(),
            x_start: 0,
            lines,
        };
        figures::line_panels(dir, "fig4c_postsynaptic", &[panel])?;
        figs.push(Figure {
            stem: "fig4c_postsynaptic",
            title: "Fig 4C: postsynaptic drive",
            caption: "Mean outgoing drive of the prediction units and of the class-0 error units after k preceding frames of the sequences 0..9 (negative: they inhibit the units they project to).".into(),
        });
    }
    Ok(figs)
}

fn report_md(s: &Summary, figs: &[Figure]) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# Analysis report\n");
    let _ = writeln!(r, "Data set `{}`, seed {}, {} test sequences of {} steps ({} with a distractor at index {DISTRACTOR_AT}, {} deterministic 0..9). Toolkit {}.\n", s.dataset, s.seed, s.sequences.test, s.steps, s.sequences.distractor, s.sequences.deterministic, s.toolkit_version);
    let _ = writeln!(r, "| model | path | loss | units | prediction units | error units | lesion size |\n|---|---|---|---|---|---|---|");
    for m in &s.models {
        let _ = writeln!(
            r,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            m.name,
            m.path.display(),
            m.metadata
                .get(epc_core::contract::META_LOSS)
                .map_or("?", String::as_str),
            m.n_units,
            s.prediction_units.get(&m.name).map_or(0, |u| u.count),
            s.error_units.get(&m.name).map_or(0, |u| u.count),
            s.lesion
                .size
                .get(&m.name)
                .map_or("-".to_string(), |n| n.to_string())
        );
    }
    let _ = writeln!(r, "\n## Energy `pre` (mean |a|) per step\n");
    let mut header = String::from("| step |");
    let mut rule = String::from("|---|");
    let pre = s.energy.get("pre");
    let cols: Vec<(String, Vec<f64>)> = pre
        .into_iter()
        .flat_map(|per| per.iter().map(|(k, v)| (k.clone(), v.clone())))
        .chain(s.lesion.prediction.get("pre").into_iter().flat_map(|per| {
            per.iter()
                .map(|(k, v)| (format!("{k} pred. lesion"), v.clone()))
        }))
        .chain(s.lesion.random.get("pre").into_iter().flat_map(|per| {
            per.iter()
                .map(|(k, v)| (format!("{k} random lesion"), v.clone()))
        }))
        .chain([
            (
                "dataset median".to_string(),
                s.reference.dataset_median.clone(),
            ),
            (
                "category median".to_string(),
                s.reference.category_median.clone(),
            ),
        ])
        .collect();
    for (k, _) in &cols {
        let _ = write!(header, " {k} |");
        rule.push_str("---|");
    }
    let _ = writeln!(r, "{header}\n{rule}");
    for t in 0..s.steps {
        let _ = write!(r, "| {} |", t + 1);
        for (_, v) in &cols {
            let _ = write!(r, " {:.4} |", v.get(t).copied().unwrap_or(f64::NAN));
        }
        r.push('\n');
    }
    let _ = writeln!(r, "\n## Figures\n");
    for f in figs {
        let _ = writeln!(
            r,
            "### {}\n\n![{}]({}.png)\n\n{} ([SVG]({}.svg))\n",
            f.title, f.title, f.stem, f.caption, f.stem
        );
    }
    if !s.notes.is_empty() {
        let _ = writeln!(r, "## Notes\n");
        for n in &s.notes {
            let _ = writeln!(r, "- {n}");
        }
    }
    let _ = writeln!(r, "\nTables: `energy.csv`, `lesion.csv`, `ci.csv`, `units.csv`, `input_variance.csv`, `drive.csv`, `postsynaptic.csv`; everything in `summary.json`.");
    r
}
