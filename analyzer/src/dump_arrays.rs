//! [`crate::dump()`] computed in memory: the same sequences, lesion and arrays, returned as
//! arrays with the attributes the HDF5 file would carry, for callers that want the numbers
//! rather than a file (the Python package's `epc.dump`).

use crate::dump::{prepare, produce, Computed, DumpOptions};
use crate::sequences::SetInfo;
use crate::Result;
use epc_core::data::DatasetKind;
use epc_exporter::h5::DumpAttributes;
use ndarray::{concatenate, Array, Array2, Array3, Axis};

/// A dump held in memory: the datasets of the `epc-dump-v2` schema (docs/reference/dump-schema.md)
/// as arrays, with its attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpArrays {
    /// The activation datasets asked for, in schema order (`input`, `preact`, `act`,
    /// `drive_in`, `drive_rec`, `transmission`), each `[steps, sequences, width]`.
    pub arrays: Vec<(&'static str, Array3<f32>)>,
    /// The class of every frame, `[sequences, steps]`.
    pub labels: Array2<i32>,
    /// The image of every frame (index into the test split), `[sequences, steps]`.
    pub frames: Array2<i32>,
    /// Which set each sequence belongs to (an index into [`DumpArrays::sets`]).
    pub sequence_set: Vec<i32>,
    /// Moving streams only: each frame's top-left pixel on the canvas, `[sequences, steps, 2]`.
    pub positions: Option<Array3<i32>>,
    /// The lesion mask over the state entries (lesioned runs only).
    pub lesion_mask: Option<Vec<f32>>,
    /// The sets, in order.
    pub sets: Vec<SetInfo>,
    /// The data set run.
    pub dataset: DatasetKind,
    /// Units silenced.
    pub lesioned: Vec<usize>,
    /// The file attributes (model, data set, sets, seed, unit layout).
    pub attrs: DumpAttributes,
    /// What loading the model noticed.
    pub notes: Vec<String>,
}

/// Runs the model as [`crate::dump()`] does (`opts.out` and `opts.compression` are not used)
/// and returns the arrays. Memory grows with the number of sequences: about
/// `4 * steps * sequences * (n_in + 2 * units)` bytes for the default arrays.
pub fn dump_arrays(opts: &DumpOptions) -> Result<DumpArrays> {
    let mut p = prepare(opts)?;
    let mut chunks: Vec<Computed> = Vec::new();
    produce(&mut p, |c| {
        chunks.push(c);
        true
    })?;
    let a = p.header.arrays;
    let mut arrays: Vec<(&'static str, Array3<f32>)> = Vec::new();
    let base: [(&'static str, bool, Pick); 3] = [
        ("input", a.input, |c| &c.x),
        ("preact", a.preact, |c| &c.preact),
        ("act", a.act, |c| &c.act),
    ];
    for (name, on, get) in base {
        if on {
            arrays.push((name, cat(&chunks, get, 1)));
        }
    }
    for name in a.extra_names() {
        arrays.push((name, cat(&chunks, |c| extra(c, name), 1)));
    }
    let positions = p.header.positions.then(|| {
        cat(
            &chunks,
            |c| c.positions.as_ref().expect("moving streams"),
            0,
        )
    });
    Ok(DumpArrays {
        arrays,
        labels: cat(&chunks, |c| &c.labels, 0),
        frames: cat(&chunks, |c| &c.frames, 0),
        sequence_set: chunks.iter().flat_map(|c| c.set.iter().copied()).collect(),
        positions,
        lesion_mask: p.header.lesion_mask.clone(),
        sets: p.infos,
        dataset: p.kind,
        lesioned: p.lesioned,
        attrs: p.header.attrs,
        notes: p.model.notes().to_vec(),
    })
}

/// Picks one of a chunk's activation arrays.
type Pick = fn(&Computed) -> &Array3<f32>;

/// The chunks' arrays `get` picks, joined along `axis`.
fn cat<T: Clone, D: ndarray::RemoveAxis>(
    chunks: &[Computed],
    get: impl Fn(&Computed) -> &Array<T, D>,
    axis: usize,
) -> Array<T, D> {
    let views: Vec<_> = chunks.iter().map(|c| get(c).view()).collect();
    concatenate(Axis(axis), &views).expect("chunks of one shape")
}

/// The chosen optional output `name` of a chunk.
fn extra<'c>(c: &'c Computed, name: &str) -> &'c Array3<f32> {
    c.extra
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, x)| x)
        .expect("every chunk has the chosen outputs")
}
