//! The built-in value rules: where free text holds a secret, as byte ranges to replace.
//!
//! Card numbers are found by a scan of the bytes ([`super::card`]). Every other rule is one alternative of a single
//! regular expression, and text goes through it in two steps: `is_match`, one pass of the regex crate's lazy DFA
//! that stops at the first hit, and only for text that has a hit, a search with capture groups. A match names its
//! rule by the capture group that took part, and that group is the secret; some rules then check the secret in code
//! (a decoding, a stop list) before it counts. Word boundaries are ASCII (`(?-u:\b)`), which the lazy DFA handles
//! on any text; Unicode boundaries would send text with non-ASCII characters to a slower engine.
//!
//! | group | finds | filters |
//! |---|---|---|
//! | `header` | `Authorization` or `Proxy-Authorization`, then `:` or `=` | the rest of the line, or the quoted value |
//! | `pair` | a key ending in `password`, `passwd`, `passphrase`, `secret`, `token`, `api_key`, `apikey`, `secret_key`, `private_key`, `secret_access_key` (any case, `-` or `_` or nothing between the words), then `:` or `=` | the value: quoted, or up to a space, quote, `&`, `,`, `;` or bracket |
//! | `bearer` | `Bearer` and a token | the token, unless it is one of a few words (`Bearer token missing`) |
//! | `basic` | `Basic` and a word | the word, when it is base64 of `user:password` ([`super::basic_auth`]) |
//! | `token` | `Token` and a word of 16 characters or more | the word, when it holds a digit |
//! | `urlpass` | `://user:password@` | the password |
//! | `pem` | `-----BEGIN … PRIVATE KEY-----` | the key's body, up to `-----END … PRIVATE KEY-----` or the end of the text |

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::basic_auth::is_basic_credentials;
use super::card::find_card_numbers;

/// A value after `:` or `=`: double-quoted (with `\"` escapes), single-quoted, or bare up to a delimiter. A bare
/// value may start with an authorization scheme (`token: Bearer abc`), so the token goes with it.
macro_rules! value {
    () => {
        r#"(?:"(?:[^"\\\r\n]|\\.)+"|'[^'\r\n]+'|(?i:(?:bearer|basic|token)[ \t]+)?[^\s"'&,;<>()\[\]{}]+)"#
    };
}

/// The rules, one alternative each (see the module documentation). Where two could start at the same place, the
/// first listed wins; an earlier start always wins.
const RULES: &str = concat!(
    // `Authorization: Bearer abc`, `"authorization": "Basic …"`: a header's value, whatever its scheme.
    r#"(?i:(?-u:\b)(?:proxy-)?authorization)["']?[ \t]*[:=][ \t]*"#,
    r#"(?P<header>"(?:[^"\\\r\n]|\\.)+"|'[^'\r\n]+'|[^\s"'][^\r\n]*)"#,
    // `password=hunter2`, `"db_password": "x"`, `X-Auth-Token: abc`, `AWS_SECRET_ACCESS_KEY=…`: the key is kept,
    // so only its end is matched, and it must end with the word: `tokenizer=fast`, `max_tokens=5` and
    // `password_length=12` are left alone.
    r#"|(?i:pass(?:w(?:or)?d|phrase)|secret|token|api[-_]?key|(?:secret|private)(?:[-_]?access)?[-_]?key)"#,
    r#"["']?[ \t]*[:=][ \t]*(?P<pair>"#,
    value!(),
    ")",
    // `Bearer abc.def`: RFC 6750's token68 characters.
    r"|(?i:(?-u:\b)bearer)[ \t]+(?P<bearer>[A-Za-z0-9._~+/-]+=*)",
    // `Basic dXNlcjpwYXNz`.
    r"|(?i:(?-u:\b)basic)[ \t]+(?P<basic>[A-Za-z0-9+/]+=*)",
    // `Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b` (the scheme of Django REST framework, GitHub, …).
    r"|(?i:(?-u:\b)token)[ \t]+(?P<token>[A-Za-z0-9._~+/-]{16,}=*)",
    // `postgres://app:hunter2@db:5432/app`: the password of the URL's user information (RFC 3986). The greedy
    // password reaches the last `@` before the path, so a password with an unescaped `@` goes whole.
    r"|://[^\s/?#@:]*:(?P<urlpass>[^\s/?#]+)@",
    // A PEM private key, also one cut short by a size limit (no END line).
    r"|-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----\r?\n?(?P<pem>(?s:.+?))",
    r"(?:\r?\n?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
);

/// The compiled rules; compiled on first use (the worker does it as it starts, see [`warm_up`]).
static RULES_REGEX: LazyLock<Regex> =
    // A constant pattern, compiled by the tests: it cannot fail in a released build.
    LazyLock::new(|| Regex::new(RULES).expect("the built-in scrubbing rules compile"));

/// Words that follow "Bearer" in prose rather than a token: `missing bearer token`, `Bearer auth required`.
const NOT_BEARER_TOKENS: &[&str] = &[
    "auth",
    "authentication",
    "authorization",
    "header",
    "scheme",
    "token",
    "tokens",
];

/// Compiles the rules now, so the first event does not wait for it.
pub(crate) fn warm_up() {
    LazyLock::force(&RULES_REGEX);
}

/// Appends the byte ranges of `text` that hold secrets to `out`: card numbers first, then the others, each in
/// order.
pub(crate) fn find_secrets(text: &str, out: &mut Vec<Range<usize>>) {
    find_card_numbers(text, out);
    let regex = &*RULES_REGEX;
    // Most text has no secret: a pass that stops at the first hit, without capture groups, says so cheaply.
    if !regex.is_match(text) {
        return;
    }
    let mut at = 0;
    while at < text.len() {
        let Some(caps) = regex.captures_at(text, at) else {
            break;
        };
        let whole = caps.get(0).map_or(at..at, |m| m.range());
        let before = out.len();
        secrets_of(&caps, out);
        at = if out.len() > before && !whole.is_empty() {
            whole.end
        } else {
            // A rejected match (`bearer token: abc`) may hide a rule that starts inside it: look again from the
            // next character.
            next_char(text, whole.start)
        };
    }
}

/// Appends the secrets of one match of the rules to `out`.
fn secrets_of(caps: &Captures<'_>, out: &mut Vec<Range<usize>>) {
    if let Some(m) = caps.name("header").or_else(|| caps.name("pair")) {
        out.push(unquoted(m.as_str(), m.range()));
    } else if let Some(m) = caps.name("bearer") {
        if !NOT_BEARER_TOKENS
            .iter()
            .any(|word| m.as_str().eq_ignore_ascii_case(word))
        {
            out.push(m.range());
        }
    } else if let Some(m) = caps.name("basic") {
        if is_basic_credentials(m.as_str()) {
            out.push(m.range());
        }
    } else if let Some(m) = caps.name("token") {
        if m.as_str().bytes().any(|b| b.is_ascii_digit()) {
            out.push(m.range());
        }
    } else if let Some(m) = caps.name("urlpass").or_else(|| caps.name("pem")) {
        out.push(m.range());
    }
}

/// `range`, which holds `value`, without the quotes around it, if it is quoted.
fn unquoted(value: &str, range: Range<usize>) -> Range<usize> {
    let value = value.as_bytes();
    match (value.first(), value.last()) {
        (Some(b'"'), Some(b'"')) | (Some(b'\''), Some(b'\'')) if value.len() >= 2 => {
            range.start + 1..range.end - 1
        }
        _ => range,
    }
}

/// The byte index of the character after the one at `i`.
fn next_char(text: &str, i: usize) -> usize {
    text[i..]
        .chars()
        .next()
        .map_or(text.len(), |c| i + c.len_utf8())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` with each secret the rules find replaced by `[Filtered]`, ranges that overlap or touch as one.
    fn scrub(text: &str) -> String {
        let mut ranges = Vec::new();
        find_secrets(text, &mut ranges);
        ranges.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::new();
        for r in ranges {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let mut out = String::new();
        let mut copied = 0;
        for r in merged {
            out.push_str(&text[copied..r.start]);
            out.push_str("[Filtered]");
            copied = r.end;
        }
        out.push_str(&text[copied..]);
        out
    }

    /// Each case is filtered as expected.
    fn filters(cases: &[(&str, &str)]) {
        for (text, expected) in cases {
            assert_eq!(&scrub(text), expected, "{text:?}");
        }
    }

    /// Each text is left as it is.
    fn keeps(texts: &[&str]) {
        for text in texts {
            assert_eq!(&scrub(text), text, "{text:?}");
        }
    }

    #[test]
    fn the_rules_compile() {
        warm_up();
        assert!(RULES_REGEX.captures_len() > 7);
    }

    #[test]
    fn authorization_headers() {
        filters(&[
            ("Authorization: Bearer xyz", "Authorization: [Filtered]"),
            (
                "request failed\nauthorization: Digest username=\"a\", response=\"b\"\nhost: x",
                "request failed\nauthorization: [Filtered]\nhost: x",
            ),
            (
                r#"{"Authorization": "Basic dXNlcjpwYXNz", "host": "x"}"#,
                r#"{"Authorization": "[Filtered]", "host": "x"}"#,
            ),
            (
                "Proxy-Authorization: Negotiate abc",
                "Proxy-Authorization: [Filtered]",
            ),
        ]);
        keeps(&[
            "authorization failed for user 42",
            "Authorization:",
            "missing Authorization header",
            "reauthorization: required",
        ]);
    }

    #[test]
    fn key_value_pairs() {
        filters(&[
            (
                "password=hunter4 Authorization: Bearer xyz",
                "password=[Filtered] Authorization: [Filtered]",
            ),
            (
                "login with password: hunter2",
                "login with password: [Filtered]",
            ),
            (
                r#"{"user": "ada", "password": "hunter2"}"#,
                r#"{"user": "ada", "password": "[Filtered]"}"#,
            ),
            (
                r#"Config { db_password: "a \"quoted\" one", port: 5432 }"#,
                r#"Config { db_password: "[Filtered]", port: 5432 }"#,
            ),
            (
                "GET /cb?code=1&access_token=abc.def&x=1",
                "GET /cb?code=1&access_token=[Filtered]&x=1",
            ),
            ("X-Auth-Token: 0a1b2c", "X-Auth-Token: [Filtered]"),
            ("secret='s3cr3t' key=1", "secret='[Filtered]' key=1"),
            ("API_KEY=abc123, region=eu", "API_KEY=[Filtered], region=eu"),
            ("apiKey: abc", "apiKey: [Filtered]"),
            (
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI",
                "AWS_SECRET_ACCESS_KEY=[Filtered]",
            ),
            ("client_secret = abc", "client_secret = [Filtered]"),
            ("--passphrase=open-sesame", "--passphrase=[Filtered]"),
            ("token: Bearer abc", "token: [Filtered]"),
        ]);
        keeps(&[
            "password reset requested",
            "password reset for ada@example.com",
            "tokenizer=fast",
            "max_tokens=4096",
            "password_length=12",
            "secret_name=prod-db",
            "password=",
            "password: ",
            "token_type=bearer",
            // Already filtered: scrubbing twice changes nothing.
            "password=[Filtered]",
        ]);
    }

    #[test]
    fn authorization_schemes() {
        filters(&[
            (
                "sent Bearer eyJhbGciOi.eyJzdWIi.SflKxw",
                "sent Bearer [Filtered]",
            ),
            ("bearer abc/def+ghi==", "bearer [Filtered]"),
            ("Basic dXNlcjpwYXNz", "Basic [Filtered]"),
            (
                "Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b rejected",
                "Token [Filtered] rejected",
            ),
            // A rejected match does not hide a rule that starts inside it.
            (
                "missing bearer token: abc",
                "missing bearer token: [Filtered]",
            ),
        ]);
        keeps(&[
            "Bearer",
            "expected Bearer, got Basic",
            "missing bearer token",
            "Basic setup failed",
            "basic auth is off",
            "Token expired",
            "token refresh_failed_for_everyone",
            "tokens 123 used",
        ]);
    }

    #[test]
    fn passwords_in_urls() {
        filters(&[
            (
                "cannot reach https://user:pass@example.com/x",
                "cannot reach https://user:[Filtered]@example.com/x",
            ),
            (
                "postgres://app:h@ck3r@db:5432/app",
                "postgres://app:[Filtered]@db:5432/app",
            ),
            ("redis://:hunter2@cache", "redis://:[Filtered]@cache"),
        ]);
        keeps(&[
            "https://example.com:8443/path?q=1",
            "https://user@example.com/x",
            "http://example.com/users/ada@example.com",
            "https://example.com:8080/a@b",
            "mailto:ada@example.com",
            "ssh://git@github.com:22/org/repo",
        ]);
    }

    #[test]
    fn pem_private_keys() {
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\nq8Zr\n-----END RSA PRIVATE KEY-----";
        filters(&[
            (
                &format!("loaded {key} from disk"),
                "loaded -----BEGIN RSA PRIVATE KEY-----\n[Filtered]\n-----END RSA PRIVATE KEY----- from disk",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\r\nMIIE\r\n-----END PRIVATE KEY-----",
                "-----BEGIN PRIVATE KEY-----\r\n[Filtered]\r\n-----END PRIVATE KEY-----",
            ),
            (
                "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk",
                "-----BEGIN OPENSSH PRIVATE KEY-----\n[Filtered]",
            ),
            (
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
                "-----BEGIN PGP PRIVATE KEY BLOCK-----\n[Filtered]\n-----END PGP PRIVATE KEY BLOCK-----",
            ),
        ]);
        keeps(&[
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
            "-----BEGIN PRIVATE KEY-----",
        ]);
    }

    #[test]
    fn card_numbers_in_text() {
        filters(&[
            ("charged 4111111111111111 ok", "charged [Filtered] ok"),
            (
                "card 4111 1111 1111 1111, exp 12/29",
                "card [Filtered], exp 12/29",
            ),
            ("card=5555-5555-5555-4444", "card=[Filtered]"),
            ("amex 378282246310005.", "amex [Filtered]."),
            (
                "charged 4111111111111111 2 times",
                "charged [Filtered] 2 times",
            ),
        ]);
        keeps(&[
            "order 4111111111111112 shipped",
            "at 1718031234566 ms",
            "id 41111111111111111111",
            "ref abc4111111111111111",
            "ref 4111111111111111abc",
            "build 20240613123456",
            "call +44 20 7946 0958",
        ]);
    }
}
