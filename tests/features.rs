//! The crate's feature list in `src/lib.rs` must match `Cargo.toml`, so the docs never promise a feature that does
//! not exist (or hide one that does).

use std::collections::BTreeSet;

fn cargo_features() -> BTreeSet<String> {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let section = manifest
        .split("\n[features]\n")
        .nth(1)
        .expect("a [features] table")
        .split("\n[")
        .next()
        .unwrap();
    section
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .filter(|name| !name.is_empty() && name != "default")
        .collect()
}

fn documented_features() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let section = lib
        .split("//! # Crate features\n")
        .nth(1)
        .expect("a Crate features section")
        .split("//! # ")
        .next()
        .unwrap();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("//! - `"))
        .filter_map(|rest| rest.split('`').next().map(str::to_owned))
        .collect()
}

#[test]
fn documented_features_match_cargo_toml() {
    let cargo = cargo_features();
    assert!(
        cargo.contains("http") && cargo.contains("panic"),
        "{cargo:?}"
    );
    assert_eq!(documented_features(), cargo);
}
