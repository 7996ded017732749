//! A DSN's keys never show in what faultline prints about it: not in a parse error's `Display` or `Debug`, not in a
//! parsed `Dsn`'s, and not on stderr when `init` meets a DSN it cannot use, with `debug` on.
//!
//! Each malformed DSN of the table holds a recognisable key. `init` runs in a child process (this test binary,
//! re-run with an environment variable naming the case, since a DSN may hold bytes an environment variable cannot)
//! so that its stderr can be read. The property tests at the end generate DSN-like strings around generated keys.

use std::process::Command;
use std::time::Duration;

use faultline::{ClientOptions, Dsn};
use proptest::prelude::*;

/// What a case's key is made of: every case holds at least one of these whole, and none of them may show up
/// (compared case-insensitively, because a scheme is matched in any case and an old error lowercased it).
const NEEDLES: [&str; 4] = ["pubkey", "1234abcd", "secretzz", "zz9876"];

/// The environment variable that names the case a child process runs.
const CHILD: &str = "FAULTLINE_DSN_KEYS_CASE";

/// `(name, DSN, more needles)`: malformed DSNs, each with the public key `PUBKEY1234abcd` and/or the secret key
/// `SECRETzz9876` (or a variant of them) somewhere in it.
fn cases() -> Vec<(&'static str, String, &'static [&'static str])> {
    let long_key = format!(
        "https://PUBKEY1234abcd{}:SECRETzz9876@host",
        "x".repeat(100_000)
    );
    let long_scheme = format!("{}://host/42", "PUBKEY1234abcd".repeat(1000));
    let mut cases: Vec<(&'static str, String, &'static [&'static str])> = vec![
        (
            "no_scheme_key_and_secret_then_url_in_query",
            "PUBKEY1234abcd:SECRETzz9876@127.0.0.1/42?next=http://x".into(),
            &[],
        ),
        ("no_scheme", "PUBKEY1234abcd@127.0.0.1/42".into(), &[]),
        ("no_scheme_only_the_key", "PUBKEY1234abcd".into(), &[]),
        (
            "no_scheme_key_in_query",
            "host/42?key=PUBKEY1234abcd".into(),
            &[],
        ),
        (
            "key_where_the_scheme_goes",
            "PUBKEY1234abcd://SECRETzz9876@127.0.0.1/42".into(),
            &[],
        ),
        ("long_key_where_the_scheme_goes", long_scheme, &[]),
        (
            "unsupported_scheme",
            "ftp://PUBKEY1234abcd:SECRETzz9876@host/42".into(),
            &[],
        ),
        (
            "unicode_scheme",
            "httpś://PUBKEY1234abcd@host/42".into(),
            &[],
        ),
        ("one_slash", "https:/PUBKEY1234abcd@host/42".into(), &[]),
        (
            "backslashes",
            "https:\\\\PUBKEY1234abcd:SECRETzz9876@host\\42".into(),
            &[],
        ),
        (
            "scheme_separator_inside_the_key",
            "https://PUBKEY1234abcd://SECRETzz9876@127.0.0.1/42".into(),
            &[],
        ),
        (
            "scheme_separator_inside_the_secret",
            "https://PUBKEY1234abcd:SECRET://zz9876@host/42".into(),
            &[],
        ),
        (
            "missing_at",
            "https://PUBKEY1234abcd.127.0.0.1/42".into(),
            &[],
        ),
        (
            "missing_at_with_secret",
            "https://PUBKEY1234abcd:SECRETzz9876/42".into(),
            &[],
        ),
        (
            "percent_encoded_at",
            "https://PUBKEY1234abcd%40host/42".into(),
            &[],
        ),
        (
            "two_ats",
            "https://PUBKEY1234abcd@SECRETzz9876@host/42".into(),
            &[],
        ),
        ("key_as_the_host", "https://@PUBKEY1234abcd/42".into(), &[]),
        (
            "secret_without_public_key",
            "https://:SECRETzz9876@host/42".into(),
            &[],
        ),
        (
            "key_in_the_path_no_userinfo",
            "https://host/PUBKEY1234abcd@/42".into(),
            &[],
        ),
        (
            "port_out_of_range",
            "https://PUBKEY1234abcd@host:99999/42".into(),
            &[],
        ),
        (
            "port_not_a_number",
            "https://PUBKEY1234abcd:SECRETzz9876@host:http/42".into(),
            &[],
        ),
        (
            "key_as_the_port",
            "https://x@host:PUBKEY1234abcd/42".into(),
            &[],
        ),
        ("no_project_id", "https://PUBKEY1234abcd@host".into(), &[]),
        (
            "no_project_id_after_slash",
            "https://PUBKEY1234abcd:SECRETzz9876@host/".into(),
            &[],
        ),
        (
            "project_id_not_a_number",
            "https://PUBKEY1234abcd@host/project".into(),
            &[],
        ),
        (
            "secret_in_the_fragment",
            "https://PUBKEY1234abcd@host/4x2#SECRETzz9876".into(),
            &[],
        ),
        (
            "upper_case",
            "HTTPS://PUBKEY1234ABCD:SECRETZZ9876@HOST".into(),
            &[],
        ),
        (
            "empty_host",
            "https://PUBKEY1234abcd:SECRETzz9876@/42".into(),
            &[],
        ),
        (
            "unclosed_ipv6_literal",
            "https://PUBKEY1234abcd@[::1/42".into(),
            &[],
        ),
        ("unicode_host", "https://PUBKEY1234abcd@hôst/42".into(), &[]),
        (
            "space_in_the_key",
            "https://PUBKEY 1234abcd@host/42".into(),
            &[],
        ),
        (
            "space_in_the_secret",
            "https://PUBKEY1234abcd:SECRET zz9876@host/42".into(),
            &[],
        ),
        (
            "spaces_around_no_scheme",
            "  PUBKEY1234abcd@host/42  ".into(),
            &[],
        ),
        (
            "space_in_the_path",
            "https://PUBKEY1234abcd@host/a b/42".into(),
            &[],
        ),
        (
            "bell_in_the_key",
            "https://PUBKEY\u{7}1234abcd@host/42".into(),
            &[],
        ),
        (
            "newline_in_the_key",
            "https://PUBKEY1234abcd\n:SECRETzz9876@host/42".into(),
            &[],
        ),
        (
            "nul_in_the_key",
            "https://PUBKEY1234abcd\0@host/42".into(),
            &[],
        ),
        (
            "tab_before_the_at",
            "https://PUBKEY1234abcd\t@host/42".into(),
            &[],
        ),
        (
            "terminal_escape_in_the_key",
            "https://\u{1b}[31mPUBKEY1234abcd@host/42".into(),
            &[],
        ),
        (
            "right_to_left_override_in_the_key",
            "https://PUBKEY1234abcd\u{202e}@host/42".into(),
            &[],
        ),
        (
            "quote_in_the_key",
            "https://PUBKEY1234abcd\"@host/42".into(),
            &[],
        ),
        (
            "unicode_key",
            "https://PUBKEYключ1234abcd@host/42".into(),
            &["ключ"],
        ),
        (
            "percent_encoded_key_bad_project",
            "https://%50UBKEY1234abcd:%53ECRETzz9876@host/abc".into(),
            &["%50ubkey", "%53ecret"],
        ),
        (
            "broken_percent_encoding",
            "https://PUBKEY1234abcd%zz@host/42".into(),
            &[],
        ),
        ("very_long_key", long_key, &[]),
    ];
    cases.sort_by_key(|(name, _, _)| *name);
    cases
}

/// The needles of `text`, case-insensitively, that it contains.
fn leaks(text: &str, extra: &[&str]) -> Vec<String> {
    let text = text.to_lowercase();
    NEEDLES
        .iter()
        .chain(extra)
        .map(|needle| needle.to_lowercase())
        .filter(|needle| text.contains(needle.as_str()))
        .collect()
}

#[test]
fn the_table_is_big_and_every_case_holds_a_key() {
    let cases = cases();
    assert!(cases.len() >= 30, "{}", cases.len());
    for (name, dsn, extra) in &cases {
        assert!(!leaks(dsn, extra).is_empty(), "{name}: no key in {dsn:?}");
    }
    let mut names: Vec<_> = cases.iter().map(|(name, _, _)| name).collect();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
}

/// Asserts that `failures` is empty, listing them all: one run shows every case that leaks.
fn assert_none(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Records a failure when `text` holds one of the case's needles.
fn check(failures: &mut Vec<String>, case: &str, what: &str, text: &str, extra: &[&str]) {
    let found = leaks(text, extra);
    if !found.is_empty() {
        failures.push(format!("{case}: {what} holds {found:?}: {text:?}"));
    }
}

#[test]
fn parse_errors_never_contain_a_key() {
    let mut failures = Vec::new();
    for (name, dsn, extra) in cases() {
        let err = match dsn.parse::<Dsn>() {
            Ok(parsed) => {
                failures.push(format!("{name}: accepted as {parsed:?}"));
                check(
                    &mut failures,
                    name,
                    "the parsed Dsn",
                    &format!("{parsed} {parsed:?}"),
                    extra,
                );
                continue;
            }
            Err(err) => err,
        };
        check(&mut failures, name, "Display", &err.to_string(), extra);
        check(
            &mut failures,
            name,
            "Debug",
            &format!("{err:?} {err:#?}"),
            extra,
        );
        // The same error as `try_init` returns it, which fails before it installs anything.
        match faultline::try_init(ClientOptions::new().dsn(dsn.as_str())) {
            Ok(_) => failures.push(format!("{name}: try_init accepted it")),
            Err(e) => check(
                &mut failures,
                name,
                "InitError",
                &format!("{e} {e:?}"),
                extra,
            ),
        }
        let options = format!("{:?}", ClientOptions::new().dsn(dsn.as_str()));
        check(&mut failures, name, "ClientOptions' Debug", &options, extra);
    }
    assert_none(&failures);
}

/// A valid DSN with keys, printed through every public type that holds one.
#[test]
fn types_holding_a_valid_dsn_print_no_key() {
    let text = "https://PUBKEY1234abcd:SECRETzz9876@127.0.0.1:9000/prefix/42";
    let dsn: Dsn = text.parse().unwrap();
    let options = faultline::transport::TransportOptions::new(dsn.clone());
    let mut printed = vec![
        dsn.to_string(),
        format!("{dsn:?}"),
        format!("{options:?}"),
        format!("{:?}", ClientOptions::new().dsn(text)),
    ];
    #[cfg(feature = "http")]
    printed.push(format!(
        "{:?}",
        faultline::transport::HttpTransport::new(&options)
    ));
    for text in printed {
        assert_eq!(leaks(&text, &[]), Vec::<String>::new(), "{text}");
        assert!(text.contains("127.0.0.1"), "{text}");
    }
}

/// Runs `init` with the case named by [`CHILD`], with `debug` on; does nothing when run by the test harness
/// itself.
#[test]
fn child_process() {
    let Ok(wanted) = std::env::var(CHILD) else {
        return;
    };
    let (_, dsn, _) = cases()
        .into_iter()
        .find(|(name, _, _)| *name == wanted)
        .unwrap_or_else(|| panic!("no case {wanted}"));
    // No spool and a short shutdown, in case a DSN is (wrongly) accepted: nothing may be left on disk or hang.
    let guard = faultline::init(
        ClientOptions::new()
            .dsn(dsn)
            .debug(true)
            .spool_dir(None)
            .shutdown_timeout(Duration::from_millis(200)),
    );
    faultline::capture_message("after a bad DSN", faultline::Level::Error);
    drop(guard);
}

#[test]
fn init_prints_no_key_to_stderr() {
    let exe = std::env::current_exe().unwrap();
    let mut failures = Vec::new();
    for (name, _, extra) in cases() {
        let output = Command::new(&exe)
            .args([
                "--exact",
                "child_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, name)
            .env_remove("SENTRY_DSN")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            failures.push(format!("{name}: the child failed: {stderr}"));
        }
        // The line `init` prints for an unusable DSN, so the check below looked at real output.
        if !stderr.contains("faultline: invalid DSN: ") {
            failures.push(format!("{name}: no `invalid DSN` line: {stderr:?}"));
        }
        check(&mut failures, name, "stderr", &stderr, extra);
    }
    assert_none(&failures);
}

// === Properties ===

/// Where a generated key may break the DSN around it: separators, characters a URL cannot hold, escapes.
const BREAKERS: [&str; 22] = [
    " ", "\t", "\n", "\r", "\0", "\u{7f}", "\u{1b}", "://", ":/", "@", ":", "/", "?", "#", "%",
    "%4", "%zz", "%41", "é", "ключ", "\u{202e}", "[",
];

/// A key: a marker letter no fixed text of the SDK's messages holds (`q` for public keys, `z` for secret ones),
/// twelve or more letters and digits, and perhaps one [`BREAKERS`] entry inside, with at least five characters
/// before it and six after, so that each side, taken as a key by the parser, is still recognisable.
fn key(marker: char) -> impl Strategy<Value = String> {
    (
        "[a-zA-Z0-9]{12,40}",
        proptest::option::of((0..BREAKERS.len(), any::<usize>())),
    )
        .prop_map(move |(body, breaker)| {
            let mut key = format!("{marker}{body}");
            if let Some((which, at)) = breaker {
                let at = 5 + at % (key.len() - 10);
                key.insert_str(at, BREAKERS[which]);
            }
            key
        })
}

/// One of `options`.
fn one_of(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

/// A DSN-like string around a public key and a secret key, each part drawn from well-formed and broken choices,
/// with the two keys.
fn dsn_like() -> impl Strategy<Value = (String, String, String)> {
    let head = (
        one_of(&["https", "http", "HTTP", "ftp", "", "h t", "1x"]),
        one_of(&["://", ":/", ":", "", "//", ":///"]),
    );
    let keys = (key('q'), one_of(&["", ":", "::", "@", "://"]), key('z'));
    let tail = (
        one_of(&["@", "", "@@", ":@", "%40"]),
        one_of(&["127.0.0.1", "o1.example.com", "[::1]", "[::1", "", "h st"]),
        one_of(&["", ":9000", ":0", ":99999", ":", ":+80", ":port"]),
        one_of(&[
            "/42",
            "/prefix/42",
            "",
            "/",
            "/x",
            "/4 2",
            "/a b/1",
            "/1?u=http://x",
            "/1#f",
        ]),
    );
    (head, keys, tail, any::<bool>()).prop_map(
        |((scheme, sep), (public, middle, secret), (at, host, port, path), with_secret)| {
            let secret_part = if with_secret {
                format!("{middle}{secret}")
            } else {
                String::new()
            };
            let dsn = format!("{scheme}{sep}{public}{secret_part}{at}{host}{port}{path}");
            (dsn, public, secret)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Parsing never panics, and nothing printed about the result holds a key: not an error (whatever the
    /// generated keys did to the string), and not a parsed DSN (whose keys are what the parser took as keys).
    #[test]
    fn no_key_in_what_parsing_prints((dsn, public, secret) in dsn_like()) {
        match dsn.parse::<Dsn>() {
            Err(err) => {
                for text in [err.to_string(), format!("{err:?}")] {
                    let text = text.to_lowercase();
                    prop_assert!(!text.contains(&public.to_lowercase()), "{text}");
                    prop_assert!(!text.contains(&secret.to_lowercase()), "{text}");
                    // The markers alone: no fixed text of an error holds a `q` or a `z`.
                    prop_assert!(!text.contains('q') && !text.contains('z'), "{text}");
                }
            }
            Ok(parsed) => {
                let keys = [Some(parsed.public_key()), parsed.secret_key()];
                let options = ClientOptions::new().dsn(dsn.as_str());
                for text in [parsed.to_string(), format!("{parsed:?}"), format!("{options:?}")] {
                    for key in keys.into_iter().flatten() {
                        prop_assert!(!text.contains(key), "{key} in {text}");
                    }
                }
            }
        }
    }

    /// Any string at all parses or fails without panicking, and its error holds nothing of it.
    #[test]
    fn any_string_parses_without_panic(text in any::<String>()) {
        if let Err(err) = text.parse::<Dsn>() {
            let message = err.to_string();
            prop_assert!(message.is_ascii() && !message.contains('q') && !message.contains('z'), "{message}");
        }
    }

    /// A DSN written from valid parts parses back to those parts; the DSN rebuilt from the parsed parts, and the
    /// string the SDK serialises, parse back to the same DSN (the serialised one without its secret key).
    #[test]
    fn valid_dsns_round_trip(
        scheme in one_of(&["http", "https", "HTTPS", "Http"]),
        public in "([a-zA-Z0-9._~!$&'()*+,;=-]|%[0-9a-fA-F]{2}){1,32}",
        secret in proptest::option::of("([a-zA-Z0-9._~!$&'()*+,;=:-]|%[0-9a-fA-F]{2}){1,32}"),
        host in prop_oneof![
            "[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?",
            "\\[[0-9a-f:]{2,20}\\]",
            "[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
        ],
        port in proptest::option::of(1u16..=65535),
        path in "(/([a-zA-Z0-9._~!$&'()*+,;=:@-]|%[0-9a-fA-F]{2}){0,12}){0,3}",
        project_id in "[0-9]{1,12}",
        suffix in one_of(&["", "/", "//", "?a=1", "#frag", "/?x=http://y"]),
        padding in one_of(&["", " ", "\t\n"]),
    ) {
        let userinfo = match &secret {
            Some(secret) => format!("{public}:{secret}"),
            None => public.clone(),
        };
        let port_part = port.map(|p| format!(":{p}")).unwrap_or_default();
        let text =
            format!("{padding}{scheme}://{userinfo}@{host}{port_part}{path}/{project_id}{suffix}{padding}");
        let dsn: Dsn = text.parse().map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = if scheme == "https" { 443 } else { 80 };
        prop_assert_eq!(dsn.public_key(), public.as_str());
        prop_assert_eq!(dsn.secret_key(), secret.as_deref());
        prop_assert_eq!(dsn.host(), host.as_str());
        prop_assert_eq!(dsn.port(), port.unwrap_or(default_port));
        prop_assert_eq!(dsn.path(), path.as_str());
        prop_assert_eq!(dsn.project_id(), project_id.as_str());
        let shown_port = port.filter(|&p| p != default_port).map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("{scheme}://{host}{shown_port}{path}/api/{project_id}/envelope/");
        prop_assert_eq!(dsn.envelope_url(), url);
        let secret_part = secret.as_ref().map(|s| format!(", sentry_secret={s}")).unwrap_or_default();
        let auth =
            format!("Sentry sentry_version=7, sentry_client=faultline/test, sentry_key={public}{secret_part}");
        prop_assert_eq!(dsn.auth_header("faultline/test"), auth);

        // Rebuilt from its parts, explicit port and all.
        let rebuilt = format!(
            "{scheme}://{}{}@{}:{}{}/{}",
            dsn.public_key(),
            dsn.secret_key().map(|s| format!(":{s}")).unwrap_or_default(),
            dsn.host(),
            dsn.port(),
            dsn.path(),
            dsn.project_id(),
        );
        prop_assert_eq!(rebuilt.parse::<Dsn>(), Ok(dsn.clone()));

        // Serialised: the public key stays, the secret key goes.
        let serialised: String = serde_json::from_value(serde_json::to_value(&dsn).unwrap()).unwrap();
        let without_secret = format!("{scheme}://{public}@{host}{port_part}{path}/{project_id}");
        prop_assert_eq!(serialised.parse::<Dsn>(), without_secret.parse::<Dsn>());
        prop_assert_eq!(serialised.parse::<Dsn>().map(|d| d.secret_key().is_none()), Ok(true));
    }
}
