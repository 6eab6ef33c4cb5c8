//! worker-rust: a Pier worker in Rust, on the SDK in sdk/rust.
//!
//!   GET /rust/hello            -> "hello from Rust" (text/plain): the benchmark's hello-world
//!   GET /rust/kv?key=K         -> the value of K in the KV binding STORE, 404 when absent
//!   GET /rust/var?name=N       -> the deployment variable (or secret) N, 404 when unset
//!   GET /rust/fetch?url=U      -> fetches U and answers its status and size (JSON)
//!   GET /rust/asset?path=P     -> the size of the site's own asset P (JSON)
//!   anything else              -> falls through to the site's static assets
//!
//! Build: make -C examples worker-rust (sdk/rust/README.md explains it).

use pier::{Error, Request, Response};

fn handle(req: Request) -> Response {
    if req.method() != "GET" && req.method() != "HEAD" {
        return Response::next();
    }
    match req.path() {
        "/rust/hello" => Response::text("hello from Rust\n"),
        "/rust/kv" => kv(&req),
        "/rust/var" => var(&req),
        "/rust/fetch" => fetch(&req),
        "/rust/asset" => asset(&req),
        _ => Response::next(),
    }
}

pier::handler!(handle);

fn kv(req: &Request) -> Response {
    let key = match req.query_param("key") {
        Some(k) if !k.is_empty() => k,
        _ => return error(400, "missing_key", "?key= is required"),
    };
    match pier::kv("STORE").get(&key) {
        Ok(Some(value)) => Response::new(200).header("Content-Type", "application/octet-stream").body(value),
        Ok(None) => error(404, "not_found", "no such key"),
        Err(e) => host_error(&e),
    }
}

fn var(req: &Request) -> Response {
    let name = req.query_param("name").unwrap_or_default();
    match pier::var(&name) {
        Some(v) => Response::text(v),
        None => error(404, "not_found", "no such variable"),
    }
}

fn fetch(req: &Request) -> Response {
    let url = req.query_param("url").unwrap_or_default();
    pier::log!("worker-rust: fetch {}", url);
    match pier::fetch(&pier::FetchRequest::get(&url)) {
        Ok(r) => Response::json(format!("{{\"status\":{},\"bytes\":{}}}", r.status, r.body.len())),
        Err(e) => host_error(&e),
    }
}

fn asset(req: &Request) -> Response {
    let path = req.query_param("path").unwrap_or_default();
    match pier::asset(&path) {
        Ok(r) => Response::json(format!("{{\"status\":{},\"bytes\":{}}}", r.status, r.body.len())),
        Err(e) => host_error(&e),
    }
}

/// Answers a host function's failure with a status that fits and the
/// error's name and text.
fn host_error(e: &Error) -> Response {
    let status = match e {
        Error::SubrequestLimit | Error::KvOpLimit => 429,
        Error::EgressDenied => 403,
        Error::NotFound => 404,
        Error::InvalidRequest | Error::KvInvalid => 400,
        Error::KvValueTooLarge | Error::ResponseTooLarge => 413,
        _ => 502,
    };
    error(status, e.code(), &e.to_string())
}

fn error(status: u16, code: &str, message: &str) -> Response {
    Response::json(format!("{{\"error\":{},\"message\":{}}}", quote(code), quote(message))).status(status)
}

/// A JSON string.
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let hello = handle(Request::new("GET", "/rust/hello?x=1"));
        assert_eq!((hello.status_code(), hello.body_bytes()), (200, &b"hello from Rust\n"[..]));
        assert!(handle(Request::new("GET", "/rust/nope")).is_next());
        assert!(handle(Request::new("POST", "/rust/hello")).is_next());
        assert_eq!(handle(Request::new("GET", "/rust/var?name=X")).status_code(), 404);
        assert_eq!(handle(Request::new("GET", "/rust/fetch?url=https://a.example/")).status_code(), 502);
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\u000a\"");
    }

    #[test]
    fn kv_route() {
        // Natively nothing is bound: the SDK's error becomes a 502.
        let r = handle(Request::new("GET", "/rust/kv?key=greeting"));
        assert_eq!(r.status_code(), 502);
        assert!(String::from_utf8_lossy(r.body_bytes()).contains("\"kv_unbound\""));
        assert_eq!(handle(Request::new("GET", "/rust/kv")).status_code(), 400);
    }
}
