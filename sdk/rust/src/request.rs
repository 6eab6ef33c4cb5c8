//! The incoming request: read from the host with one call
//! (`pier.request_head`) into a buffer that is reused from one request to
//! the next, and parsed in place.

use std::borrow::Cow;
use std::cell::Cell;

use crate::abi;

/// Request head buffers are kept for the next request up to this capacity.
const KEEP_HEAD: usize = 64 << 10;
/// The first request's head buffer: room for a typical browser request.
const FIRST_HEAD: usize = 4 << 10;

thread_local! {
    // WebAssembly guests are single-threaded: on wasm32 this is a plain
    // static. The host calls handle_request one request at a time.
    static HEAD_BUF: Cell<Vec<u8>> = Cell::new(Vec::new());
}

/// An incoming HTTP request.
///
/// The method, URI, protocol, peer address and headers are read with one
/// host call before the handler runs; the body is read when
/// [`Request::body`] is first called.
#[derive(Debug)]
pub struct Request {
    head: String,
    method: (usize, usize),
    uri: (usize, usize),
    proto: (usize, usize),
    remote: (usize, usize),
    has_body: bool,
    headers: usize,
    body: Option<Vec<u8>>,
}

impl Request {
    /// Reads the current request from the host (the SDK's entry point does
    /// this before calling the handler).
    pub(crate) fn from_host() -> Request {
        let mut buf = HEAD_BUF.with(|b| b.take());
        if buf.capacity() < FIRST_HEAD {
            buf.reserve_exact(FIRST_HEAD);
        }
        loop {
            // SAFETY: the host writes at most buf_limit bytes at the pointer.
            let n = unsafe { abi::request_head(buf.as_mut_ptr(), buf.capacity() as u32) } as usize;
            if n <= buf.capacity() {
                // SAFETY: the host wrote n bytes.
                unsafe { buf.set_len(n) };
                break;
            }
            buf.reserve_exact(n);
        }
        Request::from_head(buf)
    }

    /// Parses a head in `pier.request_head`'s format: method, URI,
    /// protocol, source address, "0" or "1" (has a body), then a name and a
    /// value per header value, each NUL-terminated.
    pub(crate) fn from_head(buf: Vec<u8>) -> Request {
        let head = match String::from_utf8(buf) {
            Ok(s) => s,
            // A header value that is not UTF-8: replace what is not.
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let b = head.as_bytes();
        let mut off = 0;
        let mut field = || {
            let start = off.min(b.len());
            let end = b[start..].iter().position(|&c| c == 0).map_or(b.len(), |i| start + i);
            off = end + 1;
            (start, end)
        };
        let method = field();
        let uri = field();
        let proto = field();
        let remote = field();
        let body = field();
        let has_body = &b[body.0..body.1] == b"1";
        let headers = off.min(b.len());
        Request { head, method, uri, proto, remote, has_body, headers, body: None }
    }

    /// A request built in memory, for testing a handler outside Pier:
    /// `Request::new("GET", "/hello?name=x").with_header("Accept", "*/*")`.
    pub fn new(method: &str, uri: &str) -> Request {
        let mut b = Vec::new();
        for f in [method, uri, "HTTP/1.1", "127.0.0.1:1", "0"] {
            b.extend_from_slice(f.as_bytes());
            b.push(0);
        }
        let mut r = Request::from_head(b);
        r.body = Some(Vec::new());
        r
    }

    /// Adds a header value (for requests built with [`Request::new`]).
    pub fn with_header(self, name: &str, value: &str) -> Request {
        let mut b = self.head.clone().into_bytes();
        for f in [name, value] {
            b.extend_from_slice(f.as_bytes());
            b.push(0);
        }
        let body = self.body.clone();
        let mut r = Request::from_head(b);
        r.body = body;
        r
    }

    /// Sets the body (for requests built with [`Request::new`]).
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    fn part(&self, r: (usize, usize)) -> &str {
        &self.head[r.0..r.1]
    }

    /// The method, such as `GET`.
    pub fn method(&self) -> &str {
        self.part(self.method)
    }

    /// The request target as the client sent it: the path and the query.
    pub fn uri(&self) -> &str {
        self.part(self.uri)
    }

    /// The path (the URI before any `?`), not percent-decoded.
    pub fn path(&self) -> &str {
        let u = self.uri();
        match u.find('?') {
            Some(i) => &u[..i],
            None => u,
        }
    }

    /// The query (after `?`), if any, not decoded.
    pub fn query(&self) -> Option<&str> {
        let u = self.uri();
        u.find('?').map(|i| &u[i + 1..])
    }

    /// The first value of the query parameter `name`, percent-decoded
    /// (`+` is a space); borrowed from the request when nothing needed
    /// decoding.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        query_param(self.query()?, name)
    }

    /// The protocol, such as `HTTP/1.1`.
    pub fn protocol(&self) -> &str {
        self.part(self.proto)
    }

    /// The client's address (`ip:port`).
    pub fn remote_addr(&self) -> &str {
        self.part(self.remote)
    }

    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// Every header value, as (name, value) pairs in the order the host
    /// gave them; a header with several values appears once per value.
    pub fn headers(&self) -> Headers<'_> {
        Headers { rest: &self.head[self.headers..] }
    }

    /// The request body, read from the host the first time it is asked for.
    pub fn body(&mut self) -> &[u8] {
        if self.body.is_none() {
            self.body = Some(if self.has_body { read_request_body() } else { Vec::new() });
        }
        self.body.as_deref().unwrap_or_default()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&mut self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.body())
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        // Keep the head's buffer for the next request.
        let mut buf = std::mem::take(&mut self.head).into_bytes();
        if buf.capacity() <= KEEP_HEAD {
            buf.clear();
            HEAD_BUF.with(|b| {
                let old = b.take();
                b.set(if old.capacity() >= buf.capacity() { old } else { buf });
            });
        }
    }
}

/// The request's (name, value) header pairs.
#[derive(Debug, Clone)]
pub struct Headers<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Headers<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        let (name, rest) = self.rest.split_once('\0')?;
        let (value, rest) = rest.split_once('\0').unwrap_or((rest, ""));
        self.rest = rest;
        Some((name, value))
    }
}

fn read_request_body() -> Vec<u8> {
    let mut body: Vec<u8> = Vec::new();
    loop {
        if body.capacity() - body.len() < 4096 {
            body.reserve(16 << 10);
        }
        let spare = body.capacity() - body.len();
        // SAFETY: the host writes at most spare bytes after the vector's length.
        let r = unsafe { abi::read_body(abi::KIND_REQUEST, body.as_mut_ptr().add(body.len()), spare as u32) };
        let n = (r as u32) as usize;
        // SAFETY: the host wrote n ≤ spare bytes.
        unsafe { body.set_len(body.len() + n.min(spare)) };
        if r >> 32 != 0 {
            return body;
        }
    }
}

/// The first value of `name` in a query string, percent-decoded.
pub(crate) fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(k) == name {
            return Some(decode(v));
        }
    }
    None
}

/// Percent-decodes s (and turns `+` into a space), borrowing it when there
/// is nothing to decode. Invalid escapes are kept as they are; bytes that do
/// not form UTF-8 are replaced.
pub fn decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|c| c == b'%' || c == b'+') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(b[i + 1]).is_some() && hex(b[i + 2]).is_some() => {
                out.push(hex(b[i + 1]).unwrap_or(0) << 4 | hex(b[i + 2]).unwrap_or(0));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(parts: &[&str]) -> Vec<u8> {
        let mut b = Vec::new();
        for p in parts {
            b.extend_from_slice(p.as_bytes());
            b.push(0);
        }
        b
    }

    #[test]
    fn parses_the_head() {
        let r = Request::from_head(head(&[
            "POST", "/a/b?x=1&name=J%C3%BCrg+en", "HTTP/1.1", "10.0.0.1:5000", "1", "Host", "site.example", "Accept",
            "text/html", "Accept", "*/*",
        ]));
        assert_eq!(r.method(), "POST");
        assert_eq!(r.uri(), "/a/b?x=1&name=J%C3%BCrg+en");
        assert_eq!(r.path(), "/a/b");
        assert_eq!(r.query(), Some("x=1&name=J%C3%BCrg+en"));
        assert_eq!(r.query_param("name").as_deref(), Some("Jürg en"));
        assert_eq!(r.query_param("x"), Some(Cow::Borrowed("1")));
        assert_eq!(r.query_param("y"), None);
        assert_eq!(r.protocol(), "HTTP/1.1");
        assert_eq!(r.remote_addr(), "10.0.0.1:5000");
        assert!(r.has_body);
        assert_eq!(r.header("host"), Some("site.example"));
        assert_eq!(r.header("ACCEPT"), Some("text/html"));
        assert_eq!(r.header("X-Nope"), None);
        let all: Vec<_> = r.headers().collect();
        assert_eq!(all, [("Host", "site.example"), ("Accept", "text/html"), ("Accept", "*/*")]);
    }

    #[test]
    fn survives_a_short_or_empty_head() {
        for b in [Vec::new(), b"GET\0/".to_vec(), head(&["GET", "/", "HTTP/1.1", "", "0", "Lonely"])] {
            let r = Request::from_head(b);
            let _ = (r.method(), r.uri(), r.path(), r.protocol(), r.remote_addr());
            assert!(!r.has_body);
            assert_eq!(r.headers().filter(|(_, v)| !v.is_empty()).count(), 0);
        }
    }

    #[test]
    fn replaces_invalid_utf8() {
        let mut b = head(&["GET", "/", "HTTP/1.1", "", "0", "X"]);
        b.extend_from_slice(b"\xff\0");
        let r = Request::from_head(b);
        assert_eq!(r.header("x"), Some("\u{fffd}"));
    }

    #[test]
    fn built_requests() {
        let mut r = Request::new("PUT", "/k?key=a%2Fb").with_header("Content-Type", "text/plain").with_body("v");
        assert_eq!(r.method(), "PUT");
        assert_eq!(r.query_param("key").as_deref(), Some("a/b"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.body(), b"v");
        assert_eq!(Request::new("GET", "/").body(), b"");
    }

    #[test]
    fn decodes() {
        let cases = [
            ("plain", "plain"),
            ("a+b", "a b"),
            ("%41%62", "Ab"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%ff", "\u{fffd}"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input), want, "decode({:?})", input);
        }
        assert!(matches!(decode("plain"), Cow::Borrowed(_)));
    }
}
