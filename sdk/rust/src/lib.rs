//! Guest SDK for Pier workers in Rust.
//!
//! A worker is a function from a [`Request`] to a [`Response`], exported
//! with [`handler!`] and built for `wasm32-wasi` as a `cdylib`:
//!
//! ```no_run
//! use pier::{Request, Response};
//!
//! fn handle(req: Request) -> Response {
//!     match (req.method(), req.path()) {
//!         ("GET", "/hello") => Response::text("hello\n"),
//!         _ => Response::next(), // the site's static assets answer
//!     }
//! }
//!
//! pier::handler!(handle);
//! ```
//!
//! The module exports `handle_request` (and `_initialize`, which makes it a
//! reactor: see README.md) and imports the http-wasm handler ABI (module
//! `http_handler`) and Pier's own functions (module `pier`) as
//! docs/workers.md in the Pier repository specifies. The request head is
//! read with one host call and the response sent with one; a fixed answer
//! allocates nothing after an instance's first request.
//!
//! Beside requests and responses: [`fetch`] (outbound HTTP under the
//! platform's egress policy), [`asset`] (the deployment's own static
//! files), [`log`] (the site's live log stream), [`var`] and [`secret`]
//! (deployment variables and secrets), and [`kv`] (KV namespaces bound in
//! pier.toml). Failures of the host's functions are [`Error`]s that name
//! the limit that refused them.
//!
//! Outside WebAssembly the crate builds too, so that handlers can be unit
//! tested natively with [`Request::new`]: there, nothing is bound, [`var`]
//! finds nothing, [`fetch`] fails and [`log`] writes to standard error.
//!
//! The crate has no dependencies and builds with Rust 1.63 (Debian 12's
//! rustc and its `libstd-rust-dev-wasm32`).
#![warn(missing_docs)]

mod abi;
mod error;
mod fetch;
mod kv;
mod request;
mod response;

pub use error::Error;
pub use fetch::{asset, fetch, FetchRequest, FetchResponse};
pub use kv::{kv, Kv, KvPage};
pub use request::{decode, Headers, Request};
pub use response::{Body, Response};

/// Appends one line to the site's live log stream (`pier logs --site S`).
pub fn log(msg: &str) {
    // SAFETY: the pointer and length describe msg.
    unsafe { abi::log(msg.as_ptr(), msg.len() as u32) }
}

/// Formats and logs one line: `pier::log!("saved {}", key)`.
#[macro_export]
macro_rules! log {
    ($($arg:tt)*) => {
        $crate::log(&::std::format!($($arg)*))
    };
}

/// A deployment variable (`[vars]` in pier.toml), or a secret of the
/// site's of that name (a secret wins over a variable of the same name);
/// `None` if neither is set.
pub fn var(name: &str) -> Option<String> {
    let v = abi::fill(256, |buf, limit| unsafe {
        // SAFETY: the host writes at most limit bytes at buf.
        abi::get_var(name.as_ptr(), name.len() as u32, buf, limit)
    })
    .ok()?;
    Some(String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// A secret of the site's (`pier secrets put NAME --site S`). Secrets are
/// read like variables (this is [`var`] under another name, to say what the
/// code means); never log one.
pub fn secret(name: &str) -> Option<String> {
    var(name)
}

/// Exports `handle_request` (calling `$handler`, a `fn(Request) ->
/// Response`) and `_initialize`, making the crate a Pier worker:
/// `pier::handler!(handle);` once, at the crate's top level.
#[macro_export]
macro_rules! handler {
    ($handler:path) => {
        /// http-wasm's entry point: Pier calls it once per request.
        #[no_mangle]
        pub extern "C" fn handle_request() -> i64 {
            $crate::__serve($handler)
        }

        /// The reactor's initialisation, run once per instance before the
        /// first request. Its presence also keeps the linker from wrapping
        /// handle_request in constructor and destructor calls (see
        /// sdk/rust/README.md).
        #[cfg(target_arch = "wasm32")]
        #[no_mangle]
        pub extern "C" fn _initialize() {
            $crate::__initialize()
        }
    };
}

/// Runs one request through handler; what handle_request returns
/// (0: answered, 1: next).
#[doc(hidden)]
#[inline]
pub fn __serve<F: FnOnce(Request) -> Response>(handler: F) -> i64 {
    handler(Request::from_host()).send()
}

#[cfg(target_arch = "wasm32")]
extern "C" {
    /// Defined by the linker: runs the static constructors (wasi-libc's).
    fn __wasm_call_ctors();
}

/// Initialises the instance: the static constructors, and a panic hook
/// that writes the panic's message to the site's log stream (the guest then
/// traps and the request fails with a 500, `worker_exception`).
#[doc(hidden)]
pub fn __initialize() {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: called once, from _initialize, as crt1-reactor.o would.
    unsafe {
        __wasm_call_ctors()
    };
    std::panic::set_hook(Box::new(|info| log(&format!("worker panicked: {}", info))));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(req: Request) -> Response {
        match (req.method(), req.path()) {
            ("GET", "/hello") => Response::text("hello\n"),
            ("GET", "/var") => Response::text(var("X").unwrap_or_else(|| "unset".into())),
            _ => Response::next(),
        }
    }

    #[test]
    fn handlers_run_natively() {
        let r = handle(Request::new("GET", "/hello?x=1"));
        assert_eq!((r.status_code(), r.body_bytes()), (200, &b"hello\n"[..]));
        assert_eq!(handle(Request::new("GET", "/var")).body_bytes(), b"unset");
        assert!(handle(Request::new("POST", "/hello")).is_next());
        assert_eq!(secret("S"), None);
        log("a line from a test");
        log!("formatted {}", 1);
    }
}
