//! Stack traces as the protocol carries them: frames oldest call first.

use serde::{Deserialize, Serialize};

/// A stack trace: `frames` are ordered **oldest call first**, the frame that raised last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stacktrace {
    /// The frames, outermost (oldest) call first.
    pub frames: Vec<Frame>,
}

impl Stacktrace {
    /// The frames as text, innermost first like a Rust backtrace: `   0: app::load at src/config.rs:42`, one frame
    /// per line, no trailing newline.
    pub fn to_backtrace_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(self.frames.len() * 64);
        for (i, frame) in self.frames.iter().rev().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let _ = write!(out, "{i:>4}: ");
            match (&frame.function, &frame.raw_function, frame.instruction_addr) {
                (Some(function), _, _) | (None, Some(function), _) => out.push_str(function),
                (None, None, Some(addr)) => {
                    let _ = write!(out, "{addr}");
                }
                (None, None, None) => out.push_str("<unknown>"),
            }
            if let Some(file) = frame.filename.as_deref().or(frame.abs_path.as_deref()) {
                let _ = write!(out, " at {file}");
                if let Some(line) = frame.lineno {
                    let _ = write!(out, ":{line}");
                }
            }
        }
        out
    }
}

/// One stack frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// The demangled function name without its hash suffix, e.g. `demo::load_config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// The function name as the symbol table had it, when it differs from `function`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_function: Option<String>,
    /// The module path of the function, e.g. `demo::config`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The source file, relative to the project (or the crate's root) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// The absolute path of the source file as recorded in the debug info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abs_path: Option<String>,
    /// The 1-based line number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineno: Option<u32>,
    /// The 1-based column number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colno: Option<u32>,
    /// Whether the frame belongs to the application rather than a library or the standard library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_app: Option<bool>,
    /// The instruction address, written as a `"0x…"` hex string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction_addr: Option<Addr>,
    /// The start address of the enclosing symbol, written as a `"0x…"` hex string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol_addr: Option<Addr>,
}

/// A memory address, serialized as a `"0x…"` lowercase hex string as the protocol expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(pub u64);

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(&text);
        u64::from_str_radix(digits, 16)
            .map(Addr)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_is_a_hex_string_both_ways() {
        let json = serde_json::to_string(&Addr(0x55d4_a000_1f2c)).unwrap();
        assert_eq!(json, "\"0x55d4a0001f2c\"");
        let back: Addr = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Addr(0x55d4_a000_1f2c));
        assert!(serde_json::from_str::<Addr>("\"0xzz\"").is_err());
    }

    #[test]
    fn empty_fields_are_left_out() {
        let frame = Frame {
            function: Some("demo::main".into()),
            lineno: Some(3),
            ..Frame::default()
        };
        assert_eq!(
            serde_json::to_string(&frame).unwrap(),
            r#"{"function":"demo::main","lineno":3}"#
        );
    }
}
