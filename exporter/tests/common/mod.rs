//! Helpers shared by the integration tests: a seeded generator, the plain-Rust RNN
//! reference, raw f32 files and the Python interpreter of the set-up.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// A small seeded generator (xorshift64*), so the tests need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.uniform()
    }

    pub fn vec(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..len).map(|_| self.range(lo, hi)).collect()
    }
}

/// The paper's RNN from h_0 = 0: returns (preact, act), both `[steps, batch, n]`.
pub fn forward(w: &[f32], n: usize, x: &[f32], steps: usize, batch: usize) -> (Vec<f32>, Vec<f32>) {
    let mut h = vec![0f32; batch * n];
    let mut preact = Vec::with_capacity(steps * batch * n);
    let mut act = Vec::with_capacity(steps * batch * n);
    for t in 0..steps {
        let mut next = vec![0f32; batch * n];
        for b in 0..batch {
            for j in 0..n {
                let mut a = x[(t * batch + b) * n + j] as f64;
                for i in 0..n {
                    a += h[b * n + i] as f64 * w[i * n + j] as f64;
                }
                let a = a as f32;
                preact.push(a);
                next[b * n + j] = a.max(0.0);
            }
        }
        act.extend_from_slice(&next);
        h = next;
    }
    (preact, act)
}

pub fn write_f32(path: &Path, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// Largest absolute difference; panics on a length mismatch.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The set-up's Python (`EPC_PYTHON`, from `scripts/env.sh`), else `python3`.
pub fn python() -> String {
    std::env::var("EPC_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Runs `script` with the set-up's Python and returns its stdout; panics with stderr on failure.
pub fn run_python(dir: &Path, script: &str, args: &[&str]) -> String {
    let path = dir.join("check.py");
    std::fs::write(&path, script).unwrap();
    let py = python();
    let out = Command::new(&py)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {py} (source scripts/env.sh to set EPC_PYTHON): {e}")
        });
    assert!(
        out.status.success(),
        "{py} failed (source scripts/env.sh to set EPC_PYTHON):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Names in `dir`, sorted (to check that nothing was left behind).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
