//! The DSN: where events go and the key that authenticates them.
//!
//! Grammar (the Sentry developer documentation, "DSN"):
//!
//! ```text
//! dsn        = scheme "://" public_key [ ":" secret_key ] "@" host [ ":" port ] [ path ] "/" project_id
//! scheme     = "http" / "https"
//! path       = *( "/" segment )          ; a prefix kept in the endpoint URL
//! project_id = 1*DIGIT
//! ```
//!
//! The envelope endpoint is `{scheme}://{host}[:{port}]{path}/api/{project_id}/envelope/`.

use std::fmt;
use std::str::FromStr;

use crate::protocol::PROTOCOL_VERSION;

/// A parsed DSN.
///
/// Its `Display` and `Debug` output never contain the secret key (the legacy `:secret` part), so a DSN can be logged.
///
/// ```
/// let dsn: faultline::Dsn = "https://abc123@o1.ingest.example.com/prefix/42".parse()?;
/// assert_eq!(dsn.project_id(), "42");
/// assert_eq!(dsn.envelope_url(), "https://o1.ingest.example.com/prefix/api/42/envelope/");
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

/// Why a string is not a valid [`Dsn`]. The message names the part that is wrong and never repeats the key.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseDsnError {
    /// There is no `scheme://`.
    MissingScheme,
    /// The scheme is neither `http` nor `https`.
    UnsupportedScheme(String),
    /// There is no `public_key@` before the host.
    MissingPublicKey,
    /// The host is empty.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// There is no project id after the host.
    MissingProjectId,
    /// The project id is not a number.
    InvalidProjectId,
}

impl fmt::Display for ParseDsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseDsnError::MissingScheme => {
                f.write_str("missing scheme (expected http:// or https://)")
            }
            ParseDsnError::UnsupportedScheme(s) => {
                write!(f, "unsupported scheme {s:?} (expected http or https)")
            }
            ParseDsnError::MissingPublicKey => f.write_str("missing public key before '@'"),
            ParseDsnError::MissingHost => f.write_str("missing host"),
            ParseDsnError::InvalidPort => f.write_str("invalid port"),
            ParseDsnError::MissingProjectId => f.write_str("missing project id"),
            ParseDsnError::InvalidProjectId => f.write_str("project id is not a number"),
        }
    }
}

impl std::error::Error for ParseDsnError {}

impl FromStr for Dsn {
    type Err = ParseDsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (scheme, rest) = s.split_once("://").ok_or(ParseDsnError::MissingScheme)?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            "" => return Err(ParseDsnError::MissingScheme),
            other => return Err(ParseDsnError::UnsupportedScheme(other.to_owned())),
        };
        // Query strings and fragments carry nothing a DSN needs; ignore them as other SDKs do.
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let (userinfo, rest) = rest
            .rsplit_once('@')
            .ok_or(ParseDsnError::MissingPublicKey)?;
        let (public_key, secret_key) = match userinfo.split_once(':') {
            Some((public, secret)) => (public, (!secret.is_empty()).then(|| secret.to_owned())),
            None => (userinfo, None),
        };
        if public_key.is_empty() {
            return Err(ParseDsnError::MissingPublicKey);
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err(ParseDsnError::MissingHost);
        }
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
        Ok(Dsn {
            scheme,
            public_key: public_key.to_owned(),
            secret_key,
            host: host.to_owned(),
            port: port.filter(|&p| p != scheme.default_port()),
            path: prefix.to_owned(),
            project_id: project_id.to_owned(),
        })
    }
}

/// Splits `host[:port]`, keeping IPv6 literals such as `[::1]:9000` whole.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), ParseDsnError> {
    let (host, port) = if authority.starts_with('[') {
        match authority.find(']') {
            Some(end) => {
                let (host, after) = authority.split_at(end + 1);
                match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None if after.is_empty() => (host, None),
                    None => return Err(ParseDsnError::InvalidPort),
                }
            }
            None => return Err(ParseDsnError::MissingHost),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(ParseDsnError::InvalidPort),
            Ok(p) => Some(p),
        },
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
    /// it out of its own diagnostics.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The legacy secret key, if the DSN has one.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    /// The host name or IP literal.
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
}

impl fmt::Display for Dsn {
    /// Writes the DSN without its secret key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}@", self.scheme.as_str(), self.public_key)?;
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host)?,
            None => f.write_str(&self.host)?,
        }
        write!(f, "{}/{}", self.path, self.project_id)
    }
}

impl fmt::Debug for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dsn")
            .field("scheme", &self.scheme)
            .field("public_key", &self.public_key)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("host", &self.host)
            .field("port", &self.port())
            .field("path", &self.path)
            .field("project_id", &self.project_id)
            .finish()
    }
}

impl serde::Serialize for Dsn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_dsns() {
        // (input, envelope url, Display, secret)
        let cases = [
            (
                "https://abc@sentry.io/42",
                "https://sentry.io/api/42/envelope/",
                "https://abc@sentry.io/42",
                None,
            ),
            (
                "http://abc@127.0.0.1:8000/1",
                "http://127.0.0.1:8000/api/1/envelope/",
                "http://abc@127.0.0.1:8000/1",
                None,
            ),
            (
                "https://abc:s3cr3t@host.example/a/b/7/",
                "https://host.example/a/b/api/7/envelope/",
                "https://abc@host.example/a/b/7",
                Some("s3cr3t"),
            ),
            (
                "https://abc@host:443/9",
                "https://host/api/9/envelope/",
                "https://abc@host/9",
                None,
            ),
            (
                "HTTP://abc@[::1]:9000/3?x=1",
                "http://[::1]:9000/api/3/envelope/",
                "http://abc@[::1]:9000/3",
                None,
            ),
        ];
        for (input, url, display, secret) in cases {
            let dsn: Dsn = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(dsn.envelope_url(), url, "{input}");
            assert_eq!(dsn.to_string(), display, "{input}");
            assert_eq!(dsn.secret_key(), secret, "{input}");
        }
    }

    #[test]
    fn each_invalid_kind() {
        use ParseDsnError::*;
        let cases = [
            ("abc@sentry.io/42", MissingScheme),
            ("://abc@sentry.io/42", MissingScheme),
            ("ftp://abc@sentry.io/42", UnsupportedScheme("ftp".into())),
            ("https://sentry.io/42", MissingPublicKey),
            ("https://@sentry.io/42", MissingPublicKey),
            ("https://:secret@sentry.io/42", MissingPublicKey),
            ("https://abc@/42", MissingHost),
            ("https://abc@:9000/42", MissingHost),
            ("https://abc@host:port/42", InvalidPort),
            ("https://abc@host:0/42", InvalidPort),
            ("https://abc@host:70000/42", InvalidPort),
            ("https://abc@host", MissingProjectId),
            ("https://abc@host/", MissingProjectId),
            ("https://abc@host/project", InvalidProjectId),
            ("https://abc@host/4x2", InvalidProjectId),
        ];
        for (input, want) in cases {
            assert_eq!(input.parse::<Dsn>(), Err(want), "{input}");
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
    fn the_secret_is_never_printed() {
        let dsn: Dsn = "https://pub:topsecret@host/1".parse().unwrap();
        assert!(!dsn.to_string().contains("topsecret"));
        assert!(!format!("{dsn:?}").contains("topsecret"));
        assert!(!format!("{dsn:#?}").contains("topsecret"));
        let err = "ftp://pub:topsecret@host/1".parse::<Dsn>().unwrap_err();
        assert!(!err.to_string().contains("topsecret"));
    }
}
