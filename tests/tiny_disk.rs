//! A disk that fills up: `train`, `export`, `dump` and `analyze` writing into a 2 MiB file
//! system each exit 1 with one line naming the file, leave nothing behind, and never die by a
//! signal. As root the test mounts a real tmpfs (ENOSPC); otherwise it limits the size of the
//! files the process may write (`prlimit --fsize`: EFBIG), which takes the same paths.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const SIZE: u64 = 2 * 1024 * 1024;

/// Where the small disk is and how commands reach it.
struct TinyDisk {
    dir: PathBuf,
    mounted: bool,
}

impl TinyDisk {
    fn new(base: &Path) -> Option<Self> {
        let dir = base.join("tiny");
        std::fs::create_dir_all(&dir).unwrap();
        // EPC_TINY_DISK=prlimit tries the unprivileged path even as root.
        let force_limit = std::env::var("EPC_TINY_DISK").is_ok_and(|v| v == "prlimit");
        let mounted = !force_limit
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={SIZE}"), "tmpfs"])
                .arg(&dir)
                .output()
                .is_ok_and(|o| o.status.success());
        let prlimit = Command::new("prlimit").arg("--version").output().is_ok();
        if !mounted && !prlimit {
            eprintln!(
                "skipped: neither a tmpfs mount (root) nor prlimit (util-linux) is available"
            );
            return None;
        }
        Some(Self { dir, mounted })
    }

    /// `epc args` run so that its writes meet the small disk.
    fn epc(&self, args: &[&str]) -> std::process::Output {
        let mut c = if self.mounted {
            let mut c = Command::new(env!("CARGO_BIN_EXE_epc"));
            c.args(args);
            c
        } else {
            let mut c = Command::new("prlimit");
            c.arg(format!("--fsize={SIZE}"))
                .arg("--")
                .arg(env!("CARGO_BIN_EXE_epc"))
                .args(args);
            c
        };
        c.output().unwrap()
    }

    /// The disk's entries, hidden ones included (a left-over temporary file shows).
    fn listing(&self) -> Vec<String> {
        std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
    }
}

/// Exit 1 (not a signal), one error line naming `needle`, and an empty disk.
fn assert_failed_cleanly(disk: &TinyDisk, o: &std::process::Output, needle: &str, what: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {:?} {err}", o.status);
    assert_clean_failure(o, needle);
    assert!(
        disk.listing().is_empty(),
        "{what} left {:?}",
        disk.listing()
    );
}

#[test]
fn every_command_fails_cleanly_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = TinyDisk::new(tmp.path()) else {
        return;
    };
    let data = copy_folder(&testdata("mnist-small"), &tmp.path().join("data"));
    // A trained MNIST-sized network on the real disk, for export, dump and analyze.
    let good = tmp.path().join("good");
    train_mnist(&data, &good, "1");
    let data = data.to_str().unwrap();
    let model = good.join("seed-0/model.onnx");
    let model = model.to_str().unwrap();
    let tiny = |name: &str| disk.dir.join(name).to_str().unwrap().to_string();

    let out = tiny("run");
    let o = disk.epc(&[
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        data,
        "--epochs",
        "2",
        "--device",
        "cpu",
        "--plain",
        "--out",
        &out,
    ]);
    assert_failed_cleanly(&disk, &o, &out, "train");

    let out = tiny("model.onnx");
    let o = disk.epc(&[
        "export",
        good.join("seed-0").to_str().unwrap(),
        "--out",
        &out,
    ]);
    assert_failed_cleanly(&disk, &o, &out, "export");

    let out = tiny("acts.h5");
    let o = disk.epc(&["dump", "--model", model, "--data-dir", data, "--out", &out]);
    assert_failed_cleanly(&disk, &o, &out, "dump");
    assert!(stderr(&o).contains("needs about"), "{}", stderr(&o));

    let out = tiny("report");
    let o = disk.epc(&[
        "analyze",
        "--model",
        model,
        "--data-dir",
        data,
        "--out",
        &out,
    ]);
    assert_failed_cleanly(&disk, &o, "report", "analyze");

    // The same commands succeed on the real disk: the failures were the disk's.
    let o = run(&[
        "dump",
        "--model",
        model,
        "--data-dir",
        data,
        "--out",
        tmp.path().join("a.h5").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}
