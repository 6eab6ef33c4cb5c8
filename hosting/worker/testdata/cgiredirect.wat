;; cgiredirect: a CGI response with only a Location header (so a 302).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "Location: /elsewhere\0d\0a\0d\0a")
  (func (export "_start")
    (i32.store (i32.const 512) (i32.const 0))
    (i32.store (i32.const 516) (i32.const 24))
    (drop (call $fd_write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 520)))))
