;; badimport: imports from a module Pier does not provide.
(module
  (import "env" "abort" (func $abort))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i64.const 0)))
