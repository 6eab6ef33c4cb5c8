;; badsig: imports write_body with the wrong signature.
(module
  (import "http_handler" "write_body" (func $write_body (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 0)))
