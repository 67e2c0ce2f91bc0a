//! Execution providers: which one runs a model, and creating sessions with them.

use super::runtime::environment;
use crate::error::one_line;
use crate::{Error, Result};
use ort::session::Session;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Which ONNX Runtime execution provider runs the model.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionProvider {
    /// CUDA, then CoreML (where compiled in), then CPU; a provider that cannot start is
    /// noted (see [`super::StepModel::notes`]) and skipped.
    #[default]
    Auto,
    /// ONNX Runtime's default CPU provider.
    Cpu,
    /// NVIDIA CUDA (needs the `cuda` feature and onnxruntime-gpu at run time).
    Cuda,
    /// Apple CoreML (needs the `coreml` feature; macOS only).
    CoreMl,
}

impl ExecutionProvider {
    /// All choices, in the order `Auto` tries them (after `Auto` itself).
    pub const ALL: [ExecutionProvider; 4] = [
        ExecutionProvider::Auto,
        ExecutionProvider::Cpu,
        ExecutionProvider::Cuda,
        ExecutionProvider::CoreMl,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExecutionProvider::Auto => "auto",
            ExecutionProvider::Cpu => "cpu",
            ExecutionProvider::Cuda => "cuda",
            ExecutionProvider::CoreMl => "coreml",
        }
    }
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ExecutionProvider {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(ExecutionProvider::Auto),
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" | "gpu" => Ok(ExecutionProvider::Cuda),
            "coreml" | "core-ml" => Ok(ExecutionProvider::CoreMl),
            other => Err(Error::Input(format!(
                "unknown execution provider {other:?} (choose auto, cpu, cuda or coreml)"
            ))),
        }
    }
}

/// How sessions are created and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// The execution provider to use.
    pub ep: ExecutionProvider,
    /// True when the user named `ep` explicitly: then a provider that cannot start is an error
    /// instead of a note and a fall-back to CPU.
    pub ep_explicit: bool,
    /// Intra-op threads; 0 leaves ONNX Runtime's default (one per core).
    pub threads: usize,
    /// Deterministic compute (same results run after run on the CPU).
    pub deterministic: bool,
    /// Sequences per run (default 256).
    pub batch_size: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            ep: ExecutionProvider::Auto,
            ep_explicit: false,
            threads: 0,
            deterministic: false,
            batch_size: 256,
        }
    }
}

/// A created session, the provider it runs on, and notes on providers that were skipped.
pub(crate) struct Created {
    pub session: Session,
    pub provider: ExecutionProvider,
    pub notes: Vec<String>,
}

/// Where a session's model comes from.
#[derive(Clone, Copy)]
pub(crate) enum Source<'a> {
    /// The file at the model's path (external data, if any, is found beside it).
    File,
    /// These bytes; the model's path is only its label in messages.
    Memory(&'a [u8]),
}

/// Creates the session of the model at `path` (or labelled `path`, from `source`), trying
/// providers as `opts` asks.
pub(crate) fn create_session(
    path: &Path,
    source: Source<'_>,
    opts: &EngineOptions,
) -> Result<Created> {
    let env = environment()?;
    let candidates: Vec<ExecutionProvider> = match opts.ep {
        ExecutionProvider::Auto => {
            let mut v = Vec::new();
            if cfg!(feature = "cuda") {
                v.push(ExecutionProvider::Cuda);
            }
            if cfg!(all(feature = "coreml", target_os = "macos")) {
                v.push(ExecutionProvider::CoreMl);
            }
            v
        }
        ExecutionProvider::Cpu => Vec::new(),
        other => vec![other],
    };
    let strict = opts.ep_explicit && opts.ep != ExecutionProvider::Auto;
    let mut notes = Vec::new();
    for ep in candidates {
        match session_with(env, path, source, opts, ep) {
            Ok(session) => {
                return Ok(Created {
                    session,
                    provider: ep,
                    notes,
                })
            }
            Err(SessionError::Provider(reason)) => {
                if strict {
                    return Err(Error::Provider {
                        path: path.to_path_buf(),
                        provider: ep.name().into(),
                        reason,
                    });
                }
                notes.push(format!(
                    "execution provider {ep} cannot start ({reason}); falling back to CPU"
                ));
            }
            Err(SessionError::Model(reason)) => return Err(Error::model(path, reason)),
        }
    }
    match session_with(env, path, source, opts, ExecutionProvider::Cpu) {
        Ok(session) => Ok(Created {
            session,
            provider: ExecutionProvider::Cpu,
            notes,
        }),
        Err(SessionError::Provider(r) | SessionError::Model(r)) => Err(Error::model(path, r)),
    }
}

enum SessionError {
    Provider(String),
    Model(String),
}

fn session_with(
    env: &ort::environment::Environment,
    path: &Path,
    source: Source<'_>,
    opts: &EngineOptions,
    ep: ExecutionProvider,
) -> std::result::Result<Session, SessionError> {
    let prov = |e: String| SessionError::Provider(one_line(e));
    let mut b = Session::builder(env).map_err(|e| prov(e.to_string()))?;
    if opts.threads > 0 {
        b = b
            .with_intra_threads(opts.threads)
            .map_err(|e| prov(e.to_string()))?;
    }
    if opts.deterministic {
        b = b
            .with_deterministic_compute(true)
            .map_err(|e| prov(e.to_string()))?;
    }
    let dispatch = match ep {
        ExecutionProvider::Cpu | ExecutionProvider::Auto => None,
        ExecutionProvider::Cuda => {
            #[cfg(feature = "cuda")]
            {
                Some(ort::ep::CUDA::default().build().error_on_failure())
            }
            #[cfg(not(feature = "cuda"))]
            {
                return Err(prov(
                    "this build has no CUDA support (rebuild with the `cuda` feature)".into(),
                ));
            }
        }
        ExecutionProvider::CoreMl => {
            #[cfg(all(feature = "coreml", target_os = "macos"))]
            {
                Some(ort::ep::CoreML::default().build().error_on_failure())
            }
            #[cfg(not(all(feature = "coreml", target_os = "macos")))]
            {
                return Err(prov(
                    "this build has no CoreML support (macOS with the `coreml` feature only)"
                        .into(),
                ));
            }
        }
    };
    if let Some(d) = dispatch {
        b = b
            .with_execution_providers([d])
            .map_err(|e| prov(e.to_string()))?;
    }
    let committed = match source {
        Source::File => b.commit_from_file(path),
        Source::Memory(bytes) => b.commit_from_memory(bytes),
    };
    committed.map_err(|e| {
        let reason = format!("ONNX Runtime cannot load it: {}", one_line(e.to_string()));
        // With an accelerator the failure may be the provider's; the CPU retry tells them apart.
        if ep == ExecutionProvider::Cpu {
            SessionError::Model(reason)
        } else {
            SessionError::Provider(reason)
        }
    })
}
