;; typeerror: well-formed but invalid (handle_request returns an i32 where
;; it declares i64); built with --no-check so that wazero rejects it.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64) (i32.const 0)))
