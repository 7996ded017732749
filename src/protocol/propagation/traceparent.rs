//! The W3C Trace Context `traceparent` header: the trace and the calling span, in the vendor-neutral form
//! OpenTelemetry uses.
//!
//! Specified in W3C Trace Context (<https://www.w3.org/TR/trace-context/>), section "Traceparent Header" (Level 1;
//! Level 2 adds the random trace id flag):
//!
//! ```text
//! value          = version "-" version-format
//! version        = 2HEXDIGLC    ; "ff" is invalid
//! version-format = trace-id "-" parent-id "-" trace-flags      ; for version 00
//! trace-id       = 32HEXDIGLC   ; not all zeros
//! parent-id      = 16HEXDIGLC   ; not all zeros
//! trace-flags    = 2HEXDIGLC    ; bit 0: sampled, bit 1: random trace id (Level 2)
//! HEXDIGLC       = DIGIT / "a" / "b" / "c" / "d" / "e" / "f"
//! ```
//!
//! Section "Versioning of traceparent" says how to read a version above `00`: the first 55 characters are read
//! as version `00`'s fields, and the flags must end the value or be followed by a `-` that starts fields this version
//! does not know, which are ignored. What is written is always version `00`, the highest this code knows.

use std::fmt;

use super::super::trace::{SpanId, TraceId};

/// The length of a version `00` value, and the least a value of any version can have.
const LEN_00: usize = 55;

/// The value of a W3C `traceparent` header: a trace id, the id of the calling span, and the two trace flags that
/// Trace Context defines.
///
/// [`TraceParent::parse`] reads a header of any valid version and [`Display`](fmt::Display) writes version `00`.
/// Flags other than these two are reserved, and Trace Context asks vendors to send them as zero; they are dropped.
///
/// ```
/// use faultline::protocol::propagation::TraceParent;
///
/// let header = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert!(header.sampled);
/// assert_eq!(header.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// // A later version with a field this one does not know is read, and written back as version 00.
/// let later = TraceParent::parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
/// assert_eq!(later, Some(header));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace.
    pub trace_id: TraceId,
    /// The calling span (Trace Context's `parent-id`): the parent of the spans the receiver starts.
    pub parent_id: SpanId,
    /// The `sampled` flag: the caller may have recorded trace data.
    pub sampled: bool,
    /// The `random-trace-id` flag (Trace Context Level 2): at least the right-most 7 bytes of the trace id are
    /// random. It must be passed on unchanged with the same trace id.
    pub random_trace_id: bool,
}

impl TraceParent {
    /// The `sampled` bit of `trace-flags`.
    const SAMPLED: u8 = 0x01;
    /// The `random-trace-id` bit of `trace-flags`.
    const RANDOM_TRACE_ID: u8 = 0x02;

    /// The header for span `parent_id` of trace `trace_id`, with the `sampled` flag as given and the
    /// `random-trace-id` flag unset.
    pub fn new(trace_id: TraceId, parent_id: SpanId, sampled: bool) -> Self {
        TraceParent {
            trace_id,
            parent_id,
            sampled,
            random_trace_id: false,
        }
    }

    /// Reads a `traceparent` header value; `None` when Trace Context says to ignore it.
    ///
    /// Hex must be lowercase, as the grammar says (section "parent-id": a `parent-id` with "non-lowercase hex
    /// characters" is invalid and the header is ignored). Refused as well: version `ff`, an all-zero id, a field of
    /// the wrong length, and, for version `00`, anything after the flags. For a later version, what follows the
    /// flags is ignored if it starts with `-`. Surrounding ASCII whitespace is ignored.
    pub fn parse(header: &str) -> Option<TraceParent> {
        let header = header.trim_ascii();
        let bytes = header.as_bytes();
        if bytes.len() < LEN_00 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let version = hex_byte(&bytes[..2])?;
        match version {
            0xff => return None,
            0x00 if bytes.len() != LEN_00 => return None,
            _ if bytes.len() > LEN_00 && bytes[LEN_00] != b'-' => return None,
            _ => {}
        }
        // Every field is checked for lowercase hex before it is read, so the slices below fall on ASCII.
        let field = |range: std::ops::Range<usize>| {
            let text = header.get(range)?;
            text.bytes().all(is_hex_lc).then_some(text)
        };
        let trace_id = field(3..35)?.parse().ok()?;
        let parent_id = field(36..52)?.parse().ok()?;
        let flags = hex_byte(&bytes[53..55])?;
        Some(TraceParent {
            trace_id,
            parent_id,
            sampled: flags & Self::SAMPLED != 0,
            random_trace_id: flags & Self::RANDOM_TRACE_ID != 0,
        })
    }

    /// The `trace-flags` byte: the two flags this version defines, the other bits zero.
    fn flags(&self) -> u8 {
        let mut flags = 0;
        if self.sampled {
            flags |= Self::SAMPLED;
        }
        if self.random_trace_id {
            flags |= Self::RANDOM_TRACE_ID;
        }
        flags
    }
}

/// Whether `c` is a `HEXDIGLC`.
fn is_hex_lc(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

/// The byte that two `HEXDIGLC` write.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    match pair {
        &[high, low] => Some(nibble(high)? << 4 | nibble(low)?),
        _ => None,
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.parent_id,
            self.flags()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn header(sampled: bool, random_trace_id: bool) -> TraceParent {
        TraceParent {
            trace_id: TRACE.parse().unwrap(),
            parent_id: SPAN.parse().unwrap(),
            sampled,
            random_trace_id,
        }
    }

    #[test]
    fn parse_table() {
        let long_future = format!("01-{TRACE}-{SPAN}-01-{}", "x".repeat(100_000));
        let cases: &[(&str, Option<TraceParent>)] = &[
            // Well-formed version 00, the examples of section "Examples of HTTP traceparent Headers" among them.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Some(header(true, false)),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
                Some(header(false, false)),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
                Some(header(true, true)),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02",
                Some(header(false, true)),
            ),
            // Reserved flags are dropped.
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
                Some(header(true, true)),
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-08",
                Some(header(false, false)),
            ),
            (
                " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t",
                Some(header(true, false)),
            ),
            // Later versions: read as 00 when the flags end the value or a dash follows them.
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                Some(header(true, false)),
            ),
            (
                "fe-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra",
                Some(header(false, false)),
            ),
            (
                "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                Some(header(true, false)),
            ),
            (&long_future, Some(header(true, false))),
            // Malformed.
            ("", None),
            ("00", None),
            ("00-", None),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", None),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
                None,
            ),
            (
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-010",
                None,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "000-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473600-f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b701-",
                None,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                None,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
                None,
            ),
            (
                "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902é-01",
                None,
            ),
            (
                "é0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                None,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\u{0}",
                None,
            ),
            (
                "00 - 4bf92f3577b34da6a3ce929d0e0e4736 - 00f067aa0ba902b7 - 01",
                None,
            ),
            // A sentry-trace header is not a traceparent.
            ("4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", None),
        ];
        for (text, want) in cases {
            assert_eq!(TraceParent::parse(text), *want, "{text:?}");
        }
    }

    #[test]
    fn writes_version_00_with_the_flags_it_knows() {
        let cases = [
            (header(false, false), format!("00-{TRACE}-{SPAN}-00")),
            (header(true, false), format!("00-{TRACE}-{SPAN}-01")),
            (header(false, true), format!("00-{TRACE}-{SPAN}-02")),
            (header(true, true), format!("00-{TRACE}-{SPAN}-03")),
        ];
        for (value, want) in cases {
            assert_eq!(value.to_string(), want);
            assert_eq!(TraceParent::parse(&want), Some(value));
        }
        let new = TraceParent::new(TRACE.parse().unwrap(), SPAN.parse().unwrap(), true);
        assert_eq!(new, header(true, false));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn any_header() -> impl Strategy<Value = TraceParent> {
            (any::<u128>(), any::<u64>(), any::<bool>(), any::<bool>()).prop_filter_map(
                "ids are never all zeros",
                |(trace, span, sampled, random_trace_id)| {
                    Some(TraceParent {
                        trace_id: TraceId::from_bytes(trace.to_be_bytes())?,
                        parent_id: SpanId::from_bytes(span.to_be_bytes())?,
                        sampled,
                        random_trace_id,
                    })
                },
            )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text at all: no panic, and what parses was lowercase hex where the ids are.
            #[test]
            fn any_text_parses_without_panic(text in any::<String>()) {
                if let Some(header) = TraceParent::parse(&text) {
                    let written = header.to_string();
                    prop_assert_eq!(&text.trim_ascii()[3..52], &written[3..52]);
                }
            }

            /// Text shaped like the header, with its fields damaged at random: no panic, and only the grammar's
            /// shape parses.
            #[test]
            fn near_misses_parse_without_panic(
                version in "[0-9a-fA-F]{2}",
                trace in "[0-9a-fA-F]{31,33}",
                span in "[0-9a-fA-F]{15,17}",
                flags in "[0-9a-fA-F]{1,3}",
                tail in "(-[a-z]{0,3})?",
            ) {
                let text = format!("{version}-{trace}-{span}-{flags}{tail}");
                let parsed = TraceParent::parse(&text);
                let well_formed = version != "ff"
                    && (version != "00" || tail.is_empty())
                    && text.bytes().all(|c| c == b'-' || is_hex_lc(c) || c.is_ascii_lowercase())
                    && trace.len() == 32 && span.len() == 16 && flags.len() == 2
                    && trace.bytes().any(|c| c != b'0') && span.bytes().any(|c| c != b'0');
                prop_assert_eq!(parsed.is_some(), well_formed, "{:?}", text);
            }

            /// What is written parses back to the same value.
            #[test]
            fn written_headers_parse_back(header in any_header()) {
                prop_assert_eq!(TraceParent::parse(&header.to_string()), Some(header));
            }
        }
    }
}
