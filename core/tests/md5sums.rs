//! A data folder's own `MD5SUMS` replaces the published digests for the files it lists;
//! files it does not list (or a folder without one) are checked against the published ones.

mod common;

use common::*;
use epc_core::data::fetch::RemoteFile;
use epc_core::data::{self, load, Dataset, DatasetKind};
use epc_core::Error;
use std::path::Path;

fn load_dir(kind: DatasetKind, dir: &Path) -> Result<Dataset, Error> {
    load(&offline(kind, Some(dir), &dir.join("no-cache")))
}

/// The (digest, file) pairs of an `MD5SUMS` file, parsed the strict way `md5sum` writes it.
fn md5sums(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join(MD5SUMS))
        .unwrap()
        .lines()
        .map(|l| {
            let (d, f) = l.split_once("  ").unwrap_or_else(|| panic!("{l:?}"));
            (d.to_string(), f.to_string())
        })
        .collect()
}

const SUBSETS: [(&str, DatasetKind, &[RemoteFile; 4], &[RemoteFile; 4]); 2] = [
    (
        "mnist-small",
        DatasetKind::Mnist,
        &MNIST_SMALL_FILES,
        &data::MNIST_FILES,
    ),
    (
        "fashion-mnist-small",
        DatasetKind::FashionMnist,
        &FASHION_SMALL_FILES,
        &data::FASHION_FILES,
    ),
];

#[test]
fn testdata_md5sums_give_the_files_digests() {
    for (name, _, small, published) in SUBSETS {
        let dir = testdata(name);
        let mut listed = md5sums(&dir);
        listed.sort_by(|a, b| a.1.cmp(&b.1));
        let mut want: Vec<(String, String)> = small
            .iter()
            .map(|f| (f.md5[0].to_string(), f.name.to_string()))
            .collect();
        want.sort_by(|a, b| a.1.cmp(&b.1));
        assert_eq!(listed, want, "{name}/MD5SUMS");
        for (f, p) in small.iter().zip(published.iter()) {
            let got = md5(&std::fs::read(dir.join(f.name)).unwrap());
            assert_eq!(got, f.md5[0], "{name}/{}", f.name);
            // A subset is not the published file, so it loads only through its MD5SUMS.
            assert_eq!(p.name, f.name);
            assert!(!p.md5.contains(&got.as_str()), "{name}/{}", f.name);
        }
    }
    let cifar = md5sums(&testdata("cifar10-first20"));
    assert_eq!(cifar.len(), 1);
    assert_eq!(cifar[0].1, "test_batch_first20.bin");
    assert_eq!(cifar[0].0, md5(&cifar_first20()));
}

#[test]
fn subset_without_its_md5sums_fails_the_published_digest() {
    for (name, kind, small, published) in SUBSETS {
        let tmp = tempfile::tempdir().unwrap();
        copy_idx_gz_without_md5sums(&testdata(name), tmp.path());
        let e = load_dir(kind, tmp.path()).unwrap_err();
        assert!(matches!(e, Error::Checksum { .. }), "{name}: {e:?}");
        // The first file checked is the training images.
        let msg = assert_one_line_naming(
            &e,
            &[
                "train-images-idx3-ubyte.gz",
                "checksum mismatch",
                published[0].md5[0],
                small[0].md5[0],
            ],
        );
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
        // With its MD5SUMS the same files load.
        copy_files(&testdata(name), tmp.path(), &[MD5SUMS]);
        assert_eq!(load_dir(kind, tmp.path()).unwrap().train.len(), SMALL_TRAIN);
    }
}

#[test]
fn md5sums_not_listing_a_file_leaves_it_to_the_published_digest() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz(&testdata("mnist-small"), tmp.path());
    let kept: String = md5sums(tmp.path())
        .iter()
        .filter(|(_, f)| f != "train-labels-idx1-ubyte.gz")
        .map(|(d, f)| format!("{d}  {f}\n"))
        .collect();
    assert_eq!(kept.lines().count(), 3);
    std::fs::write(tmp.path().join(MD5SUMS), kept).unwrap();
    let e = load_dir(DatasetKind::Mnist, tmp.path()).unwrap_err();
    assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    assert_one_line_naming(
        &e,
        &[
            "train-labels-idx1-ubyte.gz",
            "checksum mismatch",
            data::MNIST_FILES[1].md5[0],
            MNIST_SMALL_FILES[1].md5[0],
        ],
    );
}

#[test]
fn md5sums_in_the_other_md5sum_formats_are_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz(&testdata("mnist-small"), tmp.path());
    // Upper-case digests, `*` (binary mode), a comment, blank lines and CRLF line ends.
    let mut text = String::from("# made by md5sum -b\r\n\r\n");
    for (d, f) in md5sums(tmp.path()) {
        text += &format!("{} *{f}\r\n\n", d.to_ascii_uppercase());
    }
    std::fs::write(tmp.path().join(MD5SUMS), text).unwrap();
    let d = load_dir(DatasetKind::Mnist, tmp.path()).unwrap();
    assert_eq!(d.train.class_counts(), MNIST_SMALL_TRAIN_COUNTS);
    assert_eq!(d.test.class_counts(), MNIST_SMALL_TEST_COUNTS);
}

#[test]
fn malformed_md5sums_line_is_a_one_line_error_naming_md5sums() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz(&testdata("mnist-small"), tmp.path());
    let good = std::fs::read_to_string(tmp.path().join(MD5SUMS)).unwrap();
    let cases: [(&str, &[&str]); 3] = [
        ("no-space-anywhere", &["line 1", "expected"]),
        (
            "d41d8cd9  train-images-idx3-ubyte.gz",
            &["line 1", "\"d41d8cd9\"", "not an MD5 digest"],
        ),
        (
            "zz1d8cd98f00b204e9800998ecf8427e  train-images-idx3-ubyte.gz",
            &["line 1", "not an MD5 digest"],
        ),
    ];
    for (bad, needles) in cases {
        std::fs::write(tmp.path().join(MD5SUMS), format!("{bad}\n{good}")).unwrap();
        let e = load_dir(DatasetKind::Mnist, tmp.path()).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{bad}: {e:?}");
        let path = tmp.path().join(MD5SUMS).display().to_string();
        assert_one_line_naming(&e, &[&[path.as_str()], needles].concat());
    }
    // In the middle of the list as well: line 3, before the training images' line.
    let mut lines: Vec<&str> = good.lines().collect();
    lines.insert(2, "not a digest line");
    std::fs::write(tmp.path().join(MD5SUMS), lines.join("\n")).unwrap();
    let e = load_dir(DatasetKind::Mnist, tmp.path()).unwrap_err();
    assert_one_line_naming(&e, &[MD5SUMS, "line 3", "\"not\"", "not an MD5 digest"]);
}

#[test]
fn md5sums_damaged_after_the_wanted_lines_or_listing_a_file_twice_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    copy_idx_gz(&testdata("mnist-small"), tmp.path());
    let good = std::fs::read_to_string(tmp.path().join(MD5SUMS)).unwrap();
    // A bad last line: the whole list is checked, not just up to the files it names.
    std::fs::write(tmp.path().join(MD5SUMS), format!("{good}garbage\n")).unwrap();
    let e = load_dir(DatasetKind::Mnist, tmp.path()).unwrap_err();
    assert_one_line_naming(&e, &[MD5SUMS, "line 5", "expected"]);
    // The same file twice, even with the right digest both times.
    let first = good.lines().next().unwrap();
    std::fs::write(tmp.path().join(MD5SUMS), format!("{good}{first}\n")).unwrap();
    let e = load_dir(DatasetKind::Mnist, tmp.path()).unwrap_err();
    assert_one_line_naming(&e, &[MD5SUMS, "line 5", "listed twice"]);
}
