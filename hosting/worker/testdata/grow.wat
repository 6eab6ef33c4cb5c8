;; grow: tries memory.grow by 10000 pages and writes "refused" (-1) or "grown".
(module
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "refused")
  (data (i32.const 16) "grown")
  (func (export "handle_request") (result i64)
    (if (i32.eq (memory.grow (i32.const 10000)) (i32.const -1))
      (then (call $write_body (i32.const 1) (i32.const 0) (i32.const 7)))
      (else (call $write_body (i32.const 1) (i32.const 16) (i32.const 5))))
    (i64.const 0)))
