//! The loaders against the facts in `shared/data/README.md`, on copies of the real files.

mod common;

use common::*;
use epc_core::data::{
    self, cifar, load, split_validation, DataSource, Dataset, DatasetKind, FetchOptions, ImageShape,
};
use std::path::Path;
use std::sync::OnceLock;

/// A source that never touches the network or the user's cache.
fn offline(kind: DatasetKind, dir: Option<&Path>, cache: &Path) -> DataSource {
    DataSource {
        kind,
        data_dir: dir.map(Path::to_path_buf),
        fetch: FetchOptions {
            enabled: false,
            cache_dir: cache.to_path_buf(),
            mirrors: Vec::new(),
        },
    }
}

/// MNIST loaded once per test binary from a gzipped copy.
fn mnist() -> &'static Dataset {
    static MNIST: OnceLock<Dataset> = OnceLock::new();
    MNIST.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        copy_idx_gz("mnist", tmp.path());
        load(&offline(
            DatasetKind::Mnist,
            Some(tmp.path()),
            &tmp.path().join("cache"),
        ))
        .unwrap()
    })
}

const MNIST_SHAPE: ImageShape = ImageShape {
    channels: 1,
    height: 28,
    width: 28,
};

#[test]
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
}

#[test]
fn mnist_pixel_statistics() {
    let px = &mnist().train.pixels;
    let n = px.len() as f64;
    let mean = px.iter().map(|&p| p as f64).sum::<f64>() / n;
    let var = px.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 0.1307).abs() < 1e-4, "mean {mean}");
    assert!((var.sqrt() - 0.3081).abs() < 1e-4, "std {}", var.sqrt());
    assert!((mnist().train.mean_pixel() - mean).abs() < 1e-9);
    let (lo, hi) = px
        .iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    assert_eq!((lo, hi), (0.0, 1.0));
}

#[test]
fn mnist_pixels_are_bytes_over_255_row_major() {
    let raw = gunzip(&std::fs::read(shared("mnist").join(IDX_GZ[0])).unwrap());
    let d = mnist();
    // Image 0 row 14, column 7..21, and a few spread-out images, compared byte for byte.
    for (img, row, col) in [
        (0usize, 14usize, 7usize),
        (0, 5, 12),
        (1234, 10, 15),
        (59_999, 20, 9),
    ] {
        for c in col..col + 8 {
            let byte = raw[16 + img * 784 + row * 28 + c];
            assert_eq!(
                d.train.image(img)[row * 28 + c],
                byte as f32 / 255.0,
                "image {img} ({row},{c})"
            );
        }
    }
    // Whole first image.
    let first: Vec<f32> = raw[16..16 + 784]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    assert_eq!(d.train.image(0), &first[..]);
    assert!(first.iter().any(|&p| p > 0.0));
}

#[test]
fn raw_idx_files_load_the_same_as_gzipped() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_raw("mnist", tmp.path());
    assert!(!tmp.path().join(IDX_GZ[0]).exists());
    let raw = load(&offline(
        DatasetKind::Mnist,
        Some(tmp.path()),
        &tmp.path().join("cache"),
    ))
    .unwrap();
    let gz = mnist();
    assert_eq!(raw.train.labels, gz.train.labels);
    assert_eq!(raw.test.labels, gz.test.labels);
    assert!(raw.train.pixels == gz.train.pixels, "train pixels differ");
    assert!(raw.test.pixels == gz.test.pixels, "test pixels differ");
}

#[test]
fn fashion_mnist_counts() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz("fashion-mnist", tmp.path());
    let d = load(&offline(
        DatasetKind::FashionMnist,
        Some(tmp.path()),
        &tmp.path().join("cache"),
    ))
    .unwrap();
    assert_eq!(d.kind, DatasetKind::FashionMnist);
    assert_eq!(d.train.shape, MNIST_SHAPE);
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(d.train.class_counts(), [6000; 10]);
    assert_eq!(d.test.class_counts(), [1000; 10]);
    let raw = gunzip(&std::fs::read(shared("fashion-mnist").join(IDX_GZ[3])).unwrap());
    assert_eq!(d.test.labels[..], raw[8..]);
}

const CIFAR_LABELS: [u8; 20] = [3, 8, 8, 0, 6, 6, 1, 6, 3, 1, 0, 9, 5, 7, 9, 8, 5, 7, 8, 6];

#[test]
fn cifar_first20_labels_shape_and_channel_major_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    copy_files(
        &shared("cifar10-test-first20"),
        tmp.path(),
        &["test_batch_first20.bin"],
    );
    let path = tmp.path().join("test_batch_first20.bin");
    let raw = std::fs::read(&path).unwrap();
    assert_eq!(raw.len(), 20 * 3073);
    let imgs = cifar::load_batches(&[path]).unwrap();
    assert_eq!(imgs.len(), 20);
    assert_eq!(imgs.labels, CIFAR_LABELS);
    assert_eq!(
        imgs.shape,
        ImageShape {
            channels: 3,
            height: 32,
            width: 32
        }
    );
    assert_eq!(imgs.dim(), 3072);
    // Image 5, blue plane (channel 2), row 7, column 19: unit c*1024 + y*32 + x.
    let (k, c, y, x) = (5usize, 2usize, 7usize, 19usize);
    let byte = raw[k * 3073 + 1 + c * 1024 + y * 32 + x];
    assert_eq!(imgs.image(k)[c * 1024 + y * 32 + x], byte as f32 / 255.0);
    // The three planes of a pixel differ somewhere, so the check above can tell layouts apart.
    let planes_differ =
        (0..1024).any(|p| raw[1 + p] != raw[1 + 1024 + p] || raw[1 + p] != raw[1 + 2048 + p]);
    assert!(planes_differ);
    // Every value of the last image.
    let last: Vec<f32> = raw[19 * 3073 + 1..20 * 3073]
        .iter()
        .map(|&b| b as f32 / 255.0)
        .collect();
    assert_eq!(imgs.image(19), &last[..]);
}

#[test]
fn cifar_standard_layout_loads_through_load() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes =
        std::fs::read(shared("cifar10-test-first20").join("test_batch_first20.bin")).unwrap();
    for k in 1..=5 {
        std::fs::write(tmp.path().join(format!("data_batch_{k}.bin")), &bytes).unwrap();
    }
    // The test batch gzipped: the loader accepts both.
    std::fs::write(tmp.path().join("test_batch.bin"), gzip(&bytes)).unwrap();
    let d = load(&offline(
        DatasetKind::Cifar10,
        Some(tmp.path()),
        &tmp.path().join("cache"),
    ))
    .unwrap();
    assert_eq!(d.train.len(), 100);
    assert_eq!(d.test.len(), 20);
    assert_eq!(d.test.labels, CIFAR_LABELS);
    assert_eq!(&d.train.labels[80..], &CIFAR_LABELS);
    assert_eq!(d.train.image(20 + 3), d.test.image(3));
}

#[test]
fn cifar_without_data_dir_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = load(&offline(DatasetKind::Cifar10, None, tmp.path())).unwrap_err();
    assert_one_line_naming(&e, &["cifar10", "data-dir"]);
}

const DIGITS_COUNTS: [usize; 10] = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180];

#[test]
fn embedded_digits_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let d = load(&offline(DatasetKind::Digits, None, tmp.path())).unwrap();
    assert_eq!(d.kind, DatasetKind::Digits);
    assert_eq!(d.train.len(), 1437);
    assert_eq!(d.test.len(), 360);
    assert_eq!(
        d.train.shape,
        ImageShape {
            channels: 1,
            height: 8,
            width: 8
        }
    );
    let mut counts = d.train.class_counts();
    for (c, n) in d.test.class_counts().iter().enumerate() {
        counts[c] += n;
    }
    assert_eq!(counts, DIGITS_COUNTS);
    assert!(d.test.class_counts().iter().all(|&n| n > 0));
    // Row 1 of the CSV: values 0..16 scaled by 1/16, label last.
    let text = String::from_utf8(gunzip(
        &std::fs::read(shared("digits8x8").join("digits.csv.gz")).unwrap(),
    ))
    .unwrap();
    let row: Vec<u8> = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(d.train.labels[0], row[64]);
    let want: Vec<f32> = row[..64].iter().map(|&v| v as f32 / 16.0).collect();
    assert_eq!(d.train.image(0), &want[..]);
    assert!(d.train.pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert_eq!(d.train.pixels.iter().cloned().fold(0.0f32, f32::max), 1.0);
}

#[test]
fn digits_from_data_dir_equal_embedded() {
    let tmp = tempfile::tempdir().unwrap();
    let embedded = load(&offline(DatasetKind::Digits, None, tmp.path())).unwrap();
    let gz_dir = tmp.path().join("gz");
    copy_files(&shared("digits8x8"), &gz_dir, &["digits.csv.gz"]);
    let from_gz = load(&offline(DatasetKind::Digits, Some(&gz_dir), tmp.path())).unwrap();
    assert_eq!(from_gz.train, embedded.train);
    assert_eq!(from_gz.test, embedded.test);
    // The plain CSV as well.
    let csv_dir = tmp.path().join("csv");
    std::fs::create_dir_all(&csv_dir).unwrap();
    let csv = gunzip(&std::fs::read(gz_dir.join("digits.csv.gz")).unwrap());
    std::fs::write(csv_dir.join("digits.csv"), csv).unwrap();
    let from_csv = load(&offline(DatasetKind::Digits, Some(&csv_dir), tmp.path())).unwrap();
    assert_eq!(from_csv.train, embedded.train);
    assert_eq!(from_csv.test, embedded.test);
    assert_eq!(
        md5(data::digits::EMBEDDED_GZ),
        md5(&std::fs::read(gz_dir.join("digits.csv.gz")).unwrap())
    );
}

#[test]
fn kinds_have_names_and_shapes() {
    assert_eq!(DatasetKind::Mnist.shape().len(), 784);
    assert_eq!(DatasetKind::FashionMnist.shape().len(), 784);
    assert_eq!(DatasetKind::Cifar10.shape().len(), 3072);
    assert_eq!(DatasetKind::Digits.shape().len(), 64);
    assert_eq!(DatasetKind::FashionMnist.to_string(), "fashion-mnist");
    assert_eq!(
        serde_json::to_string(&DatasetKind::FashionMnist).unwrap(),
        "\"fashion-mnist\""
    );
}

#[test]
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

// ---- validation split ----------------------------------------------------------------

#[test]
fn validation_split_default_fraction_on_mnist() {
    let d = mnist().clone();
    let s = split_validation(d, 0.1, 42).unwrap();
    assert_eq!(s.val.len(), 6000);
    assert_eq!(s.train.len(), 54_000);
    assert_eq!(s.test.len(), 10_000);
    assert_eq!(s.test.labels, mnist().test.labels);
    let (train_idx, val_idx) = data::split_indices(60_000, 0.1, 42).unwrap();
    assert_eq!(s.train, mnist().train.subset(&train_idx));
    assert_eq!(s.val, mnist().train.subset(&val_idx));
    // Every class is represented in the validation part, roughly in proportion.
    for (c, (&v, &all)) in s
        .val
        .class_counts()
        .iter()
        .zip(mnist().train.class_counts().iter())
        .enumerate()
    {
        let expect = all as f64 * 0.1;
        assert!(
            (v as f64 - expect).abs() < 6.0 * expect.sqrt(),
            "class {c}: {v} of {all}"
        );
    }
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
