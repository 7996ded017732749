//! HTTP Basic credentials: whether the word after `Basic` is one.
//!
//! RFC 7617 sends `Basic` followed by the base64 (RFC 4648, standard alphabet, padded) of `user-id:password`.
//! "Basic" is also an ordinary English word, so the word after it counts as credentials only when it decodes to
//! printable text with a colon in it: `Basic dXNlcjpwYXNz` does (`user:pass`), `Basic setup failed` does not.

/// Whether `word` is the base64 of printable `user:password` text.
pub(crate) fn is_basic_credentials(word: &str) -> bool {
    decode(word).is_some_and(|bytes| {
        bytes.contains(&b':')
            && std::str::from_utf8(&bytes).is_ok_and(|text| !text.chars().any(char::is_control))
    })
}

/// Decodes standard, padded base64; `None` when `text` is not that.
fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes[..bytes.len() - padding].chunks(4) {
        let mut n = 0u32;
        for &b in chunk {
            n = (n << 6) | u32::from(sextet(b)?);
        }
        // A short final chunk of 2 or 3 characters holds 1 or 2 bytes.
        let shift = 6 * (4 - chunk.len() as u32);
        n <<= shift;
        let len = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&n.to_be_bytes()[1..=len]);
    }
    Some(out)
}

/// The value of one base64 character.
fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_4648_vectors() {
        for (encoded, plain) in [
            ("Zg==", "f"),
            ("Zm8=", "fo"),
            ("Zm9v", "foo"),
            ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"),
            ("Zm9vYmFy", "foobar"),
        ] {
            assert_eq!(
                decode(encoded).as_deref(),
                Some(plain.as_bytes()),
                "{encoded}"
            );
        }
        for bad in ["", "Zg", "Zm9vY", "Zg===", "Zm9v!A==", "=Zm9"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn credentials_and_words() {
        // `user:pass`, `Aladdin:open sesame` (RFC 7617's example), `a:` (an empty password).
        for word in ["dXNlcjpwYXNz", "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "YTo="] {
            assert!(is_basic_credentials(word), "{word}");
        }
        // Words that happen to be valid base64, and base64 without a colon (`username`).
        for word in ["auth", "setup", "test", "dXNlcm5hbWU=", "realm"] {
            assert!(!is_basic_credentials(word), "{word}");
        }
        // A colon among control characters is binary, not a user and password.
        assert!(!is_basic_credentials("AToB"));
    }
}
