//! Where a spool lives unless the options say otherwise: a directory per project under the user's cache directory.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::dsn::Dsn;

/// The default spool directory for `dsn`: `faultline/{host}-{port}-{project_id}` under the user's cache directory
/// (`$XDG_CACHE_HOME`, else `$HOME/.cache` on Linux and other Unix systems; `$HOME/Library/Caches` on macOS;
/// `%LOCALAPPDATA%` on Windows). The DSN's key is not part of the path. `None` when the environment names no
/// (absolute) cache directory.
pub(crate) fn default_dir(dsn: &Dsn) -> Option<PathBuf> {
    let base = cache_dir(|key| std::env::var_os(key))?;
    Some(base.join("faultline").join(project_dir_name(dsn)))
}

/// The user's cache directory, reading the environment through `var` (so tests need not change the real one).
/// Relative values are ignored, as the XDG base directory specification asks.
fn cache_dir(var: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let absolute = |key: &str| {
        var(key)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    if cfg!(windows) {
        absolute("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        absolute("HOME").map(|home| home.join("Library").join("Caches"))
    } else {
        absolute("XDG_CACHE_HOME").or_else(|| absolute("HOME").map(|home| home.join(".cache")))
    }
}

/// `{host}-{port}-{project_id}`, with the host lowercased and every character other than ASCII letters, digits,
/// `.`, `-` and `_` replaced by `_` (an IPv6 host's brackets and colons are not allowed in Windows file names).
fn project_dir_name(dsn: &Dsn) -> String {
    let mut name = String::with_capacity(dsn.host().len() + 16);
    for c in dsn.host().chars() {
        name.push(match c {
            'a'..='z' | '0'..='9' | '.' | '-' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        });
    }
    format!("{name}-{}-{}", dsn.port(), dsn.project_id())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn cache_dir_from_the_environment() {
        type Vars = &'static [(&'static str, &'static str)];
        let env = |vars: Vars| {
            move |key: &str| {
                vars.iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        if cfg!(windows) {
            assert_eq!(
                cache_dir(env(&[("LOCALAPPDATA", r"C:\Users\u\AppData\Local")])),
                Some(PathBuf::from(r"C:\Users\u\AppData\Local"))
            );
            assert_eq!(cache_dir(env(&[("HOME", r"C:\Users\u")])), None);
        } else if cfg!(target_os = "macos") {
            assert_eq!(
                cache_dir(env(&[("HOME", "/Users/u"), ("XDG_CACHE_HOME", "/x")])),
                Some(PathBuf::from("/Users/u/Library/Caches"))
            );
        } else {
            let cases: &[(Vars, Option<&str>)] = &[
                (
                    &[("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/u")],
                    Some("/xdg"),
                ),
                (&[("HOME", "/home/u")], Some("/home/u/.cache")),
                (
                    &[("XDG_CACHE_HOME", "relative"), ("HOME", "/home/u")],
                    Some("/home/u/.cache"),
                ),
                (
                    &[("XDG_CACHE_HOME", ""), ("HOME", "/home/u")],
                    Some("/home/u/.cache"),
                ),
                (&[("HOME", "")], None),
                (&[], None),
            ];
            for &(vars, want) in cases {
                assert_eq!(cache_dir(env(vars)), want.map(PathBuf::from), "{vars:?}");
            }
        }
        assert_eq!(cache_dir(env(&[])), None);
    }

    #[test]
    fn project_directory_names() {
        let cases = [
            (
                "https://secretkey@o1.ingest.Example.com/42",
                "o1.ingest.example.com-443-42",
            ),
            (
                "http://secretkey@localhost:8000/prefix/7",
                "localhost-8000-7",
            ),
            ("https://secretkey:legacy@[::1]:9000/3", "___1_-9000-3"),
        ];
        for (dsn, want) in cases {
            let dsn: Dsn = dsn.parse().unwrap();
            assert_eq!(project_dir_name(&dsn), want);
        }
        let dsn: Dsn = "https://secretkey@sentry.example.com/42".parse().unwrap();
        if let Some(dir) = default_dir(&dsn) {
            assert!(dir.ends_with(Path::new("faultline").join("sentry.example.com-443-42")));
            assert!(!dir.to_string_lossy().contains("secretkey"));
        }
    }
}
