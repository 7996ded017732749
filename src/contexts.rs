//! The `os`, `rust` and `device` contexts and the host name: facts about the machine, read once by those who need
//! them (the worker, per client; the JSON-lines sink, when it is built).

use std::collections::BTreeMap;

use serde_json::Value;

/// The contexts every event carries: `os` (name, version, kernel version), `rust` (type `runtime`: the compiler
/// that built the program) and `device` (the CPU architecture).
pub(crate) fn default_contexts() -> BTreeMap<String, Value> {
    let mut contexts = BTreeMap::new();
    contexts.insert("os".to_owned(), os_context());
    let mut rust = vec![("type", "runtime".to_owned()), ("name", "rustc".to_owned())];
    let version = env!("FAULTLINE_RUSTC_VERSION");
    if !version.is_empty() {
        rust.push(("version", version.to_owned()));
    }
    contexts.insert("rust".to_owned(), object(rust));
    let device = vec![
        ("type", "device".to_owned()),
        ("arch", std::env::consts::ARCH.to_owned()),
    ];
    contexts.insert("device".to_owned(), object(device));
    contexts
}

/// A JSON object of string fields. Built with `Map::insert` rather than `json!` and `value[key] = ...`, whose
/// indexing compiles serde_json's map code a second time (about 8 KiB).
fn object(fields: Vec<(&str, String)>) -> Value {
    let mut map = serde_json::Map::new();
    for (key, value) in fields {
        map.insert(key.to_owned(), Value::String(value));
    }
    Value::Object(map)
}

fn os_context() -> Value {
    let mut os = vec![("type", "os".to_owned())];
    if cfg!(target_os = "linux") {
        os.push(("name", "Linux".to_owned()));
        if let Ok(text) = std::fs::read_to_string("/etc/os-release") {
            if let Some(v) = os_release_field(&text, "VERSION_ID") {
                os.push(("version", v));
            }
            if let Some(v) = os_release_field(&text, "PRETTY_NAME") {
                os.push(("build", v));
            }
        }
        if let Ok(kernel) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            os.push(("kernel_version", kernel.trim().to_owned()));
        }
    } else {
        let name = match std::env::consts::OS {
            "macos" => "macOS",
            "windows" => "Windows",
            other => other,
        };
        os.push(("name", name.to_owned()));
    }
    object(os)
}

/// A field of `/etc/os-release` (`KEY=value` or `KEY="value"`).
fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(value.trim().trim_matches('"').to_owned())
    })
}

/// The machine's host name: for an event's `server_name`, and for `host.name` on the JSON lines of records that
/// carry none.
pub(crate) fn hostname() -> Option<String> {
    let from_file = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|s| s.trim().to_owned());
    from_file
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_parsing() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(os_release_field(text, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(
            os_release_field(text, "PRETTY_NAME").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_release_field(text, "VERSION"), None);
    }

    #[test]
    fn contexts_have_types_and_the_compiler_version() {
        let contexts = default_contexts();
        assert_eq!(contexts["os"]["type"], "os");
        assert_eq!(contexts["rust"]["type"], "runtime");
        assert_eq!(contexts["rust"]["name"], "rustc");
        let version = contexts["rust"]["version"].as_str().unwrap();
        assert!(
            version.chars().next().unwrap().is_ascii_digit(),
            "{version}"
        );
        assert_eq!(contexts["device"]["arch"], std::env::consts::ARCH);
    }
}
