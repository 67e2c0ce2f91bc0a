//! Helpers shared by the workspace-level tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `epc` binary built for these tests.
pub fn epc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_epc"))
}

/// Runs `epc` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    epc().args(args).output().expect("epc runs")
}

/// Runs `epc` with `args`, asserts that it succeeded (showing its stderr if not) and returns
/// its output.
pub fn run_ok(args: &[&str]) -> Output {
    let o = run(args);
    assert!(o.status.success(), "epc {}: {}", args.join(" "), stderr(&o));
    o
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a failed run that printed one `epc: error:` line naming `needle`, and no panic.
pub fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    let line = err
        .lines()
        .find(|l| l.starts_with("epc: error:"))
        .unwrap_or_else(|| panic!("no error line in: {err}"));
    assert!(
        line.contains(needle),
        "error line {line:?} does not name {needle:?}"
    );
    assert!(
        line.matches("(os error").count() <= 1,
        "cause repeated in {line:?}"
    );
}

/// A folder of the repository's committed test data (`testdata/<name>`, see its README).
pub fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

/// A full data set from `$EPC_SHARED_DATA/<name>`, for the opt-in (`#[ignore]`) tests; panics
/// with the way to run them when the variable is not set.
pub fn shared(name: &str) -> PathBuf {
    let root = std::env::var_os("EPC_SHARED_DATA").unwrap_or_else(|| {
        panic!("this test needs the full data sets: set EPC_SHARED_DATA=<folder> and run with --ignored")
    });
    let dir = PathBuf::from(root).join(name);
    assert!(
        dir.is_dir(),
        "{} not found (EPC_SHARED_DATA)",
        dir.display()
    );
    dir
}

/// Copies the files of folder `from` into `dst` (created, writable) and returns `dst`.
pub fn copy_folder(from: &Path, dst: &Path) -> PathBuf {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        let mut perm = std::fs::metadata(dst.join(e.file_name()))
            .unwrap()
            .permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(dst.join(e.file_name()), perm).unwrap();
    }
    dst.to_path_buf()
}

/// The interpreter of the set-up's virtual environment (onnx, onnxruntime, h5py, torch).
pub fn python() -> String {
    std::env::var("EPC_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// `epc train ARGS --epochs E --device cpu --plain --out OUT`, asserting success.
fn train_cpu(args: &[&str], out: &Path, epochs: &str) -> Output {
    let mut all = vec!["train"];
    all.extend_from_slice(args);
    all.extend(["--epochs", epochs, "--device", "cpu", "--plain", "--out"]);
    all.push(out.to_str().unwrap());
    let o = run(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

/// Trains the embedded digits on CPU (`seeds` comma-separated) into `out`, asserting success.
pub fn train_digits(out: &Path, seeds: &str, epochs: &str) -> Output {
    train_cpu(&["--seeds", seeds], out, epochs)
}

/// `epc train` of one seed on the MNIST files in `data` for `epochs` epochs on the CPU into
/// `out`; asserts that it succeeded.
pub fn train_mnist(data: &Path, out: &Path, epochs: &str) -> Output {
    train_cpu(
        &["--dataset", "mnist", "--data-dir", data.to_str().unwrap()],
        out,
        epochs,
    )
}

/// Reads and parses a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}
