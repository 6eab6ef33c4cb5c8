;; outbound: an operator's outbound worker for the edge's tests; its
;; behaviour is the first letter of its own variable MODE:
;;   a  answers 403 "denied <PIER_TENANT>/<PIER_SITE>/<PIER_PLAN> <PIER_URL>"
;;      with X-Outbound: answered
;;   c  logs "saw <PIER_URL>", adds Pier-Outbound: checked, continues
;;   h  sets the Host header to 127.0.0.1 and continues
;;   r  sets the URI to /rewritten?x=1 and continues
;;   f  tries a fetch of its own, answers "own fetch N" (N = -result)
;;   l  loops forever
;;   t  traps
;;   p  continues, then traps in handle_response (nothing may be sent)
(module
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_uri" (func $set_uri (param i32 i32)))
  (import "http_handler" "set_status_code" (func $set_status (param i32)))
  (import "http_handler" "set_header_value" (func $set_header (param i32 i32 i32 i32 i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "pier" "get_var" (func $get_var (param i32 i32 i32 i32) (result i32)))
  (import "pier" "log" (func $log (param i32 i32)))
  (import "pier" "fetch" (func $fetch (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "MODE")
  (data (i32.const 16) "PIER_TENANT")
  (data (i32.const 32) "PIER_SITE")
  (data (i32.const 48) "PIER_PLAN")
  (data (i32.const 64) "PIER_URL")
  (data (i32.const 80) "denied ")
  (data (i32.const 96) "/ ")
  (data (i32.const 112) "X-Outbound")
  (data (i32.const 128) "answered")
  (data (i32.const 144) "Pier-Outbound")
  (data (i32.const 160) "checked")
  (data (i32.const 176) "Host")
  (data (i32.const 192) "127.0.0.1")
  (data (i32.const 208) "/rewritten?x=1")
  (data (i32.const 224) "own fetch ")
  (data (i32.const 240) "saw ")
  (data (i32.const 256) "GET http://api.example.test/own HTTP/1.1\0d\0aHost: api.example.test\0d\0a\0d\0a")
  ;; var writes variable name[len] into the body and returns its length.
  (func $var (param $name i32) (param $len i32) (result i32)
    (local $n i32)
    (local.set $n (call $get_var (local.get $name) (local.get $len) (i32.const 8192) (i32.const 4096)))
    (if (i32.gt_s (local.get $n) (i32.const 0))
      (then (call $write_body (i32.const 1) (i32.const 8192) (local.get $n))))
    (local.get $n))
  (func (export "handle_request") (result i64)
    (local $mode i32)
    (local $n i32)
    (drop (call $get_var (i32.const 0) (i32.const 4) (i32.const 4096) (i32.const 16)))
    (local.set $mode (i32.load8_u (i32.const 4096)))
    (if (i32.eq (local.get $mode) (i32.const 97)) ;; a
      (then
        (call $set_status (i32.const 403))
        (call $set_header (i32.const 1) (i32.const 112) (i32.const 10) (i32.const 128) (i32.const 8))
        (call $write_body (i32.const 1) (i32.const 80) (i32.const 7))
        (drop (call $var (i32.const 16) (i32.const 11)))
        (call $write_body (i32.const 1) (i32.const 96) (i32.const 1))
        (drop (call $var (i32.const 32) (i32.const 9)))
        (call $write_body (i32.const 1) (i32.const 96) (i32.const 1))
        (drop (call $var (i32.const 48) (i32.const 9)))
        (call $write_body (i32.const 1) (i32.const 97) (i32.const 1))
        (drop (call $var (i32.const 64) (i32.const 8)))
        (return (i64.const 0))))
    (if (i32.eq (local.get $mode) (i32.const 99)) ;; c
      (then
        (i32.store (i32.const 12288) (i32.load (i32.const 240)))
        (local.set $n (call $get_var (i32.const 64) (i32.const 8) (i32.const 12292) (i32.const 2048)))
        (call $log (i32.const 12288) (i32.add (local.get $n) (i32.const 4)))
        (call $set_header (i32.const 0) (i32.const 144) (i32.const 13) (i32.const 160) (i32.const 7))
        (return (i64.const 1))))
    (if (i32.eq (local.get $mode) (i32.const 104)) ;; h
      (then
        (call $set_header (i32.const 0) (i32.const 176) (i32.const 4) (i32.const 192) (i32.const 9))
        (return (i64.const 1))))
    (if (i32.eq (local.get $mode) (i32.const 114)) ;; r
      (then
        (call $set_uri (i32.const 208) (i32.const 14))
        (return (i64.const 1))))
    (if (i32.eq (local.get $mode) (i32.const 102)) ;; f
      (then
        (local.set $n (call $fetch (i32.const 256) (i32.const 68)))
        (call $write_body (i32.const 1) (i32.const 224) (i32.const 10))
        (i32.store8 (i32.const 1000) (i32.sub (i32.const 48) (local.get $n)))
        (call $write_body (i32.const 1) (i32.const 1000) (i32.const 1))
        (return (i64.const 0))))
    (if (i32.eq (local.get $mode) (i32.const 108)) ;; l
      (then (loop $forever (br $forever))))
    (if (i32.eq (local.get $mode) (i32.const 116)) ;; t
      (then unreachable))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (drop (call $get_var (i32.const 0) (i32.const 4) (i32.const 4096) (i32.const 16)))
    (if (i32.eq (i32.load8_u (i32.const 4096)) (i32.const 112)) ;; p
      (then unreachable))))
