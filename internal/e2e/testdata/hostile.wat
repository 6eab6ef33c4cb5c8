;; A hostile http-wasm worker for the end-to-end tests: the first letter of
;; the path picks the misbehaviour.
;;   /loop     an infinite loop
;;   /recurse  unbounded recursion
;;   /fib      an exponential call tree (fib 45)
;;   /grow     grows memory (64 pages at a time) until memory.grow fails at the plan's cap, then answers "grew"
;;   /trap     executes unreachable
;;   anything else: 200 "ok"
(module
  (import "http_handler" "get_uri" (func $get_uri (param i32 i32) (result i32)))
  (import "http_handler" "set_status_code" (func $set_status (param i32)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "ok")
  (func $loop (loop $l (br $l)))
  (func $recurse (param i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  ;; grow: memory.grow 4 MiB at a time until it returns -1; answer 200
  ;; with the body "grew" when the cap stopped it.
  (data (i32.const 16) "grew")
  (func $grow
    (block $done
      (loop $more
        (br_if $done (i32.eq (memory.grow (i32.const 64)) (i32.const -1)))
        (br $more))))
  (func (export "handle_request") (result i64)
    (local $c i32)
    (drop (call $get_uri (i32.const 1024) (i32.const 256)))
    (local.set $c (i32.load8_u (i32.const 1025)))
    (if (i32.eq (local.get $c) (i32.const 108)) (then (call $loop)))                      ;; l
    (if (i32.eq (local.get $c) (i32.const 114)) (then (drop (call $recurse (i32.const 0))))) ;; r
    (if (i32.eq (local.get $c) (i32.const 102)) (then (drop (call $fib (i32.const 45)))))    ;; f
    (if (i32.eq (local.get $c) (i32.const 116)) (then unreachable))                          ;; t
    (if (i32.eq (local.get $c) (i32.const 103))                                              ;; g
      (then
        (call $grow)
        (call $set_status (i32.const 200))
        (call $write_body (i32.const 1) (i32.const 16) (i32.const 4))
        (return (i64.const 0))))
    (call $set_status (i32.const 200))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 2))
    (i64.const 0))
)
