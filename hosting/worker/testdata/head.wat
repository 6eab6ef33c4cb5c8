;; head: pier.request_head and pier.send_response. A GET gets 201 with the
;; headers "x-a: 1", "X-A: 2" and "content-type: text/plain" and the request
;; head as the body; a POST sends an invalid header name (a trap).
(module
  (import "pier" "request_head" (func $request_head (param i32 i32) (result i32)))
  (import "pier" "send_response" (func $send_response (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-a\001\00X-A\002\00content-type\00text/plain\00")
  (data (i32.const 64) "bad name\00v\00")
  (func (export "handle_request") (result i64)
    (local $n i32)
    ;; Too small a buffer: nothing is written, the length is returned.
    (i32.store8 (i32.const 1024) (i32.const 0))
    (local.set $n (call $request_head (i32.const 1024) (i32.const 4)))
    (if (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 0))
      (then unreachable))
    (if (i32.ne (call $request_head (i32.const 1024) (i32.const 4096)) (local.get $n))
      (then unreachable))
    (if (i32.gt_u (local.get $n) (i32.const 4096))
      (then unreachable))
    (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 80)) ;; 'P'
      (then
        (call $send_response (i32.const 200) (i32.const 64) (i32.const 11) (i32.const 0) (i32.const 0))
        (return (i64.const 0))))
    (call $send_response (i32.const 201) (i32.const 0) (i32.const 36) (i32.const 1024) (local.get $n))
    (i64.const 0)))
