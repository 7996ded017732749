//! Two things the crate needs to know at compile time:
//!
//! - the compiler's version, for the `rust` runtime context, so events can tell which toolchain built them;
//! - whether native crash reporting is compiled in (`cfg(faultline_native_crash)`): with the `native-crash` feature,
//!   on Linux, on x86_64 or aarch64 (what framehop unwinds), and not in a statically linked glibc program. There
//!   `crash-handler`'s `pthread_create` hook cannot find glibc's own and would abort the first thread's start, so
//!   Cargo.toml leaves that crate out of such builds, and the feature does nothing in them.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // `rustc 1.95.0 (59807616e 2026-04-14)` → `1.95.0`; an unknown compiler leaves the context without a version.
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default();
    println!("cargo:rustc-env=FAULTLINE_RUSTC_VERSION={version}");

    println!("cargo:rustc-check-cfg=cfg(faultline_native_crash)");
    let var = |key: &str| std::env::var(key).unwrap_or_default();
    let static_glibc = var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("CARGO_CFG_TARGET_FEATURE")
            .split(',')
            .any(|feature| feature == "crt-static");
    let native_crash = std::env::var_os("CARGO_FEATURE_NATIVE_CRASH").is_some()
        && var("CARGO_CFG_TARGET_OS") == "linux"
        && matches!(var("CARGO_CFG_TARGET_ARCH").as_str(), "x86_64" | "aarch64")
        && !static_glibc;
    if native_crash {
        println!("cargo:rustc-cfg=faultline_native_crash");
    }
}
