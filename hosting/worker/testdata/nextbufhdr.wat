;; nextbufhdr: enables buffer_response in _initialize, continues to next,
;; and in handle_response only sets X-Post, leaving next's status, headers
;; and body as they are.
(module
  (import "http_handler" "enable_features" (func $enable_features (param i32) (result i32)))
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "X-Post")
  (data (i32.const 16) "1")
  (func (export "_initialize")
    (if (i32.ne (i32.and (call $enable_features (i32.const 2)) (i32.const 2)) (i32.const 2))
      (then unreachable)))
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param $ctx i32) (param $is_error i32)
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 1))))
