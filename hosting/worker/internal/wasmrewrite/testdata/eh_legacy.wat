;; Legacy exception handling (what clang and Rust emit with -fwasm-exceptions).
;; wazero runs only the newer try_table form, so this module is for the decoder
;; tests alone; wabt 1.0.32 cannot assemble try_table, whose test module is
;; assembled in wazero_test.go.
(module
  (tag $e (param i32))
  (func $thrower (param i32)
    (if (i32.gt_u (local.get 0) (i32.const 3))
      (then (throw $e (local.get 0)))))
  (func (export "run") (param $n i32) (result i32)
    (local $sum i32) (local $i i32)
    (loop $l
      (try
        (do (call $thrower (local.get $i)))
        (catch $e
          (local.set $sum (i32.add (local.get $sum)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $sum)))
