//! The UCI 8x8 digits (CSV: 64 values 0..16, then the label), embedded as the default data set.

use super::images::{ImageShape, Images};
use crate::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The embedded copy of scikit-learn's `digits.csv.gz` (BSD-3; see assets/DIGITS-LICENSE.txt).
pub const EMBEDDED_GZ: &[u8] = include_bytes!("../../assets/digits.csv.gz");

/// Number of images held out as the test split (the last rows of the file), as in SPEC.md section 7.
pub const TEST_SIZE: usize = 360;

/// The shape of one digit.
pub const SHAPE: ImageShape = ImageShape {
    channels: 1,
    height: 8,
    width: 8,
};

/// Parses the digits CSV (optionally gzipped); `origin` names the source in errors.
pub fn parse(origin: &Path, bytes: &[u8]) -> Result<Images> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut s)
            .map_err(|e| Error::format(origin, format!("corrupt or truncated gzip data: {e}")))?;
        s
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::format(origin, "not UTF-8 text"))?
    };
    let mut out = Images {
        shape: SHAPE,
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for (lineno, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let values: Vec<&str> = line.split(',').collect();
        if values.len() != 65 {
            return Err(Error::format(
                origin,
                format!(
                    "line {}: {} values, need 65 (64 pixels + label)",
                    lineno + 1,
                    values.len()
                ),
            ));
        }
        for (k, v) in values.iter().enumerate() {
            let x: u8 = v.trim().parse().map_err(|_| {
                Error::format(
                    origin,
                    format!("line {}: value {:?} is not an integer", lineno + 1, v),
                )
            })?;
            let max = if k == 64 { 9 } else { 16 };
            if x > max {
                return Err(Error::format(
                    origin,
                    format!("line {}: value {x} out of range 0..{max}", lineno + 1),
                ));
            }
            if k == 64 {
                out.labels.push(x);
            } else {
                out.pixels.push(x as f32 / 16.0);
            }
        }
    }
    if out.is_empty() {
        return Err(Error::format(origin, "no images"));
    }
    Ok(out)
}

/// The embedded digits, split into (train, test): the last [`TEST_SIZE`] rows are the test split.
pub fn embedded() -> (Images, Images) {
    let all = parse(Path::new("<embedded digits.csv.gz>"), EMBEDDED_GZ)
        .expect("the embedded digits parse");
    split_tail(&all, TEST_SIZE)
}

/// Splits off the last `test` images as a test set.
pub fn split_tail(all: &Images, test: usize) -> (Images, Images) {
    let n = all.len();
    let cut = n.saturating_sub(test);
    let train: Vec<usize> = (0..cut).collect();
    let rest: Vec<usize> = (cut..n).collect();
    (all.subset(&train), all.subset(&rest))
}
