//! A loopback HTTP/1.1 peer for the integration tests: it stands in for a Sentry server.
//!
//! [`TestServer::start`] binds `127.0.0.1:0` and answers every request with the [`Reply`] a
//! script chooses, which can also misbehave (hang, trickle, cut the response, send garbage),
//! so transport failure modes can be tested. Every complete request is recorded; a
//! [`Request`] parses its body as a Sentry [`Envelope`].
//!
//! Standard library plus `serde_json` only, so it adds nothing to the dev-dependencies.
//! Server threads never panic: a client may vanish at any byte, and a panic on a background
//! thread would be lost. A panic in the script itself is caught, answered with a 500, and
//! re-raised when the server is dropped, so the test still fails and says why.

// Each test binary includes this module with `mod support;` and uses a different subset of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Makes the tests of one binary that install the process-wide client take turns: hold the guard for the test.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Longest request line or header line accepted, so garbage cannot grow a line without bound.
const MAX_LINE: u64 = 64 * 1024;

/// One complete HTTP request as the server received it.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent, query string included (e.g. `/api/42/envelope/`).
    pub path: String,
    /// Header names keep the case the client sent; look them up with [`Request::header`].
    pub headers: Vec<(String, String)>,
    /// The body as sent: de-chunked, but not decoded (see [`Request::decoded_body`]).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// The body with its `Content-Encoding` undone.
    ///
    /// Only identity for now. Extension point: when the transport starts compressing,
    /// decode `gzip` here, and every helper built on this one follows.
    pub fn decoded_body(&self) -> Vec<u8> {
        match self.header("content-encoding").map(str::trim) {
            None | Some("") => self.body.clone(),
            Some(e) if e.eq_ignore_ascii_case("identity") => self.body.clone(),
            Some(e) if e.eq_ignore_ascii_case("gzip") => gunzip(&self.body),
            Some(other) => panic!(
                "request body has Content-Encoding `{other}`, which tests/support cannot decode yet: \
                 add it to Request::decoded_body"
            ),
        }
    }

    /// Whether the body came gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.header("content-encoding")
            .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
    }

    /// The (decoded) body parsed as a Sentry envelope; panics with the reason if it is not one.
    pub fn envelope(&self) -> Envelope {
        Envelope::parse(&self.decoded_body())
            .unwrap_or_else(|e| panic!("{self:?}: body is not a valid envelope: {e}"))
    }

    /// Whether the connection stays open after this request, per its version and `Connection`.
    fn keep_alive(&self, version: &str) -> bool {
        let has = |token: &str| {
            self.header("connection")
                .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        };
        if version == "HTTP/1.0" {
            has("keep-alive")
        } else {
            !has("close")
        }
    }
}

impl fmt::Debug for Request {
    // Bodies are mostly JSON: showing them as text makes failed assertions readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// A parsed Sentry envelope: a JSON header line, then items of a JSON header line and a payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub headers: serde_json::Value,
    /// Each item's header and its payload bytes.
    pub items: Vec<(serde_json::Value, Vec<u8>)>,
}

impl Envelope {
    /// Parses an envelope strictly, so that a wrong `length` from the SDK fails the test.
    ///
    /// An item header with `length` is followed by exactly that many bytes, then `\n` or the
    /// end; one without runs to the next `\n` or the end.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, String> {
        fn line(bytes: &[u8], pos: &mut usize) -> Vec<u8> {
            let rest = &bytes[*pos..];
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            *pos += (end + 1).min(rest.len());
            rest[..end].to_vec()
        }
        fn json(line: &[u8], what: &str) -> Result<serde_json::Value, String> {
            serde_json::from_slice(line)
                .map_err(|e| format!("{what} `{}`: {e}", String::from_utf8_lossy(line)))
        }
        let mut pos = 0;
        let headers = json(&line(bytes, &mut pos), "envelope header")?;
        let mut items = Vec::new();
        while pos < bytes.len() {
            let n = items.len();
            let header = json(&line(bytes, &mut pos), &format!("item {n} header"))?;
            let payload = match header.get("length") {
                None => line(bytes, &mut pos),
                Some(len) => {
                    let len = len.as_u64().ok_or(format!("item {n}: bad length {len}"))? as usize;
                    let payload = bytes.get(pos..pos + len).ok_or(format!(
                        "item {n}: length {len} but only {} bytes left",
                        bytes.len() - pos
                    ))?;
                    pos += len;
                    match bytes.get(pos) {
                        None => {}
                        Some(b'\n') => pos += 1,
                        Some(_) => return Err(format!("item {n}: payload is longer than {len}")),
                    }
                    payload.to_vec()
                }
            };
            items.push((header, payload));
        }
        Ok(Envelope { headers, items })
    }

    /// The first item whose header has `"type": ty`.
    pub fn item(&self, ty: &str) -> Option<(&serde_json::Value, &[u8])> {
        self.items
            .iter()
            .find(|(h, _)| h["type"] == ty)
            .map(|(h, p)| (h, p.as_slice()))
    }

    /// The payload of the first `event` item, parsed; panics if it is not JSON.
    pub fn event(&self) -> Option<serde_json::Value> {
        let (_, payload) = self.item("event")?;
        Some(serde_json::from_slice(payload).unwrap_or_else(|e| {
            panic!(
                "event payload is not JSON ({e}): {}",
                String::from_utf8_lossy(payload)
            )
        }))
    }
}

/// What the server does with a request (the request is recorded whatever the reply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A normal response. `Content-Length` is added unless given; the connection is kept
    /// alive unless the request or these headers say `Connection: close`.
    Status {
        code: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Never answer; the connection is closed only when the server is dropped.
    Hang,
    /// A valid `200` with body `{}`, written one byte at a time with `per_byte` between bytes.
    Trickle { per_byte: Duration },
    /// The full response head announcing a 64-byte body, 16 bytes of it, then close.
    CloseMidResponse,
    /// Bytes that are not HTTP, then close.
    Garbage,
    /// Close without answering.
    Close,
}

impl Reply {
    /// `code` with no headers and an empty body.
    pub fn status(code: u16) -> Reply {
        Reply::Status {
            code,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `200` with a JSON body `{}`, what a Sentry server answers an accepted envelope with.
    pub fn ok() -> Reply {
        Reply::status(200)
            .header("Content-Type", "application/json")
            .body("{}")
    }

    /// Adds a response header; panics unless `self` is [`Reply::Status`].
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Status { headers, .. } => headers.push((name.into(), value.into())),
            other => panic!("Reply::header on {other:?}: only Reply::Status has headers"),
        }
        self
    }

    /// Sets the response body; panics unless `self` is [`Reply::Status`].
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Reply {
        match &mut self {
            Reply::Status { body, .. } => *body = bytes.into(),
            other => panic!("Reply::body on {other:?}: only Reply::Status has a body"),
        }
        self
    }
}

type Script = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// Undoes gzip (RFC 1952) as a server would, with flate2's decoder, which checks the header, the CRC-32 and the
/// length; panics on any mismatch or on trailing bytes.
fn gunzip(body: &[u8]) -> Vec<u8> {
    use std::io::Read as _;

    let mut decoder = flate2::read::GzDecoder::new(body);
    let mut data = Vec::new();
    decoder
        .read_to_end(&mut data)
        .expect("a valid gzip body (header, deflate stream, CRC-32 and length)");
    assert!(
        decoder.into_inner().is_empty(),
        "bytes after the gzip member"
    );
    data
}

/// A loopback address where nothing listens (yet): connections to it are refused, as with a server that is down.
pub fn unused_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr")
}

/// A DSN for a server at `addr`.
pub fn dsn_at(addr: SocketAddr, public_key: &str, project_id: impl fmt::Display) -> String {
    format!("http://{public_key}@{addr}/{project_id}")
}

/// A loopback HTTP/1.1 server that answers with a script; stops and closes every connection
/// when dropped. See the module docs.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    script: Box<Script>,
    state: Mutex<State>,
    /// Signalled when a request is recorded and on shutdown.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    shutdown: bool,
    requests: Vec<Request>,
    connections: usize,
    /// A clone of each open connection, to shut it down on drop (this unblocks its reader).
    open: HashMap<usize, TcpStream>,
    workers: Vec<JoinHandle<()>>,
    /// Script panics, re-raised by Drop.
    panics: Vec<String>,
}

impl TestServer {
    /// Starts serving on `127.0.0.1` (a free port), one thread per connection.
    ///
    /// `script` gets every complete request and its 0-based index across the whole server.
    pub fn start(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start_at("127.0.0.1:0".parse().expect("an address"), script)
    }

    /// Like [`TestServer::start`], on a given address: to bring a server "back up" on the port of one that a test
    /// took down (see [`unused_addr`]).
    pub fn start_at(
        addr: SocketAddr,
        script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> TestServer {
        let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            script: Box::new(script),
            state: Mutex::default(),
            changed: Condvar::new(),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("test-server-accept".into())
                .spawn(move || accept_loop(&listener, &shared))
                .expect("spawn acceptor")
        };
        TestServer {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// A server that answers every request with [`Reply::ok`].
    pub fn ok() -> TestServer {
        TestServer::start(|_, _| Reply::ok())
    }

    /// The bound address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A DSN pointing at this server: `http://{public_key}@127.0.0.1:PORT/{project_id}`.
    pub fn dsn(&self, public_key: &str, project_id: impl fmt::Display) -> String {
        format!("http://{public_key}@{}/{project_id}", self.addr)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    /// Waits until at least `n` requests were received or `timeout` passed, and returns them.
    /// It does not panic on timeout, so the caller's assertion shows how many came.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.requests.len() < n {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.requests.clone()
    }

    /// How many TCP connections were accepted, to tell keep-alive from reconnecting.
    pub fn connections(&self) -> usize {
        self.shared.lock().connections
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let (open, workers) = {
            let mut state = self.shared.lock();
            state.shutdown = true;
            (
                std::mem::take(&mut state.open),
                std::mem::take(&mut state.workers),
            )
        };
        self.shared.changed.notify_all(); // wakes Hang and Trickle
        // The acceptor is blocked in accept(): a connection wakes it and it sees `shutdown`.
        // Should that fail, leave the thread detached rather than hang the test.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
            if let Some(acceptor) = self.acceptor.take() {
                let _ = acceptor.join();
            }
        }
        for stream in open.values() {
            let _ = stream.shutdown(Shutdown::Both); // unblocks a read or write in progress
        }
        let mut panics = Vec::new();
        for worker in workers {
            if worker.join().is_err() {
                panics.push("a connection thread panicked (a bug in tests/support)".to_string());
            }
        }
        panics.append(&mut self.shared.lock().panics);
        if !panics.is_empty() && !thread::panicking() {
            panic!("TestServer: {}", panics.join("; "));
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked; the state is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `d` (forever if `None`); returns `false` if the server shut down meanwhile.
    fn pause(&self, d: Option<Duration>) -> bool {
        let deadline = d.map(|d| Instant::now() + d);
        let mut state = self.lock();
        while !state.shutdown {
            state = match deadline.map(|t| t.checked_duration_since(Instant::now())) {
                None => self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(None) => return true,
                Some(Some(left)) => {
                    self.changed
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        false
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for (id, stream) in listener.incoming().enumerate() {
        let mut state = shared.lock();
        if state.shutdown {
            return;
        }
        let Ok(stream) = stream else { continue };
        let Ok(clone) = stream.try_clone() else {
            continue;
        };
        let _ = stream.set_nodelay(true); // so Trickle's bytes leave one by one
        let worker = {
            let shared = Arc::clone(shared);
            thread::Builder::new()
                .name(format!("test-server-conn-{id}"))
                .spawn(move || serve(&shared, id, stream))
        };
        // Registered under the lock that Drop takes, so no connection escapes the shutdown.
        if let Ok(worker) = worker {
            state.connections += 1;
            state.open.insert(id, clone);
            state.workers.push(worker);
        }
    }
}

/// Serves one connection until either side closes it, then closes it for real: the clone kept
/// for Drop would otherwise hold the socket open.
fn serve(shared: &Shared, id: usize, stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    let _ = serve_requests(shared, &mut reader);
    let stream = reader.into_inner();
    let _ = stream.shutdown(Shutdown::Both);
    shared.lock().open.remove(&id);
}

fn serve_requests(shared: &Shared, reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    loop {
        let (request, version) = match read_request(reader) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                let bad =
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                return reader.get_ref().write_all(bad.as_bytes());
            }
            Err(e) => return Err(e),
        };
        let index = {
            let mut state = shared.lock();
            state.requests.push(request.clone());
            state.requests.len() - 1
        };
        shared.changed.notify_all();
        let reply = catch_unwind(AssertUnwindSafe(|| (shared.script)(&request, index)))
            .unwrap_or_else(|panic| {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                let msg = format!(
                    "script panicked on request {index} ({} {}): {msg}",
                    request.method, request.path
                );
                shared.lock().panics.push(msg.clone());
                Reply::status(500).body(msg)
            });
        let mut out = reader.get_ref();
        match reply {
            Reply::Status {
                code,
                headers,
                body,
            } => {
                let close = !request.keep_alive(&version)
                    || header(&headers, "connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
                for (k, v) in &headers {
                    head += &format!("{k}: {v}\r\n");
                }
                if header(&headers, "content-length").is_none() {
                    head += &format!("Content-Length: {}\r\n", body.len());
                }
                if close && header(&headers, "connection").is_none() {
                    head += "Connection: close\r\n";
                }
                head += "\r\n";
                out.write_all(&[head.into_bytes(), body].concat())?;
                if close {
                    return Ok(());
                }
            }
            Reply::Hang => {
                shared.pause(None);
                return Ok(());
            }
            Reply::Trickle { per_byte } => {
                let response = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
                for byte in response {
                    out.write_all(&[*byte])?;
                    if !shared.pause(Some(per_byte)) {
                        return Ok(());
                    }
                }
            }
            Reply::CloseMidResponse => {
                let partial = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{\"id\":\"0123456";
                return out.write_all(partial);
            }
            Reply::Garbage => return out.write_all(b"\x00\xffNOT HTTP AT ALL\r\n\x13\x37\r\n\r\n"),
            Reply::Close => return Ok(()),
        }
    }
}

/// Reads one request; `Ok(None)` if the client closed the connection cleanly between requests.
/// Returns the request and its HTTP version. Malformed input is `InvalidData`.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<(Request, String)>> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    // Tolerate empty lines before the request line (RFC 9112, section 2.2).
    let request_line = loop {
        match read_line(reader)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(path), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(format!("bad request line `{request_line}`")));
    };
    let (method, path, version) = (method.to_string(), path.to_string(), version.to_string());
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| eof("headers"))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line `{line}`")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        reader
            .get_ref()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(reader)?
    } else if let Some(len) = header(&headers, "content-length") {
        let len = len
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length `{len}`")))?;
        read_exact(reader, len)?
    } else {
        Vec::new()
    };
    Ok(Some((
        Request {
            method,
            path,
            headers,
            body,
        },
        version,
    )))
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| eof("chunk size"))?;
        let size = line.split(';').next().unwrap_or("").trim(); // drop chunk extensions
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size `{line}`"),
            )
        })?;
        if size == 0 {
            // Trailers (ignored) up to the empty line.
            while !read_line(reader)?
                .ok_or_else(|| eof("trailers"))?
                .is_empty()
            {}
            return Ok(body);
        }
        body.extend(read_exact(reader, size)?);
        if !read_line(reader)?.ok_or_else(|| eof("chunk"))?.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "chunk longer than its size",
            ));
        }
    }
}

/// Reads exactly `len` bytes without trusting `len` for the allocation.
fn read_exact(reader: &mut BufReader<TcpStream>, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(eof("body"));
    }
    Ok(buf)
}

/// One line without its `\r\n` or `\n`; `None` at a clean end of stream.
fn read_line(reader: &mut BufReader<TcpStream>) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    reader.take(MAX_LINE).read_until(b'\n', &mut buf)?;
    if buf.is_empty() {
        return Ok(None);
    }
    if buf.pop() != Some(b'\n') {
        return Err(eof("line")); // or longer than MAX_LINE: either way, give up on the connection
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

fn eof(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed in {what}"),
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// An error with one source, for the tests that report errors logged through `log` or `tracing`.
#[derive(Debug)]
pub struct ConfigError(pub std::num::ParseIntError);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad config")
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Builds the fixture program `tests/fixtures/{name}` (once per test binary) in its own target directory,
/// `target/fixtures`, so the nested cargo never waits on the test's own build lock; returns the executable.
pub fn fixture(name: &'static str) -> std::path::PathBuf {
    static BUILT: Mutex<Vec<(&'static str, std::path::PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, exe)) = built.iter().find(|(n, _)| *n == name) {
        return exe.clone();
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/fixtures");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--locked", "--manifest-path"])
        .arg(root.join("tests/fixtures").join(name).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo");
    assert!(
        status.success(),
        "building the {name} fixture failed (after a dependency change, refresh its lock file: \
         cargo update --manifest-path tests/fixtures/{name}/Cargo.toml -p faultline)"
    );
    let exe = target.join("debug").join(name);
    built.push((name, exe.clone()));
    exe
}

/// The sum of what the server's client reports counted as discarded for `reason` in `category`.
pub fn discarded(server: &TestServer, reason: &str, category: &str) -> u64 {
    server
        .requests()
        .iter()
        .filter_map(|r| {
            r.envelope()
                .item("client_report")
                .map(|(_, p)| serde_json::from_slice::<serde_json::Value>(p).unwrap())
        })
        .flat_map(|report| {
            report["discarded_events"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|d| d["reason"] == reason && d["category"] == category)
        .map(|d| d["quantity"].as_u64().unwrap())
        .sum()
}

/// Each container item of type `ty` (`log`, `trace_metric`) the server received: its item header and its records
/// (the payload's `items`).
pub fn containers(
    server: &TestServer,
    ty: &str,
) -> Vec<(serde_json::Value, Vec<serde_json::Value>)> {
    server
        .requests()
        .iter()
        .flat_map(|request| request.envelope().items)
        .filter(|(header, _)| header["type"] == ty)
        .map(|(header, payload)| {
            let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
            (
                header,
                payload["items"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

/// Every item of every `ty` container the server received, in order (see [`containers`]).
pub fn container_items(server: &TestServer, ty: &str) -> Vec<serde_json::Value> {
    containers(server, ty)
        .into_iter()
        .flat_map(|(_, items)| items)
        .collect()
}
