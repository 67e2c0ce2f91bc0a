//! Downloading from mirrors, hermetically: a tiny HTTP server on 127.0.0.1 serves the
//! committed mnist-small files, and the wanted digests are those of its MD5SUMS.
//! (Loading full MNIST through mirrors, with the published digests, is in `fetch_full.rs`.)

mod common;

use common::http::Server;
use common::*;
use epc_core::data::fetch::{fetch, RemoteFile};
use epc_core::data::{load, MNIST_FILES};
use epc_core::Error;
use std::net::TcpStream;
use std::path::PathBuf;

/// The folder the server serves: the committed subset itself (only read).
fn served() -> PathBuf {
    testdata("mnist-small")
}

#[test]
fn tries_mirrors_in_order_and_keeps_the_good_download() {
    let mut server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("mnist");
    let mirrors = vec![server.url("missing"), server.url("good")];
    for f in &MNIST_SMALL_FILES {
        assert_eq!(fetch(f, &mirrors, &dest).unwrap(), dest.join(f.name));
    }

    // Each file was asked of the 404 mirror first, then of the good one, once.
    let want: Vec<String> = MNIST_SMALL_FILES
        .iter()
        .flat_map(|f| [format!("/missing/{}", f.name), format!("/good/{}", f.name)])
        .collect();
    assert_eq!(server.requests(), want);

    // The files lie in dest, byte for byte the served ones, and nothing else does.
    let mut cached = files_below(cache.path());
    cached.sort();
    let mut want: Vec<PathBuf> = IDX_GZ.iter().map(|n| dest.join(n)).collect();
    want.sort();
    assert_eq!(cached, want);
    for f in &MNIST_SMALL_FILES {
        let bytes = std::fs::read(dest.join(f.name)).unwrap();
        assert_eq!(md5(&bytes), f.md5[0], "{}", f.name);
        assert!(bytes == std::fs::read(served().join(f.name)).unwrap());
    }

    // With the server gone, the downloaded folder loads (given the subset's MD5SUMS).
    server.stop();
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the server should be down"
    );
    copy_files(&served(), &dest, &[MD5SUMS]);
    let mut src = mirror_source(cache.path(), vec![], false);
    src.data_dir = Some(dest.clone());
    let d = load(&src).unwrap();
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(d.test.class_counts(), MNIST_SMALL_TEST_COUNTS);
}

#[test]
fn corrupted_mirror_gives_checksum_error_and_writes_nothing() {
    let server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("mnist");
    let file = &MNIST_SMALL_FILES[0];
    let e = fetch(file, &[server.url("bad")], &dest).unwrap_err();
    assert!(matches!(e, Error::Fetch { .. }), "{e:?}");
    let msg = assert_one_line_naming(
        &e,
        &[
            "train-images-idx3-ubyte.gz",
            "checksum mismatch",
            file.md5[0],
        ],
    );
    assert!(msg.contains(&server.url("bad")), "{msg}");
    // The digest of what the bad mirror served is reported too.
    let mut flipped = std::fs::read(served().join(file.name)).unwrap();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    assert!(msg.contains(&md5(&flipped)), "{msg}");
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());

    // A corrupt mirror followed by a good one: the good one wins.
    let mirrors = [server.url("bad"), server.url("good")];
    fetch(file, &mirrors, &dest).unwrap();
    assert_eq!(files_below(cache.path()), vec![dest.join(file.name)]);
    assert_eq!(
        md5(&std::fs::read(dest.join(file.name)).unwrap()),
        file.md5[0]
    );
}

#[test]
fn corrupt_file_in_the_destination_is_replaced() {
    let server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("mnist");
    let file = &MNIST_SMALL_FILES[3];
    let good = std::fs::read(served().join(file.name)).unwrap();
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::write(dest.join(file.name), &good[..100]).unwrap();
    fetch(file, &[server.url("good")], &dest).unwrap();
    assert_eq!(
        server.requests(),
        vec!["/good/t10k-labels-idx1-ubyte.gz".to_string()]
    );
    assert!(std::fs::read(dest.join(file.name)).unwrap() == good);
    assert_eq!(files_below(cache.path()).len(), 1);
}

#[test]
fn load_does_not_trust_a_corrupt_cached_file() {
    // The cached training images are truncated: load asks the mirror again. What it serves
    // is the subset, not the published file, so the download is refused as well, and the
    // cached file is left as it was.
    let server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let p = cache.path().join("mnist").join(IDX_GZ[0]);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let truncated = std::fs::read(served().join(IDX_GZ[0])).unwrap()[..1000].to_vec();
    std::fs::write(&p, &truncated).unwrap();
    let e = load(&mirror_source(cache.path(), vec![server.url("good")], true)).unwrap_err();
    assert!(matches!(e, Error::Fetch { .. }), "{e:?}");
    assert_one_line_naming(
        &e,
        &[
            IDX_GZ[0],
            "checksum mismatch",
            MNIST_FILES[0].md5[0],
            MNIST_SMALL_FILES[0].md5[0],
        ],
    );
    assert_eq!(
        server.requests(),
        vec!["/good/train-images-idx3-ubyte.gz".to_string()]
    );
    assert!(std::fs::read(&p).unwrap() == truncated);
    assert_eq!(files_below(cache.path()), vec![p]);
}

#[test]
fn data_dir_missing_file_is_asked_of_the_mirrors() {
    // Only the label files are in the data folder: the training images are asked of the
    // mirror, which serves the subset's, refused against the published digest.
    let server = Server::start(served());
    let data = tempfile::tempdir().unwrap();
    copy_files(&served(), data.path(), &[IDX_GZ[1], IDX_GZ[3], MD5SUMS]);
    let cache = tempfile::tempdir().unwrap();
    let mut src = mirror_source(cache.path(), vec![server.url("good")], true);
    src.data_dir = Some(data.path().to_path_buf());
    let e = load(&src).unwrap_err();
    assert!(matches!(e, Error::Fetch { .. }), "{e:?}");
    assert_one_line_naming(&e, &[IDX_GZ[0], "checksum mismatch", MNIST_FILES[0].md5[0]]);
    assert_eq!(server.requests(), vec!["/good/train-images-idx3-ubyte.gz"]);
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn all_mirrors_failing_names_each() {
    let empty = tempfile::tempdir().unwrap();
    let mut server = Server::start(empty.path().to_path_buf());
    let other = Server::start(empty.path().to_path_buf());
    let dead = server.url("good");
    server.stop();
    let cache = tempfile::tempdir().unwrap();
    let e = load(&mirror_source(
        cache.path(),
        vec![other.url("missing"), dead.clone()],
        true,
    ))
    .unwrap_err();
    let msg = assert_one_line_naming(&e, &["train-images-idx3-ubyte.gz", "404", &dead]);
    assert!(msg.contains(&other.url("missing")), "{msg}");
    assert_eq!(
        other.requests(),
        vec!["/missing/train-images-idx3-ubyte.gz"]
    );
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());

    // The same through fetch, for a file the server does not have.
    let file = RemoteFile {
        name: "no-such-file.gz",
        md5: MNIST_SMALL_FILES[0].md5,
    };
    let e = fetch(&file, &[other.url("good")], cache.path()).unwrap_err();
    assert_one_line_naming(&e, &["no-such-file.gz", "404", &other.url("good")]);
    // And with no mirror at all.
    let e = fetch(&file, &[], cache.path()).unwrap_err();
    assert_one_line_naming(&e, &["no-such-file.gz", "no mirror configured"]);
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn fetch_disabled_and_missing_is_a_clear_error() {
    let cache = tempfile::tempdir().unwrap();
    let e = load(&mirror_source(
        cache.path(),
        vec!["http://127.0.0.1:9/never".into()],
        false,
    ))
    .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let msg = assert_one_line_naming(
        &e,
        &[
            "train-images-idx3-ubyte.gz",
            "not found",
            "downloading is disabled",
        ],
    );
    assert!(
        msg.contains(&cache.path().join("mnist").display().to_string()),
        "{msg}"
    );
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());
}

#[test]
fn corrupt_cached_file_with_downloading_disabled_names_the_checksum_failure() {
    let cache = tempfile::tempdir().unwrap();
    let mnist_cache = cache.path().join("mnist");
    // The subset's files are not the published ones, so the cache check fails on them.
    copy_idx_gz_without_md5sums(&testdata("mnist-small"), &mnist_cache);
    let e = load(&mirror_source(cache.path(), vec![], false)).unwrap_err();
    assert!(matches!(e, Error::Checksum { .. }), "{e:?}");
    let cached = mnist_cache.join("train-images-idx3-ubyte.gz");
    assert_one_line_naming(
        &e,
        &[&cached.display().to_string(), "checksum mismatch", "md5"],
    );
}
