//! Bad input gives a one-line error that names the file and says what is wrong, never a panic.
//! Everything here alters copies of the committed subsets (`testdata/`: 1,000 training and
//! 200 test images, checked against their own `MD5SUMS`) and of `core/assets/digits.csv.gz`.

mod common;

use common::*;
use epc_core::data::{cifar, idx, load, DatasetKind};
use epc_core::Error;
use std::path::Path;

fn load_err(kind: DatasetKind, dir: &Path) -> Error {
    match load(&offline(kind, Some(dir), &dir.join("no-cache"))) {
        Ok(_) => panic!("loading {} from {} should fail", kind, dir.display()),
        Err(e) => e,
    }
}

/// Raw (un-gzipped) IDX files of mnist-small, for altering.
fn raw_mnist(dir: &Path) {
    copy_idx_raw(&testdata("mnist-small"), dir);
}

/// Gzipped IDX files of mnist-small with its MD5SUMS, for altering.
fn gz_mnist(dir: &Path) {
    copy_idx_gz(&testdata("mnist-small"), dir);
}

#[test]
fn truncated_gz_in_mnist_folder_fails_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    gz_mnist(tmp.path());
    let p = tmp.path().join("train-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    assert_one_line_naming(
        &e,
        &[
            "train-labels-idx1-ubyte.gz",
            "checksum mismatch",
            MNIST_SMALL_FILES[1].md5[0],
            &md5(&bytes[..bytes.len() / 2]),
        ],
    );
}

#[test]
fn truncated_gz_is_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    gz_mnist(tmp.path());
    let p = tmp.path().join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 20]).unwrap();
    let e = idx::load_pair(&tmp.path().join("t10k-images-idx3-ubyte.gz"), &p).unwrap_err();
    assert!(matches!(e, Error::Format { .. }), "{e:?}");
    assert_one_line_naming(&e, &["t10k-labels-idx1-ubyte.gz", "truncated gzip"]);

    // The same for a gzipped CIFAR batch and the digits CSV, which have no published digest.
    let cifar_gz = gzip(&cifar_first20());
    let p = tmp.path().join("test_batch.bin");
    std::fs::write(&p, &cifar_gz[..cifar_gz.len() * 2 / 3]).unwrap();
    let e = cifar::load_batches(&[p]).unwrap_err();
    assert_one_line_naming(&e, &["test_batch.bin", "truncated gzip"]);

    let digits = tmp.path().join("digits");
    copy_files(
        digits_asset().parent().unwrap(),
        &digits,
        &["digits.csv.gz"],
    );
    let p = digits.join("digits.csv.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 1000]).unwrap();
    let e = load_err(DatasetKind::Digits, &digits);
    assert_one_line_naming(&e, &["digits.csv.gz", "truncated gzip"]);
}

#[test]
fn truncated_idx_body_and_header() {
    let tmp = tempfile::tempdir().unwrap();
    raw_mnist(tmp.path());
    let p = tmp.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(bytes.len(), 16 + 1000 * 784);
    std::fs::write(&p, &bytes[..16 + 500 * 784 + 100]).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    let msg = assert_one_line_naming(
        &e,
        &["train-images-idx3-ubyte", "truncated", "1000 x 28 x 28"],
    );
    assert!(msg.contains(&(1000 * 784).to_string()), "{msg}");
    assert!(msg.contains(&(500 * 784 + 100).to_string()), "{msg}");

    std::fs::write(&p, &bytes[..10]).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(&e, &["train-images-idx3-ubyte", "header truncated"]);

    let p = tmp.path().join("t10k-labels-idx1-ubyte");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() - 1]).unwrap();
    let e = idx::load_pair(&tmp.path().join("t10k-images-idx3-ubyte"), &p).unwrap_err();
    let msg = assert_one_line_naming(&e, &["t10k-labels-idx1-ubyte", "truncated", "200"]);
    assert!(msg.contains("file has 199"), "{msg}");
}

#[test]
fn wrong_magic_number() {
    let tmp = tempfile::tempdir().unwrap();
    raw_mnist(tmp.path());
    // Labels file with the images' magic.
    let p = tmp.path().join("train-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[..4].copy_from_slice(&2051u32.to_be_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(
        &e,
        &["train-labels-idx1-ubyte", "magic number 2051", "2049"],
    );

    // Images file with a garbage magic (and the labels file restored).
    bytes[..4].copy_from_slice(&2049u32.to_be_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let p = tmp.path().join("t10k-images-idx3-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[..4].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(&e, &["t10k-images-idx3-ubyte", "magic number", "2051"]);
}

#[test]
fn label_and_image_counts_differ() {
    let tmp = tempfile::tempdir().unwrap();
    raw_mnist(tmp.path());
    // 200 test labels in place of the 1,000 training labels.
    std::fs::copy(
        tmp.path().join("t10k-labels-idx1-ubyte"),
        tmp.path().join("train-labels-idx1-ubyte"),
    )
    .unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(
        &e,
        &["train-labels-idx1-ubyte", "200 labels", "1000 images"],
    );
}

#[test]
fn label_out_of_range_in_idx() {
    let tmp = tempfile::tempdir().unwrap();
    raw_mnist(tmp.path());
    let p = tmp.path().join("t10k-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[8 + 77] = 10;
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(&e, &["t10k-labels-idx1-ubyte", "label 10", "index 77"]);
}

#[test]
fn idx_with_wrong_image_size_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    raw_mnist(tmp.path());
    // A consistent IDX file of 1,000 images of 28 x 14 instead of 28 x 28.
    let p = tmp.path().join("train-images-idx3-ubyte");
    let mut bytes = std::fs::read(&p).unwrap();
    bytes.truncate(16 + 1000 * 28 * 14);
    bytes[12..16].copy_from_slice(&14u32.to_be_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert_one_line_naming(&e, &["train-images-idx3-ubyte", "28 x 14", "needs 28 x 28"]);
}

#[test]
fn checksum_mismatch_of_a_valid_gzip() {
    let tmp = tempfile::tempdir().unwrap();
    gz_mnist(tmp.path());
    let p = tmp.path().join("t10k-images-idx3-ubyte.gz");
    let mut raw = gunzip(&std::fs::read(&p).unwrap());
    raw[16 + 5 * 784 + 300] ^= 0xff;
    let altered = gzip(&raw);
    gunzip(&altered); // still valid gzip
    std::fs::write(&p, &altered).unwrap();
    let e = load_err(DatasetKind::Mnist, tmp.path());
    assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    let msg = assert_one_line_naming(
        &e,
        &["t10k-images-idx3-ubyte.gz", "checksum mismatch", "md5"],
    );
    assert!(msg.contains(&md5(&altered)), "{msg}");
    // The digest expected is the one in the folder's MD5SUMS.
    assert!(msg.contains(MNIST_SMALL_FILES[2].md5[0]), "{msg}");
    assert!(
        !msg.contains(epc_core::data::MNIST_FILES[2].md5[0]),
        "{msg}"
    );
}

#[test]
fn missing_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let nope = tmp.path().join("no-such-folder");
    for kind in [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Digits,
    ] {
        let e = load_err(kind, &nope);
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
        assert_one_line_naming(&e, &["no-such-folder", "not found"]);
    }
}

#[test]
fn missing_file() {
    let tmp = tempfile::tempdir().unwrap();
    copy_files(
        &testdata("mnist-small"),
        tmp.path(),
        &[IDX_GZ[0], IDX_GZ[1], IDX_GZ[3], MD5SUMS],
    );
    let e = load_err(DatasetKind::Mnist, tmp.path());
    let msg = assert_one_line_naming(&e, &["t10k-images-idx3-ubyte.gz", "not found", "download"]);
    assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");

    let cifar = tmp.path().join("cifar");
    let bytes = cifar_first20();
    std::fs::create_dir_all(&cifar).unwrap();
    for name in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
        "test_batch.bin",
    ] {
        std::fs::write(cifar.join(name), &bytes).unwrap();
    }
    let e = load_err(DatasetKind::Cifar10, &cifar);
    assert_one_line_naming(&e, &["data_batch_3.bin", "not found"]);

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = load_err(DatasetKind::Digits, &empty);
    assert_one_line_naming(&e, &["digits.csv", "not found"]);
}

#[test]
fn cifar_size_not_a_multiple_of_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = cifar_first20();
    let p = tmp.path().join("data_batch_1.bin");
    std::fs::write(&p, &bytes[..3073 * 2 + 100]).unwrap();
    let e = cifar::load_batches(std::slice::from_ref(&p)).unwrap_err();
    assert_one_line_naming(&e, &["data_batch_1.bin", "6246", "3073"]);
    std::fs::write(&p, b"").unwrap();
    let e = cifar::load_batches(std::slice::from_ref(&p)).unwrap_err();
    assert_one_line_naming(&e, &["data_batch_1.bin", "3073"]);
    // Through load, in the standard layout.
    for k in 2..=5 {
        std::fs::write(tmp.path().join(format!("data_batch_{k}.bin")), &bytes).unwrap();
    }
    std::fs::write(tmp.path().join("test_batch.bin"), &bytes[..bytes.len() - 1]).unwrap();
    std::fs::write(&p, &bytes).unwrap();
    let e = load_err(DatasetKind::Cifar10, tmp.path());
    assert_one_line_naming(&e, &["test_batch.bin", "61459", "3073"]);
}

#[test]
fn cifar_bad_label_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = cifar_first20();
    bytes[3 * 3073] = 11;
    let p = tmp.path().join("test_batch.bin");
    std::fs::write(&p, &bytes).unwrap();
    let e = cifar::load_batches(&[p]).unwrap_err();
    assert_one_line_naming(&e, &["test_batch.bin", "record 3", "label 11"]);
}

#[test]
fn digits_csv_with_a_bad_row() {
    let text = digits_csv();
    let lines: Vec<&str> = text.lines().collect();
    let with_line_5 = |bad: &str| {
        let mut l = lines.clone();
        l[4] = bad;
        l.join("\n") + "\n"
    };
    let row = lines[4];
    let fields: Vec<&str> = row.split(',').collect();
    let short = fields[..64].join(",");
    let mut word = fields.clone();
    word[10] = "x";
    let word = word.join(",");
    let mut big = fields.clone();
    big[20] = "17";
    let big = big.join(",");
    let mut label = fields.clone();
    label[64] = "10";
    let label = label.join(",");
    let cases: [(&str, &[&str]); 4] = [
        (&short, &["line 5", "64 values", "65"]),
        (&word, &["line 5", "\"x\""]),
        (&big, &["line 5", "17"]),
        (&label, &["line 5", "10"]),
    ];
    for (bad, needles) in cases {
        let tmp = tempfile::tempdir().unwrap();
        // Plain CSV and gzipped CSV.
        std::fs::write(tmp.path().join("digits.csv"), with_line_5(bad)).unwrap();
        let e = load_err(DatasetKind::Digits, tmp.path());
        assert_one_line_naming(&e, &[&["digits.csv"], needles].concat());
        std::fs::write(
            tmp.path().join("digits.csv.gz"),
            gzip(with_line_5(bad).as_bytes()),
        )
        .unwrap();
        let e = load_err(DatasetKind::Digits, tmp.path());
        assert_one_line_naming(&e, &[&["digits.csv.gz"], needles].concat());
    }
    // A file with no image at all.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("digits.csv"), "\n\n").unwrap();
    let e = load_err(DatasetKind::Digits, tmp.path());
    assert_one_line_naming(&e, &["digits.csv", "no images"]);
}

#[test]
fn digits_csv_with_too_few_rows_is_refused() {
    // Fewer rows than the 360-image test split would leave no training images.
    let text = digits_csv();
    let head: Vec<&str> = text.lines().take(300).collect();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("digits.csv"), head.join("\n")).unwrap();
    let e = load_err(DatasetKind::Digits, tmp.path());
    assert_one_line_naming(&e, &["digits.csv", "300"]);
}
