//! Gzip request bodies for `Content-Encoding: gzip`.
//!
//! The format is RFC 1952 ("GZIP file format specification version 4.3"): a 10-byte header, the body as one raw
//! DEFLATE stream (RFC 1951, from `miniz_oxide`), and an 8-byte trailer holding the CRC-32 of the uncompressed body
//! and its length modulo 2^32, both little-endian. Gzip is the one encoding that Sentry/Relay, self-hosted Sentry,
//! GlitchTip and Bugsink all accept.
//!
//! Bodies below [`GZIP_THRESHOLD`] are sent as they are: the 18 bytes of framing and the CPU are not worth it there.

/// Bodies shorter than this (1 KiB) are not compressed. A small message event is a few hundred bytes, where
/// gzip saves little; a typical event with a stack trace is several KiB of JSON and shrinks to a fraction.
pub(crate) const GZIP_THRESHOLD: usize = 1024;

/// The DEFLATE level: 1, the fastest. On a 7 KiB event it gives a body about 10% larger than level 6 and raises the
/// worker's end-to-end rate by about 10% (`cargo bench --bench capture`, scenario g).
const LEVEL: u8 = 1;

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
    let deflated = miniz_oxide::deflate::compress_to_vec(data, LEVEL);
    let mut out = Vec::with_capacity(HEADER.len() + deflated.len() + 8);
    out.extend_from_slice(&HEADER);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    // ISIZE is the input length modulo 2^32: the truncation is what the format asks for.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// The gzip header: ID1 ID2 (magic), CM = 8 (deflate), FLG = 0 (no name, comment or extra field), MTIME = 0 (no
/// time stamp: the body is not a file), XFL = 0, OS = 255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// The CRC-32 of `data` as gzip, zlib and PNG use it (ISO-HDLC: reflected polynomial 0xEDB88320, initial value and
/// final XOR 0xFFFFFFFF), computed a byte at a time from a table built at compile time. A few lines here spare a
/// dependency; the bodies are small and this runs on the worker thread.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[usize::from((crc as u8) ^ byte)] ^ (crc >> 8);
    }
    !crc
}

/// `CRC_TABLE[n]` is the CRC of the single byte `n` (before the final XOR).
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

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
    fn crc32_check_values() {
        let cases: &[(&[u8], u32)] = &[
            (b"", 0),
            (b"123456789", 0xCBF4_3926),
            (b"a", 0xE8B7_BE43),
            (b"The quick brown fox jumps over the lazy dog", 0x414F_A339),
        ];
        for &(data, want) in cases {
            assert_eq!(crc32(data), want, "{:?}", String::from_utf8_lossy(data));
        }
    }

    #[test]
    fn gzip_frame_and_round_trip() {
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
            assert_eq!(&gz[4..8], &[0, 0, 0, 0], "MTIME");
            assert_eq!(gz[9], 255, "OS unknown");
            let (deflated, trailer) = gz[10..].split_at(gz.len() - 18);
            let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
            let isize = u32::from_le_bytes(trailer[4..].try_into().unwrap());
            assert_eq!(crc, crc32(&data));
            assert_eq!(isize as usize, data.len());
            let inflated = miniz_oxide::inflate::decompress_to_vec(deflated).unwrap();
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
