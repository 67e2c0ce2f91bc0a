//! Downloading MNIST from mirrors, against a tiny HTTP server on 127.0.0.1.

mod common;

use common::*;
use epc_core::data::{load, DataSource, DatasetKind, FetchOptions, MNIST_FILES};
use epc_core::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Serves the files of one folder: `/good/NAME` as is, `/bad/NAME` with one byte flipped,
/// anything else 404. Records every request path.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(root: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(s) = stream {
                    serve(s, &root, &requests2);
                }
            }
        });
        Server {
            addr,
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}/{prefix}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Stops the server and closes its port.
    fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr); // wakes up accept()
            t.join().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(mut s: TcpStream, root: &Path, requests: &Mutex<Vec<String>>) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    requests.lock().unwrap().push(path.clone());
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let body = match parts[..] {
        [mode @ ("good" | "bad"), name] if !name.is_empty() && !name.starts_with('.') => {
            std::fs::read(root.join(name)).ok().map(|mut b| {
                if mode == "bad" {
                    let mid = b.len() / 2;
                    b[mid] ^= 0x55;
                }
                b
            })
        }
        _ => None,
    };
    let (status, body) = match body {
        Some(b) => ("200 OK", b),
        None => ("404 Not Found", b"not found\n".to_vec()),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(header.as_bytes());
    let _ = s.write_all(&body);
    let _ = s.flush();
}

fn mirror_source(cache: &Path, mirrors: Vec<String>, enabled: bool) -> DataSource {
    DataSource {
        kind: DatasetKind::Mnist,
        data_dir: None,
        fetch: FetchOptions {
            enabled,
            cache_dir: cache.to_path_buf(),
            mirrors,
        },
    }
}

/// A folder the server serves: a copy of the MNIST files.
fn served_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_idx_gz("mnist", dir.path());
    dir
}

#[test]
fn downloads_into_the_cache_then_loads_offline() {
    let served = served_copy();
    let mut server = Server::start(served.path().to_path_buf());
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
fn corrupted_mirror_gives_checksum_error_and_caches_nothing() {
    let served = served_copy();
    let server = Server::start(served.path().to_path_buf());
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
fn corrupt_cached_file_is_downloaded_again() {
    let served = served_copy();
    let server = Server::start(served.path().to_path_buf());
    let cache = tempfile::tempdir().unwrap();
    let mnist_cache = cache.path().join("mnist");
    copy_idx_gz("mnist", &mnist_cache);
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
fn all_mirrors_failing_names_each() {
    let served = served_copy();
    let mut server = Server::start(served.path().to_path_buf());
    let other = Server::start(served.path().to_path_buf());
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
fn data_dir_missing_files_fall_back_to_the_mirrors() {
    let served = served_copy();
    let server = Server::start(served.path().to_path_buf());
    let data = tempfile::tempdir().unwrap();
    // Only the label files are present locally; the images come from the mirror.
    copy_files(&shared("mnist"), data.path(), &[IDX_GZ[1], IDX_GZ[3]]);
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
