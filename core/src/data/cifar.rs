//! The CIFAR-10 binary format: records of 1 label byte + 3072 pixel bytes (R, G, B planes).

use super::idx::read_maybe_gz;
use super::images::{ImageShape, Images};
use crate::{Error, Result};
use std::path::Path;

/// Bytes per CIFAR-10 record.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The shape of a CIFAR-10 image (channel-major, as SPEC.md section 1 indexes units).
pub const SHAPE: ImageShape = ImageShape {
    channels: 3,
    height: 32,
    width: 32,
};

/// Parses one CIFAR-10 batch file and appends its images to `out`.
pub fn append_batch(path: &Path, out: &mut Images) -> Result<()> {
    let bytes = read_maybe_gz(path)?;
    if bytes.is_empty() || bytes.len() % RECORD != 0 {
        return Err(Error::format(
            path,
            format!("size {} is not a positive multiple of the {RECORD}-byte CIFAR-10 record (truncated?)", bytes.len()),
        ));
    }
    out.pixels.reserve(bytes.len());
    for (k, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if rec[0] > 9 {
            return Err(Error::format(
                path,
                format!("record {k} has label {} (not 0..9)", rec[0]),
            ));
        }
        out.labels.push(rec[0]);
        out.pixels
            .extend(rec[1..].iter().map(|&b| b as f32 / 255.0));
    }
    Ok(())
}

/// Loads and concatenates CIFAR-10 batch files in the order given.
pub fn load_batches(paths: &[std::path::PathBuf]) -> Result<Images> {
    let mut out = Images {
        shape: SHAPE,
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for p in paths {
        append_batch(p, &mut out)?;
    }
    Ok(out)
}
