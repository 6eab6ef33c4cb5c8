;; bigmem: a reactor whose memory starts at 32 pages (2 MiB).
(module
  (memory (export "memory") 32)
  (func (export "handle_request") (result i64) (i64.const 0)))
