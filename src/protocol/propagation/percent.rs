//! Percent-encoding of baggage values (W3C Baggage, section "value", by RFC 3986 section 2.1).

/// Appends `value` to `out`, percent-encoded: every byte but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _
/// ~`) as `%XX`.
///
/// Baggage only requires encoding outside `baggage-octet` and `%`; encoding more is allowed, and leaves nothing
/// for a receiver's decoder to read its own way (`+` as a space, `=` as a separator).
pub(super) fn encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in value.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(c));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(c >> 4)]));
            out.push(char::from(HEX[usize::from(c & 0xf)]));
        }
    }
}

/// Whether every `%` in `value` starts a `%XX` escape (hex digits of either case).
pub(super) fn is_well_formed(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1..i + 3) {
                Some(&[high, low]) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// The text `value` encodes; `None` when a `%` does not start a `%XX` escape.
///
/// Escapes that do not decode to UTF-8 become U+FFFD, as Baggage requires ("percent-encoded octet sequences that
/// do not match the UTF-8 encoding scheme MUST be replaced with the replacement code point"). A `+` is a `+`.
pub(super) fn decode(value: &str) -> Option<String> {
    if !value.contains('%') {
        return Some(value.to_owned());
    }
    if !is_well_formed(value) {
        return None;
    }
    let hex = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    };
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(hex(bytes[i + 1]) << 4 | hex(bytes[i + 2]));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("", Some("")),
            ("plain", Some("plain")),
            ("DF%2028", Some("DF 28")),
            ("Am%C3%A9lie", Some("Amélie")),
            ("am%c3%a9lie", Some("amélie")),
            ("a+b", Some("a+b")),
            ("%25", Some("%")),
            ("%252F", Some("%2F")),
            ("a=b", Some("a=b")),
            // Not UTF-8: replaced, not refused.
            ("%FF", Some("\u{FFFD}")),
            ("%C3", Some("\u{FFFD}")),
            ("x%C3%28", Some("x\u{FFFD}(")),
            // Not escapes.
            ("%", None),
            ("%2", None),
            ("%zz", None),
            ("%2g", None),
            ("ok%", None),
            ("%%41", None),
            ("%é", None),
        ];
        for &(text, want) in cases {
            assert_eq!(decode(text).as_deref(), want, "{text:?}");
            assert_eq!(is_well_formed(text), want.is_some(), "{text:?}");
        }
    }

    #[test]
    fn encode_keeps_only_unreserved_characters() {
        let cases = [
            ("", ""),
            ("myapp-1.2.3_rc~1", "myapp-1.2.3_rc~1"),
            ("myapp@1.2.3", "myapp%401.2.3"),
            ("DF 28", "DF%2028"),
            ("Amélie", "Am%C3%A9lie"),
            ("a+b=c,d;e%f", "a%2Bb%3Dc%2Cd%3Be%25f"),
            ("/login?next=/", "%2Flogin%3Fnext%3D%2F"),
            ("\u{0}\n\u{7f}", "%00%0A%7F"),
        ];
        for (text, want) in cases {
            let mut out = String::new();
            encode(text, &mut out);
            assert_eq!(out, want, "{text:?}");
            assert_eq!(decode(&out).as_deref(), Some(text));
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Any text is encoded to unreserved characters and escapes, and decodes back to itself.
            #[test]
            fn encoding_round_trips(text in any::<String>()) {
                let mut out = String::new();
                encode(&text, &mut out);
                prop_assert!(out.bytes().all(|c| c.is_ascii_alphanumeric() || b"-._~%".contains(&c)));
                prop_assert_eq!(decode(&out), Some(text));
            }

            /// Any text decodes without panic, to something or to `None` as its escapes are well formed.
            #[test]
            fn any_text_decodes_without_panic(text in "[%0-9a-fA-Fg-z\u{e9}]{0,20}") {
                prop_assert_eq!(decode(&text).is_some(), is_well_formed(&text));
            }
        }
    }
}
