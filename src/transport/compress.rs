//! Gzip request bodies for `Content-Encoding: gzip`.
//!
//! The format is RFC 1952 ("GZIP file format specification version 4.3"), written by `flate2` on its pure-Rust
//! `miniz_oxide` backend. Gzip is the one encoding that Sentry/Relay, self-hosted Sentry, GlitchTip and Bugsink all
//! accept.
//!
//! Bodies below [`GZIP_THRESHOLD`] are sent as they are: the 18 bytes of framing and the CPU are not worth it there.

/// Bodies shorter than this (1 KiB) are not compressed. A small message event is a few hundred bytes, where
/// gzip saves little; a typical event with a stack trace is several KiB of JSON and shrinks to a fraction.
pub(crate) const GZIP_THRESHOLD: usize = 1024;

/// The DEFLATE level: 1, the fastest. On a 7 KiB event it gives a body about 10% larger than level 6 and raises the
/// worker's end-to-end rate by about 10% (`cargo bench --bench capture`, scenario g).
const LEVEL: u32 = 1;

/// A request body ready to send, with the `Content-Encoding` header value it needs, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Body {
    /// The bytes to send.
    pub(crate) bytes: Vec<u8>,
    /// `Some("gzip")` when `bytes` is gzip; `None` when it is the body as given.
    pub(crate) content_encoding: Option<&'static str>,
}

/// Gzips `body` when it is at least [`GZIP_THRESHOLD`] bytes long and compression makes it smaller; otherwise
/// returns it unchanged with no `Content-Encoding`.
pub(crate) fn encode_body(body: Vec<u8>) -> Body {
    if body.len() >= GZIP_THRESHOLD {
        let compressed = gzip(&body);
        if compressed.len() < body.len() {
            return Body {
                bytes: compressed,
                content_encoding: Some("gzip"),
            };
        }
    }
    Body {
        bytes: body,
        content_encoding: None,
    }
}

/// The gzip (RFC 1952) form of `data`, whatever its size.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;

    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::new(LEVEL),
    );
    // Writing to a `Vec` cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text that compresses well, like an event's JSON.
    fn json_like(len: usize) -> Vec<u8> {
        let line = br#"{"function":"faultline::worker::run","filename":"src/worker.rs","lineno":42,"in_app":true},"#;
        line.iter().copied().cycle().take(len).collect()
    }

    /// Bytes that do not compress: a xorshift sequence, fixed so the test is reproducible.
    fn noise(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 56) as u8
            })
            .collect()
    }

    #[test]
    fn gzip_frames_and_round_trips() {
        for data in [
            Vec::new(),
            b"hello".to_vec(),
            json_like(10_000),
            noise(5_000),
        ] {
            let gz = gzip(&data);
            assert!(gz.len() >= 18, "header and trailer");
            assert_eq!(&gz[..2], &[0x1f, 0x8b], "magic");
            assert_eq!(gz[2], 8, "CM = deflate");
            assert_eq!(gz[3], 0, "FLG: no optional fields");
            // The trailer's length is the input's, modulo 2^32 (checked by the decoder too, with the CRC-32).
            let isize = u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap());
            assert_eq!(isize as usize, data.len());
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut inflated)
                .unwrap();
            assert_eq!(inflated, data);
        }
    }

    #[test]
    fn large_compressible_bodies_are_gzipped() {
        let data = json_like(8 * 1024);
        let body = encode_body(data.clone());
        assert_eq!(body.content_encoding, Some("gzip"));
        assert!(
            body.bytes.len() < data.len() / 4,
            "{} bytes",
            body.bytes.len()
        );
        assert_eq!(body.bytes, gzip(&data));
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let at = encode_body(json_like(GZIP_THRESHOLD));
        assert_eq!(at.content_encoding, Some("gzip"));
        let below = json_like(GZIP_THRESHOLD - 1);
        assert_eq!(
            encode_body(below.clone()),
            Body {
                bytes: below,
                content_encoding: None
            }
        );
    }

    #[test]
    fn small_and_incompressible_bodies_are_left_alone() {
        for data in [Vec::new(), b"{}".to_vec(), json_like(100), noise(64 * 1024)] {
            let body = encode_body(data.clone());
            assert_eq!(body.content_encoding, None, "{} bytes", data.len());
            assert_eq!(body.bytes, data);
        }
    }
}
