;; bindings: exercises Pier's imports, chosen by the second byte of the URI:
;;   /asset  pier.asset("/style.css")            → the response, or "error N"
;;   /local  pier.fetch(http://127.0.0.1/)       → the response, or "error N"
;;   /meta   pier.fetch(http://169.254.169.254/) → the response, or "error N"
;;   /public pier.fetch(http://api.example.test/hi)
;;   /log    pier.log("hello from the guest")    → "logged"
(module
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "pier" "log" (func $log (param i32 i32)))
  (import "pier" "fetch" (func $fetch (param i32 i32) (result i32)))
  (import "pier" "asset" (func $asset (param i32 i32) (result i32)))
  (import "pier" "response_read" (func $read (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/style.css")
  (data (i32.const 16) "hello from the guest")
  (data (i32.const 48) "error ")
  (data (i32.const 56) "logged")
  (data (i32.const 64) "GET http://127.0.0.1/ HTTP/1.1\0d\0aHost: 127.0.0.1\0d\0a\0d\0a")
  (data (i32.const 128) "GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\0d\0aHost: 169.254.169.254\0d\0a\0d\0a")
  (data (i32.const 256) "GET http://api.example.test/hi HTTP/1.1\0d\0aHost: api.example.test\0d\0a\0d\0a")
  ;; answer writes the response of handle h into the body, or "error N".
  (func $answer (param $h i32)
    (local $n i32)
    (if (i32.lt_s (local.get $h) (i32.const 0))
      (then
        (call $write_body (i32.const 1) (i32.const 48) (i32.const 6))
        (i32.store8 (i32.const 1000) (i32.sub (i32.const 48) (local.get $h)))
        (call $write_body (i32.const 1) (i32.const 1000) (i32.const 1))
        (return)))
    (block $done
      (loop $more
        (local.set $n (call $read (local.get $h) (i32.const 4096) (i32.const 4096)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (call $write_body (i32.const 1) (i32.const 4096) (local.get $n))
        (br $more))))
  (func (export "handle_request") (result i64)
    (local $c i32)
    (drop (call $get_uri (i32.const 2048) (i32.const 1024)))
    (local.set $c (i32.load8_u (i32.const 2049)))
    (if (i32.eq (local.get $c) (i32.const 97)) ;; a
      (then (call $answer (call $asset (i32.const 0) (i32.const 10)))))
    (if (i32.eq (local.get $c) (i32.const 108)) ;; l: /local or /log
      (then
        (if (i32.eq (i32.load8_u (i32.const 2050)) (i32.const 111)) ;; o
          (then
            (if (i32.eq (i32.load8_u (i32.const 2051)) (i32.const 99)) ;; c
              (then (call $answer (call $fetch (i32.const 64) (i32.const 51))))
              (else
                (call $log (i32.const 16) (i32.const 20))
                (call $write_body (i32.const 1) (i32.const 56) (i32.const 6))))))))
    (if (i32.eq (local.get $c) (i32.const 109)) ;; m
      (then (call $answer (call $fetch (i32.const 128) (i32.const 80)))))
    (if (i32.eq (local.get $c) (i32.const 112)) ;; p
      (then (call $answer (call $fetch (i32.const 256) (i32.const 67)))))
    (i64.const 0)))
