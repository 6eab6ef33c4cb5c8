;; The worker of web/e2e/analytics.test.ts (http-wasm handler ABI, no WASI).
;; GET /spin never returns, so the CPU limit stops it (an exceededCpu
;; violation); any other path answers "hello from a worker".
;;
;;   wat2wasm analytics-worker.wat -o analytics-worker.wasm
(module
  (import "http_handler" "get_uri"
    (func $get_uri (param $buf i32) (param $buf_limit i32) (result i32)))
  (import "http_handler" "set_header_value"
    (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/spin")
  (data (i32.const 16) "Content-Type")
  (data (i32.const 32) "text/plain")
  (data (i32.const 48) "hello from a worker\n")
  (func (export "handle_request") (result i64)
    (local $len i32)
    (local.set $len (call $get_uri (i32.const 1024) (i32.const 1024)))
    ;; "/spin": the first four bytes and the fifth match.
    (if (i32.and
          (i32.eq (local.get $len) (i32.const 5))
          (i32.and
            (i32.eq (i32.load (i32.const 1024)) (i32.load (i32.const 0)))
            (i32.eq (i32.load8_u (i32.const 1028)) (i32.load8_u (i32.const 4)))))
      (then (loop $forever (br $forever))))
    (call $set_header_value (i32.const 1) (i32.const 16) (i32.const 12) (i32.const 32) (i32.const 10))
    (call $write_body (i32.const 1) (i32.const 48) (i32.const 20))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
