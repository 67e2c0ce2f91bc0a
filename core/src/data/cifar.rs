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

/// The official binary archive (<https://www.cs.toronto.edu/~kriz/cifar.html>) with its
/// published MD5.
pub const ARCHIVE: super::fetch::RemoteFile = super::fetch::RemoteFile {
    name: "cifar-10-binary.tar.gz",
    md5: &["c32a1d4ab5d03f1284b67883e8d87530"],
};

/// Where the archive is published.
pub const MIRRORS: &[&str] = &["https://www.cs.toronto.edu/~kriz"];

/// The batch files the loader reads: five training batches, then the test batch.
pub const BATCHES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// The folder inside the archive that holds [`BATCHES`].
#[cfg(feature = "download")]
const ARCHIVE_FOLDER: &str = "cifar-10-batches-bin";

/// The folder with the batch files: `data_dir` when given (it must hold them), else
/// `CACHE/cifar10`, filled from the archive (downloaded from `mirrors`, checked against
/// `archive`'s MD5, unpacked, then deleted) when a batch is missing and downloading is on.
pub fn batch_dir(src: &super::DataSource) -> Result<std::path::PathBuf> {
    if let Some(dir) = &src.data_dir {
        return Ok(dir.clone());
    }
    let cache = src.fetch.cache_dir.join(super::DatasetKind::Cifar10.name());
    if BATCHES.iter().all(|b| cache.join(b).is_file()) {
        return Ok(cache);
    }
    if !src.fetch.enabled {
        return Err(Error::io(
            cache.join(BATCHES[0]),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "file not found and downloading is disabled (give --data-dir with the batch files)",
            ),
        ));
    }
    let mirrors: Vec<String> = if src.fetch.mirrors.is_empty() {
        MIRRORS.iter().map(|s| s.to_string()).collect()
    } else {
        src.fetch.mirrors.clone()
    };
    fetch_batches(&ARCHIVE, &mirrors, &cache)?;
    Ok(cache)
}

/// Downloads `archive` from the first mirror that serves it with a matching MD5 into `dest`,
/// unpacks its batch files there (each written atomically) and deletes the archive. An
/// archive without one of the batches is an error naming it.
pub fn fetch_batches(
    archive: &super::fetch::RemoteFile,
    mirrors: &[String],
    dest: &Path,
) -> Result<()> {
    let path = super::fetch::fetch(archive, mirrors, dest)?;
    let unpacked = unpack(&path, dest);
    let _ = std::fs::remove_file(&path);
    unpacked
}

#[cfg(feature = "download")]
fn unpack(archive: &Path, dest: &Path) -> Result<()> {
    let file = std::fs::File::open(archive).map_err(|e| Error::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |e: std::io::Error| Error::format(archive, format!("cannot unpack the archive: {e}"));
    let mut found = Vec::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let Some(batch) = BATCHES
            .iter()
            .find(|b| name == format!("{ARCHIVE_FOLDER}/{b}"))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(bad)?;
        crate::fsutil::write_atomic(&dest.join(batch), &bytes)?;
        found.push(*batch);
    }
    match BATCHES.iter().find(|b| !found.contains(b)) {
        Some(missing) => Err(Error::format(
            archive,
            format!("the archive has no {ARCHIVE_FOLDER}/{missing}"),
        )),
        None => Ok(()),
    }
}

/// Without the `download` feature nothing is downloaded, so there is nothing to unpack.
#[cfg(not(feature = "download"))]
fn unpack(archive: &Path, _dest: &Path) -> Result<()> {
    Err(Error::format(
        archive,
        "this program was built without downloading (epc-core's `download` feature)",
    ))
}
