;; next: marks the request, rewrites its URI to /rewritten and continues to
;; the site's static assets (next = 1).
(module
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "set_uri" (func $set_uri (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-From-Worker")
  (data (i32.const 16) "yes")
  (data (i32.const 32) "/rewritten")
  (func (export "handle_request") (result i64)
    (call $set_header_value (i32.const 0) (i32.const 0) (i32.const 13) (i32.const 16) (i32.const 3))
    (call $set_uri (i32.const 32) (i32.const 10))
    (i64.const 1)))
