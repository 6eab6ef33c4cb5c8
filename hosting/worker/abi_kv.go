package worker

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// KV is the key-value store a request's guest reaches through the kv_*
// imports of module pier (docs/workers.md §2, "KV"). A Host implements it
// optionally: with a Host that does not, every binding answers
// kv_unbound. Serve calls it from the goroutine that called Serve, with
// the request's context, after checking the key, the value's size and
// the request's KV operations; the time it takes is not guest CPU.
//
// Errors may wrap ErrKVNotFound (KVGet only), ErrKVUnbound, ErrKVConflict
// (KVCompareAndSwap only), ErrKVInvalid or ErrKVValueTooLarge; any other
// error is reported to the guest as kv_unavailable. Values passed in are
// the guest's copies, which the KV may keep; values returned must not be
// changed by the KV afterwards (Serve only copies them).
type KV interface {
	// KVGet returns the value of key in the namespace bound as binding.
	KVGet(ctx context.Context, binding, key string) ([]byte, error)
	// KVPut writes key; ttl 0 means it never expires. It returns once the
	// write is durable.
	KVPut(ctx context.Context, binding, key string, value []byte, ttl time.Duration) error
	// KVDelete deletes key (nil when absent).
	KVDelete(ctx context.Context, binding, key string) error
	// KVList returns up to limit unexpired keys starting with prefix,
	// ordered, after cursor ("" : from the start), and the cursor of the
	// next page ("" when there is none). Cursors contain no NUL.
	KVList(ctx context.Context, binding, prefix, cursor string, limit int) (keys []string, next string, err error)
	// KVCompareAndSwap writes value only if the key's current value is
	// old (oldExists false: only if the key is absent), else returns
	// ErrKVConflict.
	KVCompareAndSwap(ctx context.Context, binding, key string, old []byte, oldExists bool, value []byte, ttl time.Duration) error
}

// KVPeeker is optional for a KV that keeps values in memory: KVPeek
// answers a get without waiting (ok false: it cannot, and Serve calls
// KVGet). found false with ok true means the key is known to be absent.
// It runs as part of the guest's CPU time, so it must be quick; it must
// never answer for an expired key.
type KVPeeker interface {
	KVPeek(binding, key string) (value []byte, found, ok bool)
}

// Errors a KV returns (wrapped or not); Serve maps them to the guest's
// negative results.
var (
	// ErrKVNotFound: the key is absent or expired (kv_get: -6 not_found).
	ErrKVNotFound = errors.New("worker: kv key not found")
	// ErrKVUnbound: the deployment has no KV binding of that name, or its
	// namespace is gone (-10 kv_unbound).
	ErrKVUnbound = errors.New("worker: kv binding not found")
	// ErrKVConflict: a compare-and-swap found another value (-12
	// kv_conflict).
	ErrKVConflict = errors.New("worker: kv value changed")
	// ErrKVInvalid: the KV refused an argument, such as a cursor it did not
	// issue (-8 kv_invalid).
	ErrKVInvalid = errors.New("worker: invalid kv argument")
	// ErrKVValueTooLarge: the KV refused to store the value (-9
	// kv_value_too_large).
	ErrKVValueTooLarge = errors.New("worker: kv value too large")
)

// Negative results of the kv_* functions (and -6 not_found of kv_get).
const (
	errnoKVOpLimit       = -7
	errnoKVInvalid       = -8
	errnoKVValueTooLarge = -9
	errnoKVUnbound       = -10
	errnoKVUnavailable   = -11
	errnoKVConflict      = -12
)

// Bounds of the kv_* arguments, on every plan.
const (
	maxKVKeyBytes    = 512 // as tenants.MaxKVKeyBytes
	maxKVListLimit   = 1000
	maxKVCursorBytes = 4096
	maxKVBindingLen  = 256
	// maxKVTTLSeconds is the longest TTL, 100 years, as through the API
	// (admin's maxKVTTL).
	maxKVTTLSeconds = 100 * 365 * 24 * 3600
)

func kvModule(def func(name string, fn api.GoModuleFunc, params, results []api.ValueType)) {
	def("kv_get", pierKVGet, []api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i32})
	def("kv_put", pierKVPut, []api.ValueType{i32, i32, i32, i32, i32, i32, i64}, []api.ValueType{i32})
	def("kv_delete", pierKVDelete, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32})
	def("kv_list", pierKVList, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32})
	def("kv_cas", pierKVCompareAndSwap, []api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i64}, []api.ValueType{i32})
}

// kvHeld is the answer of a kv_get or kv_list that did not fit the
// guest's buffer, kept for a repeat at once with a larger one (which
// does not count another operation).
type kvHeld struct {
	list    bool
	binding string
	key     string // the key, or the list's prefix
	cursor  string
	limit   int
	data    []byte
}

// kvState is the KV part of a call.
type kvState struct {
	kv      KV // nil: the host has none
	ops     int
	refused bool
	reads   int
	writes  int
	bytes   int64
	held    *kvHeld
	binding string // the last binding name, reused while the guest names it again
}

func (s *kvState) reset(host Host) {
	kv, _ := host.(KV)
	*s = kvState{kv: kv, binding: s.binding}
}

// kvBinding returns the binding name at guest [ptr, ptr+n), reusing the
// string of the previous call for the same name.
func (c *call) kvBinding(mod api.Module, ptr, n uint32) (string, bool) {
	if n == 0 || n > maxKVBindingLen {
		return "", false
	}
	b := mem(mod, ptr, n)
	if string(b) != c.kv.binding {
		c.kv.binding = string(b)
	}
	return c.kv.binding, true
}

// kvKey checks a key (or, with prefix, a list prefix, which may be
// empty) as tenants.ValidKVKey does.
func kvKey(b []byte, prefix bool) bool {
	if (len(b) == 0 && !prefix) || len(b) > maxKVKeyBytes {
		return false
	}
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// kvAdmit counts one KV operation against Limits.KVOps, or refuses it.
func (c *call) kvAdmit() bool {
	if c.kv.ops >= c.w.lim.KVOps {
		c.kv.refused = true
		return false
	}
	c.kv.ops++
	c.kv.held = nil
	return true
}

// kvTTL converts ttl_seconds.
func kvTTL(v uint64) (time.Duration, bool) {
	s := int64(v)
	if s < 0 || s > maxKVTTLSeconds {
		return 0, false
	}
	return time.Duration(s) * time.Second, true
}

// kvErrno maps a KV's error to the guest's result.
func kvErrno(err error) int32 {
	switch {
	case errors.Is(err, ErrKVNotFound):
		return errnoNotFound
	case errors.Is(err, ErrKVUnbound):
		return errnoKVUnbound
	case errors.Is(err, ErrKVConflict):
		return errnoKVConflict
	case errors.Is(err, ErrKVInvalid):
		return errnoKVInvalid
	case errors.Is(err, ErrKVValueTooLarge):
		return errnoKVValueTooLarge
	}
	return errnoKVUnavailable
}

// kvFill writes data at buf when it fits in limit and returns its length.
func kvFill(mod api.Module, buf, limit uint32, data []byte) int32 {
	if len(data) > 0 && uint32(len(data)) <= limit {
		if !mod.Memory().Write(buf, data) {
			panic(errOutOfRange)
		}
	}
	return int32(len(data))
}

// pierKVGet: kv_get(binding, binding_len, key, key_len, buf, buf_limit).
func pierKVGet(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	bp, bl, kp, kl := uint32(stack[0]), uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	buf, limit := uint32(stack[4]), uint32(stack[5])
	if h := c.kv.held; h != nil && !h.list && h.binding == string(mem(mod, bp, bl)) && h.key == string(mem(mod, kp, kl)) {
		// The repeat of a get whose value did not fit: no new operation.
		if uint32(len(h.data)) <= limit {
			c.kv.held = nil
		}
		result(stack, kvFill(mod, buf, limit, h.data))
		return
	}
	if !c.kvAdmit() {
		result(stack, errnoKVOpLimit)
		return
	}
	binding, ok := c.kvBinding(mod, bp, bl)
	kb := mem(mod, kp, kl)
	if !ok || !kvKey(kb, false) {
		result(stack, errnoKVInvalid)
		return
	}
	if c.kv.kv == nil {
		result(stack, errnoKVUnbound)
		return
	}
	key := string(kb)
	c.kv.reads++
	var v []byte
	var err error
	found, peeked := false, false
	if p, isPeeker := c.kv.kv.(KVPeeker); isPeeker {
		v, found, peeked = p.KVPeek(binding, key)
	}
	if !peeked {
		done := c.inst.waitHost()
		v, err = c.kv.kv.KVGet(c.ctx, binding, key)
		done()
		found = err == nil
	}
	if !found {
		if err == nil {
			err = ErrKVNotFound
		}
		result(stack, kvErrno(err))
		return
	}
	c.kv.bytes += int64(len(v))
	if uint32(len(v)) > limit {
		c.kv.held = &kvHeld{binding: binding, key: key, data: v}
	}
	result(stack, kvFill(mod, buf, limit, v))
}

// pierKVPut: kv_put(binding, binding_len, key, key_len, val, val_len,
// ttl_seconds i64).
func pierKVPut(ctx context.Context, mod api.Module, stack []uint64) {
	kvWrite(ctx, mod, stack, 4, 6, nil, func(c *call, binding, key string, value []byte, ttl time.Duration) error {
		return c.kv.kv.KVPut(c.ctx, binding, key, value, ttl)
	})
}

// kvWrite is kv_put and kv_cas around their store call: the op limit, the
// binding, key and TTL (at stack[ttlAt]), the value (at stack[valAt],
// stack[valAt+1]) and its limit, then read (if set: the rest of the
// guest's arguments), the counts, and the wait on the host.
func kvWrite(ctx context.Context, mod api.Module, stack []uint64, valAt, ttlAt int, read func(),
	write func(c *call, binding, key string, value []byte, ttl time.Duration) error) {
	c := callFrom(ctx)
	if !c.kvAdmit() {
		result(stack, errnoKVOpLimit)
		return
	}
	binding, ok := c.kvBinding(mod, uint32(stack[0]), uint32(stack[1]))
	kb := mem(mod, uint32(stack[2]), uint32(stack[3]))
	ttl, ttlOK := kvTTL(stack[ttlAt])
	if !ok || !ttlOK || !kvKey(kb, false) {
		result(stack, errnoKVInvalid)
		return
	}
	if int64(uint32(stack[valAt+1])) > c.w.lim.KVValueBytes {
		result(stack, errnoKVValueTooLarge)
		return
	}
	if read != nil {
		read()
	}
	value := guestBytes(mod, uint32(stack[valAt]), uint32(stack[valAt+1]))
	if c.kv.kv == nil {
		result(stack, errnoKVUnbound)
		return
	}
	c.kv.writes++
	c.kv.bytes += int64(len(value))
	done := c.inst.waitHost()
	err := write(c, binding, string(kb), value, ttl)
	done()
	if err != nil {
		result(stack, kvErrno(err))
		return
	}
	result(stack, 0)
}

// guestBytes copies len bytes of guest memory at ptr (never nil).
func guestBytes(mod api.Module, ptr, n uint32) []byte {
	if b := bytes.Clone(mem(mod, ptr, n)); b != nil {
		return b
	}
	return []byte{}
}

// pierKVDelete: kv_delete(binding, binding_len, key, key_len).
func pierKVDelete(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	if !c.kvAdmit() {
		result(stack, errnoKVOpLimit)
		return
	}
	binding, ok := c.kvBinding(mod, uint32(stack[0]), uint32(stack[1]))
	kb := mem(mod, uint32(stack[2]), uint32(stack[3]))
	if !ok || !kvKey(kb, false) {
		result(stack, errnoKVInvalid)
		return
	}
	if c.kv.kv == nil {
		result(stack, errnoKVUnbound)
		return
	}
	c.kv.writes++
	done := c.inst.waitHost()
	err := c.kv.kv.KVDelete(c.ctx, binding, string(kb))
	done()
	if err != nil && !errors.Is(err, ErrKVNotFound) {
		result(stack, kvErrno(err))
		return
	}
	result(stack, 0)
}

// pierKVList: kv_list(binding, binding_len, prefix, prefix_len, cursor,
// cursor_len, limit, buf, buf_limit).
func pierKVList(ctx context.Context, mod api.Module, stack []uint64) {
	c := callFrom(ctx)
	bp, bl := uint32(stack[0]), uint32(stack[1])
	pb := mem(mod, uint32(stack[2]), uint32(stack[3]))
	cb := mem(mod, uint32(stack[4]), uint32(stack[5]))
	n := int32(stack[6])
	buf, limit := uint32(stack[7]), uint32(stack[8])
	if n == 0 {
		n = maxKVListLimit
	}
	if h := c.kv.held; h != nil && h.list && h.binding == string(mem(mod, bp, bl)) &&
		h.key == string(pb) && h.cursor == string(cb) && h.limit == int(n) {
		if uint32(len(h.data)) <= limit {
			c.kv.held = nil
		}
		result(stack, kvFill(mod, buf, limit, h.data))
		return
	}
	if !c.kvAdmit() {
		result(stack, errnoKVOpLimit)
		return
	}
	binding, ok := c.kvBinding(mod, bp, bl)
	if !ok || n < 0 || n > maxKVListLimit || !kvKey(pb, true) || len(cb) > maxKVCursorBytes || bytes.IndexByte(cb, 0) >= 0 {
		result(stack, errnoKVInvalid)
		return
	}
	if c.kv.kv == nil {
		result(stack, errnoKVUnbound)
		return
	}
	prefix, cursor := string(pb), string(cb)
	c.kv.reads++
	done := c.inst.waitHost()
	keys, next, err := c.kv.kv.KVList(c.ctx, binding, prefix, cursor, int(n))
	done()
	if err != nil {
		result(stack, kvErrno(err))
		return
	}
	if len(keys) > int(n) || strings.IndexByte(next, 0) >= 0 {
		result(stack, errnoKVUnavailable) // a KV that broke its contract
		return
	}
	size := len(next) + 1
	for _, k := range keys {
		size += len(k) + 1
	}
	data := make([]byte, 0, size)
	for _, k := range keys {
		data = append(append(data, k...), 0)
	}
	data = append(append(data, next...), 0)
	c.kv.bytes += int64(len(data))
	if uint32(len(data)) > limit {
		c.kv.held = &kvHeld{list: true, binding: binding, key: prefix, cursor: cursor, limit: int(n), data: data}
	}
	result(stack, kvFill(mod, buf, limit, data))
}

// pierKVCompareAndSwap: kv_cas(binding, binding_len, key, key_len, old,
// old_len (-1: the key must be absent), new, new_len, ttl_seconds i64).
func pierKVCompareAndSwap(ctx context.Context, mod api.Module, stack []uint64) {
	var old []byte
	oldExists := int32(stack[5]) != -1
	read := func() {
		if oldExists {
			old = guestBytes(mod, uint32(stack[4]), uint32(stack[5]))
		}
	}
	kvWrite(ctx, mod, stack, 6, 8, read, func(c *call, binding, key string, value []byte, ttl time.Duration) error {
		return c.kv.kv.KVCompareAndSwap(c.ctx, binding, key, old, oldExists, value, ttl)
	})
}

// count copies the request's KV counts into res.
func (s *kvState) count(res *Result) {
	res.KVReads, res.KVWrites, res.KVBytes = s.reads, s.writes, s.bytes
}
