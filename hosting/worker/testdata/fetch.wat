;; fetch: one POST subrequest; the response is read 7 bytes at a time into
;; the body; a negative result is written as "E" and its digit.
(module
  (import "pier" "fetch" (func $fetch (param i32 i32) (result i32)))
  (import "pier" "response_read" (func $response_read (param i32 i32 i32) (result i32)))
  (import "pier" "response_close" (func $response_close (param i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "POST https://api.example.com/x?y=1 HTTP/1.1\0d\0aHost: api.example.com\0d\0aContent-Length: 5\0d\0aX-T: 1\0d\0a\0d\0ahello")
  (data (i32.const 1000) "E")
  (func (export "handle_request") (result i64)
    (local $h i32) (local $n i32)
    (local.set $h (call $fetch (i32.const 0) (i32.const 102)))
    (if (i32.lt_s (local.get $h) (i32.const 0))
      (then
        (i32.store8 (i32.const 1001) (i32.sub (i32.const 48) (local.get $h)))
        (call $write_body (i32.const 1) (i32.const 1000) (i32.const 2))
        (return (i64.const 0))))
    (block $done
      (loop $more
        (local.set $n (call $response_read (local.get $h) (i32.const 8192) (i32.const 7)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $write_body (i32.const 1) (i32.const 8192) (local.get $n))
        (br $more)))
    (call $response_close (local.get $h))
    ;; a closed handle reads as empty
    (if (i32.ne (call $response_read (local.get $h) (i32.const 8192) (i32.const 7)) (i32.const 0))
      (then unreachable))
    (i64.const 0)))
