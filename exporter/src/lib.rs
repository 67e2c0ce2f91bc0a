//! `epc-exporter`: writes epc models as ONNX and activation dumps as HDF5.
//!
//! - [`onnx`]: the paper's RNN as an ONNX `step-v1` or `sequence-v1` model (opset 17,
//!   IR 8), built with a small private graph builder over `onnx-protobuf`;
//!   [`onnx::ModelFile`] reads metadata and initializers back (the project's one ONNX reader);
//! - [`export_run`]: an instance folder of a run (config, weights, training summary; see
//!   [`epc_core::run`]) to its step or sequence model;
//! - [`write_weights_safetensors`] / [`read_weights_safetensors`]: the weight file format;
//! - [`h5`]: the HDF5 activation dump (schema in its module docs).
//!
//! This crate links neither libtorch nor ONNX Runtime. Every file it writes is written
//! atomically (temporary sibling, then rename).

mod error;
pub mod h5;
pub mod onnx;
mod run;

pub use error::{Error, Result};
pub use run::{
    export_run, read_weights_safetensors, run_metadata, write_weights_safetensors, WEIGHTS_TENSOR,
};

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as ISO 8601 UTC with second precision, e.g. `2026-11-29T12:34:56Z`
/// (times before 1970 are clamped to the epoch).
pub fn utc_timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The current time as [`utc_timestamp`] formats it (for [`h5::DumpAttributes::created_utc`]).
pub fn utc_now() -> String {
    utc_timestamp(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_timestamps_match_known_dates() {
        let at = |s: u64| utc_timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(at(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(utc_now().len(), 20);
    }
}
