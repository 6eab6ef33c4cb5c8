//! Outbound requests (`pier.fetch`) and the deployment's own assets
//! (`pier.asset`): both answer a handle whose HTTP/1.1 response is read
//! with `pier.response_read`.

use crate::abi;
use crate::error::{check, Error};
use crate::response::{valid_name, valid_value};

/// An outbound request for [`fetch`].
///
/// ```
/// let req = pier::FetchRequest::get("https://api.example.com/items")
///     .header("Accept", "application/json");
/// assert_eq!(req.url(), "https://api.example.com/items");
/// ```
#[derive(Debug, Clone)]
pub struct FetchRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl FetchRequest {
    /// A request with any method to an absolute http(s) URL.
    pub fn new(method: &str, url: &str) -> FetchRequest {
        FetchRequest { method: method.to_string(), url: url.to_string(), headers: Vec::new(), body: Vec::new() }
    }

    /// A GET request.
    pub fn get(url: &str) -> FetchRequest {
        FetchRequest::new("GET", url)
    }

    /// A POST request with a body.
    pub fn post(url: &str, body: impl Into<Vec<u8>>) -> FetchRequest {
        FetchRequest::new("POST", url).body(body)
    }

    /// Adds a header value.
    pub fn header(mut self, name: &str, value: &str) -> FetchRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets the body (sent with a Content-Length).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> FetchRequest {
        self.body = body.into();
        self
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The request in HTTP/1.1 wire format with the absolute URL in the
    /// request line, as `pier.fetch` takes it; `InvalidRequest` when a part
    /// cannot be written (a space or control character in the method or
    /// URL, an invalid header).
    pub fn to_wire(&self) -> Result<Vec<u8>, Error> {
        let bad = |s: &str| s.is_empty() || s.bytes().any(|c| c <= b' ' || c == 0x7f);
        if bad(&self.method) || bad(&self.url) || !valid_name(&self.method) {
            return Err(Error::InvalidRequest);
        }
        let mut w = Vec::with_capacity(64 + self.url.len() + self.body.len());
        for part in [&self.method, " ", &self.url, " HTTP/1.1\r\n"] {
            w.extend_from_slice(part.as_bytes());
        }
        for (name, value) in &self.headers {
            if !valid_name(name) || !valid_value(value) || name.eq_ignore_ascii_case("content-length") {
                return Err(Error::InvalidRequest);
            }
            for part in [name.as_str(), ": ", value, "\r\n"] {
                w.extend_from_slice(part.as_bytes());
            }
        }
        if !self.body.is_empty() || !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS" | "DELETE") {
            w.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        w.extend_from_slice(b"\r\n");
        w.extend_from_slice(&self.body);
        Ok(w)
    }
}

/// The response of [`fetch`] or [`asset`], read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    /// The status code.
    pub status: u16,
    /// The header values, as (name, value) pairs in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl FetchResponse {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Parses the HTTP/1.1 response `pier.response_read` gives: a status
    /// line, headers, a blank line and a body framed by Content-Length.
    pub(crate) fn parse(raw: &[u8]) -> Result<FetchResponse, Error> {
        let end = find(raw, b"\r\n\r\n").ok_or(Error::Network)?;
        let head = std::str::from_utf8(&raw[..end]).map_err(|_| Error::Network)?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| status_line.starts_with("HTTP/"))
            .ok_or(Error::Network)?;
        let mut headers = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(':').ok_or(Error::Network)?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut body = raw[end + 4..].to_vec();
        let declared = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok());
        if let Some(n) = declared {
            body.truncate(n);
        }
        Ok(FetchResponse { status, headers, body })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends an outbound request through the host, counted against the plan's
/// `subRequests`, under the platform's egress policy (loopback, private
/// addresses and the platform's own endpoints are refused).
pub fn fetch(req: &FetchRequest) -> Result<FetchResponse, Error> {
    let wire = req.to_wire()?;
    // SAFETY: the pointer and length describe wire.
    let handle = check(unsafe { abi::fetch(wire.as_ptr(), wire.len() as u32) })?;
    read_handle(handle)
}

/// One of the deployment's own static assets, as the edge would serve it
/// (`_headers` applied), without a subrequest. A missing asset is
/// `Err(Error::NotFound)`.
pub fn asset(path: &str) -> Result<FetchResponse, Error> {
    // SAFETY: the pointer and length describe path.
    let handle = check(unsafe { abi::asset(path.as_ptr(), path.len() as u32) })?;
    read_handle(handle)
}

/// Reads a handle's response whole and releases it.
fn read_handle(handle: i32) -> Result<FetchResponse, Error> {
    let mut raw: Vec<u8> = Vec::with_capacity(4096);
    loop {
        if raw.capacity() - raw.len() < 1024 {
            raw.reserve(raw.capacity());
        }
        let spare = raw.capacity() - raw.len();
        // SAFETY: the host writes at most spare bytes after raw's length.
        let n = unsafe { abi::response_read(handle, raw.as_mut_ptr().add(raw.len()), spare as u32) };
        if n <= 0 {
            break;
        }
        // SAFETY: the host wrote n ≤ spare bytes.
        unsafe { raw.set_len(raw.len() + (n as usize).min(spare)) };
    }
    // SAFETY: a plain call.
    unsafe { abi::response_close(handle) };
    FetchResponse::parse(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let cases: Vec<(&str, FetchRequest, Result<&str, Error>)> = vec![
            ("get", FetchRequest::get("https://a.example/x?y=1"), Ok("GET https://a.example/x?y=1 HTTP/1.1\r\n\r\n")),
            (
                "post with headers",
                FetchRequest::post("http://a.example/", "hi").header("Content-Type", "text/plain"),
                Ok("POST http://a.example/ HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"),
            ),
            ("empty put", FetchRequest::new("PUT", "http://a.example/"), Ok("PUT http://a.example/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n")),
            ("space in url", FetchRequest::get("http://a.example/a b"), Err(Error::InvalidRequest)),
            ("crlf in method", FetchRequest::new("GET\r\n", "http://a.example/"), Err(Error::InvalidRequest)),
            ("header injection", FetchRequest::get("http://a/").header("X", "1\r\nY: 2"), Err(Error::InvalidRequest)),
            ("own content-length", FetchRequest::get("http://a/").header("content-length", "5"), Err(Error::InvalidRequest)),
        ];
        for (name, req, want) in cases {
            let got = req.to_wire().map(|w| String::from_utf8(w).unwrap());
            assert_eq!(got, want.map(String::from), "{}", name);
        }
    }

    #[test]
    fn parses_responses() {
        let r = FetchResponse::parse(b"HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("x-a"), Some("1"));
        assert_eq!(r.text(), "hello");
        let empty = FetchResponse::parse(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!((empty.status, empty.body.len(), empty.headers.len()), (204, 0, 0));
        for bad in [&b""[..], b"HTTP/1.1 200 OK\r\n", b"SIP/2.0 200 OK\r\n\r\n", b"HTTP/1.1 abc\r\n\r\n", b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"] {
            assert_eq!(FetchResponse::parse(bad), Err(Error::Network), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn without_a_host() {
        assert_eq!(fetch(&FetchRequest::get("https://a.example/")), Err(Error::Network));
        assert_eq!(asset("/index.html"), Err(Error::NotFound));
        assert_eq!(fetch(&FetchRequest::get("not a url")), Err(Error::InvalidRequest));
    }
}
