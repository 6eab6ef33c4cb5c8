;; growsteps: grows memory 4 MiB (64 pages) at a time until refused, like a
;; guest heap growing to the plan's cap. Each new step must read as zeros
;; (a recycled memory is reset); its first byte is then set to the step's
;; number, and every step is checked afterwards (growing keeps contents).
;; handle_request writes one byte: 'a' plus the number of successful grows.
(module
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (memory (export "memory") 1)
  (func $grow_to_cap (export "grow_to_cap") (result i32)
    (local $n i32) (local $at i32) (local $i i32)
    (block $full
      (loop $more
        (local.set $at (memory.grow (i32.const 64)))
        (br_if $full (i32.eq (local.get $at) (i32.const -1)))
        (local.set $at (i32.mul (local.get $at) (i32.const 65536)))
        ;; the last byte of the step too: all of it must be fresh
        (if (i32.or (i32.load8_u (local.get $at))
                    (i32.load8_u (i32.add (local.get $at) (i32.const 4194303))))
          (then unreachable))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (i32.store8 (local.get $at) (local.get $n))
        (br $more)))
    (local.set $i (i32.const 1))
    (block $done
      (loop $check
        (br_if $done (i32.gt_u (local.get $i) (local.get $n)))
        (if (i32.ne (i32.load8_u (i32.add (i32.const 65536)
                                          (i32.mul (i32.sub (local.get $i) (i32.const 1)) (i32.const 4194304))))
                    (local.get $i))
          (then unreachable))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $check)))
    (local.get $n))
  (func (export "handle_request") (result i64)
    (i32.store8 (i32.const 0) (i32.add (i32.const 97) (call $grow_to_cap)))
    (call $write_body (i32.const 1) (i32.const 0) (i32.const 1))
    (i64.const 0)))
