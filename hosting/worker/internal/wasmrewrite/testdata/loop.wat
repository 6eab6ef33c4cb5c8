;; An infinite loop, for the interrupt tests.
(module
  (func (export "spin")
    (loop $forever
      (br $forever))))
