//! The host's imports: the http-wasm handler ABI (module `http_handler`) and
//! Pier's own functions (module `pier`), as docs/workers.md specifies them.
//!
//! Pointers and lengths are i32 in WebAssembly; this module declares them
//! with Rust's pointer and u32 types, which have the same representation on
//! wasm32. Outside WebAssembly (the crate's unit tests, or a handler tested
//! natively) the same functions behave as a host with nothing in it: no
//! request, no vars, no KV bindings, and every fetch fails.

#[cfg(target_arch = "wasm32")]
mod imp {
    #[link(wasm_import_module = "http_handler")]
    extern "C" {
        pub fn read_body(kind: u32, buf: *mut u8, buf_limit: u32) -> u64;
    }

    #[link(wasm_import_module = "pier")]
    extern "C" {
        pub fn log(ptr: *const u8, len: u32);
        pub fn get_var(name: *const u8, name_len: u32, buf: *mut u8, buf_limit: u32) -> i32;
        pub fn fetch(req: *const u8, req_len: u32) -> i32;
        pub fn asset(path: *const u8, path_len: u32) -> i32;
        pub fn response_read(handle: i32, buf: *mut u8, buf_limit: u32) -> i32;
        pub fn response_close(handle: i32);
        pub fn request_head(buf: *mut u8, buf_limit: u32) -> u32;
        pub fn send_response(status: u32, head: *const u8, head_len: u32, body: *const u8, body_len: u32);

        pub fn kv_get(
            binding: *const u8,
            binding_len: u32,
            key: *const u8,
            key_len: u32,
            buf: *mut u8,
            buf_limit: u32,
        ) -> i32;
        pub fn kv_put(
            binding: *const u8,
            binding_len: u32,
            key: *const u8,
            key_len: u32,
            val: *const u8,
            val_len: u32,
            ttl_seconds: i64,
        ) -> i32;
        pub fn kv_delete(binding: *const u8, binding_len: u32, key: *const u8, key_len: u32) -> i32;
        pub fn kv_list(
            binding: *const u8,
            binding_len: u32,
            prefix: *const u8,
            prefix_len: u32,
            cursor: *const u8,
            cursor_len: u32,
            limit: u32,
            buf: *mut u8,
            buf_limit: u32,
        ) -> i32;
        pub fn kv_cas(
            binding: *const u8,
            binding_len: u32,
            key: *const u8,
            key_len: u32,
            old: *const u8,
            old_len: u32,
            new: *const u8,
            new_len: u32,
            ttl_seconds: i64,
        ) -> i32;
    }
}

/// Outside WebAssembly: a host with nothing in it.
#[cfg(not(target_arch = "wasm32"))]
#[allow(clippy::missing_safety_doc, clippy::too_many_arguments)]
mod imp {
    use crate::error::codes;

    pub unsafe fn read_body(_kind: u32, _buf: *mut u8, _buf_limit: u32) -> u64 {
        1 << 32
    }
    pub unsafe fn log(ptr: *const u8, len: u32) {
        let msg = std::slice::from_raw_parts(ptr, len as usize);
        eprintln!("pier log: {}", String::from_utf8_lossy(msg));
    }
    pub unsafe fn get_var(_name: *const u8, _name_len: u32, _buf: *mut u8, _buf_limit: u32) -> i32 {
        -1
    }
    pub unsafe fn fetch(_req: *const u8, _req_len: u32) -> i32 {
        codes::NETWORK_ERROR
    }
    pub unsafe fn asset(_path: *const u8, _path_len: u32) -> i32 {
        codes::NOT_FOUND
    }
    pub unsafe fn response_read(_handle: i32, _buf: *mut u8, _buf_limit: u32) -> i32 {
        0
    }
    pub unsafe fn response_close(_handle: i32) {}
    pub unsafe fn request_head(_buf: *mut u8, _buf_limit: u32) -> u32 {
        0
    }
    pub unsafe fn send_response(_status: u32, _head: *const u8, _head_len: u32, _body: *const u8, _body_len: u32) {}
    pub unsafe fn kv_get(_b: *const u8, _bl: u32, _k: *const u8, _kl: u32, _buf: *mut u8, _limit: u32) -> i32 {
        codes::KV_UNBOUND
    }
    pub unsafe fn kv_put(_b: *const u8, _bl: u32, _k: *const u8, _kl: u32, _v: *const u8, _vl: u32, _ttl: i64) -> i32 {
        codes::KV_UNBOUND
    }
    pub unsafe fn kv_delete(_b: *const u8, _bl: u32, _k: *const u8, _kl: u32) -> i32 {
        codes::KV_UNBOUND
    }
    pub unsafe fn kv_list(
        _b: *const u8,
        _bl: u32,
        _p: *const u8,
        _pl: u32,
        _c: *const u8,
        _cl: u32,
        _limit: u32,
        _buf: *mut u8,
        _buf_limit: u32,
    ) -> i32 {
        codes::KV_UNBOUND
    }
    pub unsafe fn kv_cas(
        _b: *const u8,
        _bl: u32,
        _k: *const u8,
        _kl: u32,
        _o: *const u8,
        _ol: u32,
        _n: *const u8,
        _nl: u32,
        _ttl: i64,
    ) -> i32 {
        codes::KV_UNBOUND
    }
}

pub(crate) use imp::*;

/// Header and body kind of the request in the http-wasm ABI.
pub(crate) const KIND_REQUEST: u32 = 0;

/// fill calls a buffer-filling import (http-wasm's convention: it returns
/// the whole value's length and writes nothing when that exceeds the
/// buffer) into the spare capacity of a new vector of `first` bytes, and
/// once more with a large enough one when the value did not fit. A negative
/// result is returned as the error.
pub(crate) fn fill(first: usize, mut call: impl FnMut(*mut u8, u32) -> i32) -> Result<Vec<u8>, i32> {
    let mut buf: Vec<u8> = Vec::with_capacity(first);
    loop {
        let n = call(buf.as_mut_ptr(), buf.capacity() as u32);
        if n < 0 {
            return Err(n);
        }
        let n = n as usize;
        if n <= buf.capacity() {
            // SAFETY: the host wrote n bytes (n ≤ capacity) at buf's pointer.
            unsafe { buf.set_len(n) };
            return Ok(buf);
        }
        // Too small: nothing was written. Again with room for the value
        // (which may have changed in between, hence the loop).
        buf.reserve_exact(n);
    }
}
