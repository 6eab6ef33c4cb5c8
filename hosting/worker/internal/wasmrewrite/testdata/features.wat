;; Post-MVP instructions that Go, clang, Rust and TinyGo emit: run returns a
;; checksum that must not change when the module is instrumented.
(module
  (type $unop (func (param i32) (result i32)))
  (type $pair (func (param i32) (result i32 i32)))
  (memory (export "memory") 1)
  (table $t 2 funcref)
  (elem (table $t) (i32.const 0) func $double $inc)
  (data $d "\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f\10")
  (global $g (mut i64) (i64.const 0))

  (func $double (type $unop) (i32.mul (local.get 0) (i32.const 2)))
  (func $inc (type $unop) (i32.add (local.get 0) (i32.const 1)))
  (func $pair (type $pair) (local.get 0) (i32.add (local.get 0) (i32.const 1)))

  ;; tail calls
  (func $sum (param $n i32) (param $acc i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (local.get $acc))
      (else
        (return_call $sum
          (i32.sub (local.get $n) (i32.const 1))
          (i32.add (local.get $acc) (local.get $n))))))
  (func $dispatch (param $x i32) (param $i i32) (result i32)
    (return_call_indirect $t (type $unop) (local.get $x) (local.get $i)))

  (func (export "run") (result i64)
    (local $v v128) (local $acc i64) (local $i i32) (local $tmp i32)
    ;; bulk memory
    (memory.init $d (i32.const 0) (i32.const 0) (i32.const 16))
    (data.drop $d)
    (memory.fill (i32.const 16) (i32.const 7) (i32.const 16))
    (memory.copy (i32.const 32) (i32.const 0) (i32.const 16))
    ;; SIMD: memarg, lanes, const, shuffle
    (local.set $v (v128.load (i32.const 32)))
    (local.set $v (i8x16.add (local.get $v) (v128.load offset=16 (i32.const 0))))
    (local.set $v (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (local.get $v)))
    (local.set $v (v128.load8_lane 3 (i32.const 5) (local.get $v)))
    (v128.store offset=48 (i32.const 0) (local.get $v))
    (local.set $acc (i64x2.extract_lane 0 (local.get $v)))
    (local.set $acc (i64.add (local.get $acc) (i64x2.extract_lane 1 (local.get $v))))
    (local.set $acc
      (i64.add (local.get $acc)
        (i64.extend_i32_u
          (i32x4.extract_lane 2 (i32x4.add (local.get $v) (v128.const i32x4 1 2 3 4))))))
    ;; a loop whose block type has a parameter and a result (multi-value)
    (i32.const 0)
    (loop $count (param i32) (result i32)
      i32.const 3
      i32.add
      local.tee $tmp
      local.get $tmp
      i32.const 100
      i32.lt_u
      br_if $count)
    (local.set $tmp)
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $tmp))))
    ;; multi-value calls and blocks, call_indirect through the table
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.const 10)))
        (call $pair (local.get $i))
        (block (param i32 i32) (result i32) (i32.add))
        (call $dispatch (i32.and (local.get $i) (i32.const 1)))
        (i64.extend_i32_s)
        (local.set $acc (i64.add (local.get $acc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    ;; sign extension, saturating truncation, reference types, typed select
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (i32.extend8_s (i32.const 0xff)))))
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (i32.trunc_sat_f32_s (f32.const 1e20)))))
    (local.set $acc (i64.add (local.get $acc) (i64.trunc_sat_f64_u (f64.const -5))))
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (ref.is_null (ref.null func)))))
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (table.size $t))))
    (local.set $acc
      (i64.add (local.get $acc)
        (select (result i64) (i64.const 11) (i64.const 13) (ref.is_null (ref.func $inc)))))
    (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (call $sum (i32.const 100000) (i32.const 0)))))
    ;; br_table
    (block $b2 (block $b1 (block $b0
      (br_table $b0 $b1 $b2 (i32.const 1)))
      (local.set $acc (i64.add (local.get $acc) (i64.const 1000))))
      (local.set $acc (i64.add (local.get $acc) (i64.const 2000))))
    (global.set $g (local.get $acc))
    (global.get $g)))
