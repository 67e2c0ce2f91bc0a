//! HDF5 activation dumps: what a model did on a set of sequences, for analysis in any language.
//!
//! # Schema (`epc_format = "epc-dump-v2"`)
//!
//! One HDF5 file; everything lives in the root group `/`. Its datasets and attributes are
//! listed once, in [`schema`] (`schema::DATASETS`, `schema::ATTRIBUTES`), from which
//! `docs/reference/dump-schema.md` is generated.
//!
//! HDF5 (and so h5py) stores arrays in row-major order, while MATLAB's `h5read` returns the
//! dimensions reversed (`act` comes back as `units x sequences x steps`):
//!
//! ```text
//! import h5py
//! with h5py.File("dump.h5", "r") as f:
//!     act = f["act"][()]                    # (steps, sequences, units), float32
//!     labels = f["labels"][()]              # (sequences, steps), int32
//!     attrs = dict(f.attrs)                 # model_sha256, dataset, seed, ...
//!
//! act = permute(h5read('dump.h5', '/act'), [3 2 1]);   % steps x sequences x units
//! labels = h5read('dump.h5', '/labels')';              % sequences x steps
//! ```
//!
//! A dump is written as it is computed ([`DumpWriter`]: chunk by chunk into a temporary sibling,
//! renamed into place by [`DumpWriter::finish`]), so memory does not grow with its size; a
//! writer dropped before `finish` (an error, an interrupt) removes its temporary file. The
//! HDF5 library cannot fail cleanly when the disk fills up in the middle of a write (it
//! crashes when the file is closed), so the writer checks the space first (the uncompressed
//! size is the bound), and after a failed write it abandons the file without closing it.

mod reader;
pub mod schema;
mod writer;

pub use reader::read_dump;
pub use writer::DumpWriter;

use crate::error::{Error, Result};
use ndarray::{ArrayView2, ArrayView3};

/// Value of the `epc_format` attribute of every dump this crate writes.
pub const DUMP_FORMAT: &str = "epc-dump-v2";
/// The earlier format, still read.
pub const DUMP_FORMAT_V1: &str = "epc-dump-v1";

/// The identity and settings recorded with a dump (root-group attributes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpAttributes {
    /// Path of the ONNX model that produced the dump.
    pub model_path: String,
    /// Hex SHA-256 of the model file.
    pub model_sha256: String,
    /// The model's contract (`step-v1` or `sequence-v1`).
    pub contract: String,
    /// The model's metadata properties as a JSON object.
    pub model_metadata_json: String,
    /// Data set name.
    pub dataset: String,
    /// Split (`train`, `val`, `test`).
    pub split: String,
    /// The sequence sets as a JSON list.
    pub sets_json: String,
    /// Seed of the sequence sampler.
    pub seed: u64,
    /// Toolkit version that wrote the dump.
    pub toolkit_version: String,
    /// Creation time, ISO 8601 UTC (see [`crate::utc_timestamp`]).
    pub created_utc: String,
    /// Description of the lesion (`none` when intact).
    pub lesion: String,
    /// The model's unit layout as JSON (states, populations, headline populations;
    /// docs/CONTRACT.md); empty when unknown.
    pub layout_json: String,
    /// Per unit, the pixel of its receptive field (-1: none); empty when unknown.
    pub unit_pixel: Vec<i32>,
    /// Per unit, its layer; empty when unknown.
    pub unit_layer: Vec<i32>,
    /// Per unit, its population (an index into the layout's populations); empty when unknown.
    pub unit_population: Vec<i32>,
}

impl DumpAttributes {
    /// The string attributes every dump carries, by their schema names, in schema order
    /// (`epc_format` first; `arrays`, `compression` and `layout_json` depend on how the dump
    /// is written and are added by its writer).
    pub fn strings(&self) -> [(&'static str, &str); 11] {
        [
            ("epc_format", DUMP_FORMAT),
            ("model_path", &self.model_path),
            ("model_sha256", &self.model_sha256),
            ("contract", &self.contract),
            ("model_metadata_json", &self.model_metadata_json),
            ("dataset", &self.dataset),
            ("split", &self.split),
            ("sets_json", &self.sets_json),
            ("toolkit_version", &self.toolkit_version),
            ("created_utc", &self.created_utc),
            ("lesion", &self.lesion),
        ]
    }
}

/// Which activation datasets a dump holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrays {
    /// The frames.
    pub input: bool,
    /// The preactivations.
    pub preact: bool,
    /// The activities.
    pub act: bool,
    /// The input drive (step-v2 models with a `drive_in` output).
    pub drive_in: bool,
    /// The recurrent drive (step-v2 models with a `drive_rec` output).
    pub drive_rec: bool,
    /// The synaptic transmission (step-v2 models with a `transmission` output).
    pub transmission: bool,
}

/// The names [`Arrays::parse`] accepts, in schema order.
pub const ARRAY_NAMES: [&str; 6] = [
    "input",
    "preact",
    "act",
    "drive_in",
    "drive_rec",
    "transmission",
];

impl Arrays {
    /// None chosen.
    pub const NONE: Arrays = Arrays {
        input: false,
        preact: false,
        act: false,
        drive_in: false,
        drive_rec: false,
        transmission: false,
    };

    /// The three every model has: input, preact and act.
    pub const ALL: Arrays = Arrays {
        input: true,
        preact: true,
        act: true,
        ..Arrays::NONE
    };

    fn flags(&self) -> [bool; 6] {
        [
            self.input,
            self.preact,
            self.act,
            self.drive_in,
            self.drive_rec,
            self.transmission,
        ]
    }

    /// The names of the chosen datasets, in schema order.
    pub fn names(&self) -> Vec<&'static str> {
        ARRAY_NAMES
            .into_iter()
            .zip(self.flags())
            .filter(|(_, on)| *on)
            .map(|(n, _)| n)
            .collect()
    }

    /// The per-unit datasets chosen beyond `preact` and `act` (the step-v2 outputs).
    pub fn extra_names(&self) -> Vec<&'static str> {
        self.names()
            .into_iter()
            .filter(|n| !ARRAY_NAMES[..3].contains(n))
            .collect()
    }

    /// Parses a comma-separated list of [`ARRAY_NAMES`] (at least one).
    pub fn parse(list: &str) -> Result<Arrays> {
        let mut a = Arrays::NONE;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "input" => a.input = true,
                "preact" => a.preact = true,
                "act" => a.act = true,
                "drive_in" => a.drive_in = true,
                "drive_rec" => a.drive_rec = true,
                "transmission" => a.transmission = true,
                other => {
                    return Err(Error::invalid(
                        "array list",
                        format!(
                            "unknown array {other:?} (choose from {})",
                            ARRAY_NAMES.join(", ")
                        ),
                    ))
                }
            }
        }
        if a.names().is_empty() {
            return Err(Error::invalid(
                "array list",
                format!("name at least one of {}", ARRAY_NAMES.join(", ")),
            ));
        }
        Ok(a)
    }
}

/// How the datasets are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is (fastest to write and read, largest).
    None,
    /// The shuffle filter, then gzip at this level (1..=9).
    Gzip(u8),
}

impl Compression {
    /// The name recorded in the `compression` attribute (`none`, `gzip-1`).
    pub fn name(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Gzip(l) => format!("gzip-{l}"),
        }
    }

    /// Parses `none`, `gzip` (level 1) or `gzip-N` / `gzip:N` (N in 1..=9).
    pub fn parse(s: &str) -> Result<Compression> {
        let bad = || {
            Error::invalid(
                "compression",
                format!("{s:?} is not none, gzip or gzip-N with N in 1..9"),
            )
        };
        match s {
            "none" => Ok(Compression::None),
            "gzip" => Ok(Compression::Gzip(1)),
            _ => {
                let level = s
                    .strip_prefix("gzip-")
                    .or_else(|| s.strip_prefix("gzip:"))
                    .ok_or_else(bad)?;
                match level.parse::<u8>() {
                    Ok(l @ 1..=9) => Ok(Compression::Gzip(l)),
                    _ => Err(bad()),
                }
            }
        }
    }
}

/// The shape and settings of a dump, fixed before its first chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpHeader {
    /// Time steps per sequence.
    pub steps: usize,
    /// Sequences in all.
    pub sequences: usize,
    /// Values per frame.
    pub n_in: usize,
    /// Units.
    pub units: usize,
    /// The activation datasets written.
    pub arrays: Arrays,
    /// How they are compressed.
    pub compression: Compression,
    /// The lesion mask, `[units]` (lesioned runs).
    pub lesion_mask: Option<Vec<f32>>,
    /// Whether the frames move on a canvas, so that the dump has a `positions` dataset.
    pub positions: bool,
    /// Identity and settings.
    pub attrs: DumpAttributes,
}

impl DumpHeader {
    /// Entries a lesion mask must have: the state entries the layout (`layout_json`) declares,
    /// else one per unit (a step-v1 model's state is its units).
    pub fn mask_entries(&self) -> usize {
        serde_json::from_str::<serde_json::Value>(&self.attrs.layout_json)
            .ok()
            .and_then(|v| {
                v["states"].as_array().map(|s| {
                    s.iter()
                        .map(|x| x["size"].as_u64().unwrap_or(0) as usize)
                        .sum()
                })
            })
            .unwrap_or(self.units)
    }

    /// An upper bound of the file's size: its uncompressed data and a megabyte of structure.
    pub fn size_bound(&self) -> u64 {
        let (s, q) = (self.steps as u64, self.sequences as u64);
        let width = u64::from(self.arrays.input)
            .saturating_mul(self.n_in as u64)
            .saturating_add(
                (u64::from(self.arrays.preact)
                    + u64::from(self.arrays.act)
                    + self.arrays.extra_names().len() as u64)
                    .saturating_mul(self.units as u64),
            );
        let f32s = s.saturating_mul(q).saturating_mul(width);
        let per_step = if self.positions { 4 } else { 2 };
        let ints = q.saturating_mul(s.saturating_mul(per_step).saturating_add(1));
        f32s.saturating_add(ints)
            .saturating_add(self.units as u64)
            .saturating_mul(4)
            .saturating_add(1 << 20)
    }
}

/// The next sequences of a dump, as views of the caller's arrays (see [`DumpWriter::write`]).
/// Arrays of datasets the header does not choose may be empty.
#[derive(Debug, Clone, Copy)]
pub struct DumpChunk<'a> {
    /// Frames `[steps, b, n_in]`.
    pub input: ArrayView3<'a, f32>,
    /// Preactivations `[steps, b, units]`.
    pub preact: ArrayView3<'a, f32>,
    /// Activities `[steps, b, units]`.
    pub act: ArrayView3<'a, f32>,
    /// Classes `[b, steps]`.
    pub labels: ArrayView2<'a, i32>,
    /// Image indices `[b, steps]`.
    pub frames: ArrayView2<'a, i32>,
    /// Set index of each sequence, `[b]`.
    pub set: &'a [i32],
    /// `[row, column]` of the image on the canvas, `[b, steps, 2]` (a header with
    /// `positions`; else `None`).
    pub positions: Option<ArrayView3<'a, i32>>,
}

/// A whole dump read back (see [`read_dump`]); activation arrays that were not written are
/// `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivationDump {
    /// The format it was written in (`epc-dump-v1` or `-v2`).
    pub format: String,
    /// Shape and settings.
    pub header: DumpHeader,
    /// Frames, row-major `[steps, sequences, n_in]`.
    pub input: Option<Vec<f32>>,
    /// Preactivations, row-major `[steps, sequences, units]`.
    pub preact: Option<Vec<f32>>,
    /// Activities, row-major `[steps, sequences, units]`.
    pub act: Option<Vec<f32>>,
    /// The step-v2 per-unit outputs that were written (`drive_in`, `drive_rec`,
    /// `transmission`), each row-major `[steps, sequences, units]`.
    pub extra: Vec<(String, Vec<f32>)>,
    /// Classes, row-major `[sequences, steps]`.
    pub labels: Vec<i32>,
    /// Image indices, row-major `[sequences, steps]` (`None` in version 1 files).
    pub frames: Option<Vec<i32>>,
    /// Set index of each sequence (`None` in version 1 files).
    pub sequence_set: Option<Vec<i32>>,
    /// `[row, column]` of the image on the canvas, row-major `[sequences, steps, 2]` (moving
    /// streams only).
    pub positions: Option<Vec<i32>>,
}
