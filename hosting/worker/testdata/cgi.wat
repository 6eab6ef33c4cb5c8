;; cgi: a WASI command answering CGI-style: a 201 with X-Cgi, then the
;; environment block (NUL-separated) and stdin as the body; two and a half
;; lines on stderr; exits with proc_exit(0).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 4)
  (data (i32.const 0) "Status: 201 Created\0d\0aContent-Type: text/plain\0d\0aX-Cgi: 1\0d\0a\0d\0a")
  (data (i32.const 1024) "cgi log line\0asecond line\0apartial")
  (func $out (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 512) (local.get $ptr))
    (i32.store (i32.const 516) (local.get $len))
    (if (call $fd_write (local.get $fd) (i32.const 512) (i32.const 1) (i32.const 520))
      (then unreachable)))
  (func (export "_start")
    (local $n i32)
    (call $out (i32.const 1) (i32.const 0) (i32.const 59))
    (drop (call $environ_sizes_get (i32.const 600) (i32.const 604)))
    (drop (call $environ_get (i32.const 4096) (i32.const 65536)))
    (call $out (i32.const 1) (i32.const 65536) (i32.load (i32.const 604)))
    (block $done
      (loop $more
        (i32.store (i32.const 512) (i32.const 131072))
        (i32.store (i32.const 516) (i32.const 4096))
        (drop (call $fd_read (i32.const 0) (i32.const 512) (i32.const 1) (i32.const 608)))
        (local.set $n (i32.load (i32.const 608)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $out (i32.const 1) (i32.const 131072) (local.get $n))
        (br $more)))
    (call $out (i32.const 2) (i32.const 1024) (i32.const 32))
    (call $proc_exit (i32.const 0))))
