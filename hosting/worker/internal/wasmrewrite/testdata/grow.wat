;; memory.grow for the memory cap tests: one without a maximum, one with.
(module
  (memory (export "memory") 1)
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0))))
