//! Errors of the host's functions: the negative results of docs/workers.md
//! §2, each named as Pier names it, with the limit it refers to.

use std::fmt;

/// The negative results of Pier's imports (docs/workers.md §2 and the KV
/// ABI).
pub(crate) mod codes {
    pub const SUBREQUEST_LIMIT: i32 = -1;
    pub const EGRESS_DENIED: i32 = -2;
    pub const NETWORK_ERROR: i32 = -3;
    pub const RESPONSE_TOO_LARGE: i32 = -4;
    pub const INVALID_REQUEST: i32 = -5;
    pub const NOT_FOUND: i32 = -6;
    pub const KV_OP_LIMIT: i32 = -7;
    pub const KV_INVALID: i32 = -8;
    pub const KV_VALUE_TOO_LARGE: i32 = -9;
    pub const KV_UNBOUND: i32 = -10;
    pub const KV_UNAVAILABLE: i32 = -11;
    pub const KV_CONFLICT: i32 = -12;
}

/// What a host function refused, or why an outbound request or a KV
/// operation failed. [`Error::code`] is the name Pier's documentation and
/// logs use; the [`fmt::Display`] text names the limit that refused it,
/// when one did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The plan's `subRequests` is used up for this request (`fetch`,
    /// redirects included).
    SubrequestLimit,
    /// The destination of a `fetch` is not allowed by the egress policy.
    EgressDenied,
    /// DNS, connect, TLS or timeout failure of a `fetch`.
    Network,
    /// The response of a `fetch` or `asset` exceeded the size cap.
    ResponseTooLarge,
    /// The request did not parse or its URL is not absolute http(s) (or,
    /// for `asset`, the path does not start with `/`).
    InvalidRequest,
    /// No such asset (KV reads answer `Ok(None)` instead).
    NotFound,
    /// The plan's `kvOps` is used up for this request.
    KvOpLimit,
    /// The key is empty, over 512 bytes, not UTF-8 or contains NUL; or the
    /// TTL or list limit is out of range.
    KvInvalid,
    /// The value is over the plan's `kvValueKB`.
    KvValueTooLarge,
    /// No KV binding of that name in this deployment (or its namespace was
    /// deleted).
    KvUnbound,
    /// The store failed; the operation may be retried.
    KvUnavailable,
    /// A compare-and-swap found another value (returned by
    /// [`crate::Kv::update`] after too many attempts).
    KvConflict,
    /// A negative result this version of the SDK does not know.
    Other(i32),
}

impl Error {
    pub(crate) fn from_code(code: i32) -> Error {
        match code {
            codes::SUBREQUEST_LIMIT => Error::SubrequestLimit,
            codes::EGRESS_DENIED => Error::EgressDenied,
            codes::NETWORK_ERROR => Error::Network,
            codes::RESPONSE_TOO_LARGE => Error::ResponseTooLarge,
            codes::INVALID_REQUEST => Error::InvalidRequest,
            codes::NOT_FOUND => Error::NotFound,
            codes::KV_OP_LIMIT => Error::KvOpLimit,
            codes::KV_INVALID => Error::KvInvalid,
            codes::KV_VALUE_TOO_LARGE => Error::KvValueTooLarge,
            codes::KV_UNBOUND => Error::KvUnbound,
            codes::KV_UNAVAILABLE => Error::KvUnavailable,
            codes::KV_CONFLICT => Error::KvConflict,
            other => Error::Other(other),
        }
    }

    /// The host's number for the error (negative).
    pub fn raw(&self) -> i32 {
        match self {
            Error::SubrequestLimit => codes::SUBREQUEST_LIMIT,
            Error::EgressDenied => codes::EGRESS_DENIED,
            Error::Network => codes::NETWORK_ERROR,
            Error::ResponseTooLarge => codes::RESPONSE_TOO_LARGE,
            Error::InvalidRequest => codes::INVALID_REQUEST,
            Error::NotFound => codes::NOT_FOUND,
            Error::KvOpLimit => codes::KV_OP_LIMIT,
            Error::KvInvalid => codes::KV_INVALID,
            Error::KvValueTooLarge => codes::KV_VALUE_TOO_LARGE,
            Error::KvUnbound => codes::KV_UNBOUND,
            Error::KvUnavailable => codes::KV_UNAVAILABLE,
            Error::KvConflict => codes::KV_CONFLICT,
            Error::Other(code) => *code,
        }
    }

    /// The error's name as docs/workers.md spells it (`kv_op_limit`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Error::SubrequestLimit => "subrequest_limit",
            Error::EgressDenied => "egress_denied",
            Error::Network => "network_error",
            Error::ResponseTooLarge => "response_too_large",
            Error::InvalidRequest => "invalid_request",
            Error::NotFound => "not_found",
            Error::KvOpLimit => "kv_op_limit",
            Error::KvInvalid => "kv_invalid",
            Error::KvValueTooLarge => "kv_value_too_large",
            Error::KvUnbound => "kv_unbound",
            Error::KvUnavailable => "kv_unavailable",
            Error::KvConflict => "kv_conflict",
            Error::Other(_) => "unknown",
        }
    }

    /// Whether trying again may succeed (the store failed, or a
    /// compare-and-swap lost a race).
    pub fn is_temporary(&self) -> bool {
        matches!(self, Error::KvUnavailable | Error::KvConflict | Error::Network)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self {
            Error::SubrequestLimit => "the plan's subRequests limit is used up for this request",
            Error::EgressDenied => "the destination is not allowed by the egress policy",
            Error::Network => "the subrequest failed (DNS, connect, TLS or timeout)",
            Error::ResponseTooLarge => "the response exceeded the size cap",
            Error::InvalidRequest => "the request is invalid (an absolute http(s) URL is required)",
            Error::NotFound => "not found",
            Error::KvOpLimit => "the plan's kvOps limit (KV operations per request) is used up",
            Error::KvInvalid => {
                "invalid KV key (empty, over 512 bytes, not UTF-8 or containing NUL), TTL or list limit (at most 1000)"
            }
            Error::KvValueTooLarge => "the value exceeds the plan's kvValueKB limit",
            Error::KvUnbound => "no KV namespace is bound under that name in this deployment",
            Error::KvUnavailable => "the KV store is unavailable; try again",
            Error::KvConflict => "the value changed since it was read (compare-and-swap conflict)",
            Error::Other(code) => return write!(f, "pier: host error {}", code),
        };
        write!(f, "pier: {}: {}", self.code(), why)
    }
}

impl std::error::Error for Error {}

/// check turns a host result into Ok(non-negative value) or the error.
pub(crate) fn check(code: i32) -> Result<i32, Error> {
    if code < 0 {
        Err(Error::from_code(code))
    } else {
        Ok(code)
    }
}
