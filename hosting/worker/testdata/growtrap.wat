;; growtrap: grows one page at a time until refused, then traps (like a
;; guest's allocator giving up).
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (loop $more
      (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))
