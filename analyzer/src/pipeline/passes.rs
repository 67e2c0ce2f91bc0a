//! Runs of one model over the sequence sets, chunk by chunk, each reduced to what the analyses
//! need as it goes (so memory does not grow with the sets).

use super::{Context, DriveGrid, DriveImages};
use crate::analysis::{self, DriveCurves, EnergyCurves, EnergySums};
use crate::engine::{Activations, StepModel, Version};
use crate::sequences::{frames, SeqSpec, DISTRACTOR_AT, STEPS};
use crate::stats::Moments;
use crate::Result;
use epc_core::contract;
use epc_core::data::Images;
use epc_core::sequence::{ClassCycle, Sequence};
use epc_core::NUM_CLASSES;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};

/// What the unit rules can run on: a step model, or the frames themselves (the input
/// baseline).
pub(crate) trait Runner {
    /// Units per step.
    fn units(&self) -> usize;
    /// Sequences per run.
    fn chunk(&self) -> usize;
    /// The activations of `x` (`[steps, seqs, dim]`) with `mask` on the state.
    fn run_chunk(
        &mut self,
        x: ArrayView3<f32>,
        mask: Option<&[f32]>,
        out: &mut Activations,
    ) -> Result<()>;
}

impl Runner for StepModel {
    fn units(&self) -> usize {
        self.n_units()
    }

    fn chunk(&self) -> usize {
        self.batch_size()
    }

    fn run_chunk(
        &mut self,
        x: ArrayView3<f32>,
        mask: Option<&[f32]>,
        out: &mut Activations,
    ) -> Result<()> {
        self.run_into(x, mask, out)
    }
}

/// The input baseline: a "network" whose preactivation and activity are its frames (a step
/// model with no recurrent weights), so that every unit rule applied to it measures the data.
pub(crate) struct InputFrames {
    /// Values per frame.
    pub dim: usize,
}

impl Runner for InputFrames {
    fn units(&self) -> usize {
        self.dim
    }

    fn chunk(&self) -> usize {
        256
    }

    fn run_chunk(
        &mut self,
        x: ArrayView3<f32>,
        _mask: Option<&[f32]>,
        out: &mut Activations,
    ) -> Result<()> {
        out.preact = x.to_owned();
        out.act = x.mapv(|v| v.max(0.0));
        Ok(())
    }
}

/// Runs the first `steps` frames of every sequence of `spec` through `model` (with `mask` on
/// the state), `batch_size` sequences at a time, calling `f` with each chunk's sequences,
/// frames and activations.
fn each_chunk<R: Runner + ?Sized>(
    model: &mut R,
    images: &Images,
    spec: &SeqSpec,
    steps: usize,
    mask: Option<&[f32]>,
    mut f: impl FnMut(&[Sequence], &Array3<f32>, &Activations),
) -> Result<()> {
    let chunk = model.chunk();
    let mut acts = Activations::empty();
    for seqs in spec.seqs.chunks(chunk) {
        // A stop signal ends the analysis here; its staged output folder is removed.
        epc_core::interrupt::check()?;
        let x = frames(images, seqs, steps);
        model.run_chunk(x.view(), mask, &mut acts)?;
        f(seqs, &x, &acts);
    }
    Ok(())
}

/// Sums of per-unit vectors over sequences, by digit and step, turned into means.
struct GridSums {
    sum: Vec<Vec<Vec<f64>>>,
    count: Vec<Vec<usize>>,
}

impl GridSums {
    fn new(units: usize) -> Self {
        Self {
            sum: vec![vec![vec![0.0; units]; STEPS]; NUM_CLASSES],
            count: vec![vec![0; STEPS]; NUM_CLASSES],
        }
    }

    /// Adds `value(row, unit)` of every row to cell (`digit`, `k`).
    fn add(&mut self, digit: usize, k: usize, rows: usize, value: impl Fn(usize, usize) -> f32) {
        let cell = &mut self.sum[digit][k];
        for r in 0..rows {
            for (u, v) in cell.iter_mut().enumerate() {
                *v += f64::from(value(r, u));
            }
        }
        self.count[digit][k] += rows;
    }

    fn means(&self) -> Vec<Vec<Vec<f64>>> {
        self.sum
            .iter()
            .zip(&self.count)
            .map(|(d, c)| {
                d.iter()
                    .zip(c)
                    .map(|(v, &n)| v.iter().map(|x| x / n.max(1) as f64).collect())
                    .collect()
            })
            .collect()
    }

    /// The means as f32 images; cells without sequences (k = 0: no frame yet) are zero.
    fn grid(&self) -> DriveGrid {
        self.means()
            .into_iter()
            .map(|d| {
                d.into_iter()
                    .map(|v| v.into_iter().map(|x| x as f32).collect())
                    .collect()
            })
            .collect()
    }
}

/// Adds the internal drive `a_k - x_k` of every chunk row at steps k >= 1 of the set starting
/// at `start` (digit `cycle.class_at(start, k)` shown after k frames).
fn add_internal(
    g: &mut GridSums,
    cycle: &ClassCycle,
    start: usize,
    x: &Array3<f32>,
    acts: &Activations,
) {
    let rows = x.dim().1;
    for k in 1..STEPS {
        let (a, xk) = (acts.preact.index_axis(Axis(0), k), x.index_axis(Axis(0), k));
        g.add(cycle.class_at(start, k), k, rows, |r, u| {
            a[[r, u]] - xk[[r, u]]
        });
    }
}

/// Drive curves of a chunk with its weight, and the internal-drive images of a sequence.
fn internal_images(x: &Array3<f32>, acts: &Activations, seq: usize) -> Vec<Vec<f32>> {
    (0..x.dim().0)
        .map(|t| {
            acts.preact
                .slice(s![t, seq, ..])
                .iter()
                .zip(x.slice(s![t, seq, ..]).iter())
                .map(|(a, b)| a - b)
                .collect()
        })
        .collect()
}

/// The weighted per-step mean of drive curves of several chunks.
fn combine_drives(parts: &[(usize, DriveCurves)]) -> DriveCurves {
    DriveCurves {
        input: super::weighted_mean(parts, |d| &d.input),
        internal: super::weighted_mean(parts, |d| &d.internal),
        total: super::weighted_mean(parts, |d| &d.total),
    }
}

/// Per class, the last-step preactivations `[seqs, units]` of the ordered set ending on it
/// (the set starting one class later): the rows of the prediction rule.
pub(crate) fn last_step_rows<R: Runner + ?Sized>(
    model: &mut R,
    images: &Images,
    ordered: &[SeqSpec],
    cycle: &ClassCycle,
) -> Result<Vec<Array2<f32>>> {
    let n = model.units();
    let mut last: Vec<Vec<f32>> = vec![Vec::new(); NUM_CLASSES];
    for (start, spec) in ordered.iter().enumerate() {
        let ends_on = cycle.class_at(start, STEPS - 1);
        each_chunk(model, images, spec, STEPS, None, |_, _, acts| {
            last[ends_on].extend(acts.preact.index_axis(Axis(0), STEPS - 1).iter());
        })?;
    }
    Ok(last
        .into_iter()
        .map(|v| {
            let rows = v.len() / n.max(1);
            Array2::from_shape_vec((rows, n), v).expect("whole rows")
        })
        .collect())
}

/// What the intact run over the shuffled sets gives.
pub(super) struct SequencePass {
    /// Per class, the moments of the activity at index 8 of the sequences showing it there
    /// (the "normal" group of the error-unit test).
    pub normal: Vec<Moments>,
    /// The internal drive grid (pixel-mapped models).
    pub grid: Option<DriveGrid>,
    /// Mean state after the digit preceded by k frames, `[digit][k][unit]`.
    pub state_means: Vec<Vec<Vec<f64>>>,
    /// Fig 2C drive curves on the set starting at 0 (pixel-mapped models).
    pub drive: Option<DriveCurves>,
    /// Fig 2C images of its first sequence (pixel-mapped models).
    pub images: Option<DriveImages>,
}

impl SequencePass {
    /// Runs the intact model over every shuffled set.
    pub fn run(model: &mut StepModel, ctx: &Context, pixel_mapped: bool) -> Result<Self> {
        let n = model.n_units();
        let mut normal: Vec<Moments> = (0..NUM_CLASSES).map(|_| Moments::new(n)).collect();
        let mut grid = GridSums::new(n);
        let mut states = GridSums::new(n);
        let mut drives = Vec::new();
        let mut images = None;
        for (start, spec) in ctx.sets.shuffled.iter().enumerate() {
            each_chunk(model, ctx.images, spec, STEPS, None, |_, x, acts| {
                normal[ctx.cycle.class_at(start, DISTRACTOR_AT)]
                    .add(acts.act.index_axis(Axis(0), DISTRACTOR_AT));
                let rows = x.dim().1;
                for k in 0..STEPS {
                    let h = acts.act.index_axis(Axis(0), k);
                    states.add(ctx.cycle.class_at(start, k), k, rows, |r, u| h[[r, u]]);
                }
                if pixel_mapped {
                    add_internal(&mut grid, &ctx.cycle, start, x, acts);
                    if start == 0 {
                        drives.push((rows, analysis::drive_curves(x.view(), acts.preact.view())));
                        if images.is_none() {
                            images = Some(DriveImages {
                                input: (0..STEPS).map(|t| x.slice(s![t, 0, ..]).to_vec()).collect(),
                                internal: internal_images(x, acts, 0),
                                total: (0..STEPS)
                                    .map(|t| acts.preact.slice(s![t, 0, ..]).to_vec())
                                    .collect(),
                                internal_prediction: None,
                                internal_random: None,
                            });
                        }
                    }
                }
            })?;
        }
        Ok(Self {
            normal,
            grid: pixel_mapped.then(|| grid.grid()),
            state_means: states.means(),
            drive: pixel_mapped.then(|| combine_drives(&drives)),
            images,
        })
    }
}

/// Per class, the moments of the activity at index 8 of the set `sets[i]` shows it in, with
/// `class_of(i)` that class: the distractor sets (by the class expected there), the
/// unexpected sets (by the class shown), or the shuffled sets (by `cycle.class_at(i, 8)`).
pub(crate) fn index8_moments<R: Runner + ?Sized>(
    model: &mut R,
    images: &Images,
    sets: &[SeqSpec],
    class_of: impl Fn(usize) -> usize,
) -> Result<Vec<Moments>> {
    let n = model.units();
    let mut out: Vec<Moments> = (0..NUM_CLASSES).map(|_| Moments::new(n)).collect();
    for (i, spec) in sets.iter().enumerate() {
        // Index 8 is the ninth frame: nothing after it is needed.
        each_chunk(
            model,
            images,
            spec,
            DISTRACTOR_AT + 1,
            None,
            |_, _, acts| {
                out[class_of(i)].add(acts.act.index_axis(Axis(0), DISTRACTOR_AT));
            },
        )?;
    }
    Ok(out)
}

/// How a model's energy is summed: the paper's definitions on `preact` (step-v1), or the
/// step-v2 outputs (`ap` from `act`, `st` from `transmission` where the model has it).
#[derive(Debug, Clone, Copy)]
pub(super) struct EnergyMode {
    v2: bool,
    transmission: bool,
}

impl EnergyMode {
    pub fn of(model: &StepModel) -> Self {
        Self {
            v2: model.version() == Version::V2,
            transmission: model
                .optional_outputs()
                .contains(&contract::OUTPUT_TRANSMISSION),
        }
    }

    fn sums(self, n: usize, w: Option<ArrayView2<f32>>) -> EnergySums {
        if self.transmission {
            EnergySums::with_transmission(STEPS, n)
        } else {
            EnergySums::new(STEPS, n, w)
        }
    }

    fn add(self, sums: &mut EnergySums, acts: &Activations) {
        if self.v2 {
            sums.add_outputs(
                acts.preact.view(),
                acts.act.view(),
                acts.transmission.as_ref().map(|t| t.view()),
            );
        } else {
            sums.add(acts.preact.view());
        }
    }
}

/// What the intact run over the test set gives.
pub(super) struct TestEnergy {
    /// Per-unit energy sums.
    pub sums: EnergySums,
    /// The published (open-loop) connection lesion's curves, where asked for.
    pub connection: Option<EnergyCurves>,
    /// Per test sequence, the mean |preact| over the headline units at the last step (the
    /// hierarchical intervals resample these).
    pub last_pre: Vec<f64>,
}

/// The per-unit energy sums of the intact model on the test set and, with `removed` (the
/// weights the connection lesion cuts), the curves of the connection lesion (`st` then uses
/// the lesioned weights).
pub(super) fn test_energy(
    model: &mut StepModel,
    ctx: &Context,
    w: Option<&Array2<f32>>,
    removed: Option<&Array2<f32>>,
    headline: &[usize],
) -> Result<TestEnergy> {
    let n = model.n_units();
    let mode = EnergyMode::of(model);
    let mut intact = mode.sums(n, w.map(|w| w.view()));
    let cut = w.zip(removed).map(|(w, r)| w - r);
    let mut connection = cut
        .as_ref()
        .map(|c| EnergySums::new(STEPS, n, Some(c.view())));
    let mut last_pre = Vec::with_capacity(ctx.sets.test.len());
    each_chunk(
        model,
        ctx.images,
        &ctx.sets.test,
        STEPS,
        None,
        |_, x, acts| {
            mode.add(&mut intact, acts);
            for row in acts.preact.index_axis(Axis(0), STEPS - 1).rows() {
                let sum: f64 = headline.iter().map(|&u| f64::from(row[u].abs())).sum();
                last_pre.push(sum / headline.len().max(1) as f64);
            }
            if let (Some(sums), Some(c)) = (connection.as_mut(), cut.as_ref()) {
                let a = analysis::connection_lesioned(x.view(), acts.act.view(), c.view());
                sums.add(a.view());
            }
        },
    )?;
    Ok(TestEnergy {
        sums: intact,
        connection: connection.map(|c| c.finish()),
        last_pre,
    })
}

/// The per-unit energy sums of the model on the test set with `mask` on the state.
pub(super) fn lesioned_energy(
    model: &mut StepModel,
    ctx: &Context,
    mask: &[f32],
    w: Option<ArrayView2<f32>>,
) -> Result<EnergySums> {
    let mode = EnergyMode::of(model);
    let mut sums = mode.sums(model.n_units(), w);
    each_chunk(
        model,
        ctx.images,
        &ctx.sets.test,
        STEPS,
        Some(mask),
        |_, _, acts| mode.add(&mut sums, acts),
    )?;
    Ok(sums)
}

/// What a lesioned run over the shuffled sets gives (pixel-mapped models).
pub(super) struct LesionedClassPass {
    /// Fig 2C drive curves on the set starting at 0.
    pub drive: DriveCurves,
    /// Internal-drive images of its first sequence.
    pub first_internal: Vec<Vec<f32>>,
    /// The internal drive grid, when asked for.
    pub grid: Option<DriveGrid>,
}

impl LesionedClassPass {
    /// Runs the model with `mask` over the shuffled set starting at 0, and over every shuffled
    /// set when `with_grid`.
    pub fn run(
        model: &mut StepModel,
        ctx: &Context,
        mask: &[f32],
        with_grid: bool,
    ) -> Result<Self> {
        let mut grid = GridSums::new(model.n_units());
        let mut drives = Vec::new();
        let mut first = None;
        let starts = if with_grid { NUM_CLASSES } else { 1 };
        for (start, spec) in ctx.sets.shuffled.iter().enumerate().take(starts) {
            each_chunk(model, ctx.images, spec, STEPS, Some(mask), |_, x, acts| {
                add_internal(&mut grid, &ctx.cycle, start, x, acts);
                if start == 0 {
                    drives.push((
                        x.dim().1,
                        analysis::drive_curves(x.view(), acts.preact.view()),
                    ));
                    if first.is_none() {
                        first = Some(internal_images(x, acts, 0));
                    }
                }
            })?;
        }
        Ok(Self {
            drive: combine_drives(&drives),
            first_internal: first.unwrap_or_default(),
            grid: with_grid.then(|| grid.grid()),
        })
    }
}
