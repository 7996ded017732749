//! The DSN: where events go and the key that authenticates them.
//!
//! Grammar (the Sentry developer documentation, "DSN", within the URI syntax of RFC 3986):
//!
//! ```text
//! dsn         = scheme "://" userinfo "@" host [ ":" port ] [ path ] "/" project_id *"/"
//!               [ "?" query ] [ "#" fragment ]
//! scheme      = "http" / "https"                       ; in any case
//! userinfo    = public_key [ ":" [ secret_key ] ]
//! public_key  = 1*key-char
//! secret_key  = 1*( key-char / ":" )                   ; the legacy secret
//! key-char    = unreserved / pct-encoded / sub-delims  ; RFC 3986 userinfo characters other than ":"
//! host        = 1*( unreserved / pct-encoded / sub-delims ) / "[" 1*( HEXDIG / ":" / "." ) "]"
//! port        = 1*DIGIT                                ; 1 to 65535
//! path        = *( "/" *pchar )                        ; a prefix kept in the endpoint URL
//! project_id  = 1*DIGIT
//! ```
//!
//! The authority (userinfo, host and port) ends at the first `/`; the query and fragment are ignored, as other SDKs
//! do. Percent-encoded keys are kept as written. The envelope endpoint is
//! `{scheme}://{host}[:{port}]{path}/api/{project_id}/envelope/`.
//!
//! No text made for people shows a key: a [`ParseDsnError`] names the part that is wrong and never repeats any of the
//! input, and [`Dsn`]'s `Display` and `Debug` print the public key as `****` and leave the secret key out. The keys
//! go to the server in [`Dsn::auth_header`]; serialising a DSN writes its public key, which a receiver needs, and
//! not its secret key.

use std::fmt;
use std::str::FromStr;

use crate::protocol::PROTOCOL_VERSION;

/// A parsed DSN.
///
/// Its `Display` and `Debug` output never contain the keys: the public key is printed as `****` and the secret key
/// is left out, so a DSN can be logged. [`Dsn::public_key`] and [`Dsn::secret_key`] give the keys themselves, and
/// serialising a DSN (serde) writes it as a string with its public key and without the secret key, which parses
/// back to an equal DSN when it has no secret key.
///
/// ```
/// let dsn: faultline::Dsn = "https://abc123@o1.ingest.example.com/prefix/42".parse()?;
/// assert_eq!(dsn.project_id(), "42");
/// assert_eq!(dsn.envelope_url(), "https://o1.ingest.example.com/prefix/api/42/envelope/");
/// assert_eq!(dsn.to_string(), "https://****@o1.ingest.example.com/prefix/42");
/// # Ok::<(), faultline::ParseDsnError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dsn {
    scheme: Scheme,
    public_key: String,
    secret_key: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    project_id: String,
}

/// The transport scheme of a [`Dsn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Why a string is not a valid [`Dsn`].
///
/// The message names the part that is wrong and never repeats any of the input, so it cannot carry a key, whatever
/// the string was: a key typed where the scheme goes is as safe as one in its place.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseDsnError {
    /// There is no `scheme://`: nothing before the first `:` that can be a scheme (letters, digits, `+`, `-`, `.`,
    /// starting with a letter), or no `//` after it.
    MissingScheme,
    /// The scheme is neither `http` nor `https`.
    UnsupportedScheme,
    /// There is no `public_key@` before the host.
    MissingPublicKey,
    /// The public or secret key holds a character that a URL's user part cannot (a space, a control character,
    /// non-ASCII text, `/`, `@`, …), or a `%` not followed by two hex digits.
    InvalidKey,
    /// The host is empty.
    MissingHost,
    /// The host holds a character that a URL's host cannot, or is an unclosed or malformed `[…]` literal.
    InvalidHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// The path before the project id holds a character that a URL's path cannot.
    InvalidPath,
    /// There is no project id after the host.
    MissingProjectId,
    /// The project id is not a number.
    InvalidProjectId,
}

impl fmt::Display for ParseDsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseDsnError::MissingScheme => "missing scheme (expected http:// or https://)",
            ParseDsnError::UnsupportedScheme => "unsupported scheme (expected http or https)",
            ParseDsnError::MissingPublicKey => "missing public key before '@'",
            ParseDsnError::InvalidKey => "invalid character in a key",
            ParseDsnError::MissingHost => "missing host",
            ParseDsnError::InvalidHost => "invalid character in the host",
            ParseDsnError::InvalidPort => "invalid port",
            ParseDsnError::InvalidPath => "invalid character in the path",
            ParseDsnError::MissingProjectId => "missing project id",
            ParseDsnError::InvalidProjectId => "project id is not a number",
        })
    }
}

impl std::error::Error for ParseDsnError {}

impl FromStr for Dsn {
    type Err = ParseDsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = split_scheme(s).ok_or(ParseDsnError::MissingScheme)?;
        let scheme = if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else {
            return Err(ParseDsnError::UnsupportedScheme);
        };
        // Query strings and fragments carry nothing a DSN needs; ignore them as other SDKs do.
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (userinfo, host_port) = authority
            .rsplit_once('@')
            .ok_or(ParseDsnError::MissingPublicKey)?;
        let (public_key, secret_key) = match userinfo.split_once(':') {
            Some((public, secret)) => (public, (!secret.is_empty()).then_some(secret)),
            None => (userinfo, None),
        };
        if public_key.is_empty() {
            return Err(ParseDsnError::MissingPublicKey);
        }
        let secret_ok = secret_key.is_none_or(|secret| is_uri_text(secret, |b| b == b':'));
        if !is_uri_text(public_key, |_| false) || !secret_ok {
            return Err(ParseDsnError::InvalidKey);
        }
        let (host, port) = split_host_port(host_port)?;
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = match path.rfind('/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => return Err(ParseDsnError::MissingProjectId),
        };
        if project_id.is_empty() {
            return Err(ParseDsnError::MissingProjectId);
        }
        if !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseDsnError::InvalidProjectId);
        }
        if !is_uri_text(prefix, |b| matches!(b, b'/' | b':' | b'@')) {
            return Err(ParseDsnError::InvalidPath);
        }
        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            secret_key: secret_key.map(str::to_owned),
            host: host.to_owned(),
            port: port.filter(|&p| p != scheme.default_port()),
            path: prefix.to_owned(),
            project_id: project_id.to_owned(),
        })
    }
}

/// Splits `scheme://rest` into the scheme and `rest`, or `None` when the text before the first `:` cannot be a
/// scheme (RFC 3986: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`) or `//` does not follow it.
///
/// Only the first `:` is looked at: splitting at the first `://` instead would take `key:secret@host/1?u=http` as
/// the scheme of `key:secret@host/1?u=http://x`, and an error that names the scheme would then print the key.
fn split_scheme(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut bytes = scheme.bytes();
    let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
    let is_scheme = starts_with_letter
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    Some((scheme, rest.strip_prefix("//").filter(|_| is_scheme)?))
}

/// Whether `text` is made of RFC 3986 `unreserved`, `sub-delims` and `pct-encoded` characters only, plus the ASCII
/// characters `extra` allows.
fn is_uri_text(text: &str, extra: impl Fn(u8) -> bool) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
            continue;
        }
        let unreserved = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        let sub_delim = matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        );
        if !(unreserved || sub_delim || extra(b)) {
            return false;
        }
        i += 1;
    }
    true
}

/// Splits `host[:port]`, keeping IPv6 literals such as `[::1]:9000` whole, and checks both.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), ParseDsnError> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(ParseDsnError::InvalidHost)?;
        let (host, after) = authority.split_at(end + 1);
        let literal = &host[1..end];
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'))
        {
            return Err(ParseDsnError::InvalidHost);
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(ParseDsnError::InvalidPort),
        }
    } else {
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() {
            return Err(ParseDsnError::MissingHost);
        }
        if !is_uri_text(host, |_| false) {
            return Err(ParseDsnError::InvalidHost);
        }
        (host, port)
    };
    let port = match port {
        // Digits only: `u16::from_str` would also take a leading `+`.
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>()
        {
            Ok(0) | Err(_) => return Err(ParseDsnError::InvalidPort),
            Ok(p) => Some(p),
        },
        Some(_) => return Err(ParseDsnError::InvalidPort),
        None => None,
    };
    Ok((host, port))
}

impl Dsn {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The public key, which authenticates events. It is not secret in the browser sense, but faultline still keeps
    /// it out of its own diagnostics and of this type's `Display` and `Debug`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The legacy secret key, if the DSN has one.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    /// The host name or IP literal (an IPv6 literal with its brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the explicit one, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.scheme.default_port())
    }

    /// The path prefix between host and project id, without a trailing slash (often empty).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The Sentry organisation id that a sentry.io host names, as `o123` in `o123.ingest.sentry.io`; `None` for
    /// other hosts.
    ///
    /// ```
    /// let dsn: faultline::Dsn = "https://key@o123.ingest.us.sentry.io/4".parse()?;
    /// assert_eq!(dsn.org_id(), Some(123));
    /// let dsn: faultline::Dsn = "https://key@sentry.example.com/4".parse()?;
    /// assert_eq!(dsn.org_id(), None);
    /// # Ok::<(), faultline::ParseDsnError>(())
    /// ```
    pub fn org_id(&self) -> Option<u64> {
        let label = self.host.split('.').next()?;
        let digits = label.strip_prefix('o')?;
        if digits.is_empty()
            || !digits.bytes().all(|b| b.is_ascii_digit())
            || !self.host.contains('.')
        {
            return None;
        }
        digits.parse().ok()
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    fn base_url(&self) -> String {
        match self.port {
            Some(port) => format!(
                "{}://{}:{port}{}",
                self.scheme.as_str(),
                self.host,
                self.path
            ),
            None => format!("{}://{}{}", self.scheme.as_str(), self.host, self.path),
        }
    }

    /// The envelope endpoint, with its trailing slash.
    pub fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base_url(), self.project_id)
    }

    /// The value of the `X-Sentry-Auth` header for a client called `client` (e.g. `faultline/0.1.0`).
    pub fn auth_header(&self, client: &str) -> String {
        let mut value = format!(
            "Sentry sentry_version={PROTOCOL_VERSION}, sentry_client={client}, sentry_key={}",
            self.public_key
        );
        if let Some(secret) = &self.secret_key {
            value.push_str(", sentry_secret=");
            value.push_str(secret);
        }
        value
    }

    /// Writes the DSN without the secret key, with `public_key` in the key's place.
    fn write_with(&self, f: &mut fmt::Formatter<'_>, public_key: &str) -> fmt::Result {
        write!(f, "{}://{public_key}@", self.scheme.as_str())?;
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host)?,
            None => f.write_str(&self.host)?,
        }
        write!(f, "{}/{}", self.path, self.project_id)
    }
}

/// What `Display` and `Debug` print in place of a key.
const MASK: &str = "****";

impl fmt::Display for Dsn {
    /// Writes the DSN with its public key masked and without its secret key: `https://****@host/42`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_with(f, MASK)
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dsn")
            .field("scheme", &self.scheme)
            .field("public_key", &MASK)
            .field("secret_key", &self.secret_key.as_ref().map(|_| MASK))
            .field("host", &self.host)
            .field("port", &self.port())
            .field("path", &self.path)
            .field("project_id", &self.project_id)
            .finish()
    }
}

impl serde::Serialize for Dsn {
    /// Writes the DSN as a string with the public key (a receiver needs it to send there) and without the secret key.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The DSN with its public key, for `collect_str`.
        struct WithPublicKey<'a>(&'a Dsn);

        impl fmt::Display for WithPublicKey<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_with(f, &self.0.public_key)
            }
        }

        s.collect_str(&WithPublicKey(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dsns() {
        // (input, envelope url, Display, public key, secret key)
        let cases = [
            (
                "https://abc@sentry.io/42",
                "https://sentry.io/api/42/envelope/",
                "https://****@sentry.io/42",
                "abc",
                None,
            ),
            (
                "http://abc@127.0.0.1:8000/1",
                "http://127.0.0.1:8000/api/1/envelope/",
                "http://****@127.0.0.1:8000/1",
                "abc",
                None,
            ),
            (
                "https://abc:s3cr3t@host.example/a/b/7/",
                "https://host.example/a/b/api/7/envelope/",
                "https://****@host.example/a/b/7",
                "abc",
                Some("s3cr3t"),
            ),
            (
                "https://abc@host:443/9",
                "https://host/api/9/envelope/",
                "https://****@host/9",
                "abc",
                None,
            ),
            (
                "HTTP://abc@[::1]:9000/3?x=1",
                "http://[::1]:9000/api/3/envelope/",
                "http://****@[::1]:9000/3",
                "abc",
                None,
            ),
            (
                "  https://a%2Fb:c:d@host-1.example_x/p:q/@r/5#frag ",
                "https://host-1.example_x/p:q/@r/api/5/envelope/",
                "https://****@host-1.example_x/p:q/@r/5",
                "a%2Fb",
                Some("c:d"),
            ),
            (
                "https://abc:@host/8",
                "https://host/api/8/envelope/",
                "https://****@host/8",
                "abc",
                None,
            ),
        ];
        for (input, url, display, public, secret) in cases {
            let dsn: Dsn = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(dsn.envelope_url(), url, "{input}");
            assert_eq!(dsn.to_string(), display, "{input}");
            assert_eq!(dsn.public_key(), public, "{input}");
            assert_eq!(dsn.secret_key(), secret, "{input}");
        }
    }

    #[test]
    fn each_invalid_kind() {
        use ParseDsnError::*;
        let cases = [
            ("abc@sentry.io/42", MissingScheme),
            ("://abc@sentry.io/42", MissingScheme),
            ("https:abc@sentry.io/42", MissingScheme),
            ("https:/abc@sentry.io/42", MissingScheme),
            ("1http://abc@sentry.io/42", MissingScheme),
            ("ht tp://abc@sentry.io/42", MissingScheme),
            ("abc:def@sentry.io/42?u=http://x", MissingScheme),
            ("ftp://abc@sentry.io/42", UnsupportedScheme),
            ("git+ssh://abc@sentry.io/42", UnsupportedScheme),
            ("https://sentry.io/42", MissingPublicKey),
            ("https://@sentry.io/42", MissingPublicKey),
            ("https://:secret@sentry.io/42", MissingPublicKey),
            ("https://a/b@sentry.io/42", MissingPublicKey),
            ("https://a?b@sentry.io/42", MissingPublicKey),
            ("https://a b@sentry.io/42", InvalidKey),
            ("https://a@b@sentry.io/42", InvalidKey),
            ("https://a:b@c@sentry.io/42", InvalidKey),
            ("https://ключ@sentry.io/42", InvalidKey),
            ("https://a\tb@sentry.io/42", InvalidKey),
            ("https://a%2@sentry.io/42", InvalidKey),
            ("https://a%zz@sentry.io/42", InvalidKey),
            ("https://a:b c@sentry.io/42", InvalidKey),
            ("https://a:b%@sentry.io/42", InvalidKey),
            ("https://abc@/42", MissingHost),
            ("https://abc@:9000/42", MissingHost),
            ("https://abc@ho st/42", InvalidHost),
            ("https://abc@hôst/42", InvalidHost),
            ("https://abc@a:b:9000/42", InvalidHost),
            ("https://abc@[::1/42", InvalidHost),
            ("https://abc@[]/42", InvalidHost),
            ("https://abc@[::g]/42", InvalidHost),
            ("https://abc@[::1]x/42", InvalidPort),
            ("https://abc@host:port/42", InvalidPort),
            ("https://abc@host:/42", InvalidPort),
            ("https://abc@host:+80/42", InvalidPort),
            ("https://abc@host:0/42", InvalidPort),
            ("https://abc@host:70000/42", InvalidPort),
            ("https://abc@host/a b/42", InvalidPath),
            ("https://abc@host/a\nb/42", InvalidPath),
            ("https://abc@host", MissingProjectId),
            ("https://abc@host/", MissingProjectId),
            ("https://abc@host/project", InvalidProjectId),
            ("https://abc@host/4x2", InvalidProjectId),
            ("https://abc@host/4 2", InvalidProjectId),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Dsn>(), Err(want), "{input:?}");
        }
    }

    #[test]
    fn auth_header_has_the_secret_only_when_present() {
        let plain: Dsn = "https://pub@host/1".parse().unwrap();
        assert_eq!(
            plain.auth_header("faultline/0.1.0"),
            "Sentry sentry_version=7, sentry_client=faultline/0.1.0, sentry_key=pub"
        );
        let legacy: Dsn = "https://pub:sec@host/1".parse().unwrap();
        assert_eq!(
            legacy.auth_header("faultline/0.1.0"),
            "Sentry sentry_version=7, sentry_client=faultline/0.1.0, sentry_key=pub, sentry_secret=sec"
        );
    }

    #[test]
    fn display_and_debug_print_neither_key() {
        let dsn: Dsn = "https://pubkey42:topsecret@host:8443/1".parse().unwrap();
        for text in [dsn.to_string(), format!("{dsn:?}"), format!("{dsn:#?}")] {
            assert!(!text.contains("pubkey42"), "{text}");
            assert!(!text.contains("topsecret"), "{text}");
            assert!(text.contains("****") && text.contains("host"), "{text}");
        }
        assert_eq!(dsn.to_string(), "https://****@host:8443/1");
    }

    #[test]
    fn serialised_with_the_public_key_and_without_the_secret() {
        let dsn: Dsn = "https://pubkey42:topsecret@host:8443/p/1".parse().unwrap();
        let json = serde_json::to_string(&dsn).unwrap();
        assert_eq!(json, r#""https://pubkey42@host:8443/p/1""#);
        let back: Dsn = serde_json::from_str::<String>(&json)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(back.public_key(), "pubkey42");
        assert_eq!(back.secret_key(), None);
        assert_eq!(back.envelope_url(), dsn.envelope_url());
    }
}
