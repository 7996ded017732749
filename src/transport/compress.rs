//! Gzip request bodies for `Content-Encoding: gzip`.
//!
//! The format is RFC 1952 ("GZIP file format specification version 4.3"): a fixed 10-byte header, the body as one
//! raw DEFLATE stream, and a trailer with the body's CRC-32 and length. The stream and the CRC come from `flate2`
//! (pure-Rust `miniz_oxide` backend). Gzip is the one encoding that Sentry/Relay, self-hosted Sentry, GlitchTip and
//! Bugsink all accept.
//!
//! [`Gzip`] keeps one compressor and resets it for each body, rather than using `flate2::write::GzEncoder`, which
//! cannot be reset: setting up a compressor (about 300 KiB of tables, zeroed and moved) cost a tenth of the worker's
//! time per event in the end-to-end benchmark (`cargo bench --bench capture`, scenario g, under `perf`).
//!
//! Bodies below [`GZIP_THRESHOLD`] are sent as they are: the 18 bytes of framing and the CPU are not worth it there.

use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

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

/// A gzip encoder that keeps its compressor from one body to the next.
pub(crate) struct Gzip {
    deflate: Mutex<Compress>,
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip {
            deflate: Mutex::new(Compress::new(Compression::new(LEVEL), false)),
        }
    }
}

impl Gzip {
    /// Gzips `body` when it is at least [`GZIP_THRESHOLD`] bytes long and compression makes it smaller; otherwise
    /// returns it unchanged with no `Content-Encoding`.
    pub(crate) fn encode_body(&self, body: Vec<u8>) -> Body {
        if body.len() >= GZIP_THRESHOLD {
            let compressed = self.gzip(&body);
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
    pub(crate) fn gzip(&self, data: &[u8]) -> Vec<u8> {
        let mut deflate = self.deflate.lock().unwrap_or_else(PoisonError::into_inner);
        deflate.reset();
        let mut out = Vec::with_capacity(HEADER.len() + data.len() / 3 + 64);
        out.extend_from_slice(&HEADER);
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(data.len());
            let status = deflate.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish);
            match status {
                Ok(Status::StreamEnd) => break,
                // Out of room in `out`: give it more and go on.
                Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(256)),
                // miniz_oxide reports no error for in-memory input; a stream that failed anyway is not sent
                // compressed (the caller sends the body as it is when this is not smaller).
                Err(_) => return data.to_vec(),
            }
        }
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the input length modulo 2^32: the truncation is what the format asks for.
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out
    }
}

/// The gzip header: ID1 ID2 (magic), CM = 8 (deflate), FLG = 0 (no name, comment or extra field), MTIME = 0 (no
/// time stamp: the body is not a file), XFL = 0, OS = 255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

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
    fn gzip_frames_and_round_trips_with_one_compressor_reused() {
        let gzip = Gzip::default();
        for data in [
            Vec::new(),
            b"hello".to_vec(),
            json_like(10_000),
            noise(5_000),
            json_like(10_000),
            Vec::new(),
        ] {
            let gz = gzip.gzip(&data);
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
        let body = Gzip::default().encode_body(data.clone());
        assert_eq!(body.content_encoding, Some("gzip"));
        assert!(
            body.bytes.len() < data.len() / 4,
            "{} bytes",
            body.bytes.len()
        );
        assert_eq!(body.bytes, Gzip::default().gzip(&data));
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let at = Gzip::default().encode_body(json_like(GZIP_THRESHOLD));
        assert_eq!(at.content_encoding, Some("gzip"));
        let below = json_like(GZIP_THRESHOLD - 1);
        assert_eq!(
            Gzip::default().encode_body(below.clone()),
            Body {
                bytes: below,
                content_encoding: None
            }
        );
    }

    #[test]
    fn small_and_incompressible_bodies_are_left_alone() {
        for data in [Vec::new(), b"{}".to_vec(), json_like(100), noise(64 * 1024)] {
            let body = Gzip::default().encode_body(data.clone());
            assert_eq!(body.content_encoding, None, "{} bytes", data.len());
            assert_eq!(body.bytes, data);
        }
    }
}
