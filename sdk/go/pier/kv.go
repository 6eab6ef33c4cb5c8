package pier

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Errors of [Namespace]'s methods, wrapped with the binding and key they
// were for: test them with [errors.Is]. Each refusal names the limit.
var (
	// ErrKeyNotFound: [Namespace.Get] found no such key (or it expired).
	ErrKeyNotFound = errors.New("kv: key not found")
	// ErrKVOpLimit: the plan's KV operations per request (kvOps) are
	// used up.
	ErrKVOpLimit = errors.New("kv: operation limit of this request used up (kvOps)")
	// ErrKVInvalid: the key is empty, longer than 512 bytes, not UTF-8 or
	// contains NUL; or the TTL is negative.
	ErrKVInvalid = errors.New("kv: invalid key or TTL (keys are 1 to 512 bytes of UTF-8 without NUL)")
	// ErrKVValueTooLarge: the value is larger than the plan allows
	// (kvValueKB), or the tenant's storage quota (storageMB) is used up.
	ErrKVValueTooLarge = errors.New("kv: value too large (kvValueKB) or storage quota used up (storageMB)")
	// ErrKVUnbound: the deployment has no KV binding of that name
	// ([[kv]] in pier.toml), or its namespace was deleted.
	ErrKVUnbound = errors.New("kv: no such KV binding in this deployment")
	// ErrKVUnavailable: the store failed; the operation may be retried.
	ErrKVUnavailable = errors.New("kv: store unavailable")
)

// kvConflict is kv_cas's "the value changed".
const kvConflict = -12

// kvError maps a negative result of the kv_* functions.
func kvError(code int32) error {
	switch code {
	case -6:
		return ErrKeyNotFound
	case -7:
		return ErrKVOpLimit
	case -8:
		return ErrKVInvalid
	case -9:
		return ErrKVValueTooLarge
	case -10:
		return ErrKVUnbound
	case -11:
		return ErrKVUnavailable
	}
	return fmt.Errorf("kv: host error %d", code)
}

// kvABI is the KV part of the host's ABI (module pier, kv_*): the host's
// imports inside Pier, an in-memory store outside.
type kvABI interface {
	kvGet(binding, key string, buf []byte) int32
	kvPut(binding, key string, value []byte, ttlSeconds int64) int32
	kvDelete(binding, key string) int32
	kvList(binding, prefix, cursor string, limit int32, buf []byte) int32
	kvCAS(binding, key string, old []byte, oldExists bool, value []byte, ttlSeconds int64) int32
}

// Namespace is a KV namespace as the worker sees it: through a binding
// of its deployment (pier.toml's [[kv]] binding = "STORE",
// namespace = "blog-data"). Get it with [KV].
//
// Consistency: a read on a node sees that node's own writes at once, and
// other nodes' writes within about a second; [Namespace.CompareAndSwap]
// always checks against the store, so [Namespace.Update] is exact under
// concurrency. Each method call is one operation against the plan's
// kvOps per request ([Namespace.Update] makes two per attempt).
//
// Outside the Pier host, every binding is an in-memory namespace of the
// process (empty at start, safe for concurrent use), so handlers can be
// unit-tested natively.
type Namespace struct {
	binding string
	h       kvABI
}

// KV returns the namespace bound as binding in the deployment. Nothing
// is checked until it is used: a binding the deployment does not have
// fails each operation with [ErrKVUnbound].
func KV(binding string) Namespace {
	if h := hostABI(); h != nil {
		return Namespace{binding: binding, h: h}
	}
	return Namespace{binding: binding, h: memoryKV}
}

func (ns Namespace) err(op, key string, code int32) error {
	return fmt.Errorf("pier: KV(%q).%s(%q): %w", ns.binding, op, key, kvError(code))
}

// kvBuf is the buffer Get and List read into first inside the host,
// which calls the guest one request at a time.
var kvBuf scratch

// buffer returns the buffer to read into first: kvBuf inside the host, a
// new one outside it, where handlers may run concurrently.
func (ns Namespace) buffer() []byte {
	if ns.h == memoryKV {
		return make([]byte, initialScratch)
	}
	return kvBuf.full()
}

// Get returns the value of key, or an error wrapping [ErrKeyNotFound]
// when the key is absent or expired.
func (ns Namespace) Get(key string) ([]byte, error) {
	buf := ns.buffer()
	n := ns.h.kvGet(ns.binding, key, buf)
	if n < 0 {
		return nil, ns.err("Get", key, n)
	}
	if int(n) <= len(buf) {
		return bytes.Clone(buf[:n:n]), nil
	}
	// Too large for the buffer: the repeat at once does not count
	// another operation.
	v := make([]byte, n)
	n = ns.h.kvGet(ns.binding, key, v)
	if n < 0 {
		return nil, ns.err("Get", key, n)
	}
	return v[:min(int(n), len(v))], nil
}

// PutOption changes how [Namespace.Put] and [Namespace.CompareAndSwap]
// write.
type PutOption func(*putOptions)

type putOptions struct{ ttl int64 }

// WithTTL makes the key expire d from now (rounded up to a whole
// second). 0 means never, the default.
func WithTTL(d time.Duration) PutOption {
	return func(o *putOptions) {
		switch {
		case d < 0:
			o.ttl = -1 // refused by the host: ErrKVInvalid
		case d == 0:
			o.ttl = 0
		default:
			o.ttl = int64((d + time.Second - 1) / time.Second)
		}
	}
}

func ttlOf(opts []PutOption) int64 {
	var o putOptions
	for _, f := range opts {
		f(&o)
	}
	return o.ttl
}

// Put writes key. When it returns nil the write is durable.
func (ns Namespace) Put(key string, value []byte, opts ...PutOption) error {
	if n := ns.h.kvPut(ns.binding, key, value, ttlOf(opts)); n < 0 {
		return ns.err("Put", key, n)
	}
	return nil
}

// Delete deletes key; deleting an absent key is not an error.
func (ns Namespace) Delete(key string) error {
	if n := ns.h.kvDelete(ns.binding, key); n < 0 {
		return ns.err("Delete", key, n)
	}
	return nil
}

// List returns up to 1,000 keys starting with prefix, in order, from
// cursor ("" for the first page), and the cursor of the next page (""
// when there is none).
func (ns Namespace) List(prefix, cursor string) (keys []string, next string, err error) {
	buf := ns.buffer()
	n := ns.h.kvList(ns.binding, prefix, cursor, 0, buf)
	if n >= 0 && int(n) > len(buf) {
		buf = make([]byte, n)
		n = ns.h.kvList(ns.binding, prefix, cursor, 0, buf)
	}
	if n < 0 {
		return nil, "", ns.err("List", prefix, n)
	}
	items := strings.Split(string(buf[:min(int(n), len(buf))]), "\x00")
	// keys, each NUL-terminated, then the cursor, NUL-terminated: the
	// split ends with the cursor and an empty string.
	if len(items) < 2 {
		return nil, "", ns.err("List", prefix, -11)
	}
	return items[:len(items)-2], items[len(items)-2], nil
}

// CompareAndSwap writes value only if the key's current value is old
// (with oldExists false: only if the key is absent) and reports whether
// it wrote. It always asks the store, never a cache.
func (ns Namespace) CompareAndSwap(key string, old []byte, oldExists bool, value []byte, opts ...PutOption) (bool, error) {
	n := ns.h.kvCAS(ns.binding, key, old, oldExists, value, ttlOf(opts))
	switch {
	case n == kvConflict:
		return false, nil
	case n < 0:
		return false, ns.err("CompareAndSwap", key, n)
	}
	return true, nil
}

// Update changes key with fn, exactly once even under concurrent
// updates: it reads the key, calls fn with its value (exists false when
// absent) and writes fn's result with [Namespace.CompareAndSwap], and
// starts again while another write came between. It returns what it
// wrote. An error from fn stops it and is returned as it is. Each
// attempt is two operations. A request whose write lost to another of its
// node goes next, so on one node Update takes at most two attempts when
// fn makes no call but KV reads and writes (a CompareAndSwap of another key,
// such as a nested Update, gives the turn back) and returns within 10 ms;
// contention from several nodes at once may still use up the request's
// kvOps ([ErrKVOpLimit]).
func (ns Namespace) Update(key string, fn func(old []byte, exists bool) ([]byte, error), opts ...PutOption) ([]byte, error) {
	for {
		old, err := ns.Get(key)
		exists := err == nil
		if err != nil && !errors.Is(err, ErrKeyNotFound) {
			return nil, err
		}
		value, err := fn(old, exists)
		if err != nil {
			return nil, err
		}
		ok, err := ns.CompareAndSwap(key, old, exists, value, opts...)
		if err != nil {
			return nil, err
		}
		if ok {
			return value, nil
		}
	}
}

// memoryKV is every binding outside the Pier host.
var memoryKV kvABI = &memKV{m: map[string]map[string]memEntry{}}

// memKV is an in-memory kvABI with the host's semantics (expiry, list
// format, compare-and-swap), for native tests. It counts no operations.
type memKV struct {
	mu sync.Mutex
	m  map[string]map[string]memEntry // binding → key → entry
}

type memEntry struct {
	value   []byte
	expires time.Time
}

func validKey(key string) bool {
	return key != "" && len(key) <= 512 && !strings.ContainsRune(key, 0) && strings.ToValidUTF8(key, "\uFFFD") == key
}

// live returns the binding's unexpired entry (locked).
func (s *memKV) live(binding, key string) (memEntry, bool) {
	e, ok := s.m[binding][key]
	if ok && !e.expires.IsZero() && !time.Now().Before(e.expires) {
		delete(s.m[binding], key)
		return memEntry{}, false
	}
	return e, ok
}

func (s *memKV) set(binding, key string, value []byte, ttl int64) {
	if s.m[binding] == nil {
		s.m[binding] = map[string]memEntry{}
	}
	e := memEntry{value: bytes.Clone(value)}
	if ttl > 0 {
		e.expires = time.Now().Add(time.Duration(ttl) * time.Second)
	}
	s.m[binding][key] = e
}

func (s *memKV) kvGet(binding, key string, buf []byte) int32 {
	if !validKey(key) {
		return -8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.live(binding, key)
	if !ok {
		return -6
	}
	return int32(fillBytes(buf, e.value))
}

func fillBytes(buf, v []byte) int {
	if len(v) <= len(buf) {
		copy(buf, v)
	}
	return len(v)
}

func (s *memKV) kvPut(binding, key string, value []byte, ttl int64) int32 {
	if !validKey(key) || ttl < 0 {
		return -8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set(binding, key, value, ttl)
	return 0
}

func (s *memKV) kvDelete(binding, key string) int32 {
	if !validKey(key) {
		return -8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m[binding], key)
	return 0
}

func (s *memKV) kvList(binding, prefix, cursor string, limit int32, buf []byte) int32 {
	if limit == 0 {
		limit = 1000
	}
	if limit < 0 || limit > 1000 {
		return -8
	}
	s.mu.Lock()
	var keys []string
	for k := range s.m[binding] {
		if _, ok := s.live(binding, k); ok && strings.HasPrefix(k, prefix) && k > cursor {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	next := ""
	if len(keys) > int(limit) {
		keys = keys[:limit]
		next = keys[limit-1]
	}
	var b []byte
	for _, k := range keys {
		b = append(append(b, k...), 0)
	}
	b = append(append(b, next...), 0)
	return int32(fillBytes(buf, b))
}

func (s *memKV) kvCAS(binding, key string, old []byte, oldExists bool, value []byte, ttl int64) int32 {
	if !validKey(key) || ttl < 0 {
		return -8
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.live(binding, key)
	if ok != oldExists || (ok && !bytes.Equal(cur.value, old)) {
		return kvConflict
	}
	s.set(binding, key, value, ttl)
	return 0
}
