//! CIFAR-10 downloaded like MNIST, hermetically: a small archive with the official layout
//! (`cifar-10-batches-bin/*.bin`, a few records each) is built here, served by a tiny HTTP server
//! on 127.0.0.1, checked against its MD5, unpacked and loaded.

mod common;

use common::http::Server;
use epc_core::data::cifar::{fetch_batches, BATCHES, RECORD};
use epc_core::data::fetch::RemoteFile;
use epc_core::data::{load, DataSource, DatasetKind};
use std::io::Write;
use std::path::Path;

/// `records` CIFAR-10 records whose label is `(first + k) % 10` and whose pixels are `k`.
fn batch(records: usize, first: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(records * RECORD);
    for k in 0..records {
        out.push((first + k as u8) % 10);
        out.extend(std::iter::repeat_n(k as u8, RECORD - 1));
    }
    out
}

/// Writes `dir/cifar-10-binary.tar.gz` with the official layout, leaving out `skip`.
fn archive(dir: &Path, skip: Option<&str>) -> String {
    let path = dir.join("cifar-10-binary.tar.gz");
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut tar = tar::Builder::new(gz);
    for (i, name) in BATCHES.iter().enumerate() {
        if Some(*name) == skip {
            continue;
        }
        let bytes = batch(3 + i, i as u8);
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(
            &mut header,
            format!("cifar-10-batches-bin/{name}"),
            &bytes[..],
        )
        .unwrap();
    }
    let mut meta = tar::Header::new_gnu();
    meta.set_size(5);
    meta.set_cksum();
    tar.append_data(&mut meta, "cifar-10-batches-bin/readme.html", &b"hello"[..])
        .unwrap();
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    epc_core::data::fetch::md5_hex(&std::fs::read(&path).unwrap())
}

fn remote(md5: String) -> RemoteFile {
    RemoteFile {
        name: "cifar-10-binary.tar.gz",
        md5: Box::leak(vec![&*Box::leak(md5.into_boxed_str())].into_boxed_slice()),
    }
}

#[test]
fn the_archive_is_downloaded_checked_unpacked_and_loads() {
    let served = tempfile::tempdir().unwrap();
    let md5 = archive(served.path(), None);
    let server = Server::start(served.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("cifar10");
    fetch_batches(
        &remote(md5),
        &[server.url("missing"), server.url("good")],
        &dest,
    )
    .unwrap();
    // Only the six batches remain: the archive and the other members are gone.
    let mut files: Vec<String> = std::fs::read_dir(&dest)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut want: Vec<String> = BATCHES.iter().map(|b| b.to_string()).collect();
    want.sort();
    assert_eq!(files, want);
    let mut src = DataSource::new(DatasetKind::Cifar10, Some(dest.clone()));
    src.fetch.enabled = false;
    let d = load(&src).unwrap();
    // 3 + 4 + 5 + 6 + 7 training records, 8 test records, labels as written.
    assert_eq!(d.train.labels.len(), 25);
    assert_eq!(d.test.labels.len(), 8);
    assert_eq!(&d.train.labels[..4], &[0, 1, 2, 1]);
    assert_eq!(d.test.labels[0], 5);
    // Record k's pixels are all k (3,072 per image).
    let px = RECORD - 1;
    assert_eq!(d.test.pixels[px - 1], 0.0);
    assert_eq!(d.test.pixels[px], 1.0 / 255.0);
    assert_eq!(d.test.pixels[2 * px], 2.0 / 255.0);
}

#[test]
fn a_corrupt_or_incomplete_archive_is_one_clear_error() {
    let served = tempfile::tempdir().unwrap();
    let md5 = archive(served.path(), None);
    let server = Server::start(served.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("cifar10");
    let e = fetch_batches(&remote(md5), &[server.url("bad")], &dest)
        .unwrap_err()
        .to_string();
    assert!(e.contains("checksum mismatch") && !e.contains('\n'), "{e}");
    assert!(!dest.join(BATCHES[0]).exists());

    let short = tempfile::tempdir().unwrap();
    let md5 = archive(short.path(), Some("test_batch.bin"));
    let server = Server::start(short.path().to_path_buf());
    let e = fetch_batches(&remote(md5), &[server.url("good")], &dest)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cifar-10-binary.tar.gz")
            && e.contains("no cifar-10-batches-bin/test_batch.bin"),
        "{e}"
    );
    assert!(
        !dest.join("cifar-10-binary.tar.gz").exists(),
        "the archive is removed"
    );
}

#[test]
fn without_a_data_folder_and_downloading_off_the_cache_is_named() {
    let cache = tempfile::tempdir().unwrap();
    let mut src = DataSource::new(DatasetKind::Cifar10, None);
    src.fetch.enabled = false;
    src.fetch.cache_dir = cache.path().to_path_buf();
    let e = load(&src).unwrap_err().to_string();
    assert!(
        e.contains("cifar10")
            && e.contains("data_batch_1.bin")
            && e.contains("downloading is disabled"),
        "{e}"
    );
}
