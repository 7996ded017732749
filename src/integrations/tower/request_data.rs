//! The `request` data of an HTTP request: method, URL, query string and headers, without a body ever, and without
//! cookies, authorization or client addresses unless `send_default_pii`.

use std::collections::BTreeMap;

use crate::protocol::Request;

/// Headers that identify a person or carry credentials: sent only with `send_default_pii`.
const PERSONAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
];

/// The request data of `request`, with personal headers only if `send_default_pii`.
pub(super) fn request_data<B>(request: &http::Request<B>, send_default_pii: bool) -> Request {
    let uri = request.uri();
    let host = uri.host().map(str::to_owned).or_else(|| {
        request
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
    });
    let scheme = uri.scheme_str().unwrap_or("http");
    let url = match host {
        Some(host) => format!("{scheme}://{host}{}", uri.path()),
        None => uri.path().to_owned(),
    };
    let mut headers = BTreeMap::new();
    for (name, value) in request.headers() {
        let name = name.as_str();
        if !send_default_pii && PERSONAL_HEADERS.contains(&name) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(header_case(name))
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    #[cfg_attr(
        not(feature = "axum"),
        expect(unused_mut, reason = "only axum's ConnectInfo fills it")
    )]
    let mut env = BTreeMap::new();
    #[cfg(feature = "axum")]
    if send_default_pii {
        use axum::extract::ConnectInfo;
        if let Some(ConnectInfo(addr)) = request
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
        {
            env.insert("REMOTE_ADDR".to_owned(), addr.ip().to_string());
        }
    }
    Request {
        url: Some(url),
        method: Some(request.method().as_str().to_owned()),
        query_string: uri.query().map(str::to_owned),
        headers,
        env,
    }
}

/// `user-agent` as `User-Agent`: how Sentry shows header names.
fn header_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> http::Request<()> {
        http::Request::builder()
            .method("POST")
            .uri("/orders/7?page=2")
            .header("host", "shop.example")
            .header("user-agent", "curl/8")
            .header("cookie", "session=abc")
            .header("authorization", "Bearer t")
            .header("x-forwarded-for", "203.0.113.9")
            .body(())
            .unwrap()
    }

    #[test]
    fn personal_headers_only_with_send_default_pii() {
        let data = request_data(&request(), false);
        assert_eq!(data.url.as_deref(), Some("http://shop.example/orders/7"));
        assert_eq!(data.method.as_deref(), Some("POST"));
        assert_eq!(data.query_string.as_deref(), Some("page=2"));
        assert_eq!(data.headers["User-Agent"], "curl/8");
        for personal in ["Cookie", "Authorization", "X-Forwarded-For"] {
            assert!(!data.headers.contains_key(personal), "{personal}");
        }
        let pii = request_data(&request(), true);
        assert_eq!(pii.headers["Cookie"], "session=abc");
        assert_eq!(pii.headers["Authorization"], "Bearer t");
        assert_eq!(pii.headers["X-Forwarded-For"], "203.0.113.9");
    }
}
