;; CPU-bound loops for the benchmarks: hash is FNV-1a with an xorshift per
;; step; sum is about the tightest loop there is, the worst case for a check
;; at every loop head.
(module
  (func (export "hash") (param $n i32) (result i64)
    (local $h i64) (local $i i32)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h
          (i64.mul
            (i64.xor (local.get $h) (i64.extend_i32_u (local.get $i)))
            (i64.const 0x100000001b3)))
        (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $h))
  (func (export "sum") (param $n i32) (result i32)
    (local $s i32) (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $s)))
