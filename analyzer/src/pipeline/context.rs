//! What every model's analysis shares: the sequence sets, the reference curves and the pixel
//! statistics of the data set.

use crate::analysis::ReferenceCurves;
use crate::sequences::{AnalysisSets, SetInfo, Stream};
use crate::Result;
use epc_core::data::{Dataset, ImageShape, Images};
use epc_core::sequence::ClassCycle;

/// Shared inputs of every model's analysis.
pub(crate) struct Context<'a> {
    /// The test split the sets index into.
    pub images: &'a Images,
    pub shape: ImageShape,
    /// The sequence sets, drawn once.
    pub sets: AnalysisSets,
    /// The digit of Fig 4B and Fig 4C.
    pub target: usize,
    /// The class order the sets follow (the models' training stream).
    pub stream: Stream,
    /// Its predictable path: which class follows which in the ordered, shuffled and
    /// distractor sets.
    pub cycle: ClassCycle,
    /// Per-class pixel variance of the test split `[class][pixel]` (Fig 3B).
    pub class_var: Vec<Vec<f64>>,
    /// The reference curves of the test set.
    pub reference: ReferenceCurves,
    /// The references at the last step, per test sequence.
    pub last_refs: super::references::LastRefs,
    /// The unit rules on the frames themselves (the input baseline of every model analysed
    /// on this stream), over the frame's pixels.
    pub input_rules: super::UnitRules,
}

impl<'a> Context<'a> {
    /// Draws the sets of `stream` from the test split of `data` with `seed` (taking those
    /// the folder `given` holds from its files instead) and computes the references (median
    /// images from the whole training split).
    pub fn build(
        data: &'a Dataset,
        seed: u64,
        target: usize,
        stream: Stream,
        given: Option<&std::path::Path>,
    ) -> Result<Self> {
        let images = &data.test;
        let given = match given {
            Some(dir) => crate::sequence_files::GivenSets::read(dir, images, &stream)?,
            None => Default::default(),
        };
        let sets = AnalysisSets::draw_given(images, seed, &stream, given)?;
        let shape = stream.frame_shape(images.shape);
        let refs = super::references::references(data, &sets.test, &stream);
        let mut ctx = Self {
            images,
            shape,
            class_var: refs.class_var,
            sets,
            target,
            cycle: stream.cycle(),
            stream,
            reference: refs.curves,
            last_refs: refs.last,
            input_rules: Default::default(),
        };
        ctx.input_rules = super::unit_rules(&mut super::InputFrames { dim: shape.len() }, &ctx)?;
        Ok(ctx)
    }

    /// How every set was drawn, in the summary's order.
    pub fn set_infos(&self) -> Vec<SetInfo> {
        self.sets.infos()
    }
}

/// The mean over chunks of per-step means, weighted by each chunk's count.
pub(crate) fn weighted_mean<T>(parts: &[(usize, T)], curve: impl Fn(&T) -> &Vec<f64>) -> Vec<f64> {
    let total: usize = parts.iter().map(|p| p.0).sum();
    let steps = parts.first().map_or(0, |p| curve(&p.1).len());
    (0..steps)
        .map(|t| {
            parts
                .iter()
                .map(|(n, r)| curve(r)[t] * *n as f64)
                .sum::<f64>()
                / total.max(1) as f64
        })
        .collect()
}
