;; worker-wat: a Pier worker in hand-written WebAssembly text, using only the
;; http-wasm handler ABI (no WASI at all). GET /wat answers "hello from WAT";
;; everything else falls through to the site's static assets.
;;
;;   wat2wasm worker.wat -o build/worker.wasm
(module
  (import "http_handler" "get_uri"
    (func $get_uri (param $buf i32) (param $buf_limit i32) (result i32)))
  (import "http_handler" "set_status_code"
    (func $set_status_code (param $status i32)))
  (import "http_handler" "set_header_value"
    (func $set_header_value (param $kind i32)
      (param $name i32) (param $name_len i32)
      (param $value i32) (param $value_len i32)))
  (import "http_handler" "write_body"
    (func $write_body (param $kind i32) (param $buf i32) (param $len i32)))

  (memory (export "memory") 1)

  ;; Constant data.
  (data (i32.const 0) "/wat")                            ;; 4 bytes
  (data (i32.const 16) "Content-Type")                   ;; 12 bytes
  (data (i32.const 32) "text/plain; charset=utf-8")      ;; 25 bytes
  (data (i32.const 64) "hello from WAT\n")               ;; 15 bytes
  ;; The request URI is read at $uri, up to 1024 bytes.
  (global $uri i32 (i32.const 1024))

  ;; handle_request returns ctx<<32 | next: 0 when the response is written,
  ;; 1 to continue to the static assets.
  (func (export "handle_request") (result i64)
    (local $len i32)
    (local.set $len (call $get_uri (global.get $uri) (i32.const 1024)))
    ;; Ours only if the URI is exactly "/wat" or "/wat?…".
    (if (i32.lt_u (local.get $len) (i32.const 4))
      (then (return (i64.const 1))))
    (if (i32.gt_u (local.get $len) (i32.const 1024))
      (then (return (i64.const 1))))
    (if (i32.ne (i32.load (global.get $uri)) (i32.load (i32.const 0)))
      (then (return (i64.const 1))))
    (if (i32.gt_u (local.get $len) (i32.const 4))
      (then
        (if (i32.ne (i32.load8_u (i32.add (global.get $uri) (i32.const 4))) (i32.const 63)) ;; '?'
          (then (return (i64.const 1))))))
    (call $set_status_code (i32.const 200))
    (call $set_header_value (i32.const 1)
      (i32.const 16) (i32.const 12)
      (i32.const 32) (i32.const 25))
    (call $write_body (i32.const 1) (i32.const 64) (i32.const 15))
    (i64.const 0))

  ;; Called after a request that fell through; nothing to do.
  (func (export "handle_response") (param $req_ctx i32) (param $is_error i32))
)
