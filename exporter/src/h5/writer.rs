//! The streaming dump writer: datasets created up front, filled chunk by chunk.

use super::{DumpChunk, DumpHeader};
use crate::error::{Error, Result};
use epc_core::fsutil;
use hdf5::types::VarLenUnicode;
use std::path::{Path, PathBuf};

/// Sequences per HDF5 chunk.
const CHUNK_SEQUENCES: usize = 256;

/// The open datasets of a dump being written.
struct Datasets {
    input: Option<hdf5::Dataset>,
    preact: Option<hdf5::Dataset>,
    act: Option<hdf5::Dataset>,
    /// The chosen step-v2 outputs, by name.
    extra: Vec<(&'static str, hdf5::Dataset)>,
    labels: hdf5::Dataset,
    frames: hdf5::Dataset,
    set: hdf5::Dataset,
    positions: Option<hdf5::Dataset>,
}

/// Writes a dump chunk by chunk into a temporary sibling of its path; [`DumpWriter::finish`]
/// renames it into place. Dropped unfinished, it removes the temporary file.
pub struct DumpWriter {
    path: PathBuf,
    tmp: PathBuf,
    header: DumpHeader,
    // `None` once finished or abandoned.
    open: Option<(hdf5::File, Datasets)>,
    written: usize,
}

impl std::fmt::Debug for DumpWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DumpWriter")
            .field("path", &self.path)
            .field("written", &self.written)
            .finish()
    }
}

fn create_dataset<T: hdf5::H5Type>(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    shape: &[usize],
    chunk: &[usize],
    header: &DumpHeader,
) -> Result<hdf5::Dataset> {
    let mut builder = file.new_dataset::<T>();
    if shape.iter().all(|&d| d > 0) {
        builder = builder.chunk(chunk.to_vec());
        if let super::Compression::Gzip(level) = header.compression {
            builder = builder.shuffle().deflate(level);
        }
    }
    builder
        .shape(shape.to_vec())
        .create(name)
        .map_err(|e| Error::hdf5(path, &format!("cannot create dataset {name}"), e))
}

fn write_string_attr(file: &hdf5::File, path: &Path, name: &str, value: &str) -> Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|_| Error::format(path, format!("attribute {name} contains a NUL character")))?;
    file.new_attr::<VarLenUnicode>()
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(|e| Error::hdf5(path, &format!("cannot write attribute {name}"), e))
}

/// Creates the datasets and attributes of `header` in `file`.
fn layout(file: &hdf5::File, path: &Path, h: &DumpHeader) -> Result<Datasets> {
    let (s, q) = (h.steps, h.sequences);
    let cq = q.clamp(1, CHUNK_SEQUENCES);
    let step_major = |name: &str, width: usize, on: bool| -> Result<Option<hdf5::Dataset>> {
        on.then(|| {
            create_dataset::<f32>(file, path, name, &[s, q, width], &[1, cq, width.max(1)], h)
        })
        .transpose()
    };
    let ds = Datasets {
        input: step_major("input", h.n_in, h.arrays.input)?,
        preact: step_major("preact", h.units, h.arrays.preact)?,
        act: step_major("act", h.units, h.arrays.act)?,
        extra: h
            .arrays
            .extra_names()
            .into_iter()
            .map(|n| Ok((n, step_major(n, h.units, true)?.expect("chosen"))))
            .collect::<Result<Vec<_>>>()?,
        labels: create_dataset::<i32>(file, path, "labels", &[q, s], &[cq, s.max(1)], h)?,
        frames: create_dataset::<i32>(file, path, "frames", &[q, s], &[cq, s.max(1)], h)?,
        set: create_dataset::<i32>(file, path, "sequence_set", &[q], &[cq], h)?,
        positions: h
            .positions
            .then(|| {
                create_dataset::<i32>(file, path, "positions", &[q, s, 2], &[cq, s.max(1), 2], h)
            })
            .transpose()?,
    };
    if let Some(mask) = &h.lesion_mask {
        create_dataset::<f32>(
            file,
            path,
            "lesion_mask",
            &[mask.len()],
            &[mask.len().max(1)],
            h,
        )?
        .write_raw(mask)
        .map_err(|e| Error::hdf5(path, "cannot write dataset lesion_mask", e))?;
    }
    let a = &h.attrs;
    let arrays = h.arrays.names().join(",");
    let compression = h.compression.name();
    let written = [
        ("arrays", arrays.as_str()),
        ("compression", compression.as_ref()),
    ];
    for (name, value) in a.strings().into_iter().chain(written) {
        write_string_attr(file, path, name, value)?;
    }
    if !a.layout_json.is_empty() {
        write_string_attr(file, path, "layout_json", &a.layout_json)?;
    }
    for (name, values) in [
        ("unit_pixel", &a.unit_pixel),
        ("unit_layer", &a.unit_layer),
        ("unit_population", &a.unit_population),
    ] {
        if !values.is_empty() {
            file.new_attr::<i32>()
                .shape(values.len())
                .create(name)
                .and_then(|attr| attr.write_raw(values))
                .map_err(|e| Error::hdf5(path, &format!("cannot write attribute {name}"), e))?;
        }
    }
    file.new_attr::<u64>()
        .create("seed")
        .and_then(|attr| attr.write_scalar(&a.seed))
        .map_err(|e| Error::hdf5(path, "cannot write attribute seed", e))?;
    Ok(ds)
}

impl DumpWriter {
    /// Starts the dump of `header` at `path`: checks that its uncompressed size fits where
    /// it goes, then creates the temporary file with every dataset and attribute.
    pub fn create(path: &Path, header: DumpHeader) -> Result<Self> {
        if let Some(mask) = &header.lesion_mask {
            if mask.len() != header.mask_entries() {
                return Err(Error::format(
                    path,
                    format!(
                        "lesion mask of {} entries for {} state entries",
                        mask.len(),
                        header.mask_entries()
                    ),
                ));
            }
        }
        let parent = path.parent().unwrap_or(Path::new(""));
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Error::io(
                    path,
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot create folder {}: {e}", parent.display()),
                    ),
                )
            })?;
        }
        fsutil::check_space(path, header.size_bound())?;
        let tmp = fsutil::temp_sibling(path);
        let mut w = DumpWriter {
            path: path.to_path_buf(),
            tmp: tmp.clone(),
            header,
            open: None,
            written: 0,
        };
        let file =
            hdf5::File::create(&tmp).map_err(|e| Error::hdf5(path, "cannot create file", e))?;
        match layout(&file, path, &w.header) {
            Ok(ds) => w.open = Some((file, ds)),
            Err(e) => {
                // Never let HDF5 flush a file after a failure (see the module docs).
                std::mem::forget(file);
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
        Ok(w)
    }

    /// The header the dump was created with.
    pub fn header(&self) -> &DumpHeader {
        &self.header
    }

    /// Sequences written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Appends the next `chunk.set.len()` sequences.
    pub fn write(&mut self, chunk: &DumpChunk) -> Result<()> {
        self.write_with(chunk, &[])
    }

    /// [`DumpWriter::write`] with the chosen step-v2 outputs (`extra`: name and
    /// `[steps, b, units]` view, one for each of the header's [`super::Arrays::extra_names`]).
    pub fn write_with(
        &mut self,
        chunk: &DumpChunk,
        extra: &[(&str, ndarray::ArrayView3<f32>)],
    ) -> Result<()> {
        let b = chunk.set.len();
        let h = &self.header;
        let (s, start) = (h.steps, self.written);
        if start + b > h.sequences {
            return Err(Error::format(
                &self.path,
                format!(
                    "{} sequences written into a dump of {}",
                    start + b,
                    h.sequences
                ),
            ));
        }
        let bad =
            |what: &str| Error::format(&self.path, format!("chunk {what} has the wrong shape"));
        if chunk.labels.dim() != (b, s) || chunk.frames.dim() != (b, s) {
            return Err(bad("labels/frames"));
        }
        if h.positions && chunk.positions.map(|p| p.dim()) != Some((b, s, 2)) {
            return Err(bad("positions"));
        }
        let Some((_, ds)) = &self.open else {
            return Err(Error::format(&self.path, "the dump is closed"));
        };
        let path = self.path.clone();
        let result = (|| -> Result<()> {
            let mut all = vec![
                ("input", ds.input.as_ref(), chunk.input, h.n_in),
                ("preact", ds.preact.as_ref(), chunk.preact, h.units),
                ("act", ds.act.as_ref(), chunk.act, h.units),
            ];
            for (name, d) in &ds.extra {
                let view = extra
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.view())
                    .ok_or_else(|| Error::format(&path, format!("chunk has no {name}")))?;
                all.push((name, Some(d), view, h.units));
            }
            for (name, d, a, width) in all {
                if let Some(d) = d {
                    if a.dim() != (s, b, width) {
                        return Err(bad(name));
                    }
                    // HDF5 takes standard-layout data: a strided view is copied first.
                    d.write_slice(&a.as_standard_layout(), (.., start..start + b, ..))
                        .map_err(|e| {
                            Error::hdf5(&path, &format!("cannot write dataset {name}"), e)
                        })?;
                }
            }
            ds.labels
                .write_slice(&chunk.labels.as_standard_layout(), (start..start + b, ..))
                .map_err(|e| Error::hdf5(&path, "cannot write dataset labels", e))?;
            ds.frames
                .write_slice(&chunk.frames.as_standard_layout(), (start..start + b, ..))
                .map_err(|e| Error::hdf5(&path, "cannot write dataset frames", e))?;
            if let (Some(d), Some(p)) = (&ds.positions, chunk.positions) {
                d.write_slice(&p.as_standard_layout(), (start..start + b, .., ..))
                    .map_err(|e| Error::hdf5(&path, "cannot write dataset positions", e))?;
            }
            ds.set
                .write_slice(chunk.set, start..start + b)
                .map_err(|e| Error::hdf5(&path, "cannot write dataset sequence_set", e))
        })();
        match result {
            Ok(()) => {
                self.written += b;
                Ok(())
            }
            Err(e) => {
                self.abandon();
                Err(e)
            }
        }
    }

    /// Closes the file, syncs it and renames it into place; an error unless every sequence
    /// of the header was written.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.written != self.header.sequences {
            let e = Error::format(
                &self.path,
                format!(
                    "{} of {} sequences written",
                    self.written, self.header.sequences
                ),
            );
            self.abandon();
            return Err(e);
        }
        let (file, ds) = self.open.take().expect("open until finished");
        drop(ds);
        let closed = file
            .close()
            .map_err(|e| Error::hdf5(&self.path, "cannot close file", e))
            .and_then(|()| fsutil::sync_file(&self.tmp).map_err(Error::from))
            .and_then(|()| {
                std::fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))
            });
        if let Err(e) = closed {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        fsutil::sync_dir(self.path.parent().unwrap_or(Path::new("")))?;
        Ok(self.path.clone())
    }

    /// Gives up the file: its HDF5 handles are leaked (never closed, so never flushed: see the
    /// module docs) and the temporary file is removed.
    fn abandon(&mut self) {
        if let Some(open) = self.open.take() {
            std::mem::forget(open);
        }
        let _ = std::fs::remove_file(&self.tmp);
    }
}

impl Drop for DumpWriter {
    fn drop(&mut self) {
        // Unfinished (an error or an interrupt upstream): even a clean close could meet a full
        // disk while flushing, so the file is abandoned the same way.
        if self.open.is_some() {
            self.abandon();
        }
    }
}
