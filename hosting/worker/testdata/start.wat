;; start: has a start function, which would run at instantiation.
(module
  (memory (export "memory") 1)
  (func $s (loop $forever (br $forever)))
  (start $s)
  (func (export "handle_request") (result i64) (i64.const 0)))
