//! Fuzzed readers: real files truncated, byte-flipped and spliced, read by every reader of the
//! toolkit. Each case must give a value or a one-line error naming the file: never a panic
//! (the panic hook is not involved here: a panic fails the test). Seeded and bounded
//! (`EPC_FUZZ_CASES` per file kind, default 60), so CI runs the same cases every time.
//!
//! The HDF5 C library can crash on some corrupted files; dump cases therefore run in a child
//! process (this test binary, re-invoked), and only a clean error or a value passes.

mod common;
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

fn cases() -> usize {
    std::env::var("EPC_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60)
}

/// Mutations of `good`: truncations, byte flips, and splices with `other`.
fn mutants(good: &[u8], other: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..cases())
        .map(|k| {
            let mut b = good.to_vec();
            match k % 3 {
                0 => b.truncate(rng.gen_range(0..good.len())),
                1 => {
                    for _ in 0..rng.gen_range(1..8) {
                        let i = rng.gen_range(0..b.len());
                        b[i] ^= 1 << rng.gen_range(0..8);
                    }
                }
                _ => {
                    let at = rng.gen_range(0..good.len());
                    let from = rng.gen_range(0..other.len());
                    let len = rng.gen_range(1..=(other.len() - from).min(4096));
                    b.splice(
                        at..(at + len).min(good.len()),
                        other[from..from + len].iter().copied(),
                    );
                }
            }
            b
        })
        .collect()
}

/// Asserts that an error is one line and names `path`.
fn clean<E: std::fmt::Display>(e: E, path: &Path, what: &str) {
    let msg = e.to_string();
    assert!(!msg.contains('\n'), "{what}: two lines: {msg:?}");
    assert!(
        msg.contains(&path.display().to_string()),
        "{what}: error does not name {}: {msg}",
        path.display()
    );
}

/// Writes each mutant of `good` to `dir/name` and calls `read` on it.
fn fuzz(dir: &Path, name: &str, good: &[u8], other: &[u8], seed: u64, mut read: impl FnMut(&Path)) {
    let path = dir.join(name);
    for (k, m) in mutants(good, other, seed).into_iter().enumerate() {
        std::fs::write(&path, &m).unwrap();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(&path)));
        assert!(caught.is_ok(), "{name}: case {k} panicked");
    }
}

fn trained_run(tmp: &Path) -> PathBuf {
    let run = tmp.join("run");
    train_digits(&run, "0,1", "3");
    run
}

#[test]
fn model_weight_and_checkpoint_readers_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let run = trained_run(tmp.path());
    let (a, b) = (run.join("seed-0"), run.join("seed-1"));
    let model = std::fs::read(a.join("model.onnx")).unwrap();
    let other = std::fs::read(b.join("model.onnx")).unwrap();
    let opts = epc_analyzer::EngineOptions {
        ep: epc_analyzer::ExecutionProvider::Cpu,
        ep_explicit: true,
        ..Default::default()
    };
    fuzz(tmp.path(), "m.onnx", &model, &other, 1, |p| {
        if let Err(e) = epc_exporter::onnx::ModelFile::read(p) {
            clean(e, p, "onnx reader");
        }
        // What parses as protobuf goes on to ONNX Runtime and the contract check.
        if let Err(e) = epc_analyzer::StepModel::load(p, &opts) {
            clean(e, p, "step model");
        }
    });
    let weights = std::fs::read(a.join("weights.safetensors")).unwrap();
    let ck = std::fs::read(a.join("checkpoint.safetensors")).unwrap();
    let ck_other = std::fs::read(b.join("checkpoint.safetensors")).unwrap();
    fuzz(tmp.path(), "w.safetensors", &weights, &ck, 2, |p| {
        if let Err(e) = epc_exporter::read_weights_safetensors(p, 64) {
            clean(e, p, "weights");
        }
    });
    fuzz(tmp.path(), "c.safetensors", &ck, &ck_other, 3, |p| {
        if let Err(e) = epc_trainer::checkpoint::load(p, 64) {
            clean(e, p, "checkpoint");
        }
    });
    let config = std::fs::read(a.join("config.json")).unwrap();
    let toml =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/paper-mnist.toml"))
            .unwrap();
    fuzz(tmp.path(), "config.json", &config, &toml, 4, |p| {
        if let Err(e) = epc_core::config::RunConfig::from_json_file(p) {
            clean(e, p, "config.json");
        }
    });
    fuzz(tmp.path(), "c.toml", &toml, &config, 5, |p| {
        if let Err(e) = epc_core::config::RunConfig::from_toml_file(p) {
            clean(e, p, "config toml");
        }
    });
}

#[test]
fn data_readers_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let mnist = testdata("mnist-small");
    let images = std::fs::read(mnist.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let labels = std::fs::read(mnist.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let raw_images = {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&images[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let lp = tmp.path().join("labels.gz");
    std::fs::write(&lp, &labels).unwrap();
    for (name, good) in [("images.gz", &images), ("images.raw", &raw_images)] {
        fuzz(tmp.path(), name, good, &labels, 6, |p| {
            if let Err(e) = epc_core::data::idx::load_pair(p, &lp) {
                clean(e, p, "idx");
            }
        });
    }
    let cifar = std::fs::read(testdata("cifar10-first20").join("test_batch_first20.bin")).unwrap();
    fuzz(tmp.path(), "batch.bin", &cifar, &raw_images, 7, |p| {
        if let Err(e) = epc_core::data::cifar::load_batches(&[p.to_path_buf()]) {
            clean(e, p, "cifar");
        }
    });
    let digits =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("core/assets/digits.csv.gz"))
            .unwrap();
    fuzz(tmp.path(), "digits.csv.gz", &digits, &images, 8, |p| {
        let bytes = std::fs::read(p).unwrap();
        if let Err(e) = epc_core::data::digits::parse(p, &bytes) {
            clean(e, p, "digits");
        }
    });
}

/// The child half of the dump fuzzing: reads the file named by `EPC_FUZZ_DUMP` and prints
/// `ok` or the error (never run on its own: it returns at once without the variable).
#[test]
fn fuzz_child_read_dump() {
    let Some(p) = std::env::var_os("EPC_FUZZ_DUMP") else {
        return;
    };
    let p = PathBuf::from(p);
    match epc_exporter::h5::read_dump(&p) {
        Ok(_) => println!("FUZZ-OK"),
        Err(e) => println!("FUZZ-ERR {e}"),
    }
}

#[test]
fn dump_reader_gives_a_value_or_a_clean_error() {
    let tmp = tempfile::tempdir().unwrap();
    let run = trained_run(tmp.path());
    let dump = tmp.path().join("d.h5");
    let o = run_epc(&[
        "dump",
        "--model",
        run.join("seed-0/model.onnx").to_str().unwrap(),
        "--out",
        dump.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let good = std::fs::read(&dump).unwrap();
    let other = std::fs::read(run.join("seed-0/model.onnx")).unwrap();
    let me = std::env::current_exe().unwrap();
    let path = tmp.path().join("m.h5");
    let (mut crashed, mut n) = (Vec::new(), 0);
    for (k, m) in mutants(&good, &other, 9)
        .into_iter()
        .enumerate()
        .take(cases() / 3)
    {
        std::fs::write(&path, &m).unwrap();
        let o = std::process::Command::new(&me)
            .args([
                "--exact",
                "fuzz_child_read_dump",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env("EPC_FUZZ_DUMP", &path)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        n += 1;
        // libtest prints the test's name on the same line before the marker.
        let marker = out.lines().find_map(|l| l.find("FUZZ-").map(|i| &l[i..]));
        match marker {
            Some(l) if l.starts_with("FUZZ-ERR") => {
                assert!(
                    l.contains("m.h5"),
                    "case {k}: error does not name the file: {l}"
                )
            }
            Some(_) => {}
            None => crashed.push((k, o.status)),
        }
    }
    // Crashes of the HDF5 library itself on corrupt files are counted and reported; epc's own
    // code must not panic (a panic prints FUZZ- lines never and fails the child's test, which
    // shows here as a crash too).
    assert!(
        crashed.is_empty(),
        "{} of {n} corrupted dumps crashed the reader: {crashed:?}",
        crashed.len()
    );
}

fn run_epc(args: &[&str]) -> std::process::Output {
    run(args)
}
