//! Debug images: the executable and shared libraries a process had loaded, so that the server can symbolicate frames
//! by their `instruction_addr` with debug files uploaded separately.
//!
//! Sentry finds the image whose range (`image_addr`, `image_size`) contains a frame's address, then looks for a debug
//! file with the image's `debug_id` (or `code_id`). This module carries the native image interface as Relay defines it
//! (`NativeDebugImage` in getsentry/relay, `relay-event-schema/src/protocol/debugmeta.rs`), for ELF images only.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::stacktrace::Addr;

/// The event's `debug_meta` attribute: the images that its stack traces' addresses point into.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugMeta {
    /// The loaded images, in any order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<DebugImage>,
}

/// One native image (an executable or a shared library) and where it was loaded.
///
/// Written as Sentry's native image interface, e.g.:
///
/// ```json
/// {"type":"elf","code_file":"/lib/x86_64-linux-gnu/libgcc_s.so.1",
///  "code_id":"68220ae2c65d65c1b6aaa12fa6765a6ec2f5f434","debug_id":"e20a2268-5dc6-c165-b6aa-a12fa6765a6e",
///  "image_addr":"0x7f5140527000","image_size":90112,"arch":"x86_64"}
/// ```
///
/// Relay requires `code_file` and `debug_id` and drops an image without them, so they are not optional here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugImage {
    /// The image format: `elf` on Linux (`macho` and `pe` on other systems).
    #[serde(rename = "type")]
    pub ty: String,
    /// The absolute path of the executable or library as it was loaded.
    pub code_file: String,
    /// The identifier of the code file: for ELF, the GNU build id as lowercase hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    /// The identifier of the debug file, a UUID string; for ELF it is derived from the build id (see
    /// [`DebugImage::elf`]).
    pub debug_id: String,
    /// The address the image was loaded at, written as a `"0x…"` hex string.
    pub image_addr: Addr,
    /// The size of the image in memory, in bytes. A JSON number: Relay reads it as an unsigned integer and rejects a
    /// hex string here.
    pub image_size: u64,
    /// The CPU architecture in Sentry's naming (`x86`, `x86_64`, `arm`, `arm64`, …); the server fills it in when
    /// missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

impl DebugImage {
    /// An ELF image identified by its GNU build id (the `NT_GNU_BUILD_ID` note), loaded at `image_addr`.
    ///
    /// `code_id` is the build id as lowercase hex. `debug_id` is the build id's first 16 bytes (zero-padded when it
    /// is shorter) read as a UUID; when the file is little-endian (`little_endian`), the first three UUID fields are
    /// byte-swapped, as if a little-endian GUID had been stored there. That is how Sentry computes the debug id of an
    /// uploaded ELF file (getsentry/symbolic, `symbolic-debuginfo/src/elf.rs`, `ElfObject::compute_debug_id`, which
    /// swaps only for little-endian files), and how Relay documents the field (`NativeDebugImage::debug_id`:
    /// "code id `f1c3bcc0 2798 65fe 3058 404b2831d9e6 4135386c`, debug id `c0bcc3f1-9827-fe65-3058-404b2831d9e6`").
    /// The two must agree, or the server never finds the uploaded debug file.
    pub fn elf(
        code_file: String,
        build_id: &[u8],
        little_endian: bool,
        image_addr: Addr,
        image_size: u64,
    ) -> DebugImage {
        DebugImage {
            ty: "elf".to_owned(),
            code_file,
            code_id: Some(lower_hex(build_id)),
            debug_id: elf_debug_id(build_id, little_endian)
                .hyphenated()
                .to_string(),
            image_addr,
            image_size,
            arch: None,
        }
    }
}

/// The debug id of an ELF file with this build id; see [`DebugImage::elf`] for the rule and its sources.
fn elf_debug_id(build_id: &[u8], little_endian: bool) -> Uuid {
    let mut bytes = [0u8; 16];
    for (to, from) in bytes.iter_mut().zip(build_id) {
        *to = *from;
    }
    if little_endian {
        bytes[0..4].reverse();
        bytes[4..6].reverse();
        bytes[6..8].reverse();
    }
    Uuid::from_bytes(bytes)
}

fn lower_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn debug_id_matches_relays_documented_example() {
        // The `elf` example in Relay's `NativeDebugImage` docs (getsentry/relay,
        // relay-event-schema/src/protocol/debugmeta.rs): libgcc_s.so.1 on x86_64.
        let build_id = from_hex("68220ae2c65d65c1b6aaa12fa6765a6ec2f5f434");
        let image = DebugImage::elf(
            "/lib/x86_64-linux-gnu/libgcc_s.so.1".to_owned(),
            &build_id,
            true,
            Addr(0x7f51_4052_7000),
            90112,
        );
        assert_eq!(image.debug_id, "e20a2268-5dc6-c165-b6aa-a12fa6765a6e");
        assert_eq!(
            image.code_id.as_deref(),
            Some("68220ae2c65d65c1b6aaa12fa6765a6ec2f5f434")
        );
    }

    #[test]
    fn debug_id_matches_relays_field_documentation() {
        // The worked example in the docs of `NativeDebugImage::debug_id` in the same Relay file.
        let build_id = from_hex("f1c3bcc0279865fe3058404b2831d9e64135386c");
        assert_eq!(
            elf_debug_id(&build_id, true).hyphenated().to_string(),
            "c0bcc3f1-9827-fe65-3058-404b2831d9e6"
        );
    }

    #[test]
    fn big_endian_files_are_not_swapped_and_short_ids_are_padded() {
        // symbolic swaps the UUID fields only for little-endian files.
        let build_id = from_hex("f1c3bcc0279865fe3058404b2831d9e64135386c");
        assert_eq!(
            elf_debug_id(&build_id, false).hyphenated().to_string(),
            "f1c3bcc0-2798-65fe-3058-404b2831d9e6"
        );
        // lld's `--build-id=fast` writes 8 bytes; the rest of the UUID is zeros.
        let short = from_hex("0102030405060708");
        assert_eq!(
            elf_debug_id(&short, true).hyphenated().to_string(),
            "04030201-0605-0807-0000-000000000000"
        );
    }

    #[test]
    fn wire_form_uses_hex_addresses_and_a_numeric_size() {
        let mut image = DebugImage::elf(
            "/usr/bin/demo".to_owned(),
            &[0xab, 0xcd],
            true,
            Addr(0x5555_0000_0000),
            0x2000,
        );
        image.arch = Some("x86_64".to_owned());
        let meta = DebugMeta {
            images: vec![image],
        };
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"images": [{
                "type": "elf",
                "code_file": "/usr/bin/demo",
                "code_id": "abcd",
                "debug_id": "0000cdab-0000-0000-0000-000000000000",
                "image_addr": "0x555500000000",
                "image_size": 8192,
                "arch": "x86_64",
            }]})
        );
        let back: DebugMeta = serde_json::from_value(json).unwrap();
        assert_eq!(back, meta);

        let bare = DebugImage {
            code_id: None,
            arch: None,
            ..meta.images[0].clone()
        };
        let text = serde_json::to_string(&bare).unwrap();
        assert!(
            !text.contains("code_id") && !text.contains("arch"),
            "{text}"
        );
        assert_eq!(serde_json::to_string(&DebugMeta::default()).unwrap(), "{}");
    }
}
