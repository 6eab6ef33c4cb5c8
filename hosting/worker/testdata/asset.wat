;; asset: writes the wire-format response of asset("/style.css"), then
;; "|notfound" when asset("/nope") returns -6.
(module
  (import "pier" "asset" (func $asset (param i32 i32) (result i32)))
  (import "pier" "response_read" (func $response_read (param i32 i32 i32) (result i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/style.css")
  (data (i32.const 16) "/nope")
  (data (i32.const 32) "|notfound")
  (func (export "handle_request") (result i64)
    (local $h i32) (local $n i32)
    (local.set $h (call $asset (i32.const 0) (i32.const 10)))
    (if (i32.le_s (local.get $h) (i32.const 0)) (then unreachable))
    (block $done
      (loop $more
        (local.set $n (call $response_read (local.get $h) (i32.const 8192) (i32.const 4096)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $write_body (i32.const 1) (i32.const 8192) (local.get $n))
        (br $more)))
    (if (i32.eq (call $asset (i32.const 16) (i32.const 5)) (i32.const -6))
      (then (call $write_body (i32.const 1) (i32.const 32) (i32.const 9))))
    (i64.const 0)))
