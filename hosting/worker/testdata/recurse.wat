;; recurse: unbounded recursion (a stack overflow).
(module
  (memory (export "memory") 1)
  (func $down (param $n i64) (result i64)
    (i64.add (call $down (i64.add (local.get $n) (i64.const 1))) (i64.const 1)))
  (func (export "handle_request") (result i64)
    (drop (call $down (i64.const 0)))
    (i64.const 0)))
