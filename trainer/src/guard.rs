//! libtorch failures as errors: tch's infallible operations panic on any libtorch error
//! (CUDA out of memory, a failed allocation), and the trainer uses them throughout.

use crate::{Error, Result};
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is inside [`catch_torch`]: a process-wide panic hook should print
/// nothing then (the panic becomes an ordinary error, reported once by the caller).
pub fn catching() -> bool {
    CATCHING.with(Cell::get)
}

/// Runs `f`, turning a panic inside it into [`Error::Libtorch`] with the first line of the
/// panic's message (libtorch appends its C++ stack trace on further lines) and a hint when
/// memory ran out. `what` says what was being done ("training epoch 3").
pub fn catch_torch<T>(what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let outer = CATCHING.with(|c| c.replace(true));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(outer));
    outcome.map_err(|payload| {
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown failure");
        let mut message = first.to_string();
        if text.contains("out of memory") || text.contains("can't allocate memory") {
            message.push_str(
                " (out of memory: train fewer instances at once with --batch-instances, \
                 or use a smaller --batch-size)",
            );
        }
        Error::Libtorch {
            what: what.to_string(),
            message,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind, Tensor};

    #[test]
    fn a_failed_allocation_becomes_a_one_line_error() {
        let err = catch_torch("allocating", || {
            Tensor::zeros([1i64 << 42], (Kind::Float, Device::Cpu)).numel()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("libtorch failed while allocating: "),
            "{err}"
        );
        assert!(err.contains("--batch-instances"), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(!catching());
        assert_eq!(catch_torch("adding", || 2 + 2).unwrap(), 4);
    }
}
