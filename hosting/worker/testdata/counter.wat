;; counter: counts requests in a global (per instance) and writes the count
;; as one digit; traps when the request has an X-Trap header.
(module
  (import "http_handler" "get_header_values" (func $get_header_values (param i32 i32 i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (data (i32.const 0) "X-Trap")
  (func (export "handle_request") (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (if (i64.ne (call $get_header_values (i32.const 0) (i32.const 0) (i32.const 6) (i32.const 64) (i32.const 0)) (i64.const 0))
      (then unreachable))
    (i32.store8 (i32.const 100) (i32.add (i32.const 48) (global.get $n)))
    (call $write_body (i32.const 1) (i32.const 100) (i32.const 1))
    (i64.const 0)))
