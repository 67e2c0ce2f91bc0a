//! `epc dump` as a library call: a model's activations on a chosen sequence set, streamed into
//! an HDF5 file (schema in `epc_exporter::h5`) while inference runs, with the sets that were
//! actually drawn recorded in the file.

use crate::engine::{EngineOptions, StepModel};
use crate::lesion_units::LesionUnits;
use crate::options::Lesion;
use crate::pipeline::{check_fit, prediction_units_of};
use crate::sequences::{draw_epochs, frames, AnalysisSets, SeqSpec, SetInfo, Stream};
use crate::{Error, Result};
use epc_core::data::{self, DataSource, DatasetKind, Images};
use epc_core::sequence::Sequence;
use epc_exporter::h5::{Arrays, Compression, DumpAttributes, DumpChunk, DumpHeader, DumpWriter};
use ndarray::{Array2, Array3};
use std::path::PathBuf;

/// Which sequences a dump runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpSequences {
    /// The analysis test set (epochs of the seed until 400 sequences), or exactly `epochs`
    /// epochs of the test sampler.
    Test {
        /// Epochs to draw (`None`: as the analysis does).
        epochs: Option<u64>,
    },
    /// The published per-class sets: the ten ordered sets, the ten shuffled sets and the ten
    /// distractor sets of the analysis, one after another.
    Published,
    /// The ordered set starting at 0: every sequence 0..9 of the test split, in data-set order.
    Deterministic,
    /// The user's sequences: image indices `[n, steps]` into the split (CSV, `.npy` or HDF5).
    File(PathBuf),
}

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
    /// The sequences.
    pub sequences: DumpSequences,
    /// The activation datasets to write.
    pub arrays: Arrays,
    /// Their compression.
    pub compression: Compression,
    /// The HDF5 file (written atomically).
    pub out: PathBuf,
    /// Engine settings.
    pub engine: EngineOptions,
}

impl DumpOptions {
    /// The defaults: the test set, intact, seed 0, every array, gzip level 1.
    pub fn new(model: PathBuf, out: PathBuf) -> Self {
        Self {
            model,
            dataset: None,
            data_dir: None,
            lesion: Lesion::None,
            seed: 0,
            sequences: DumpSequences::Test { epochs: None },
            arrays: Arrays::ALL,
            compression: Compression::Gzip(1),
            out,
            engine: EngineOptions::default(),
        }
    }
}

/// What [`dump`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpOutcome {
    /// The file.
    pub path: PathBuf,
    /// The data set run.
    pub dataset: DatasetKind,
    /// The sequence sets, in file order.
    pub sets: Vec<SetInfo>,
    /// Sequences in all.
    pub sequences: usize,
    /// Frames per sequence.
    pub steps: usize,
    /// Units of the model.
    pub units: usize,
    /// Units silenced.
    pub lesioned: Vec<usize>,
    /// What loading the model noticed (see [`StepModel::notes`]).
    pub notes: Vec<String>,
}

/// The units a lesion silences (empty when intact): the prediction units as `analyze` finds
/// them on `sets` (the sets `analyze` draws for this model's stream with the same seed), or as
/// many random other units, chosen by the analysis's own rule ([`LesionUnits`]).
pub fn lesioned_units(
    model: &mut StepModel,
    test: &Images,
    sets: &AnalysisSets,
    seed: u64,
    lesion: Lesion,
) -> Result<Vec<usize>> {
    if lesion == Lesion::None {
        return Ok(Vec::new());
    }
    let pred = prediction_units_of(model, test, &sets.class)?;
    let units = LesionUnits::choose(model, &pred, seed);
    if units.lesionable.is_empty() {
        let why = if model.version() == crate::engine::Version::V1 {
            "lesions need as many units as state entries"
        } else {
            "no population owns state, so no unit can be lesioned"
        };
        return Err(Error::model(model.path(), why));
    }
    Ok(match lesion {
        Lesion::Prediction => units.prediction,
        _ => units.random,
    })
}

/// Sets the layout attributes of a dump: the layout as JSON and, per unit, its pixel (-1:
/// none), layer and population.
fn set_layout_attributes(model: &StepModel, attrs: &mut DumpAttributes) -> Result<()> {
    let l = model.layout();
    let n = model.n_units();
    let (mut pixel, mut layer, mut population) = (vec![-1; n], vec![0; n], vec![0; n]);
    for (k, p) in l.populations.iter().enumerate() {
        for (i, u) in p.range().enumerate() {
            if let Some([p0, _]) = p.pixels {
                pixel[u] = (p0 + i) as i32;
            }
            layer[u] = p.layer as i32;
            population[u] = k as i32;
        }
    }
    attrs.layout_json = serde_json::to_string(l)
        .map_err(|e| Error::Input(format!("cannot serialise the layout: {e}")))?;
    attrs.unit_pixel = pixel;
    attrs.unit_layer = layer;
    attrs.unit_population = population;
    Ok(())
}

/// The user's sequences of `path`, checked against the split.
/// The sets `choice` names: from the analysis's sets `drawn` (the test set, the published
/// sets, the deterministic ordered set), or a fresh draw of several epochs, or a file.
pub fn dump_sets(
    choice: &DumpSequences,
    images: &Images,
    drawn: &AnalysisSets,
    seed: u64,
    stream: &Stream,
) -> Result<Vec<SeqSpec>> {
    Ok(match choice {
        DumpSequences::Test { epochs: None } => vec![drawn.test.clone()],
        DumpSequences::Test { epochs: Some(n) } => {
            vec![draw_epochs(images, seed, *n, stream)?]
        }
        DumpSequences::Deterministic => vec![drawn.class[0].clone()],
        DumpSequences::Published => drawn.published(),
        DumpSequences::File(p) if stream.motion.is_some() => {
            return Err(Error::Input(format!(
                "{}: an index file gives images but not where they sit; the model was trained on a moving stream ({}), so dump its test or published sets instead",
                p.display(),
                stream.describe()
            )))
        }
        DumpSequences::File(p) => vec![crate::sequence_files::file_sequences(
            p,
            &format!("file:{}", p.display()),
            images,
        )?],
    })
}

/// `[row, column]` of every frame's image, `[sequences, steps, 2]` (sequences of a moving
/// stream all carry their track).
fn positions(seqs: &[Sequence], steps: usize) -> Array3<i32> {
    let flat = seqs
        .iter()
        .flat_map(|s| {
            let track = s
                .track
                .as_ref()
                .expect("a moving stream's sequences have tracks");
            track
                .positions
                .iter()
                .take(steps)
                .flat_map(|p| p.map(i32::from))
        })
        .collect();
    Array3::from_shape_vec((seqs.len(), steps, 2), flat).expect("one position per frame")
}

/// One chunk of results, on its way to the writer thread or to [`crate::dump_arrays`].
pub(crate) struct Computed {
    pub(crate) x: Array3<f32>,
    pub(crate) preact: Array3<f32>,
    pub(crate) act: Array3<f32>,
    /// The chosen step-v2 outputs.
    pub(crate) extra: Vec<(&'static str, Array3<f32>)>,
    pub(crate) labels: Array2<i32>,
    pub(crate) frames: Array2<i32>,
    pub(crate) set: Vec<i32>,
    pub(crate) positions: Option<Array3<i32>>,
}

/// A dump ready to run: the model loaded and checked against the data, the sets drawn, the
/// lesion chosen and the file's header (sizes and attributes) filled in.
pub(crate) struct Prepared {
    pub(crate) model: StepModel,
    test: Images,
    stream: Stream,
    sets: Vec<SeqSpec>,
    pub(crate) steps: usize,
    pub(crate) kind: DatasetKind,
    pub(crate) infos: Vec<SetInfo>,
    pub(crate) lesioned: Vec<usize>,
    pub(crate) header: DumpHeader,
}

/// Everything [`dump`] does before the first step runs: loads the model and the test split,
/// draws the sets, finds the lesioned units and fills in the header.
pub(crate) fn prepare(opts: &DumpOptions) -> Result<Prepared> {
    let mut model = StepModel::load(&opts.model, &opts.engine)?;
    let kind = opts
        .dataset
        .or_else(|| epc_core::contract::dataset_of(model.metadata()))
        .unwrap_or(DatasetKind::Digits);
    let test = data::load_test(&DataSource::new(kind, opts.data_dir.clone()))?;
    let stream = Stream::of_model(&model)?;
    check_fit(&model, &test, &stream)?;
    // The analysis's sets, drawn once: what is dumped and what the lesion's units come from.
    let drawn = AnalysisSets::draw(&test, opts.seed, &stream)?;
    let sets = dump_sets(&opts.sequences, &test, &drawn, opts.seed, &stream)?;
    let steps = sets[0].info.config.length;
    let lesioned = lesioned_units(&mut model, &test, &drawn, opts.seed, opts.lesion)?;
    let units = model.n_units();
    let mask = (opts.lesion != Lesion::None).then(|| model.layout().lesion_mask(&lesioned));
    for name in opts.arrays.extra_names() {
        if !model.optional_outputs().contains(&name) {
            return Err(Error::model(
                model.path(),
                format!("--arrays asks for {name}, but the model has no output `{name}` (a step-v2 model's optional output)"),
            ));
        }
    }
    let total: usize = sets.iter().map(SeqSpec::len).sum();
    let meta: Vec<(String, String)> = model
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let infos: Vec<SetInfo> = sets.iter().map(|s| s.info.clone()).collect();
    let mut header = DumpHeader {
        steps,
        sequences: total,
        n_in: model.n_in(),
        units,
        arrays: opts.arrays,
        compression: opts.compression,
        lesion_mask: mask,
        positions: stream.motion.is_some(),
        attrs: DumpAttributes {
            model_path: opts.model.display().to_string(),
            model_sha256: model.sha256().to_string(),
            contract: model
                .metadata()
                .get(epc_core::contract::META_CONTRACT)
                .cloned()
                .unwrap_or_default(),
            model_metadata_json: epc_exporter::onnx::metadata_json(&meta),
            dataset: kind.name().into(),
            split: "test".into(),
            sets_json: serde_json::to_string(&infos)
                .map_err(|e| Error::Input(format!("cannot serialise the sequence sets: {e}")))?,
            seed: opts.seed,
            toolkit_version: epc_core::TOOLKIT_VERSION.into(),
            created_utc: epc_exporter::utc_now(),
            lesion: format!("{} ({} units)", opts.lesion, lesioned.len()),
            ..DumpAttributes::default()
        },
    };
    set_layout_attributes(&model, &mut header.attrs)?;
    Ok(Prepared {
        model,
        test,
        stream,
        sets,
        steps,
        kind,
        infos,
        lesioned,
        header,
    })
}

/// Runs the prepared model over every set, batch by batch, handing each chunk to `send`;
/// stops early (with `Ok`) when `send` returns false, and with an error on an interrupt.
pub(crate) fn produce(p: &mut Prepared, mut send: impl FnMut(Computed) -> bool) -> Result<()> {
    let chosen = p.header.arrays.extra_names();
    let steps = p.steps;
    let mask = p.header.lesion_mask.clone();
    for (set_index, spec) in p.sets.iter().enumerate() {
        for seqs in spec.seqs.chunks(p.model.batch_size()) {
            epc_core::interrupt::check()?;
            let x = frames(&p.test, seqs, steps);
            let acts = p.model.run(x.view(), mask.as_deref())?;
            let crate::engine::Activations {
                preact,
                act,
                drive_in,
                drive_rec,
                transmission,
            } = acts;
            let extra: Vec<(&'static str, Array3<f32>)> = [
                ("drive_in", drive_in),
                ("drive_rec", drive_rec),
                ("transmission", transmission),
            ]
            .into_iter()
            .filter(|(n, _)| chosen.contains(n))
            .filter_map(|(n, a)| Some((n, a?)))
            .collect();
            let ints = |f: fn(&Sequence) -> Vec<i32>| {
                Array2::from_shape_vec((seqs.len(), steps), seqs.iter().flat_map(f).collect())
                    .expect("every sequence has the same length")
            };
            let chunk = Computed {
                x,
                preact,
                act,
                extra,
                labels: ints(|s| s.labels.iter().map(|&l| i32::from(l)).collect()),
                frames: ints(|s| s.frames.iter().map(|&f| f as i32).collect()),
                set: vec![set_index as i32; seqs.len()],
                positions: p.stream.motion.is_some().then(|| positions(seqs, steps)),
            };
            if !send(chunk) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Runs the model over the chosen sequences and writes the dump (see the module docs).
/// Inference and writing overlap: a second thread compresses and writes each chunk while
/// the next one is computed, and no more than two chunks wait between them.
pub fn dump(opts: &DumpOptions) -> Result<DumpOutcome> {
    let mut p = prepare(opts)?;
    let mut writer = DumpWriter::create(&opts.out, p.header.clone())?;
    // A rendezvous channel: one chunk computed while one is written, so memory stays at two
    // chunks however many sequences there are (a queue only filled up during long dumps).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Computed>(0);
    let thread = std::thread::spawn(move || -> epc_exporter::Result<DumpWriter> {
        for c in rx {
            let extra: Vec<(&str, ndarray::ArrayView3<f32>)> =
                c.extra.iter().map(|(n, a)| (*n, a.view())).collect();
            writer.write_with(
                &DumpChunk {
                    input: c.x.view(),
                    preact: c.preact.view(),
                    act: c.act.view(),
                    labels: c.labels.view(),
                    frames: c.frames.view(),
                    set: &c.set,
                    positions: c.positions.as_ref().map(|p| p.view()),
                },
                &extra,
            )?;
        }
        Ok(writer)
    });
    // A failed send means the writer stopped on an error; it is reported below.
    let produced = produce(&mut p, |chunk| tx.send(chunk).is_ok());
    drop(tx);
    let written = thread
        .join()
        .map_err(|_| Error::Input("the dump's writer thread failed".into()))?;
    produced?;
    let path = written?.finish()?;
    Ok(DumpOutcome {
        path,
        dataset: p.kind,
        sets: p.infos,
        sequences: p.header.sequences,
        steps: p.steps,
        units: p.header.units,
        lesioned: p.lesioned,
        notes: p.model.notes().to_vec(),
    })
}
