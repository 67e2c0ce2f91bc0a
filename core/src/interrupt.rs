//! Interrupts (Ctrl-C, the SIGTERM a cluster scheduler sends before it kills a job) as
//! ordinary errors: the command line sets the flag from its signal handler; long loops in the
//! libraries call [`check`] at safe points (between batches, between chunks) and return
//! [`Error::Interrupted`], so every output in progress is cleaned up or kept whole by the same
//! paths as any other error.

use crate::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// The process-wide flag: 0, or the number of the signal that asked the process to stop. A
/// signal handler stores into it (an atomic store is async-signal-safe).
pub fn flag() -> Arc<AtomicUsize> {
    FLAG.get_or_init(|| Arc::new(AtomicUsize::new(0))).clone()
}

/// SIGUSR1: how a supervising epc process (`epc sweep`) passes its own stop request on to the
/// trainer it runs. It is a signal of its own because the child may have had the scheduler's
/// SIGTERM directly (Slurm signals every process of a job), and a second SIGTERM forces an
/// exit; a forwarded stop only ever asks for the graceful one.
pub const FORWARDED: i32 = rustix::process::Signal::USR1.as_raw();

static FORWARDED_FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Set (from a signal handler) when a parent forwarded its stop request ([`FORWARDED`]).
pub fn forwarded_flag() -> Arc<AtomicBool> {
    FORWARDED_FLAG
        .get_or_init(|| Arc::new(AtomicBool::new(false)))
        .clone()
}

/// The signal that asked the process to stop, if one did (a direct SIGINT or SIGTERM before
/// a forwarded request).
pub fn requested() -> Option<i32> {
    match flag().load(Ordering::SeqCst) {
        0 if forwarded_flag().load(Ordering::SeqCst) => Some(FORWARDED),
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
    forwarded_flag().store(false, Ordering::SeqCst);
}

/// The conventional name of a stop signal.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        2 => "SIGINT",
        15 => "SIGTERM",
        FORWARDED => "SIGUSR1 (a stop passed on by epc sweep)",
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
        // A forwarded stop is reported as such, and a direct signal wins over it.
        forwarded_flag().store(true, Ordering::SeqCst);
        assert_eq!(requested(), Some(FORWARDED));
        assert!(check().unwrap_err().to_string().contains("SIGUSR1"));
        request(2);
        assert_eq!(requested(), Some(2));
        clear();
        assert!(check().is_ok());
    }
}
