;; cpu: a CPU-bound hash loop. work(n) runs n rounds of xorshift-multiply;
;; handle_request runs 2,000,000 rounds and writes "done".
(module
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "done")
  (func $work (export "work") (param $n i32) (result i64)
    (local $x i64) (local $i i32)
    (local.set $x (i64.const 0x9E3779B97F4A7C15))
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
        (local.set $x (i64.mul (local.get $x) (i64.const 0x2545F4914F6CDD1D)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $x))
  (func (export "handle_request") (result i64)
    (drop (call $work (i32.const 2000000)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 4))
    (i64.const 0)))
