//! The W3C Trace Context `tracestate` header: other tracing vendors' state, passed on unread beside `traceparent`.
//!
//! Specified in W3C Trace Context (<https://www.w3.org/TR/trace-context/>), section "Tracestate Header":
//!
//! ```text
//! list        = list-member 0*31( OWS "," OWS list-member )
//! list-member = (key "=" value) / OWS
//! key         = ( lcalpha / DIGIT ) 0*255 ( keychar )
//! keychar     = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"
//! value       = 0*255(chr) nblk-chr
//! nblk-chr    = %x21-2B / %x2D-3C / %x3E-7E
//! chr         = %x20 / nblk-chr
//! ```
//!
//! Limits (sections "list" and "tracestate Limits"): at most 32 list-members; vendors should pass on at least 512
//! characters of the combined header, and when they cut it, they cut whole members, those over 128 characters
//! first, then from the end.

use std::fmt;

/// The value of a `tracestate` header, kept as opaque text: its list-members, in order, joined by commas.
///
/// Nothing here reads the members' values. [`TraceState::parse`] keeps the well-formed members and bounds the
/// whole to [`TraceState::MAX_MEMBERS`] members and [`TraceState::MAX_BYTES`] bytes; [`Display`](fmt::Display)
/// writes it back.
///
/// Trace Context ties this header to `traceparent`: read it only when the request's `traceparent` parsed (section
/// "Tracestate Header": "If the vendor failed to parse `traceparent`, it MUST NOT attempt to parse `tracestate`"),
/// and pass it on unchanged when `traceparent` is passed on unchanged.
///
/// ```
/// use faultline::protocol::propagation::TraceState;
///
/// let state = TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,bad key=1");
/// assert_eq!(state.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TraceState(String);

impl TraceState {
    /// The most list-members a `tracestate` has (section "list").
    pub const MAX_MEMBERS: usize = 32;

    /// The most bytes kept, commas included: the length section "tracestate Limits" asks vendors to pass on at
    /// least. Real headers are far shorter; the bound keeps a hostile one from growing every outgoing request.
    pub const MAX_BYTES: usize = 512;

    /// The longest list-member that is kept when the whole is over [`TraceState::MAX_BYTES`] (section "tracestate
    /// Limits": "Entries larger than 128 characters long SHOULD be removed first").
    const LONG_MEMBER: usize = 128;

    /// Reads a `tracestate` header value. Never fails: the result may be empty.
    ///
    /// Members that are not `key=value` by the grammar are skipped, as are empty ones, and whitespace around members
    /// is dropped. Of the rest, the first [`TraceState::MAX_MEMBERS`] are kept; if they come to more than
    /// [`TraceState::MAX_BYTES`], members over 128 bytes are dropped first, then members from the end, until they
    /// fit.
    pub fn parse(header: &str) -> TraceState {
        TraceState::parse_all([header])
    }

    /// Reads the values of all the `tracestate` headers of a request, in order, as one list (Trace Context says to
    /// combine them as RFC 9110 section 5.3 does, joined by commas). As [`TraceState::parse`] otherwise.
    pub fn parse_all<'a, I: IntoIterator<Item = &'a str>>(headers: I) -> TraceState {
        let mut members: Vec<&str> = headers
            .into_iter()
            .flat_map(|header| header.split(','))
            .map(|member| member.trim_matches([' ', '\t']))
            .filter(|member| is_member(member))
            .take(Self::MAX_MEMBERS)
            .collect();
        let size = |members: &[&str]| {
            members.iter().map(|m| m.len()).sum::<usize>() + members.len().saturating_sub(1)
        };
        while size(&members) > Self::MAX_BYTES {
            match members.iter().rposition(|m| m.len() > Self::LONG_MEMBER) {
                Some(long) => members.remove(long),
                None => members.pop().unwrap_or_default(),
            };
        }
        TraceState(members.join(","))
    }

    /// The members, joined by commas: the header value to send.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no member is left. Trace Context asks vendors not to send an empty `tracestate`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether `member` is a `key "=" value` list-member, with no surrounding whitespace.
fn is_member(member: &str) -> bool {
    let Some((key, value)) = member.split_once('=') else {
        return false;
    };
    is_key(key) && is_value(value)
}

/// Whether `key` is a `tracestate` key: a lowercase letter or digit, then up to 255 `keychar`s.
fn is_key(key: &str) -> bool {
    let bytes = key.as_bytes();
    let keychar =
        |c: &u8| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@');
    match bytes.first() {
        Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit() => {
            bytes.len() <= 256 && bytes.iter().all(keychar)
        }
        _ => false,
    }
}

/// Whether `value` is a `tracestate` value: 1 to 256 printable ASCII characters but `,` and `=`, not ending in a
/// space.
fn is_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    let chr = |c: &u8| matches!(c, 0x20..=0x7e) && *c != b',' && *c != b'=';
    (1..=256).contains(&bytes.len()) && bytes.iter().all(chr) && bytes.last() != Some(&b' ')
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let key_256 = format!("k{}", "e".repeat(255));
        let key_257 = format!("k{}", "e".repeat(256));
        let at_limit = format!("{key_256}=1");
        let past_limit = format!("{key_257}=1");
        let value_256 = format!("k={}", "v".repeat(256));
        let value_257 = format!("k={}", "v".repeat(257));
        let cases: &[(&str, &str)] = &[
            // Well-formed, the examples of section "Examples of tracestate HTTP Headers" among them.
            ("rojo=00f067aa0ba902b7", "rojo=00f067aa0ba902b7"),
            (
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            ),
            (
                " rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE\t",
                "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
            ),
            ("tenant@vendor=x,a_b-c*d/e=y", "tenant@vendor=x,a_b-c*d/e=y"),
            ("0k= leading space kept", "0k= leading space kept"),
            (&at_limit, &at_limit),
            (&value_256, &value_256),
            // Empty members are allowed and dropped.
            ("", ""),
            (" , ,\t,", ""),
            (",rojo=1,,", "rojo=1"),
            // Malformed members are dropped, the others kept.
            ("rojo", ""),
            ("=1", ""),
            ("rojo=", ""),
            ("Rojo=1", ""),
            ("_rojo=1", ""),
            ("ro jo=1", ""),
            ("rojo=a=b", ""),
            ("rojo=1 ", "rojo=1"),
            (
                "rojo=trailing blanks are whitespace \t ",
                "rojo=trailing blanks are whitespace",
            ),
            ("rojo=tab\tinside", ""),
            ("rojo=\u{7f}", ""),
            ("rojo=\n", ""),
            ("rojo=é", ""),
            ("röjo=1", ""),
            (&past_limit, ""),
            (&value_257, ""),
            ("rojo=1,congo=\u{0},bleu=2", "rojo=1,bleu=2"),
            // Duplicate keys are not this code's to resolve: kept, in order.
            ("rojo=1,rojo=2", "rojo=1,rojo=2"),
        ];
        for (text, want) in cases {
            assert_eq!(TraceState::parse(text).as_str(), *want, "{text:?}");
        }
    }

    #[test]
    fn several_headers_are_one_list() {
        let state = TraceState::parse_all(["rojo=1", "", "congo=2,bleu=3"]);
        assert_eq!(state.as_str(), "rojo=1,congo=2,bleu=3");
        assert_eq!(TraceState::parse_all([]), TraceState::default());
        assert!(TraceState::parse_all(["", " "]).is_empty());
    }

    #[test]
    fn at_most_32_members_the_first_ones() {
        let members: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let state = TraceState::parse(&members.join(","));
        assert_eq!(state.as_str(), members[..32].join(","));
    }

    #[test]
    fn over_512_bytes_long_members_go_first_then_the_last_ones() {
        // 32 members of 15 bytes come to 32 * 15 + 31 = 511 bytes: all kept.
        let short = |i: usize| format!("k{i:02}={}", "v".repeat(11));
        let shorts: Vec<String> = (0..32).map(short).collect();
        assert_eq!(
            TraceState::parse(&shorts.join(",")).as_str(),
            shorts.join(",")
        );

        // One more byte and the last goes.
        let mut one_over = shorts.clone();
        one_over[31].push_str("vv");
        assert_eq!(
            TraceState::parse(&one_over.join(",")).as_str(),
            shorts[..31].join(",")
        );

        // Long members go before short ones, from the end, even when short ones come after them.
        let long = |c: char| format!("long={}", c.to_string().repeat(245));
        let list = [
            long('a'),
            short(0),
            long('b'),
            short(1),
            long('c'),
            short(2),
        ]
        .join(",");
        let want = [long('a'), short(0), short(1), short(2)].join(",");
        assert_eq!(TraceState::parse(&list).as_str(), want);

        // The longest member the grammar allows, 513 bytes, never fits.
        let longest = format!("k{}={}", "e".repeat(255), "v".repeat(256));
        assert!(TraceState::parse(&longest).is_empty());
        assert_eq!(
            TraceState::parse(&format!("{longest},{}", short(0))).as_str(),
            short(0)
        );
    }

    #[test]
    fn a_huge_header_is_bounded() {
        let header = "k=v,".repeat(100_000);
        let state = TraceState::parse(&header);
        assert_eq!(state.as_str(), vec!["k=v"; 32].join(","));
        let garbage = "\u{0}".repeat(1_000_000);
        assert!(TraceState::parse(&garbage).is_empty());
    }

    mod properties {
        use proptest::collection::vec;
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text at all: no panic, and the result is within the limits and reads back the same.
            #[test]
            fn any_text_parses_within_limits(text in any::<String>()) {
                let state = TraceState::parse(&text);
                prop_assert!(state.as_str().len() <= TraceState::MAX_BYTES);
                prop_assert_eq!(TraceState::parse(state.as_str()), state);
            }

            /// Lists of well-formed and damaged members: within the limits, and what is written parses back to
            /// the same value.
            #[test]
            fn written_values_parse_back(
                members in vec(("[a-z0-9][a-z0-9_*/@-]{0,20}", "[ -~]{0,150}"), 0..40),
                separator in "[ \t]{0,2},[ \t]{0,2}",
            ) {
                let list: Vec<String> = members.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let state = TraceState::parse(&list.join(&separator));
                prop_assert!(state.as_str().len() <= TraceState::MAX_BYTES);
                prop_assert!(state.as_str().split(',').count() <= TraceState::MAX_MEMBERS);
                prop_assert_eq!(TraceState::parse(&state.to_string()), state);
            }
        }
    }
}
