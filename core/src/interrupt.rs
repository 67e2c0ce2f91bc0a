//! Interrupts (Ctrl-C, the SIGTERM a cluster scheduler sends before it kills a job) as
//! ordinary errors: the command line sets the flag from its signal handler; long loops in the
//! libraries call [`check`] at safe points (between batches, between chunks) and return
//! [`Error::Interrupted`], so every output in progress is cleaned up or kept whole by the same
//! paths as any other error.

use crate::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// The process-wide flag: 0, or the number of the signal that asked the process to stop. A
/// signal handler stores into it (an atomic store is async-signal-safe).
pub fn flag() -> Arc<AtomicUsize> {
    FLAG.get_or_init(|| Arc::new(AtomicUsize::new(0))).clone()
}

/// The signal that asked the process to stop, if one did.
pub fn requested() -> Option<i32> {
    match flag().load(Ordering::SeqCst) {
        0 => None,
        s => Some(s as i32),
    }
}

/// [`Error::Interrupted`] once a stop was asked for.
pub fn check() -> Result<()> {
    match requested() {
        Some(signal) => Err(Error::Interrupted { signal }),
        None => Ok(()),
    }
}

/// Asks the process to stop as if `signal` had arrived (tests; programs that stop on their own
/// terms).
pub fn request(signal: i32) {
    flag().store(signal as usize, Ordering::SeqCst);
}

/// Clears a request (tests).
pub fn clear() {
    flag().store(0, Ordering::SeqCst);
}

/// The conventional name of a stop signal.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        1 => "SIGHUP",
        _ => "a signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_becomes_an_error_until_cleared() {
        assert!(check().is_ok());
        request(15);
        assert_eq!(requested(), Some(15));
        let e = check().unwrap_err();
        assert!(matches!(e, Error::Interrupted { signal: 15 }));
        assert!(e.to_string().contains("SIGTERM"), "{e}");
        clear();
        assert!(check().is_ok());
    }
}
