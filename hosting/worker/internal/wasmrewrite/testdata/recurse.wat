;; Call trees without loops, for the interrupt tests: only the checks at
;; function entries can stop them.
(module
  ;; deep(n) recurses n frames deep, then fans out twice per frame: it runs
  ;; for 2^n calls while its stack never exceeds n frames.
  (func $deep (export "deep") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 1))
      (else
        (i32.add
          (call $deep (i32.sub (local.get $n) (i32.const 1)))
          (call $deep (i32.sub (local.get $n) (i32.const 1)))))))
  ;; fib(n), the exponential call tree.
  (func $fib (export "fib") (param $n i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $n) (i64.const 2))
      (then (local.get $n))
      (else
        (i64.add
          (call $fib (i64.sub (local.get $n) (i64.const 1)))
          (call $fib (i64.sub (local.get $n) (i64.const 2))))))))
