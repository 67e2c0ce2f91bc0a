//! The IDX loaders (MNIST, Fashion-MNIST) and the validation split, against the facts of the
//! committed subsets in `testdata/README.md`; the same checks on the full data sets are
//! `#[ignore]`d (run them with `EPC_SHARED_DATA=<folder> cargo test -- --ignored`).

mod common;

use common::*;
use epc_core::data::{self, load, split_validation, Dataset, DatasetKind, ImageShape};
use std::path::Path;
use std::sync::OnceLock;

/// Loads a data set from `dir` as it is (no copy), with a throw-away cache.
fn load_from(kind: DatasetKind, dir: &Path) -> Dataset {
    let cache = tempfile::tempdir().unwrap();
    load(&offline(kind, Some(dir), cache.path())).unwrap()
}

/// `testdata/mnist-small`, loaded once per test binary straight from the repository.
fn mnist_small() -> &'static Dataset {
    static MNIST: OnceLock<Dataset> = OnceLock::new();
    MNIST.get_or_init(|| load_from(DatasetKind::Mnist, &testdata("mnist-small")))
}

/// Full MNIST loaded once per test binary from a gzipped copy (published digests).
fn mnist() -> &'static Dataset {
    static MNIST: OnceLock<Dataset> = OnceLock::new();
    MNIST.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        copy_idx_gz_without_md5sums(&shared("mnist"), tmp.path());
        load_from(DatasetKind::Mnist, tmp.path())
    })
}

const MNIST_SHAPE: ImageShape = ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

/// Mean and standard deviation of all pixels.
fn mean_and_std(px: &[f32]) -> (f64, f64) {
    let n = px.len() as f64;
    let mean = px.iter().map(|&p| p as f64).sum::<f64>() / n;
    let var = px.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Compares images of `d.train` with the bytes of the raw IDX file, at the given
/// (image, row, first column) positions, eight pixels each, and the whole first image.
fn assert_pixels_are_raw_bytes(d: &Dataset, raw: &[u8], spots: &[(usize, usize, usize)]) {
    for &(img, row, col) in spots {
        for c in col..col + 8 {
            let byte = raw[16 + img * 784 + row * 28 + c];
            assert_eq!(
                d.train.image(img)[row * 28 + c],
                byte as f32 / 255.0,
                "image {img} ({row},{c})"
            );
        }
    }
    let first: Vec<f32> = raw[16..16 + 784]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    assert_eq!(d.train.image(0), &first[..]);
    assert!(first.iter().any(|&p| p > 0.0));
}

// ---- MNIST, subset -------------------------------------------------------------------

#[test]
fn mnist_small_counts_shape_and_labels() {
    let d = mnist_small();
    assert_eq!(d.kind, DatasetKind::Mnist);
    assert_eq!((d.train.len(), d.test.len()), (SMALL_TRAIN, SMALL_TEST));
    assert_eq!(d.train.shape, MNIST_SHAPE);
    assert_eq!(d.test.shape, MNIST_SHAPE);
    assert_eq!(d.train.pixels.len(), 1000 * 784);
    assert_eq!(d.test.pixels.len(), 200 * 784);
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&d.test.labels[..5], &[7, 2, 1, 0, 4]);
    assert_eq!(d.train.class_counts(), MNIST_SMALL_TRAIN_COUNTS);
    assert_eq!(d.test.class_counts(), MNIST_SMALL_TEST_COUNTS);
    // The rarest training class is 8.
    assert_eq!(*d.train.class_counts().iter().min().unwrap(), 87);
}

#[test]
fn mnist_small_pixel_statistics() {
    let d = mnist_small();
    let (mean, std) = mean_and_std(&d.train.pixels);
    assert!((mean - 0.12824).abs() < 1e-4, "mean {mean}");
    // Computed from the subset's bytes (the full training set has 0.3081).
    assert!((std - 0.30514).abs() < 1e-4, "std {std}");
    assert!((d.train.mean_pixel() - mean).abs() < 1e-9);
    let (lo, hi) = d
        .train
        .pixels
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert_eq!((lo, hi), (0.0, 1.0));
}

#[test]
fn mnist_small_pixels_are_bytes_over_255_row_major() {
    let raw = raw_idx(&testdata("mnist-small"), IDX_GZ[0]);
    assert_eq!(raw.len(), 16 + 1000 * 784);
    let spots = [(0, 14, 7), (0, 5, 12), (123, 10, 15), (999, 20, 9)];
    assert_pixels_are_raw_bytes(mnist_small(), &raw, &spots);
}

#[test]
fn raw_idx_files_and_a_copy_load_the_same_as_gzipped() {
    let tmp = tempfile::tempdir().unwrap();
    let raw_dir = tmp.path().join("raw");
    copy_idx_raw(&testdata("mnist-small"), &raw_dir);
    assert!(!raw_dir.join(IDX_GZ[0]).exists());
    assert!(raw_dir.join("train-images-idx3-ubyte").is_file());
    let gz_dir = tmp.path().join("gz");
    copy_idx_gz(&testdata("mnist-small"), &gz_dir);
    assert!(gz_dir.join(MD5SUMS).is_file());
    let gz = mnist_small();
    for d in [
        load_from(DatasetKind::Mnist, &raw_dir),
        load_from(DatasetKind::Mnist, &gz_dir),
    ] {
        assert_eq!(d.train.len(), 1000);
        assert_eq!(d.train.labels, gz.train.labels);
        assert_eq!(d.test.labels, gz.test.labels);
        assert!(d.train.pixels == gz.train.pixels, "train pixels differ");
        assert!(d.test.pixels == gz.test.pixels, "test pixels differ");
    }
}

// ---- Fashion-MNIST, subset -----------------------------------------------------------

#[test]
fn fashion_mnist_small_counts_labels_and_mean() {
    let dir = testdata("fashion-mnist-small");
    let d = load_from(DatasetKind::FashionMnist, &dir);
    assert_eq!(d.kind, DatasetKind::FashionMnist);
    assert_eq!(d.train.shape, MNIST_SHAPE);
    assert_eq!((d.train.len(), d.test.len()), (SMALL_TRAIN, SMALL_TEST));
    assert_eq!(d.train.class_counts(), FASHION_SMALL_TRAIN_COUNTS);
    assert_eq!(d.test.class_counts(), FASHION_SMALL_TEST_COUNTS);
    assert_eq!(&d.train.labels[..5], &[9, 0, 0, 3, 0]);
    let mean = d.train.mean_pixel();
    assert!((mean - 0.28290).abs() < 1e-4, "mean {mean}");
    let raw = raw_idx(&dir, IDX_GZ[3]);
    assert_eq!(d.test.labels[..], raw[8..]);
    // Not MNIST by mistake.
    assert_ne!(d.train.labels, mnist_small().train.labels);
}

// ---- validation split ----------------------------------------------------------------

/// The default split (10 %, seed 42) of `d`: sizes, indices, and every class in proportion.
fn check_default_split(d: &Dataset, n_val: usize) {
    let n = d.train.len();
    let s = split_validation(d.clone(), 0.1, 42).unwrap();
    assert_eq!(s.val.len(), n_val);
    assert_eq!(s.train.len(), n - n_val);
    assert_eq!(s.test.len(), d.test.len());
    assert_eq!(s.test.labels, d.test.labels);
    let (train_idx, val_idx) = data::split_indices(n, 0.1, 42).unwrap();
    assert_eq!(s.train, d.train.subset(&train_idx));
    assert_eq!(s.val, d.train.subset(&val_idx));
    // Every class is represented in the validation part, roughly in proportion.
    for (c, (&v, &all)) in s
        .val
        .class_counts()
        .iter()
        .zip(d.train.class_counts().iter())
        .enumerate()
    {
        let expect = all as f64 * 0.1;
        assert!(v > 0, "class {c}: none of {all} in validation");
        assert!(
            (v as f64 - expect).abs() < 6.0 * expect.sqrt(),
            "class {c}: {v} of {all}"
        );
    }
}

#[test]
fn validation_split_default_fraction_on_mnist_small() {
    check_default_split(mnist_small(), 100);
}

#[test]
fn validation_split_partitions_and_is_seeded() {
    let (train, val) = data::split_indices(60_000, 0.1, 1).unwrap();
    assert_eq!((train.len(), val.len()), (54_000, 6000));
    let mut seen = vec![0u8; 60_000];
    for &i in train.iter().chain(&val) {
        seen[i] += 1;
    }
    assert!(
        seen.iter().all(|&s| s == 1),
        "train and val must partition the training set"
    );
    assert!(train.windows(2).all(|w| w[0] < w[1]) && val.windows(2).all(|w| w[0] < w[1]));
    // Not simply the head or the tail of the set.
    assert!(val[0] < 1000 && *val.last().unwrap() > 59_000);
    assert_eq!(
        data::split_indices(60_000, 0.1, 1).unwrap(),
        (train.clone(), val.clone())
    );
    let (_, val2) = data::split_indices(60_000, 0.1, 2).unwrap();
    assert_ne!(val, val2);
    let overlap = val.iter().filter(|i| val2.binary_search(i).is_ok()).count();
    assert!(
        overlap < 1200,
        "two seeds overlap in {overlap} of 6000 (about 600 expected)"
    );
    // Other sizes.
    assert_eq!(data::split_indices(1000, 0.1, 0).unwrap().1.len(), 100);
    assert_eq!(data::split_indices(1437, 0.2, 0).unwrap().1.len(), 287);
    assert_eq!(
        data::split_indices(100, 0.0, 0).unwrap(),
        ((0..100).collect(), vec![])
    );
}

#[test]
fn validation_split_on_digits_same_seed_same_images() {
    let tmp = tempfile::tempdir().unwrap();
    let d = load(&offline(DatasetKind::Digits, None, tmp.path())).unwrap();
    let a = split_validation(d.clone(), 0.1, 9).unwrap();
    let b = split_validation(d.clone(), 0.1, 9).unwrap();
    let c = split_validation(d.clone(), 0.1, 10).unwrap();
    assert_eq!(a.val.len(), 144);
    assert_eq!(a.train.len(), 1437 - 144);
    assert_eq!((&a.train, &a.val), (&b.train, &b.val));
    assert_ne!(a.val, c.val);
}

#[test]
fn validation_fraction_out_of_range_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = load(&offline(DatasetKind::Digits, None, tmp.path())).unwrap();
    for f in [1.0, 1.5, -0.1, f64::NAN] {
        let e = split_validation(d.clone(), f, 0).unwrap_err();
        assert_one_line_naming(&e, &["validation fraction"]);
    }
}

// ---- the full data sets (ignored by default) -------------------------------------------

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn mnist_counts_shape_and_labels() {
    let d = mnist();
    assert_eq!(d.kind, DatasetKind::Mnist);
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(d.train.shape, MNIST_SHAPE);
    assert_eq!(d.test.shape, MNIST_SHAPE);
    assert_eq!(d.train.dim(), 784);
    assert_eq!(d.train.pixels.len(), 60_000 * 784);
    assert_eq!(d.test.pixels.len(), 10_000 * 784);
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(
        d.test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    assert_eq!(d.train.class_counts().iter().sum::<usize>(), 60_000);
    assert_eq!(*d.train.class_counts().iter().min().unwrap(), 5421);
    assert_eq!(d.train.class_counts()[5], 5421);
    // The subset is the head of the full set.
    let small = mnist_small();
    assert_eq!(d.train.labels[..1000], small.train.labels[..]);
    assert_eq!(d.test.image(199), small.test.image(199));
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn mnist_pixel_statistics() {
    let px = &mnist().train.pixels;
    let (mean, std) = mean_and_std(px);
    assert!((mean - 0.1307).abs() < 1e-4, "mean {mean}");
    assert!((std - 0.3081).abs() < 1e-4, "std {std}");
    assert!((mnist().train.mean_pixel() - mean).abs() < 1e-9);
    let (lo, hi) = px
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert_eq!((lo, hi), (0.0, 1.0));
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn mnist_pixels_are_bytes_over_255_row_major() {
    let raw = raw_idx(&shared("mnist"), IDX_GZ[0]);
    let spots = [(0, 14, 7), (0, 5, 12), (1234, 10, 15), (59_999, 20, 9)];
    assert_pixels_are_raw_bytes(mnist(), &raw, &spots);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn fashion_mnist_counts() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz_without_md5sums(&shared("fashion-mnist"), tmp.path());
    let d = load_from(DatasetKind::FashionMnist, tmp.path());
    assert_eq!(d.kind, DatasetKind::FashionMnist);
    assert_eq!(d.train.shape, MNIST_SHAPE);
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(d.train.class_counts(), [6000; 10]);
    assert_eq!(d.test.class_counts(), [1000; 10]);
    let raw = raw_idx(&shared("fashion-mnist"), IDX_GZ[3]);
    assert_eq!(d.test.labels[..], raw[8..]);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn published_md5s_match_the_reference_files() {
    for (name, files) in [
        ("mnist", &data::MNIST_FILES),
        ("fashion-mnist", &data::FASHION_FILES),
    ] {
        for f in files.iter() {
            let got = md5(&std::fs::read(shared(name).join(f.name)).unwrap());
            assert!(
                f.md5.contains(&got.as_str()),
                "{name}/{}: {got} not in {:?}",
                f.name,
                f.md5
            );
        }
    }
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn validation_split_default_fraction_on_mnist() {
    check_default_split(mnist(), 6000);
    let s = split_validation(mnist().clone(), 0.1, 42).unwrap();
    assert_eq!(s.train.len(), 54_000);
    assert_eq!(s.test.len(), 10_000);
}
