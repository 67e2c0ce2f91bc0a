//! Optional download of MNIST / Fashion-MNIST files from mirror URLs, with MD5 checks.
//!
//! Files are downloaded to a temporary name, verified, then renamed, so a broken
//! download never leaves a file that looks complete.

use crate::{Error, Result};
use md5::{Digest, Md5};
use std::path::{Path, PathBuf};

/// One remote file with its published MD5 digest.
#[derive(Debug, Clone, Copy)]
pub struct RemoteFile {
    /// File name, as on the mirrors.
    pub name: &'static str,
    /// Accepted lower-case hex MD5 digests of the file (the first is the canonical one).
    pub md5: &'static [&'static str],
}

/// Where and whether to fetch missing files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FetchOptions {
    /// Download missing files (false: a missing file is an error).
    pub enabled: bool,
    /// Folder that receives downloads, one sub-folder per data set.
    pub cache_dir: PathBuf,
    /// Base URLs to try in order, overriding the data set's default mirrors when non-empty.
    pub mirrors: Vec<String>,
}

impl Default for FetchOptions {
    /// Downloading on, [`default_cache_dir`], the data set's own mirrors; the environment
    /// overrides: `EPC_NO_DOWNLOAD=1` turns downloading off and `EPC_MIRRORS` (comma-separated
    /// base URLs) replaces the mirror list.
    fn default() -> Self {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            enabled: env("EPC_NO_DOWNLOAD").is_none_or(|v| v == "0"),
            cache_dir: default_cache_dir(),
            mirrors: env("EPC_MIRRORS")
                .map(|v| {
                    v.split(',')
                        .map(|m| m.trim().to_string())
                        .filter(|m| !m.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// `$EPC_CACHE_DIR`, else `$XDG_CACHE_HOME/epc/datasets`, else `~/.cache/epc/datasets`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("EPC_CACHE_DIR") {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("epc").join("datasets")
}

/// Hex MD5 of a byte slice.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Hex SHA-256 of a byte slice.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Sha256;
    hex::encode(Sha256::digest(bytes))
}

/// Checks that the file at `path` has one of the MD5 digests in `accepted`.
pub fn verify_md5(path: &Path, accepted: &[&str]) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    check_md5(path, &bytes, accepted)
}

/// Checks `bytes` (read from `path`) against the accepted MD5 digests.
pub fn check_md5(path: &Path, bytes: &[u8], accepted: &[&str]) -> Result<()> {
    let actual = md5_hex(bytes);
    if accepted.contains(&actual.as_str()) {
        return Ok(());
    }
    Err(Error::Checksum {
        path: path.into(),
        algorithm: "md5",
        expected: accepted.join(" or "),
        actual,
    })
}

/// Downloads `file` into `dest_dir` from the first mirror that serves it with the right MD5.
pub fn fetch(file: &RemoteFile, mirrors: &[String], dest_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dest_dir).map_err(|e| Error::io(dest_dir, e))?;
    let dest = dest_dir.join(file.name);
    let mut failures = Vec::new();
    for base in mirrors {
        let url = format!("{}/{}", base.trim_end_matches('/'), file.name);
        log::info!("downloading {url}");
        match download(&url) {
            Ok(bytes) => {
                if let Err(e) = check_md5(Path::new(&url), &bytes, file.md5) {
                    failures.push(e.to_string());
                    continue;
                }
                crate::fsutil::write_atomic(&dest, &bytes)?;
                return Ok(dest);
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    if failures.is_empty() {
        failures.push("no mirror configured".into());
    }
    Err(Error::Fetch {
        file: file.name.into(),
        reason: failures.join("; "),
    })
}

/// The body of `url` (at most 1 GiB).
#[cfg(feature = "download")]
fn download(url: &str) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    use std::time::Duration;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(60))
        .build();
    let resp = agent.get(url).call().map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    resp.into_reader()
        .take(1 << 30)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// Without the `download` feature there is no HTTP client: every mirror fails with this.
#[cfg(not(feature = "download"))]
fn download(_url: &str) -> std::result::Result<Vec<u8>, String> {
    Err("this program was built without downloading (epc-core's `download` feature); put the file in the data folder yourself".into())
}
