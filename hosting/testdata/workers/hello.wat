;; hello: the smallest useful handler, for the dispatch benchmark.
(module
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Content-Type")
  (data (i32.const 16) "text/plain")
  (data (i32.const 32) "hello world\n")
  (func (export "handle_request") (result i64)
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 12) (i32.const 16) (i32.const 10))
    (call $write_body (i32.const 1) (i32.const 32) (i32.const 12))
    (i64.const 0)))
