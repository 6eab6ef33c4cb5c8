;; flood: fetches until refused (at most 100 times) and writes how many
;; succeeded as one digit, then "|" and the refusal code's digit.
(module
  (import "pier" "fetch" (func $fetch (param i32 i32) (result i32)))
  (import "pier" "response_close" (func $response_close (param i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "GET http://api.example.com/n HTTP/1.1\0d\0aHost: api.example.com\0d\0a\0d\0a")
  (func (export "handle_request") (result i64)
    (local $h i32) (local $ok i32) (local $i i32)
    (block $done
      (loop $more
        (local.set $h (call $fetch (i32.const 0) (i32.const 64)))
        (br_if $done (i32.lt_s (local.get $h) (i32.const 0)))
        (call $response_close (local.get $h))
        (local.set $ok (i32.add (local.get $ok) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $more (i32.lt_u (local.get $i) (i32.const 100)))))
    (i32.store8 (i32.const 1000) (i32.add (i32.const 48) (local.get $ok)))
    (i32.store8 (i32.const 1001) (i32.const 124))
    (i32.store8 (i32.const 1002) (i32.sub (i32.const 48) (local.get $h)))
    (call $write_body (i32.const 1) (i32.const 1000) (i32.const 3))
    (i64.const 0)))
