//! The `sentry-trace` header: which trace a request belongs to, which span made it, and whether that trace is
//! sampled.
//!
//! Specified in Sentry's developer documentation, "Trace Propagation", section "sentry-trace Header" and "The sampled
//! Value":
//!
//! ```text
//! sentry-trace = trace-id "-" span-id [ "-" sampled ]
//! trace-id     = 32HEXDIG     ; 16 bytes, not all zeros
//! span-id      = 16HEXDIG     ; 8 bytes, not all zeros
//! sampled      = "1" / "0"    ; absent: the decision is deferred to the receiver
//! ```
//!
//! The header has no version. Unlike W3C `traceparent` it has no flags byte, only the one optional character.

use std::fmt;

use super::super::trace::{SpanId, TraceId};

/// The value of a `sentry-trace` header: a trace id, the id of the span that sent the request, and the sampling
/// decision, if one was made.
///
/// [`SentryTrace::parse`] reads a header and [`Display`](fmt::Display) writes one, ids in lowercase hex.
///
/// ```
/// use faultline::protocol::propagation::SentryTrace;
///
/// let header = SentryTrace::parse("771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1").unwrap();
/// assert_eq!(header.sampled, Some(true));
/// assert_eq!(header.to_string(), "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1");
/// assert_eq!(SentryTrace::parse("771a43a4192642f0b136d5159a501700"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SentryTrace {
    /// The trace.
    pub trace_id: TraceId,
    /// The span that sent the request: the parent of the spans the receiver starts.
    pub parent_span_id: SpanId,
    /// The sender's sampling decision; `None` when it deferred the decision to the receiver (no third field).
    pub sampled: Option<bool>,
}

impl SentryTrace {
    /// The header for span `parent_span_id` of trace `trace_id`, with sampling decision `sampled`.
    pub fn new(trace_id: TraceId, parent_span_id: SpanId, sampled: Option<bool>) -> Self {
        SentryTrace {
            trace_id,
            parent_span_id,
            sampled,
        }
    }

    /// Reads a `sentry-trace` header value; `None` unless it is one, whole.
    ///
    /// Surrounding ASCII whitespace is ignored (a value read from the `SENTRY_TRACE` environment variable may end in
    /// a newline). Hex digits may be of either case, as Sentry's specification does not restrict them. Anything else
    /// out of the grammar is refused, never guessed at: a missing or extra field, a wrong length, an all-zero id, a
    /// sampled field other than `1` or `0`.
    pub fn parse(header: &str) -> Option<SentryTrace> {
        let mut fields = header.trim_ascii().split('-');
        let trace_id = fields.next()?.parse().ok()?;
        let parent_span_id = fields.next()?.parse().ok()?;
        let sampled = match fields.next() {
            None => None,
            Some("1") => Some(true),
            Some("0") => Some(false),
            Some(_) => return None,
        };
        if fields.next().is_some() {
            return None;
        }
        Some(SentryTrace::new(trace_id, parent_span_id, sampled))
    }
}

impl fmt::Display for SentryTrace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.trace_id, self.parent_span_id)?;
        match self.sampled {
            Some(true) => f.write_str("-1"),
            Some(false) => f.write_str("-0"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "771a43a4192642f0b136d5159a501700";
    const SPAN: &str = "b7ad6b7169203331";

    fn header(sampled: Option<bool>) -> SentryTrace {
        SentryTrace::new(TRACE.parse().unwrap(), SPAN.parse().unwrap(), sampled)
    }

    #[test]
    fn parse_table() {
        let long = format!("{TRACE}-{SPAN}-1{}", "-1".repeat(10_000));
        let cases: &[(&str, Option<SentryTrace>)] = &[
            // Well-formed.
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331",
                Some(header(None)),
            ),
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1",
                Some(header(Some(true))),
            ),
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-0",
                Some(header(Some(false))),
            ),
            // Surrounding whitespace is ignored, and hex may be uppercase.
            (
                " \t771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1\r\n",
                Some(header(Some(true))),
            ),
            (
                "771A43A4192642F0B136D5159A501700-B7AD6B7169203331",
                Some(header(None)),
            ),
            // Malformed.
            ("", None),
            ("   ", None),
            ("-", None),
            ("771a43a4192642f0b136d5159a501700", None),
            ("771a43a4192642f0b136d5159a501700-", None),
            ("771a43a4192642f0b136d5159a501700-b7ad6b7169203331-", None),
            ("771a43a4192642f0b136d5159a501700-b7ad6b7169203331-2", None),
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-true",
                None,
            ),
            ("771a43a4192642f0b136d5159a501700-b7ad6b7169203331-01", None),
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b7169203331-1-1",
                None,
            ),
            ("771a43a4192642f0b136d5159a501700--b7ad6b7169203331", None),
            ("-771a43a4192642f0b136d5159a501700-b7ad6b7169203331", None),
            ("771a43a4192642f0b136d5159a50170-b7ad6b7169203331", None),
            ("771a43a4192642f0b136d5159a5017000-b7ad6b7169203331", None),
            ("771a43a4192642f0b136d5159a501700-b7ad6b716920333", None),
            ("771a43a4192642f0b136d5159a50170g-b7ad6b7169203331", None),
            ("00000000000000000000000000000000-b7ad6b7169203331-1", None),
            ("771a43a4192642f0b136d5159a501700-0000000000000000-1", None),
            ("771a43a4192642f0b136d5159a501700 - b7ad6b7169203331", None),
            ("771a43a4192642f0b136d5159a501700-b7ad6b7169203331 -1", None),
            (
                "00-771a43a4192642f0b136d5159a501700-b7ad6b7169203331-01",
                None,
            ),
            ("771a43a4192642f0b136d5159a5017é-b7ad6b7169203331", None),
            (
                "771a43a4192642f0b136d5159a501700-b7ad6b71692033\u{0}1",
                None,
            ),
            (&long, None),
        ];
        for (text, want) in cases {
            assert_eq!(SentryTrace::parse(text), *want, "{text:?}");
        }
    }

    #[test]
    fn writes_lowercase_with_the_decision_when_there_is_one() {
        let cases = [
            (None, format!("{TRACE}-{SPAN}")),
            (Some(true), format!("{TRACE}-{SPAN}-1")),
            (Some(false), format!("{TRACE}-{SPAN}-0")),
        ];
        for (sampled, want) in cases {
            let written = header(sampled).to_string();
            assert_eq!(written, want);
            assert_eq!(SentryTrace::parse(&written), Some(header(sampled)));
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn any_header() -> impl Strategy<Value = SentryTrace> {
            (any::<u128>(), any::<u64>(), any::<Option<bool>>()).prop_filter_map(
                "ids are never all zeros",
                |(trace, span, sampled)| {
                    Some(SentryTrace::new(
                        TraceId::from_bytes(trace.to_be_bytes())?,
                        SpanId::from_bytes(span.to_be_bytes())?,
                        sampled,
                    ))
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text at all: no panic, and what parses is written back the same, but for case and whitespace.
            #[test]
            fn any_text_parses_without_panic(text in any::<String>()) {
                if let Some(header) = SentryTrace::parse(&text) {
                    prop_assert_eq!(header.to_string(), text.trim_ascii().to_ascii_lowercase());
                }
            }

            /// Text shaped like the header, with its fields damaged at random: no panic, and only the grammar's
            /// shape parses.
            #[test]
            fn near_misses_parse_without_panic(text in "[ 0-9a-fA-Fg-]{0,60}") {
                if let Some(header) = SentryTrace::parse(&text) {
                    prop_assert_eq!(header.to_string(), text.trim_ascii().to_ascii_lowercase());
                }
            }

            /// What is written parses back to the same value.
            #[test]
            fn written_headers_parse_back(header in any_header()) {
                prop_assert_eq!(SentryTrace::parse(&header.to_string()), Some(header));
            }
        }
    }
}
