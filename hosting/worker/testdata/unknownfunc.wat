;; unknownfunc: imports a function http_handler does not have.
(module
  (import "http_handler" "send_response" (func $send (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 0)))
