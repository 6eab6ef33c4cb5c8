;; hdrtrap: sets response headers (one of them Set-Cookie), then traps
;; before answering: none of them may reach the client.
(module
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Set-Cookie")
  (data (i32.const 16) "session=guest")
  (data (i32.const 48) "X-Partial")
  (data (i32.const 64) "yes")
  (func (export "handle_request") (result i64)
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 13))
    (call $set_header_value (i32.const 1) (i32.const 48) (i32.const 9) (i32.const 64) (i32.const 3))
    unreachable))
