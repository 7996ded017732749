//! The DSN parser, on any UTF-8 text: it never panics, what it accepts prints with its public key masked and
//! without its secret key, and a DSN rebuilt from the parsed parts parses back to the same DSN.

#![no_main]

use faultline::Dsn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dsn = match text.parse::<Dsn>() {
        Ok(dsn) => dsn,
        Err(err) => {
            // Errors carry no text of the input: their message is one of a fixed set, all ASCII.
            assert!(err.to_string().is_ascii());
            return;
        }
    };
    let scheme = match dsn.scheme() {
        faultline::Scheme::Http => "http",
        faultline::Scheme::Https => "https",
    };
    assert!(dsn.to_string().starts_with(&format!("{scheme}://****@")));
    let debug = format!("{dsn:?}");
    assert!(debug.contains("public_key: \"****\""), "{debug}");
    if let Some(secret) = dsn.secret_key() {
        assert!(!secret.is_empty());
        assert!(!dsn.to_string().contains(&format!(":{secret}@")));
    }
    let rebuilt = format!(
        "{scheme}://{}{}@{}:{}{}/{}",
        dsn.public_key(),
        dsn.secret_key()
            .map(|s| format!(":{s}"))
            .unwrap_or_default(),
        dsn.host(),
        dsn.port(),
        dsn.path(),
        dsn.project_id(),
    );
    assert_eq!(rebuilt.parse::<Dsn>().as_ref(), Ok(&dsn), "{rebuilt}");
});
