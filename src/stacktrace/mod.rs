//! TEMPORARY placeholder until the real module lands.
use crate::protocol::{Addr, Frame, Stacktrace};
use std::path::PathBuf;
pub(crate) struct RawTrace {
    ips: Vec<u64>,
}
pub(crate) fn capture() -> RawTrace {
    let mut ips = Vec::with_capacity(64);
    backtrace::trace(|f| {
        ips.push(f.ip() as u64);
        ips.len() < 256
    });
    RawTrace { ips }
}
pub(crate) struct InAppRules;
impl InAppRules {
    pub(crate) fn new(_i: Vec<String>, _e: Vec<String>, _r: Option<PathBuf>) -> Self {
        InAppRules
    }
}
pub(crate) struct Symbolizer;
impl Symbolizer {
    pub(crate) fn new(_c: usize) -> Self {
        Symbolizer
    }
    pub(crate) fn resolve(&mut self, raw: &RawTrace, _r: &InAppRules) -> Stacktrace {
        Stacktrace {
            frames: raw
                .ips
                .iter()
                .rev()
                .map(|&ip| Frame {
                    instruction_addr: Some(Addr(ip)),
                    ..Frame::default()
                })
                .collect(),
        }
    }
}
