;; kv: runs the script in the request body, one KV call per command, and
;; writes each call's i32 result (4 bytes, little-endian) to the response,
;; followed by the filled buffer of a kv_get or kv_list whose result fits.
;; A command is an op byte, then fields (a u32 length and its bytes; length
;; 0xFFFFFFFF: no bytes) and numbers:
;;   'g' binding key buf_limit:u32
;;   'p' binding key value ttl:i64
;;   'd' binding key
;;   'l' binding prefix cursor limit:u32 buf_limit:u32
;;   'c' binding key old new ttl:i64
(module
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "pier" "kv_get" (func $kv_get (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "pier" "kv_put" (func $kv_put (param i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (import "pier" "kv_delete" (func $kv_delete (param i32 i32 i32 i32) (result i32)))
  (import "pier" "kv_list" (func $kv_list (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "pier" "kv_cas" (func $kv_cas (param i32 i32 i32 i32 i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 8)
  (global $p (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))

  ;; $field returns a field's address and sets $len.
  (func $field (result i32)
    (local $ptr i32)
    (global.set $len (i32.load (global.get $p)))
    (local.set $ptr (i32.add (global.get $p) (i32.const 4)))
    (global.set $p (local.get $ptr))
    (if (i32.ne (global.get $len) (i32.const -1))
      (then (global.set $p (i32.add (global.get $p) (global.get $len)))))
    (local.get $ptr))
  (func $u32 (result i32)
    (local $v i32)
    (local.set $v (i32.load (global.get $p)))
    (global.set $p (i32.add (global.get $p) (i32.const 4)))
    (local.get $v))
  (func $i64 (result i64)
    (local $v i64)
    (local.set $v (i64.load (global.get $p)))
    (global.set $p (i32.add (global.get $p) (i32.const 8)))
    (local.get $v))
  ;; $out writes r, then the buffer's r bytes when 0 <= r <= limit.
  (func $out (param $r i32) (param $limit i32)
    (i32.store (i32.const 256) (local.get $r))
    (call $write_body (i32.const 1) (i32.const 256) (i32.const 4))
    (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.le_s (local.get $r) (local.get $limit)))
      (then (call $write_body (i32.const 1) (i32.const 0x40000) (local.get $r)))))

  (func (export "handle_request") (result i64)
    (local $end i32) (local $r i64) (local $op i32)
    (local $b i32) (local $bl i32) (local $k i32) (local $kl i32)
    (local $v i32) (local $vl i32) (local $c i32) (local $cl i32)
    (local $lim i32) (local $buf i32)
    (local.set $end (i32.const 0x10000))
    (block $read
      (loop $more
        (local.set $r (call $read_body (i32.const 0) (local.get $end) (i32.sub (i32.const 0x30000) (local.get $end))))
        (local.set $end (i32.add (local.get $end) (i32.wrap_i64 (i64.and (local.get $r) (i64.const 0xffffffff)))))
        (br_if $read (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)))
        (br $more)))
    (global.set $p (i32.const 0x10000))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (global.get $p) (local.get $end)))
        (local.set $op (i32.load8_u (global.get $p)))
        (global.set $p (i32.add (global.get $p) (i32.const 1)))
        (local.set $b (call $field))
        (local.set $bl (global.get $len))
        (local.set $k (call $field))
        (local.set $kl (global.get $len))
        (if (i32.eq (local.get $op) (i32.const 103)) ;; g
          (then
            (local.set $buf (call $u32))
            (call $out
              (call $kv_get (local.get $b) (local.get $bl) (local.get $k) (local.get $kl) (i32.const 0x40000) (local.get $buf))
              (local.get $buf))))
        (if (i32.eq (local.get $op) (i32.const 112)) ;; p
          (then
            (local.set $v (call $field))
            (local.set $vl (global.get $len))
            (call $out
              (call $kv_put (local.get $b) (local.get $bl) (local.get $k) (local.get $kl) (local.get $v) (local.get $vl) (call $i64))
              (i32.const -1))))
        (if (i32.eq (local.get $op) (i32.const 100)) ;; d
          (then
            (call $out
              (call $kv_delete (local.get $b) (local.get $bl) (local.get $k) (local.get $kl))
              (i32.const -1))))
        (if (i32.eq (local.get $op) (i32.const 108)) ;; l
          (then
            (local.set $c (call $field))
            (local.set $cl (global.get $len))
            (local.set $lim (call $u32))
            (local.set $buf (call $u32))
            (call $out
              (call $kv_list (local.get $b) (local.get $bl) (local.get $k) (local.get $kl) (local.get $c) (local.get $cl) (local.get $lim) (i32.const 0x40000) (local.get $buf))
              (local.get $buf))))
        (if (i32.eq (local.get $op) (i32.const 99)) ;; c
          (then
            (local.set $c (call $field))
            (local.set $cl (global.get $len))
            (local.set $v (call $field))
            (local.set $vl (global.get $len))
            (call $out
              (call $kv_cas (local.get $b) (local.get $bl) (local.get $k) (local.get $kl) (local.get $c) (local.get $cl) (local.get $v) (local.get $vl) (call $i64))
              (i32.const -1))))
        (br $next)))
    (i64.const 0)))
