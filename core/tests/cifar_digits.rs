//! The CIFAR-10 and 8x8-digits loaders, on the committed 20-image CIFAR sample
//! (`testdata/cifar10-first20`) and the embedded digits (`core/assets/digits.csv.gz`).

mod common;

use common::*;
use epc_core::data::{self, cifar, load, DatasetKind, ImageShape};

/// MD5 of `testdata/cifar10-first20/test_batch_first20.bin` (its MD5SUMS).
const CIFAR_FIRST20_MD5: &str = "515a507abb28cd0270eaf5fea42efa66";
/// MD5 of `core/assets/digits.csv.gz` (scikit-learn's copy, as in the shared `digits8x8/`).
const DIGITS_GZ_MD5: &str = "ca09b38354112f159cd554f69e213828";

#[test]
fn cifar_first20_labels_shape_and_channel_major_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    copy_files(
        &testdata("cifar10-first20"),
        tmp.path(),
        &["test_batch_first20.bin"],
    );
    let path = tmp.path().join("test_batch_first20.bin");
    let raw = std::fs::read(&path).unwrap();
    assert_eq!(raw.len(), 20 * 3073);
    assert_eq!(md5(&raw), CIFAR_FIRST20_MD5);
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
    let bytes = cifar_first20();
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
    let text = digits_csv();
    assert_eq!(text.lines().count(), 1797);
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
    let asset = digits_asset();
    copy_files(asset.parent().unwrap(), &gz_dir, &["digits.csv.gz"]);
    let from_gz = load(&offline(DatasetKind::Digits, Some(&gz_dir), tmp.path())).unwrap();
    assert_eq!(from_gz.train, embedded.train);
    assert_eq!(from_gz.test, embedded.test);
    // The plain CSV as well.
    let csv_dir = tmp.path().join("csv");
    std::fs::create_dir_all(&csv_dir).unwrap();
    std::fs::write(csv_dir.join("digits.csv"), digits_csv()).unwrap();
    let from_csv = load(&offline(DatasetKind::Digits, Some(&csv_dir), tmp.path())).unwrap();
    assert_eq!(from_csv.train, embedded.train);
    assert_eq!(from_csv.test, embedded.test);
    // The binary embeds exactly the asset file.
    assert_eq!(md5(data::digits::EMBEDDED_GZ), DIGITS_GZ_MD5);
    assert_eq!(md5(&std::fs::read(&asset).unwrap()), DIGITS_GZ_MD5);
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
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn committed_samples_equal_the_shared_files() {
    let shared_digits = std::fs::read(shared("digits8x8").join("digits.csv.gz")).unwrap();
    assert_eq!(md5(&shared_digits), DIGITS_GZ_MD5);
    assert_eq!(md5(data::digits::EMBEDDED_GZ), md5(&shared_digits));
    let shared_cifar =
        std::fs::read(shared("cifar10-test-first20").join("test_batch_first20.bin")).unwrap();
    assert_eq!(md5(&shared_cifar), CIFAR_FIRST20_MD5);
    assert!(shared_cifar == cifar_first20());
}
