;; noentry: exports neither handle_request nor _start.
(module
  (memory (export "memory") 1)
  (func (export "main")))
