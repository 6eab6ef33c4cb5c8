//! The response a handler returns, sent with one host call
//! (`pier.send_response`).

use std::borrow::Cow;
use std::cell::Cell;

use crate::abi;

/// Response head buffers are kept for the next response up to this capacity.
const KEEP_HEAD: usize = 16 << 10;

thread_local! {
    static HEAD_BUF: Cell<Vec<u8>> = Cell::new(Vec::new());
}

/// An HTTP response, or [`Response::next`]: let the request continue to the
/// site's static assets.
///
/// Headers are kept in the form the host takes them (each name and value
/// NUL-terminated), in a buffer reused from one response to the next, and a
/// `&'static` body is sent without being copied: a fixed answer such as
/// `Response::text("hello\n")` allocates nothing once the instance has
/// served its first request.
#[derive(Debug)]
pub struct Response {
    status: u16,
    head: Vec<u8>,
    body: Cow<'static, [u8]>,
    next: bool,
}

/// Content types of the shortcuts.
const TEXT: &str = "text/plain; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";

impl Response {
    /// An empty response with the given status (200–599) and no headers.
    pub fn new(status: u16) -> Response {
        Response { status, head: HEAD_BUF.with(|b| b.take()), body: Cow::Borrowed(&[]), next: false }
    }

    /// `200 OK`, `text/plain; charset=utf-8`.
    pub fn text(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200).header("Content-Type", TEXT).body(cow_bytes(body.into()))
    }

    /// `200 OK`, `text/html; charset=utf-8`.
    pub fn html(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200).header("Content-Type", HTML).body(cow_bytes(body.into()))
    }

    /// `200 OK`, `application/json`; the body is sent as given.
    pub fn json(body: impl Into<Cow<'static, str>>) -> Response {
        Response::new(200).header("Content-Type", JSON).body(cow_bytes(body.into()))
    }

    /// `404 Not Found` with a short text body.
    pub fn not_found() -> Response {
        Response::text("not found\n").status(404)
    }

    /// Not a response: the request continues to the site's static assets
    /// (http-wasm's `next`), as if the worker were not there.
    pub fn next() -> Response {
        Response { status: 0, head: Vec::new(), body: Cow::Borrowed(&[]), next: true }
    }

    /// Sets the status (200–599; anything else makes the host fail the
    /// request with a 500).
    pub fn status(mut self, status: u16) -> Response {
        self.status = status;
        self
    }

    /// Adds a header value. The first value of a name replaces what the
    /// host would otherwise send under that name; later ones add to it.
    ///
    /// # Panics
    ///
    /// When the name is not an HTTP token or the value contains a control
    /// character other than tab (the panic is logged, and the request
    /// fails with a 500).
    pub fn header(mut self, name: &str, value: &str) -> Response {
        assert!(valid_name(name), "pier: invalid header name {:?}", name);
        assert!(valid_value(value), "pier: invalid value for header {}: {:?}", name, value);
        self.head.extend_from_slice(name.as_bytes());
        self.head.push(0);
        self.head.extend_from_slice(value.as_bytes());
        self.head.push(0);
        self
    }

    /// Sets the body: a `&'static` string or slice is sent without being
    /// copied; a `String` or `Vec<u8>` is moved.
    pub fn body(mut self, body: impl Into<Body>) -> Response {
        self.body = body.into().0;
        self
    }

    /// The status (0 for [`Response::next`]).
    pub fn status_code(&self) -> u16 {
        self.status
    }

    /// Whether this is [`Response::next`].
    pub fn is_next(&self) -> bool {
        self.next
    }

    /// The headers, as (name, value) pairs in the order they were added.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.head.split(|&c| c == 0).map(|p| std::str::from_utf8(p).unwrap_or(""));
        std::iter::from_fn(move || {
            let name = parts.next().filter(|n| !n.is_empty())?;
            Some((name, parts.next().unwrap_or("")))
        })
    }

    /// The first value of a header (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    /// The body.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Hands the response to the host and returns handle_request's result:
    /// 0 (the guest answered) or 1 (next).
    pub(crate) fn send(mut self) -> i64 {
        if self.next {
            return 1;
        }
        let (head, body) = (&self.head, &self.body);
        // SAFETY: the pointers and lengths describe live buffers.
        unsafe {
            abi::send_response(
                u32::from(self.status),
                head.as_ptr(),
                head.len() as u32,
                body.as_ptr(),
                body.len() as u32,
            )
        };
        let mut head = std::mem::take(&mut self.head);
        if head.capacity() <= KEEP_HEAD {
            head.clear();
            HEAD_BUF.with(|b| b.set(head));
        }
        0
    }
}

/// A response body: `&'static` data borrowed, or owned bytes.
#[derive(Debug, Clone)]
pub struct Body(Cow<'static, [u8]>);

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body(Cow::Borrowed(s.as_bytes()))
    }
}
impl From<&'static [u8]> for Body {
    fn from(b: &'static [u8]) -> Body {
        Body(Cow::Borrowed(b))
    }
}
impl<const N: usize> From<&'static [u8; N]> for Body {
    fn from(b: &'static [u8; N]) -> Body {
        Body(Cow::Borrowed(b))
    }
}
impl From<String> for Body {
    fn from(s: String) -> Body {
        Body(Cow::Owned(s.into_bytes()))
    }
}
impl From<Vec<u8>> for Body {
    fn from(b: Vec<u8>) -> Body {
        Body(Cow::Owned(b))
    }
}
impl From<Cow<'static, [u8]>> for Body {
    fn from(b: Cow<'static, [u8]>) -> Body {
        Body(b)
    }
}

fn cow_bytes(s: Cow<'static, str>) -> Body {
    Body(match s {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    })
}

/// An HTTP token (RFC 9110 §5.6.2).
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// No control characters but tab (so no NUL, CR or LF).
pub(crate) fn valid_value(value: &str) -> bool {
    value.bytes().all(|c| c == b'\t' || (c >= 0x20 && c != 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts() {
        let r = Response::text("hi\n");
        assert_eq!(r.status_code(), 200);
        assert_eq!(r.header_value("content-type"), Some(TEXT));
        assert_eq!(r.body_bytes(), b"hi\n");
        assert!(matches!(r.body, Cow::Borrowed(_)), "a static body is not copied");
        assert_eq!(Response::json(String::from("{}")).header_value("Content-Type"), Some(JSON));
        assert_eq!(Response::html("<p>").header_value("Content-Type"), Some(HTML));
        let nf = Response::not_found();
        assert_eq!((nf.status_code(), nf.body_bytes()), (404, &b"not found\n"[..]));
        assert!(Response::next().is_next());
        assert!(!Response::new(204).is_next());
    }

    #[test]
    fn head_is_nul_terminated_pairs() {
        let r = Response::new(201).header("A", "1").header("B", "").header("A", "2 3").body(vec![1, 2]);
        assert_eq!(r.head, b"A\x001\0B\0\0A\x002 3\0");
        let hs: Vec<_> = r.headers().collect();
        assert_eq!(hs, [("A", "1"), ("B", ""), ("A", "2 3")]);
        assert_eq!(r.body_bytes(), [1, 2]);
    }

    #[test]
    fn header_rules() {
        let names = [("X-Ok", true), ("", false), ("a b", false), ("a:b", false), ("a\0", false), ("é", false)];
        for (name, ok) in names {
            assert_eq!(valid_name(name), ok, "name {:?}", name);
        }
        let values = [("text/plain; q=1", true), ("", true), ("a\tb", true), ("a\r\nb", false), ("a\0", false)];
        for (value, ok) in values {
            assert_eq!(valid_value(value), ok, "value {:?}", value);
        }
    }

    #[test]
    #[should_panic(expected = "invalid value for header X")]
    fn header_panics_on_crlf() {
        let _ = Response::new(200).header("X", "a\r\nSet-Cookie: x");
    }

    #[test]
    fn sending_reuses_the_head_buffer() {
        let r = Response::text("a");
        let ptr = r.head.as_ptr();
        assert_eq!(r.send(), 0);
        let again = Response::text("b");
        assert_eq!(again.head.as_ptr(), ptr, "the second response reuses the first one's head buffer");
        assert_eq!(again.headers().count(), 1);
        assert_eq!(Response::next().send(), 1);
    }
}
