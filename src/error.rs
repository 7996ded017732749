//! Configuration-time errors: the only failures faultline reports through `Result`.

use std::fmt;
use std::io;

use crate::dsn::ParseDsnError;
use crate::scrub::patterns::ScrubPatternError;

/// Why [`crate::try_init`] refused a configuration.
///
/// Only configuration can fail visibly. Everything that goes wrong later (a full queue, a server that is down, a
/// `before_send` that panics) is counted and reported through the `debug` diagnostics instead, so that capturing an
/// error can never fail or panic in the program.
///
/// # Design
///
/// A small struct around a `#[non_exhaustive]` [`InitErrorKind`], so new kinds can be added without breaking callers
/// that match on the kind.
#[derive(Debug)]
pub struct InitError {
    kind: InitErrorKind,
}

/// The category of an [`InitError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum InitErrorKind {
    /// The DSN does not parse.
    InvalidDsn(ParseDsnError),
    /// `sample_rate` is not a number from 0.0 to 1.0.
    InvalidSampleRate(f64),
    /// `traces_sample_rate` is not a number from 0.0 to 1.0.
    InvalidTracesSampleRate(f64),
    /// A pattern given to [`ClientOptions::scrub_pattern`](crate::ClientOptions::scrub_pattern) is not a valid
    /// regular expression.
    InvalidScrubPattern(ScrubPatternError),
    /// An option is out of range; the string names it.
    InvalidOption(&'static str),
    /// The DSN is `https://`, and faultline was built with the `http` feature but without `rustls`, so the default
    /// transport cannot reach it.
    TlsUnavailable,
    /// The background worker thread could not be started.
    SpawnWorker(io::Error),
}

impl InitError {
    pub(crate) fn new(kind: InitErrorKind) -> Self {
        InitError { kind }
    }

    /// The category.
    pub fn kind(&self) -> &InitErrorKind {
        &self.kind
    }
}

/// `invalid {name} {rate}: expected a number from 0.0 to 1.0`.
fn invalid_rate(f: &mut fmt::Formatter<'_>, name: &str, rate: f64) -> fmt::Result {
    write!(f, "invalid {name} ")?;
    if rate.is_nan() {
        f.write_str("NaN")?;
    } else {
        write!(f, "{rate}")?;
    }
    f.write_str(": expected a number from 0.0 to 1.0")
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            InitErrorKind::InvalidDsn(e) => write!(f, "invalid DSN: {e}"),
            InitErrorKind::InvalidSampleRate(rate) => invalid_rate(f, "sample_rate", *rate),
            InitErrorKind::InvalidTracesSampleRate(rate) => {
                invalid_rate(f, "traces_sample_rate", *rate)
            }
            InitErrorKind::InvalidScrubPattern(e) => {
                write!(f, "invalid scrub pattern `{}`: {}", e.pattern(), e.reason())
            }
            InitErrorKind::InvalidOption(what) => write!(f, "invalid option: {what}"),
            InitErrorKind::TlsUnavailable => f.write_str(
                "the DSN is https:// but faultline was built without its `rustls` feature",
            ),
            InitErrorKind::SpawnWorker(_) => f.write_str("could not start the worker thread"),
        }
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            InitErrorKind::InvalidDsn(e) => Some(e),
            InitErrorKind::InvalidScrubPattern(e) => Some(e),
            InitErrorKind::SpawnWorker(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        // Errors travel in `Result`s on the init path; keep them pointer-sized-ish (ureq's `ensure_error_size`).
        assert!(
            std::mem::size_of::<InitError>() <= 40,
            "{}",
            std::mem::size_of::<InitError>()
        );
        assert!(std::mem::size_of::<ParseDsnError>() <= 32);
    }

    #[test]
    fn messages_are_lowercase_and_specific() {
        let e = InitError::new(InitErrorKind::InvalidSampleRate(1.5));
        assert_eq!(
            e.to_string(),
            "invalid sample_rate 1.5: expected a number from 0.0 to 1.0"
        );
        for (rate, shown) in [
            (-0.25, "-0.25"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            let e = InitError::new(InitErrorKind::InvalidSampleRate(rate));
            assert_eq!(
                e.to_string(),
                format!("invalid sample_rate {shown}: expected a number from 0.0 to 1.0")
            );
        }
        let e = InitError::new(InitErrorKind::InvalidDsn(ParseDsnError::MissingProjectId));
        assert_eq!(e.to_string(), "invalid DSN: missing project id");
        assert!(std::error::Error::source(&e).is_some());
    }
}
