//! KV namespaces bound to the deployment (`[[kv]]` in pier.toml), through
//! Pier's kv_get, kv_put, kv_delete, kv_list and kv_cas imports.

use crate::abi;
use crate::error::{check, codes, Error};

/// The first buffer offered to kv_get and kv_list; a larger value is read
/// with a second call that the host does not count as another operation.
const FIRST_VALUE: usize = 1024;
const FIRST_LIST: usize = 4096;

/// How many times [`Kv::update`] reads and compares-and-swaps before it
/// gives up with [`Error::KvConflict`] (each attempt costs two of the
/// plan's `kvOps`, which usually runs out first).
const MAX_UPDATE_ATTEMPTS: usize = 64;

/// The KV namespace bound under `binding` in the deployment's pier.toml
/// (`[[kv]] binding = "STORE"  namespace = "…"`). Each call is one of the
/// plan's `kvOps` for the request.
///
/// ```no_run
/// let store = pier::kv("STORE");
/// store.put("greeting", "hello")?;
/// assert_eq!(store.get("greeting")?.as_deref(), Some(&b"hello"[..]));
/// # Ok::<(), pier::Error>(())
/// ```
pub fn kv(binding: &str) -> Kv<'_> {
    Kv { binding }
}

/// A KV binding; see [`kv`].
#[derive(Debug, Clone, Copy)]
pub struct Kv<'a> {
    binding: &'a str,
}

/// One page of [`Kv::list`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KvPage {
    /// The keys, in order.
    pub keys: Vec<String>,
    /// Where the next page starts; `None` when this was the last.
    pub cursor: Option<String>,
}

impl<'a> Kv<'a> {
    /// The value of `key`, or `None` when it is absent or expired.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let b = self.binding;
        let r = abi::fill(FIRST_VALUE, |buf, limit| unsafe {
            // SAFETY: the host writes at most limit bytes at buf.
            abi::kv_get(b.as_ptr(), b.len() as u32, key.as_ptr(), key.len() as u32, buf, limit)
        });
        match r {
            Ok(v) => Ok(Some(v)),
            Err(codes::NOT_FOUND) => Ok(None),
            Err(code) => Err(Error::from_code(code)),
        }
    }

    /// The value of `key` as text (invalid UTF-8 replaced).
    pub fn get_string(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(self.get(key)?.map(|v| String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())))
    }

    /// Stores `value` under `key`, with no expiry. Durable when it returns.
    pub fn put(&self, key: &str, value: impl AsRef<[u8]>) -> Result<(), Error> {
        self.put_with_ttl(key, value, 0)
    }

    /// Stores `value` under `key`, expiring `ttl_seconds` later (0: never).
    pub fn put_with_ttl(&self, key: &str, value: impl AsRef<[u8]>, ttl_seconds: u64) -> Result<(), Error> {
        let (b, v) = (self.binding, value.as_ref());
        let ttl = i64::try_from(ttl_seconds).map_err(|_| Error::KvInvalid)?;
        // SAFETY: the pointers and lengths describe live buffers.
        check(unsafe {
            abi::kv_put(b.as_ptr(), b.len() as u32, key.as_ptr(), key.len() as u32, v.as_ptr(), v.len() as u32, ttl)
        })?;
        Ok(())
    }

    /// Removes `key` (removing an absent key is not an error).
    pub fn delete(&self, key: &str) -> Result<(), Error> {
        let b = self.binding;
        // SAFETY: the pointers and lengths describe live buffers.
        check(unsafe { abi::kv_delete(b.as_ptr(), b.len() as u32, key.as_ptr(), key.len() as u32) })?;
        Ok(())
    }

    /// Up to `limit` keys (0: the host's default, 1000; at most 1000) that
    /// start with `prefix`, in order, from `cursor` (`None` for the first
    /// page; then the previous page's [`KvPage::cursor`]).
    pub fn list(&self, prefix: &str, cursor: Option<&str>, limit: u32) -> Result<KvPage, Error> {
        let b = self.binding;
        let c = cursor.unwrap_or("");
        let raw = abi::fill(FIRST_LIST, |buf, buf_limit| unsafe {
            // SAFETY: the host writes at most buf_limit bytes at buf.
            abi::kv_list(
                b.as_ptr(),
                b.len() as u32,
                prefix.as_ptr(),
                prefix.len() as u32,
                c.as_ptr(),
                c.len() as u32,
                limit,
                buf,
                buf_limit,
            )
        })
        .map_err(Error::from_code)?;
        Ok(parse_list(&raw))
    }

    /// Writes `new` under `key` only if its current value is `old`
    /// (`None`: only if the key is absent). `Ok(false)` when the value was
    /// something else: read it again and retry. Always goes to the store.
    pub fn compare_and_swap(&self, key: &str, old: Option<&[u8]>, new: impl AsRef<[u8]>) -> Result<bool, Error> {
        self.compare_and_swap_with_ttl(key, old, new, 0)
    }

    /// [`Kv::compare_and_swap`] with an expiry (`ttl_seconds`, 0: never).
    pub fn compare_and_swap_with_ttl(
        &self,
        key: &str,
        old: Option<&[u8]>,
        new: impl AsRef<[u8]>,
        ttl_seconds: u64,
    ) -> Result<bool, Error> {
        let (b, n) = (self.binding, new.as_ref());
        let ttl = i64::try_from(ttl_seconds).map_err(|_| Error::KvInvalid)?;
        // old_len 0xFFFFFFFF (-1): "only if the key is absent".
        let (old_ptr, old_len) = match old {
            Some(o) => (o.as_ptr(), o.len() as u32),
            None => (std::ptr::null(), u32::MAX),
        };
        // SAFETY: the pointers and lengths describe live buffers (old_len
        // -1 has no buffer).
        let r = unsafe {
            abi::kv_cas(
                b.as_ptr(),
                b.len() as u32,
                key.as_ptr(),
                key.len() as u32,
                old_ptr,
                old_len,
                n.as_ptr(),
                n.len() as u32,
                ttl,
            )
        };
        match r {
            codes::KV_CONFLICT => Ok(false),
            r => check(r).map(|_| true),
        }
    }

    /// Reads `key`, computes its new value with `f` (given the current one,
    /// `None` when absent) and writes it if nobody wrote in between,
    /// retrying otherwise; returns the value written. Each attempt is two of
    /// the plan's `kvOps`. A request whose write lost to another of its node
    /// goes next, so on one node it takes at most two attempts when `f`
    /// makes no call but KV reads and writes (a compare-and-swap of another
    /// key, such as a nested `update`, gives the turn back) and returns
    /// within 10 ms; contention from
    /// several nodes at once may still use up `kvOps`.
    ///
    /// ```no_run
    /// // A counter that concurrent requests increment exactly.
    /// let n = pier::kv("STORE").update("hits", |old| {
    ///     let n: u64 = old.and_then(|v| std::str::from_utf8(v).ok()?.parse().ok()).unwrap_or(0);
    ///     (n + 1).to_string().into_bytes()
    /// })?;
    /// # Ok::<(), pier::Error>(())
    /// ```
    pub fn update(&self, key: &str, mut f: impl FnMut(Option<&[u8]>) -> Vec<u8>) -> Result<Vec<u8>, Error> {
        for _ in 0..MAX_UPDATE_ATTEMPTS {
            let old = self.get(key)?;
            let new = f(old.as_deref());
            if self.compare_and_swap(key, old.as_deref(), &new)? {
                return Ok(new);
            }
        }
        Err(Error::KvConflict)
    }
}

/// Parses kv_list's buffer: the keys, each NUL-terminated, then the next
/// cursor, NUL-terminated (empty when done).
fn parse_list(raw: &[u8]) -> KvPage {
    let mut parts: Vec<String> = raw
        .split(|&c| c == 0)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    // The final NUL leaves an empty last part.
    if raw.last() == Some(&0) {
        parts.pop();
    }
    let cursor = parts.pop().filter(|c| !c.is_empty());
    KvPage { keys: parts, cursor }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_pages() {
        let cases: [(&str, &[u8], KvPage); 4] = [
            ("empty", b"\0", KvPage::default()),
            ("last page", b"a\0b/c\0\0", KvPage { keys: vec!["a".into(), "b/c".into()], cursor: None }),
            ("more", b"a\0b\0next-b\0", KvPage { keys: vec!["a".into(), "b".into()], cursor: Some("next-b".into()) }),
            ("nothing at all", b"", KvPage::default()),
        ];
        for (name, raw, want) in cases {
            assert_eq!(parse_list(raw), want, "{}", name);
        }
    }

    #[test]
    fn without_a_binding() {
        let s = kv("STORE");
        assert_eq!(s.get("k"), Err(Error::KvUnbound));
        assert_eq!(s.put("k", "v"), Err(Error::KvUnbound));
        assert_eq!(s.delete("k"), Err(Error::KvUnbound));
        assert_eq!(s.list("", None, 0), Err(Error::KvUnbound));
        assert_eq!(s.compare_and_swap("k", None, "v"), Err(Error::KvUnbound));
        assert_eq!(s.update("k", |_| b"1".to_vec()), Err(Error::KvUnbound));
        assert_eq!(s.put_with_ttl("k", "v", u64::MAX), Err(Error::KvInvalid));
    }

    #[test]
    fn errors_name_their_limit() {
        let cases = [
            (Error::KvOpLimit, -7, "kv_op_limit", "kvOps"),
            (Error::KvValueTooLarge, -9, "kv_value_too_large", "kvValueKB"),
            (Error::KvInvalid, -8, "kv_invalid", "512 bytes"),
            (Error::SubrequestLimit, -1, "subrequest_limit", "subRequests"),
            (Error::KvUnbound, -10, "kv_unbound", "bound"),
            (Error::KvConflict, -12, "kv_conflict", "compare-and-swap"),
        ];
        for (err, raw, code, names) in cases {
            assert_eq!(Error::from_code(raw), err);
            assert_eq!(err.raw(), raw);
            assert_eq!(err.code(), code);
            let text = err.to_string();
            assert!(text.contains(code) && text.contains(names), "{:?}: {}", err, text);
        }
        assert_eq!(Error::from_code(-99), Error::Other(-99));
        assert_eq!(Error::Other(-99).raw(), -99);
    }
}
