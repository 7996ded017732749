//! Gzip request bodies for `Content-Encoding: gzip`.
//!
//! The format is RFC 1952 ("GZIP file format specification version 4.3"): a 10-byte header, the body as one DEFLATE
//! stream, and a trailer with the body's CRC-32 and length. All of it comes from `flate2` on its pure-Rust `zlib-rs`
//! backend, which writes the gzip framing itself. Gzip is the one encoding that Sentry/Relay, self-hosted Sentry,
//! GlitchTip and Bugsink all accept.
//!
//! Why `zlib-rs` rather than `miniz_oxide` (which `backtrace` brings anyway): resetting miniz_oxide's compressor
//! zeroes about 300 KiB of tables before every body, and at level 1 zlib-rs compresses faster. Measured with
//! `BENCH_ONLY=g cargo bench --bench capture` on 2026-12-07, three runs each, taking turns: the worker spent 62–72 µs
//! of CPU per event with zlib-rs at level 1 against 70–91 µs with miniz_oxide at level 1, and delivered 7,390–8,965
//! against 6,526–8,082 events/s. Its bodies are larger: 1,740 bytes against 1,434 for the same 6.8 KiB event.
//! zlib-rs at level 2 makes them smaller than miniz_oxide's (1,348 bytes) but costs more than either (77–88 µs).
//!
//! [`Gzip`] keeps one compressor and resets it for each body, rather than using `flate2::write::GzEncoder`, which
//! cannot be reset: setting up a compressor (hundreds of KiB of tables, zeroed and moved) cost a tenth of the
//! worker's time per event in the same benchmark.
//!
//! Bodies below [`GZIP_THRESHOLD`] are sent as they are: the 18 bytes of framing and the CPU are not worth it there.

use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Compression, FlushCompress, Status};

/// Bodies shorter than this (1 KiB) are not compressed. A small message event is a few hundred bytes, where
/// gzip saves little; a typical event with a stack trace is several KiB of JSON and shrinks to a fraction.
pub(crate) const GZIP_THRESHOLD: usize = 1024;

/// The DEFLATE level: 1, the fastest (see the module's documentation for what it costs and saves).
const LEVEL: u32 = 1;

/// A gzip encoder that keeps its compressor from one body to the next.
pub(crate) struct Gzip {
    deflate: Mutex<Compress>,
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip {
            deflate: Mutex::new(Compress::new_gzip(Compression::new(LEVEL), WINDOW_BITS)),
        }
    }
}

impl Gzip {
    /// Gzips `body` into `out` (cleared first) when it is at least [`GZIP_THRESHOLD`] bytes long, and returns
    /// whether `out` now holds a gzip body smaller than `body`: if not, `body` is to be sent as it is, with no
    /// `Content-Encoding`. `out` may be kept from one body to the next.
    pub(crate) fn encode_into(&self, body: &[u8], out: &mut Vec<u8>) -> bool {
        body.len() >= GZIP_THRESHOLD && self.gzip_into(body, out) && out.len() < body.len()
    }

    /// Writes the gzip (RFC 1952) form of `data`, whatever its size, into `out` (cleared first); returns `false`,
    /// with `out` unusable, if the compressor failed.
    pub(crate) fn gzip_into(&self, data: &[u8], out: &mut Vec<u8>) -> bool {
        let mut deflate = self.deflate.lock().unwrap_or_else(PoisonError::into_inner);
        deflate.reset();
        out.clear();
        out.reserve(data.len() / 3 + 64);
        loop {
            let consumed = usize::try_from(deflate.total_in()).unwrap_or(data.len());
            let status = deflate.compress_vec(&data[consumed..], out, FlushCompress::Finish);
            match status {
                Ok(Status::StreamEnd) => return true,
                // Out of room in `out`: give it more and go on.
                Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(256)),
                // The compressor reports no error for input in memory; a stream that failed anyway is not sent
                // compressed.
                Err(_) => return false,
            }
        }
    }
}

/// The DEFLATE window: 2^15 bytes, the largest, as zlib's own gzip default.
const WINDOW_BITS: u8 = 15;

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
            let mut gz = Vec::new();
            assert!(gzip.gzip_into(&data, &mut gz));
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
        // A buffer left over from a larger body is cleared, not appended to.
        let mut out = vec![7; 100_000];
        assert!(Gzip::default().encode_into(&data, &mut out));
        assert!(out.len() < data.len() / 4, "{} bytes", out.len());
        let mut fresh = Vec::new();
        assert!(Gzip::default().gzip_into(&data, &mut fresh));
        assert_eq!(out, fresh);
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let mut out = Vec::new();
        assert!(Gzip::default().encode_into(&json_like(GZIP_THRESHOLD), &mut out));
        assert!(!Gzip::default().encode_into(&json_like(GZIP_THRESHOLD - 1), &mut out));
    }

    #[test]
    fn small_and_incompressible_bodies_are_left_alone() {
        for data in [Vec::new(), b"{}".to_vec(), json_like(100), noise(64 * 1024)] {
            let mut out = Vec::new();
            assert!(
                !Gzip::default().encode_into(&data, &mut out),
                "{} bytes",
                data.len()
            );
        }
    }
}
