//! The IDX format of MNIST and Fashion-MNIST (raw or gzipped).

use super::images::{ImageShape, Images};
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 2049;

/// Reads a whole file, transparently gunzipping when it starts with the gzip magic.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 4);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::format(path, format!("corrupt or truncated gzip data: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Parses IDX image bytes into (count, rows, cols, pixels as bytes).
fn parse_images<'a>(path: &Path, bytes: &'a [u8]) -> Result<(usize, usize, usize, &'a [u8])> {
    if bytes.len() < 16 {
        return Err(Error::format(
            path,
            format!(
                "IDX image header truncated ({} bytes, need 16)",
                bytes.len()
            ),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != IMAGES_MAGIC {
        return Err(Error::format(
            path,
            format!("wrong IDX magic number {magic} (images need {IMAGES_MAGIC})"),
        ));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    let need = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .ok_or_else(|| Error::format(path, "IDX dimensions overflow"))?;
    let body = &bytes[16..];
    if body.len() != need {
        return Err(Error::format(
            path,
            format!("truncated or oversized IDX images: header says {n} x {rows} x {cols} = {need} bytes, file has {}", body.len()),
        ));
    }
    Ok((n, rows, cols, body))
}

fn parse_labels<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a [u8]> {
    if bytes.len() < 8 {
        return Err(Error::format(
            path,
            format!("IDX label header truncated ({} bytes, need 8)", bytes.len()),
        ));
    }
    let magic = be_u32(bytes, 0);
    if magic != LABELS_MAGIC {
        return Err(Error::format(
            path,
            format!("wrong IDX magic number {magic} (labels need {LABELS_MAGIC})"),
        ));
    }
    let n = be_u32(bytes, 4) as usize;
    let body = &bytes[8..];
    if body.len() != n {
        return Err(Error::format(
            path,
            format!(
                "truncated or oversized IDX labels: header says {n}, file has {}",
                body.len()
            ),
        ));
    }
    if let Some(pos) = body.iter().position(|&l| l > 9) {
        return Err(Error::format(
            path,
            format!("label {} at index {pos} is not a class 0..9", body[pos]),
        ));
    }
    Ok(body)
}

/// Loads a pair of IDX files (images, labels) and scales pixels to [0, 1].
pub fn load_pair(images_path: &Path, labels_path: &Path) -> Result<Images> {
    let img_bytes = read_maybe_gz(images_path)?;
    let lab_bytes = read_maybe_gz(labels_path)?;
    let (n, rows, cols, body) = parse_images(images_path, &img_bytes)?;
    let labels = parse_labels(labels_path, &lab_bytes)?;
    if labels.len() != n {
        return Err(Error::format(
            labels_path,
            format!(
                "{} labels but {} images in {}",
                labels.len(),
                n,
                images_path.display()
            ),
        ));
    }
    Ok(Images {
        shape: ImageShape {
            channels: 1,
            height: rows,
            width: cols,
        },
        pixels: body.iter().map(|&b| b as f32 / 255.0).collect(),
        labels: labels.to_vec(),
    })
}
