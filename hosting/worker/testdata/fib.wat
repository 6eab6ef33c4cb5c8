;; fib: an exponential call tree (naive fib(60)); no loops at all.
(module
  (memory (export "memory") 1)
  (func $fib (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else (i64.add (call $fib (i64.sub (local.get $n) (i64.const 1)))
                     (call $fib (i64.sub (local.get $n) (i64.const 2)))))))
  (func (export "handle_request") (result i64)
    (drop (call $fib (i64.const 60)))
    (i64.const 0)))
