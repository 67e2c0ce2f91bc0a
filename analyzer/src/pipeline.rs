//! The analysis of one model: every measure, unit set, lesion and drive of SPEC sections 5-6
//! on the shared sequence sets.

use crate::analysis::{self, EnergyCurves, UnitType};
use crate::engine::StepModel;
use crate::sequences::{sequence_set, test_config, SeqSet, DISTRACTOR_AT, STEPS};
use crate::summary::{DriveSummary, ModelInfo, Postsynaptic};
use crate::{Error, Result};
use epc_core::data::{Dataset, ImageShape, Images};
use epc_core::sequence::SequenceConfig;
use epc_core::NUM_CLASSES;
use ndarray::{s, ArrayView3, Axis};
use std::collections::BTreeMap;

/// The seed of model `model_index`'s random lesion, derived from the analysis seed.
pub(crate) fn lesion_seed(seed: u64, model_index: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(model_index as u64 + 1)
}

/// An error unless the model takes frames of the images' size.
pub(crate) fn check_fit(model: &StepModel, images: &Images) -> Result<()> {
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

/// Shared inputs of every model's analysis: the sequence sets and pixel statistics.
pub(crate) struct Context {
    pub shape: ImageShape,
    pub test: SeqSet,
    pub distractor: SeqSet,
    /// The class each distractor replaced (the class the sequence's order predicts there).
    pub distractor_expected: Vec<u8>,
    pub det: SeqSet,
    pub pixel_var: Vec<f64>,
}

impl Context {
    /// Draws the sets from the test split of `data` with `seed` (SPEC section 6): the test set
    /// (random start classes), the distractor set (frame [`DISTRACTOR_AT`] replaced) and the
    /// deterministic set (start class 0, exemplars in data-set order).
    pub fn build(data: &Dataset, seed: u64) -> Result<Self> {
        let test = sequence_set(&data.test, "test", test_config(), seed)?;
        let distractor = sequence_set(
            &data.test,
            "distractor",
            SequenceConfig {
                distractor_at: Some(DISTRACTOR_AT),
                ..test_config()
            },
            seed,
        )?;
        let distractor_expected: Vec<u8> = distractor
            .labels
            .column(DISTRACTOR_AT - 1)
            .iter()
            .map(|&c| ((c as usize + 1) % NUM_CLASSES) as u8)
            .collect();
        let det = sequence_set(
            &data.test,
            "deterministic",
            SequenceConfig {
                start_class: Some(0),
                shuffle: false,
                ..test_config()
            },
            seed,
        )?;
        Ok(Self {
            shape: data.test.shape,
            pixel_var: analysis::pixel_variance(&data.test),
            test,
            distractor,
            distractor_expected,
            det,
        })
    }
}

/// Images of the first deterministic sequence, one per step.
pub(crate) struct DriveImages {
    pub input: Vec<Vec<f32>>,
    pub internal: Vec<Vec<f32>>,
    pub total: Vec<Vec<f32>>,
    pub internal_prediction: Option<Vec<Vec<f32>>>,
    pub internal_random: Option<Vec<Vec<f32>>>,
}

/// Everything computed for one model, before it is assembled into the summary.
pub(crate) struct ModelResult {
    pub info: ModelInfo,
    pub energy: EnergyCurves,
    pub pred: Vec<Vec<bool>>,
    pub err: Vec<Vec<bool>>,
    pub types: Vec<UnitType>,
    pub variance: Option<BTreeMap<String, Option<f64>>>,
    /// The random units silenced, and the energy with the prediction and with the random lesion.
    pub lesion: Option<(Vec<usize>, EnergyCurves, EnergyCurves)>,
    pub drive: Option<DriveSummary>,
    pub images: Option<DriveImages>,
    pub postsynaptic: Option<Postsynaptic>,
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

/// Runs every analysis on one model (`index` is its position, for its random lesion's seed).
pub(crate) fn analyze_model(
    index: usize,
    name: String,
    model: &mut StepModel,
    seed: u64,
    dataset: &str,
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
            dataset
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
        let random =
            analysis::random_units(&pred_units, n, pred_units.len(), lesion_seed(seed, index));
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
