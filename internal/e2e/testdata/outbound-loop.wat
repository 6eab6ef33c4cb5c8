;; outbound-loop: an operator's outbound worker that never returns, for
;; TestOutboundWorkerRunaway: the CPU limit must stop it.
(module
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (loop $forever (br $forever))
    (i64.const 1)))
