;; badreturn: handle_request with the wrong signature.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i32) (i32.const 0)))
