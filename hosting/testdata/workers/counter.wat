;; counter: answers "<method> <uri> <n>" where n counts the requests this
;; instance has served (as one digit; tests stay below 10). A fresh
;; instance starts at 1, so tests can tell instances apart.
(module
  (import "http_handler" "get_method" (func $get_method (param i32 i32) (result i32)))
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (global $n (mut i32) (i32.const 0))
  (data (i32.const 0) " ")
  (func (export "handle_request") (result i64)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (call $set_status_code (i32.const 201))
    (call $write_body (i32.const 1) (i32.const 1024) (call $get_method (i32.const 1024) (i32.const 1024)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
    (call $write_body (i32.const 1) (i32.const 1024) (call $get_uri (i32.const 1024) (i32.const 1024)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
    (i32.store8 (i32.const 2048) (i32.add (i32.const 48) (global.get $n)))
    (call $write_body (i32.const 1) (i32.const 2048) (i32.const 1))
    (i64.const 0)))
