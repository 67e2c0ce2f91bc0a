//! Helpers shared by the integration tests: where the reference data lives, and
//! copies of it (altered or not) in temporary folders.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The read-only reference data (`../shared/data` from the project root), or `$EPC_SHARED_DATA`.
pub fn shared_data() -> PathBuf {
    let dir = match std::env::var_os("EPC_SHARED_DATA") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    assert!(
        dir.join("mnist").is_dir(),
        "reference data not found at {} (set EPC_SHARED_DATA to the shared data folder)",
        dir.display()
    );
    dir
}

/// A data set folder inside [`shared_data`], e.g. `"mnist"`.
pub fn shared(name: &str) -> PathBuf {
    shared_data().join(name)
}

/// Copies the files `names` from `from` into `to` (created), as writable files.
pub fn copy_files(from: &Path, to: &Path, names: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for n in names {
        let bytes = std::fs::read(from.join(n))
            .unwrap_or_else(|e| panic!("{}: {e}", from.join(n).display()));
        std::fs::write(to.join(n), bytes).unwrap();
    }
}

/// The four IDX file names (gzipped), in the order train images, train labels, test images, test labels.
pub const IDX_GZ: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

/// Copies an IDX data set (`"mnist"` or `"fashion-mnist"`) into `to`, gzipped as shipped.
pub fn copy_idx_gz(name: &str, to: &Path) {
    copy_files(&shared(name), to, &IDX_GZ);
}

/// Copies an IDX data set into `to` as raw (un-gzipped) files.
pub fn copy_idx_raw(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for n in IDX_GZ {
        let raw = gunzip(&std::fs::read(shared(name).join(n)).unwrap());
        std::fs::write(to.join(n.trim_end_matches(".gz")), raw).unwrap();
    }
}

/// Decompresses gzip bytes.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Compresses bytes with gzip.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Hex MD5 of bytes.
pub fn md5(bytes: &[u8]) -> String {
    epc_core::data::fetch::md5_hex(bytes)
}

/// Asserts that an error's message is one line and mentions every `needle`.
pub fn assert_one_line_naming(err: &epc_core::Error, needles: &[&str]) -> String {
    let msg = err.to_string();
    assert!(
        !msg.contains('\n'),
        "error message is not one line: {msg:?}"
    );
    for n in needles {
        assert!(
            msg.contains(n),
            "error message {msg:?} does not mention {n:?}"
        );
    }
    msg
}

/// All plain files below `dir` (recursively).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
