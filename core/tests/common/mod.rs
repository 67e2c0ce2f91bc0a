//! Helpers shared by the integration tests: where the test data lives, its known facts, and
//! copies of it (altered or not) in temporary folders.
//!
//! Two sources of data:
//! - [`testdata`]: the small real-data subsets committed in `testdata/` (see its README.md);
//!   every test that runs by default uses only these and `core/assets/`.
//! - [`shared`]: the full data sets, only for `#[ignore]`d tests, found through the
//!   environment variable `EPC_SHARED_DATA` and nothing else.

#![allow(dead_code)]

pub mod http;

use epc_core::data::fetch::RemoteFile;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A folder of the committed test data, e.g. `"mnist-small"`: `<repo>/testdata/<name>`.
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(name)
}

/// A data set folder of the full data sets, e.g. `"mnist"`: `$EPC_SHARED_DATA/<name>`.
///
/// Panics with one clear message when the variable is unset or lacks the folder.
pub fn shared(name: &str) -> PathBuf {
    let msg =
        "this test needs the full data sets: set EPC_SHARED_DATA=<folder> and run with --ignored";
    let Some(root) = std::env::var_os("EPC_SHARED_DATA") else {
        panic!("{msg} (EPC_SHARED_DATA is not set)");
    };
    let dir = PathBuf::from(root).join(name);
    assert!(dir.is_dir(), "{msg} ({} not found)", dir.display());
    dir
}

/// The embedded 8x8 digits as a file: `core/assets/digits.csv.gz`.
pub fn digits_asset() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/digits.csv.gz")
}

/// The text of the embedded digits CSV (one image a line: 64 values 0..16, then the label).
pub fn digits_csv() -> String {
    String::from_utf8(gunzip(&std::fs::read(digits_asset()).unwrap())).unwrap()
}

/// The CIFAR-10 sample: the first 20 images of the test batch, as bytes.
pub fn cifar_first20() -> Vec<u8> {
    std::fs::read(testdata("cifar10-first20").join("test_batch_first20.bin")).unwrap()
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

/// The checksum list of a data folder.
pub const MD5SUMS: &str = "MD5SUMS";

/// Copies the four gzipped IDX files of the folder `from` into `to`, with the folder's
/// `MD5SUMS` when it has one (so a subset still loads, checksum-verified).
pub fn copy_idx_gz(from: &Path, to: &Path) {
    copy_files(from, to, &IDX_GZ);
    if from.join(MD5SUMS).is_file() {
        copy_files(from, to, &[MD5SUMS]);
    }
}

/// Copies the four gzipped IDX files of `from` into `to` without any `MD5SUMS`.
pub fn copy_idx_gz_without_md5sums(from: &Path, to: &Path) {
    copy_files(from, to, &IDX_GZ);
}

/// Writes the IDX files of the folder `from` into `to` as raw (un-gzipped) files.
pub fn copy_idx_raw(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for n in IDX_GZ {
        let raw = gunzip(&std::fs::read(from.join(n)).unwrap());
        std::fs::write(to.join(n.trim_end_matches(".gz")), raw).unwrap();
    }
}

/// The un-gzipped bytes of one file of a folder.
pub fn raw_idx(dir: &Path, name: &str) -> Vec<u8> {
    gunzip(&std::fs::read(dir.join(name)).unwrap())
}

// ---- facts of the subsets (testdata/README.md) -----------------------------------------

/// Training images in each subset (the first 1,000 of the full training split).
pub const SMALL_TRAIN: usize = 1000;
/// Test images in each subset (the first 200 of the full test split).
pub const SMALL_TEST: usize = 200;

/// mnist-small: training labels per class.
pub const MNIST_SMALL_TRAIN_COUNTS: [usize; 10] = [97, 116, 99, 93, 105, 92, 94, 117, 87, 100];
/// mnist-small: test labels per class.
pub const MNIST_SMALL_TEST_COUNTS: [usize; 10] = [17, 28, 16, 16, 28, 20, 20, 24, 10, 21];
/// fashion-mnist-small: training labels per class.
pub const FASHION_SMALL_TRAIN_COUNTS: [usize; 10] = [107, 104, 86, 92, 95, 100, 100, 115, 102, 99];
/// fashion-mnist-small: test labels per class.
pub const FASHION_SMALL_TEST_COUNTS: [usize; 10] = [20, 27, 27, 17, 21, 16, 16, 20, 18, 18];

/// The files of `testdata/mnist-small` with the digests of its `MD5SUMS`, in [`IDX_GZ`] order.
pub const MNIST_SMALL_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        md5: &["54fdd8ced80106b967c9ca330e86f7b1"],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        md5: &["9dd354bee7209514e0799197e326beb9"],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        md5: &["2640ca1a4c3e5583cd6a97937af9c4e2"],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        md5: &["83da50bb921bfc303dd913c9ddaad6c3"],
    },
];

/// The files of `testdata/fashion-mnist-small` with the digests of its `MD5SUMS`.
pub const FASHION_SMALL_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        md5: &["99e3676b65c971e51e22535009059031"],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        md5: &["e6dbe5269a8976ebbc657eed5205958c"],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        md5: &["65ee33f9290badb70e9fb1c93112209a"],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        md5: &["f70c48a0330332d4f8b1057370667c80"],
    },
];

/// Labels of the 20 CIFAR-10 sample images.
pub const CIFAR_LABELS: [u8; 20] = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6];

// ---- bytes -----------------------------------------------------------------------------

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

/// A source that never touches the network or the user's cache.
pub fn offline(
    kind: epc_core::data::DatasetKind,
    dir: Option<&Path>,
    cache: &Path,
) -> epc_core::data::DataSource {
    epc_core::data::DataSource {
        kind,
        data_dir: dir.map(Path::to_path_buf),
        fetch: epc_core::data::FetchOptions {
            enabled: false,
            cache_dir: cache.to_path_buf(),
            mirrors: Vec::new(),
        },
    }
}

/// An MNIST source without a data folder: the cache `cache`, then `mirrors` when `enabled`.
pub fn mirror_source(
    cache: &Path,
    mirrors: Vec<String>,
    enabled: bool,
) -> epc_core::data::DataSource {
    epc_core::data::DataSource {
        kind: epc_core::data::DatasetKind::Mnist,
        data_dir: None,
        fetch: epc_core::data::FetchOptions {
            enabled,
            cache_dir: cache.to_path_buf(),
            mirrors,
        },
    }
}
