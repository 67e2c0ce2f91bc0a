//! Data sets: where they come from, how they load, how they split.

pub mod cifar;
pub mod digits;
pub mod fetch;
pub mod idx;
pub mod images;

pub use fetch::FetchOptions;
pub use images::{ImageShape, Images};

use crate::{Error, Result};
use fetch::RemoteFile;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

/// The data sets epc knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// The UCI 8x8 digits embedded in the binary (1,437 train / 360 test images, 64 units).
    Digits,
    /// MNIST, 28x28 grey (784 units).
    Mnist,
    /// Fashion-MNIST, 28x28 grey (784 units).
    FashionMnist,
    /// CIFAR-10, 3x32x32 colour (3072 units), binary batch files.
    Cifar10,
}

impl DatasetKind {
    /// The name used on the command line and in configs.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Digits => "digits",
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
        }
    }

    /// All data sets, in the order of the command line's list.
    pub const ALL: [DatasetKind; 4] = [
        DatasetKind::Digits,
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
    ];

    /// The data set called `name` ([`DatasetKind::name`]), if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The image shape of this data set.
    pub fn shape(self) -> ImageShape {
        match self {
            DatasetKind::Digits => digits::SHAPE,
            DatasetKind::Mnist | DatasetKind::FashionMnist => ImageShape {
                channels: 1,
                height: 28,
                width: 28,
            },
            DatasetKind::Cifar10 => cifar::SHAPE,
        }
    }

    fn idx_files(self) -> Option<(&'static [RemoteFile; 4], &'static [&'static str])> {
        match self {
            DatasetKind::Mnist => Some((&MNIST_FILES, MNIST_MIRRORS)),
            DatasetKind::FashionMnist => Some((&FASHION_FILES, FASHION_MIRRORS)),
            _ => None,
        }
    }
}

impl std::fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// MNIST files in the order train images, train labels, test images, test labels.
pub const MNIST_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        md5: &["f68b3c2dcbeaaa9fbdd348bbdeb94873"],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        md5: &["d53e105ee54ea40749a09fcbcd1e9432"],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        md5: &["9fb629c4189551a2d022fa330f9573f3"],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        md5: &["ec29112dd5afa0611ce80d1b7f02629c"],
    },
];

/// Fashion-MNIST files, same order as [`MNIST_FILES`]. Two digests each: the canonical
/// gzip files and the Debian re-packaging (same IDX content, different gzip bytes).
pub const FASHION_FILES: [RemoteFile; 4] = [
    RemoteFile {
        name: "train-images-idx3-ubyte.gz",
        md5: &[
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "cf8536b0aa1a6ac5fa3f23001093305c",
        ],
    },
    RemoteFile {
        name: "train-labels-idx1-ubyte.gz",
        md5: &[
            "25c81989df183df01b3e8a0aad5dffbe",
            "10bea18fdb374794d4bb42e356e600c9",
        ],
    },
    RemoteFile {
        name: "t10k-images-idx3-ubyte.gz",
        md5: &[
            "bef4ecab320f06d8554ea6380940ec79",
            "f78720b4224f21cce2f2ccf2d7a94c9a",
        ],
    },
    RemoteFile {
        name: "t10k-labels-idx1-ubyte.gz",
        md5: &[
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0d30e22e447f3c33dab9ed536400ac01",
        ],
    },
];

/// The usual public MNIST mirrors.
pub const MNIST_MIRRORS: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist",
    "https://storage.googleapis.com/cvdf-datasets/mnist",
];

/// The usual public Fashion-MNIST mirror.
pub const FASHION_MIRRORS: &[&str] =
    &["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"];

/// Where to find (or fetch) a data set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DataSource {
    /// Which data set.
    pub kind: DatasetKind,
    /// Folder holding the files; `None` uses the embedded digits or the download cache.
    pub data_dir: Option<PathBuf>,
    /// Download settings for MNIST and Fashion-MNIST.
    pub fetch: FetchOptions,
}

impl DataSource {
    /// A source for `kind` in `data_dir` with default fetch settings.
    pub fn new(kind: DatasetKind, data_dir: Option<PathBuf>) -> Self {
        Self {
            kind,
            data_dir,
            fetch: FetchOptions::default(),
        }
    }
}

/// The official train and test splits of a data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Which data set.
    pub kind: DatasetKind,
    /// The official training split.
    pub train: Images,
    /// The official test split.
    pub test: Images,
}

/// Loads a data set's official splits.
pub fn load(src: &DataSource) -> Result<Dataset> {
    let (train, test) = match src.kind {
        DatasetKind::Digits => match &src.data_dir {
            None => digits::embedded(),
            Some(dir) => {
                let path = find_existing(dir, &["digits.csv.gz", "digits.csv"])?;
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let all = digits::parse(&path, &bytes)?;
                if all.len() <= digits::TEST_SIZE {
                    return Err(Error::format(
                        &path,
                        format!(
                            "{} images, need more than the {} held out as the test split",
                            all.len(),
                            digits::TEST_SIZE
                        ),
                    ));
                }
                digits::split_tail(&all, digits::TEST_SIZE)
            }
        },
        DatasetKind::Mnist | DatasetKind::FashionMnist => load_idx(src)?,
        DatasetKind::Cifar10 => {
            let dir = cifar::batch_dir(src)?;
            let train: Vec<PathBuf> = cifar::BATCHES[..5].iter().map(|b| dir.join(b)).collect();
            check_files_exist(&dir, &train)?;
            let test = vec![dir.join(cifar::BATCHES[5])];
            check_files_exist(&dir, &test)?;
            (cifar::load_batches(&train)?, cifar::load_batches(&test)?)
        }
    };
    for (split, images) in [("train", &train), ("test", &test)] {
        if images.shape != src.kind.shape() {
            return Err(Error::Config(format!(
                "{} {split} images are {:?}, expected {:?}",
                src.kind,
                images.shape,
                src.kind.shape()
            )));
        }
    }
    Ok(Dataset {
        kind: src.kind,
        train,
        test,
    })
}

fn check_files_exist(dir: &Path, files: &[PathBuf]) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "data folder not found"),
        ));
    }
    match files.iter().find(|f| !f.is_file()) {
        Some(f) => Err(Error::io(
            f,
            std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
        )),
        None => Ok(()),
    }
}

fn find_existing(dir: &Path, names: &[&str]) -> Result<PathBuf> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "data folder not found"),
        ));
    }
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::io(
                dir.join(names[0]),
                std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            )
        })
}

/// Finds one IDX file: `<dir>/<name>.gz` (verified against its MD5) or the un-gzipped
/// `<dir>/<name without .gz>`, else downloads it into the cache when allowed.
fn locate_idx(src: &DataSource, file: &RemoteFile, mirrors: &[&str]) -> Result<PathBuf> {
    if let Some(dir) = &src.data_dir {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "data folder not found"),
            ));
        }
        let gz = dir.join(file.name);
        if gz.is_file() {
            match local_md5(dir, file.name)? {
                Some(digest) => fetch::verify_md5(&gz, &[digest.as_str()])?,
                None => fetch::verify_md5(&gz, file.md5)?,
            }
            return Ok(gz);
        }
        let raw = dir.join(file.name.trim_end_matches(".gz"));
        if raw.is_file() {
            return Ok(raw);
        }
    }
    let cache = src.fetch.cache_dir.join(src.kind.name());
    let cached = cache.join(file.name);
    let cached_check = cached
        .is_file()
        .then(|| fetch::verify_md5(&cached, file.md5));
    if let Some(Ok(())) = cached_check {
        return Ok(cached);
    }
    if !src.fetch.enabled {
        if let Some(Err(e)) = cached_check {
            // Say why the cached copy was not used instead of calling it missing.
            return Err(e);
        }
        let where_ = src.data_dir.as_deref().unwrap_or(&cache);
        return Err(Error::io(
            where_.join(file.name),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "file not found and downloading is disabled",
            ),
        ));
    }
    let list: Vec<String> = if src.fetch.mirrors.is_empty() {
        mirrors.iter().map(|s| s.to_string()).collect()
    } else {
        src.fetch.mirrors.clone()
    };
    fetch::fetch(file, &list, &cache)
}

/// Name of the optional checksum list of a data folder (the format `md5sum` writes).
pub const LOCAL_CHECKSUMS: &str = "MD5SUMS";

/// The digest that `dir/MD5SUMS` gives for `name`, if that file exists and lists it.
///
/// A folder's own list replaces the published digests for the files it lists: this is how a
/// subset of a data set (the repository's `testdata/`) loads, still checksum-verified.
fn local_md5(dir: &Path, name: &str) -> Result<Option<String>> {
    let list = dir.join(LOCAL_CHECKSUMS);
    if !list.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    // The whole list is checked, so a damaged list is never half-trusted.
    let mut found: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (digest, file) = line
            .split_once(char::is_whitespace)
            .map(|(d, f)| (d, f.trim().trim_start_matches('*')))
            .ok_or_else(|| {
                Error::format(&list, format!("line {}: expected `<md5>  <file>`", i + 1))
            })?;
        if digest.len() != 32 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::format(
                &list,
                format!("line {}: {digest:?} is not an MD5 digest", i + 1),
            ));
        }
        if file == name {
            if found.is_some() {
                return Err(Error::format(
                    &list,
                    format!("line {}: {name} is listed twice", i + 1),
                ));
            }
            found = Some(digest.to_ascii_lowercase());
        }
    }
    Ok(found)
}

/// Loads only the official test split of a data set (what a dump or a model check needs:
/// a sixth of MNIST's memory).
pub fn load_test(src: &DataSource) -> Result<Images> {
    let test = match src.kind {
        DatasetKind::Mnist | DatasetKind::FashionMnist => {
            load_idx_files(src, 2..4)?.pop().expect("one split")
        }
        DatasetKind::Digits if src.data_dir.is_none() => digits::embedded().1,
        DatasetKind::Cifar10 => {
            let dir = cifar::batch_dir(src)?;
            let test = vec![dir.join(cifar::BATCHES[5])];
            check_files_exist(&dir, &test)?;
            cifar::load_batches(&test)?
        }
        DatasetKind::Digits => load(src)?.test,
    };
    if test.shape != src.kind.shape() {
        return Err(Error::Config(format!(
            "{} test images are {:?}, expected {:?}",
            src.kind,
            test.shape,
            src.kind.shape()
        )));
    }
    Ok(test)
}

fn load_idx(src: &DataSource) -> Result<(Images, Images)> {
    let mut splits = load_idx_files(src, 0..4)?;
    let test = splits.pop().expect("two splits");
    let train = splits.pop().expect("two splits");
    Ok((train, test))
}

/// The splits of the IDX files `range` of the data set's four (train images, train labels,
/// test images, test labels), in pairs.
fn load_idx_files(src: &DataSource, range: std::ops::Range<usize>) -> Result<Vec<Images>> {
    let (files, mirrors) = src.kind.idx_files().expect("an IDX data set");
    let paths: Vec<PathBuf> = files[range]
        .iter()
        .map(|f| locate_idx(src, f, mirrors))
        .collect::<Result<_>>()?;
    let want = src.kind.shape();
    let mut splits = Vec::with_capacity(2);
    for pair in paths.chunks_exact(2) {
        let images = idx::load_pair(&pair[0], &pair[1])?;
        if images.shape != want {
            return Err(Error::format(
                &pair[0],
                format!(
                    "images are {} x {}, {} needs {} x {}",
                    images.shape.height, images.shape.width, src.kind, want.height, want.width
                ),
            ));
        }
        splits.push(images);
    }
    Ok(splits)
}

/// Train, validation and test images, ready for the sampler.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training images (official train minus the validation part).
    pub train: Images,
    /// Validation images carved from the official training split.
    pub val: Images,
    /// The official test split.
    pub test: Images,
}

/// The (train, validation) indices of a seeded validation split of `n` images.
///
/// `round(n * fraction)` indices go to validation; both lists are sorted (data-set order)
/// and together they partition `0..n`. The same `seed` always gives the same split;
/// `fraction` must lie in [0, 1).
pub fn split_indices(n: usize, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(Error::Config(format!(
            "validation fraction {fraction} must be in [0, 1)"
        )));
    }
    let mut perm: Vec<usize> = (0..n).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x05ee_d0f5_b117);
    perm.shuffle(&mut rng);
    let n_val = (n as f64 * fraction).round() as usize;
    let (val_idx, train_idx) = perm.split_at(n_val);
    let mut val_idx = val_idx.to_vec();
    let mut train_idx = train_idx.to_vec();
    // Keep data-set order inside each part so "deterministic order" stays meaningful.
    val_idx.sort_unstable();
    train_idx.sort_unstable();
    Ok((train_idx, val_idx))
}

/// Carves a validation split of `fraction` of the training images with a seeded permutation
/// (see [`split_indices`]).
///
/// The same `seed` always gives the same split; `fraction` must lie in [0, 1).
pub fn split_validation(data: Dataset, fraction: f64, seed: u64) -> Result<Splits> {
    let (train_idx, val_idx) = split_indices(data.train.len(), fraction, seed)?;
    Ok(Splits {
        train: data.train.subset(&train_idx),
        val: data.train.subset(&val_idx),
        test: data.test,
    })
}
