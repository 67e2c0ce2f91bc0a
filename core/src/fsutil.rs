//! Atomic file output: nothing half-written is ever left at the final path.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A temporary sibling path for `path` (same folder, so the rename is atomic).
///
/// Unique per process and per call, so threads writing the same file at once never
/// share a temporary file.
pub fn temp_sibling(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{k}", std::process::id()))
}

/// Calls `write` on a temporary sibling of `path`, then renames it into place.
///
/// On any error the temporary file is removed and `path` is left untouched.
pub fn write_atomic_with<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&Path) -> Result<()>,
{
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = temp_sibling(path);
    let outcome =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if outcome.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

/// Writes `bytes` to `path` atomically (temp file, then rename).
///
/// No fsync: the rename protects against a killed process, which is what checkpoints
/// written every epoch must survive; an fsync per epoch would dominate small runs.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |tmp| {
        let mut f = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(path, e))
    })
}

/// Serialises `value` as pretty JSON and writes it atomically to `path`.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::format(path, format!("cannot serialise JSON: {e}")))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads and parses a JSON file, naming the file in any error.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::format(path, format!("invalid JSON: {e}")))
}

/// A folder written whole or not at all: files go into a temporary sibling, which replaces
/// the final folder in one rename when [`StagedDir::commit`] is called; dropped uncommitted,
/// the temporary folder is removed.
#[derive(Debug)]
pub struct StagedDir {
    path: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Prepares to (re)write the folder `out`. An existing `out` must be a folder that is
    /// empty or holds `marker` (a file only an earlier output of the same kind has), so that
    /// nothing else (a run or data folder) is ever replaced.
    pub fn prepare(out: &Path, marker: &str) -> Result<Self> {
        let refuse = |why: &str| {
            Error::io(
                out,
                std::io::Error::new(std::io::ErrorKind::AlreadyExists, why.to_string()),
            )
        };
        if out.exists() && !out.is_dir() {
            return Err(refuse("exists and is not a folder"));
        }
        if out.is_dir() {
            let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
            if entries.next().is_some() && !out.join(marker).is_file() {
                return Err(refuse(
                    "exists and is neither empty nor an earlier epc output; choose another --out",
                ));
            }
        }
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let tmp = temp_sibling(out);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Self {
            path: tmp,
            committed: false,
        })
    }

    /// The temporary folder to write into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the finished temporary folder to `out`, replacing an earlier output there.
    pub fn commit(mut self, out: &Path) -> Result<()> {
        let old = out.with_file_name(format!(
            ".{}.old-{}",
            out.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id()
        ));
        let had_old = out.exists();
        if had_old {
            std::fs::rename(out, &old).map_err(|e| Error::io(out, e))?;
        }
        if let Err(e) = std::fs::rename(&self.path, out) {
            if had_old {
                let _ = std::fs::rename(&old, out);
            }
            return Err(Error::io(out, e));
        }
        self.committed = true;
        if had_old {
            let _ = std::fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Serde helpers for an `f64` that may be NaN or infinite: JSON has no such numbers
/// (serde_json writes `null`, which does not read back), so they are written as the strings
/// `"NaN"`, `"inf"` and `"-inf"`; finite values stay numbers.
pub mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `v` as a number, or as `"NaN"` / `"inf"` / `"-inf"`.
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    /// Reads a number or one of the strings [`serialize`] writes.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "expected a number, \"NaN\", \"inf\" or \"-inf\", found {other:?}"
                ))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").unwrap();
        let err = write_atomic_with(&path, |tmp| {
            std::fs::write(tmp, b"half").unwrap();
            Err(Error::Config("boom".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temp_siblings_are_unique_and_beside_the_file() {
        let p = Path::new("/some/dir/file.bin");
        let (a, b) = (temp_sibling(p), temp_sibling(p));
        assert_ne!(a, b);
        assert_eq!(a.parent(), p.parent());
        assert!(a
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".file.bin.tmp-"));
    }

    #[test]
    fn concurrent_writers_of_one_file_leave_one_whole_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        std::thread::scope(|s| {
            for k in 0..8u8 {
                let path = &path;
                s.spawn(move || write_atomic(path, &vec![k; 100_000]).unwrap());
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 100_000);
        assert!(bytes.iter().all(|&b| b == bytes[0]));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn staged_dirs_replace_only_their_own_kind() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        let staged = StagedDir::prepare(&out, "summary.json").unwrap();
        std::fs::write(staged.path().join("summary.json"), b"1").unwrap();
        staged.commit(&out).unwrap();
        let staged = StagedDir::prepare(&out, "summary.json").unwrap();
        std::fs::write(staged.path().join("summary.json"), b"2").unwrap();
        drop(staged);
        assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), b"1");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(out.join("x"), b"").unwrap();
        std::fs::remove_file(out.join("summary.json")).unwrap();
        let e = StagedDir::prepare(&out, "summary.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither empty nor an earlier epc output"), "{e}");
    }

    #[test]
    fn write_atomic_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.json");
        write_json_atomic(&path, &vec![1, 2, 3]).unwrap();
        let back: Vec<i32> = read_json(&path).unwrap();
        assert_eq!(back, vec![1, 2, 3]);
    }
}
