//! Loading full MNIST through mirrors (a tiny HTTP server on 127.0.0.1), with the published
//! digests: needs the full data sets, so every test here is `#[ignore]`d. Run with
//! `EPC_SHARED_DATA=<folder> cargo test -- --ignored`. The mirror logic itself is tested
//! hermetically on the committed subset in `fetch.rs`.

mod common;

use common::http::Server;
use common::*;
use epc_core::data::{load, MNIST_FILES};
use epc_core::Error;
use std::net::TcpStream;
use std::path::PathBuf;

/// The folder the server serves: the full MNIST files (only read).
fn served() -> PathBuf {
    shared("mnist")
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn downloads_into_the_cache_then_loads_offline() {
    let mut server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let src = mirror_source(
        cache.path(),
        vec![server.url("missing"), server.url("good")],
        true,
    );
    let d = load(&src).unwrap();
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(&d.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(
        d.test.class_counts(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );

    // Each file was asked of the 404 mirror first, then of the good one, once.
    let reqs = server.requests();
    for f in MNIST_FILES.iter() {
        let missing = reqs
            .iter()
            .position(|r| *r == format!("/missing/{}", f.name));
        let good = reqs.iter().position(|r| *r == format!("/good/{}", f.name));
        assert!(
            missing.is_some() && good.is_some() && missing < good,
            "{}: requests {reqs:?}",
            f.name
        );
    }
    assert_eq!(reqs.len(), 8, "{reqs:?}");

    // The files lie in <cache>/mnist with their published digests, and nothing else does.
    let mut cached = files_below(cache.path());
    cached.sort();
    let mut want: Vec<PathBuf> = MNIST_FILES
        .iter()
        .map(|f| cache.path().join("mnist").join(f.name))
        .collect();
    want.sort();
    assert_eq!(cached, want);
    for f in MNIST_FILES.iter() {
        let bytes = std::fs::read(cache.path().join("mnist").join(f.name)).unwrap();
        assert_eq!(md5(&bytes), f.md5[0], "{}", f.name);
    }

    // With the server gone, the cache serves: with downloading allowed and forbidden alike.
    server.stop();
    assert!(
        TcpStream::connect(server.addr).is_err(),
        "the server should be down"
    );
    let again = load(&src).unwrap();
    assert_eq!(again.train, d.train);
    assert_eq!(again.test, d.test);
    let offline = load(&mirror_source(cache.path(), vec![], false)).unwrap();
    assert_eq!(offline.test.labels, d.test.labels);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn corrupted_mirror_gives_checksum_error_and_caches_nothing() {
    let server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let e = load(&mirror_source(cache.path(), vec![server.url("bad")], true)).unwrap_err();
    assert!(matches!(e, Error::Fetch { .. }), "{e:?}");
    let msg = assert_one_line_naming(
        &e,
        &[
            "train-images-idx3-ubyte.gz",
            "checksum mismatch",
            MNIST_FILES[0].md5[0],
        ],
    );
    assert!(msg.contains(&server.url("bad")), "{msg}");
    assert_eq!(files_below(cache.path()), Vec::<PathBuf>::new());

    // A corrupt mirror followed by a good one: the good one wins.
    let d = load(&mirror_source(
        cache.path(),
        vec![server.url("bad"), server.url("good")],
        true,
    ))
    .unwrap();
    assert_eq!(d.train.len(), 60_000);
    assert_eq!(files_below(cache.path()).len(), 4);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn corrupt_cached_file_is_downloaded_again() {
    let server = Server::start(served());
    let cache = tempfile::tempdir().unwrap();
    let mnist_cache = cache.path().join("mnist");
    copy_idx_gz_without_md5sums(&served(), &mnist_cache);
    let p = mnist_cache.join("t10k-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..100]).unwrap();
    let d = load(&mirror_source(cache.path(), vec![server.url("good")], true)).unwrap();
    assert_eq!(d.test.len(), 10_000);
    assert_eq!(
        server.requests(),
        vec!["/good/t10k-labels-idx1-ubyte.gz".to_string()]
    );
    assert_eq!(std::fs::read(&p).unwrap(), bytes);
}

#[test]
#[ignore = "needs the full data sets (EPC_SHARED_DATA)"]
fn data_dir_missing_files_fall_back_to_the_mirrors() {
    let server = Server::start(served());
    let data = tempfile::tempdir().unwrap();
    // Only the label files are present locally; the images come from the mirror.
    copy_files(&served(), data.path(), &[IDX_GZ[1], IDX_GZ[3]]);
    let cache = tempfile::tempdir().unwrap();
    let mut src = mirror_source(cache.path(), vec![server.url("good")], true);
    src.data_dir = Some(data.path().to_path_buf());
    let d = load(&src).unwrap();
    assert_eq!(d.train.len(), 60_000);
    let mut reqs = server.requests();
    reqs.sort();
    assert_eq!(
        reqs,
        vec![
            "/good/t10k-images-idx3-ubyte.gz".to_string(),
            "/good/train-images-idx3-ubyte.gz".to_string()
        ]
    );
}
