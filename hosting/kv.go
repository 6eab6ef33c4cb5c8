package hosting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/tenants"
)

// Defaults of the KV read cache (Config.KVCacheBytes, KVCacheTenantBytes).
const (
	DefaultKVCacheBytes = 64 << 20
	// KVCacheMaxValue is the largest value the cache keeps; larger ones
	// are read from the store each time.
	KVCacheMaxValue = 64 << 10
)

// KVWrite is a worker's KV write that Config.KVWriteAllowed may refuse.
type KVWrite struct {
	TenantID    string
	Site        string
	NamespaceID string
	Key         string
	// Bytes is len(Key) + len(value): what the entry will count in the
	// tenant's storage.
	Bytes int64
}

// kvOwnerGone marks, in Edge.kvOwners, a namespace the store no longer
// has.
const kvOwnerGone = ""

// kvNamespace resolves binding of the request's deployment to its
// namespace ID, and checks (once per namespace on this node) that the
// namespace belongs to the deployment's tenant: the binding was frozen at
// deploy time, but the edge never trusts it blindly.
func (h *requestHost) kvNamespace(ctx context.Context, binding string) (string, error) {
	e := h.e
	ns := h.d.kv[binding]
	if ns == "" || e.kv == nil {
		return "", fmt.Errorf("hosting: kv binding %q of site %q: %w", binding, h.site, worker.ErrKVUnbound)
	}
	owner, ok := e.kvOwners.Load(ns)
	if !ok {
		n, err := e.kv.KVNamespaceByID(ctx, ns)
		switch {
		case errors.Is(err, tenants.ErrNotFound):
			e.kvOwners.Store(ns, kvOwnerGone)
			owner = kvOwnerGone
		case err != nil:
			return "", fmt.Errorf("hosting: kv binding %q of site %q: looking up namespace %s: %w", binding, h.site, ns, err)
		default:
			e.kvOwners.Store(ns, n.TenantID)
			owner = n.TenantID
		}
	}
	if owner != h.d.tenantID {
		if owner != kvOwnerGone {
			e.log.Warn("hosting: kv binding names another tenant's namespace", "site", h.site, "binding", binding, "namespace", ns)
		}
		return "", fmt.Errorf("hosting: kv binding %q of site %q: %w", binding, h.site, worker.ErrKVUnbound)
	}
	return ns, nil
}

// kvStoreError maps a store error of a KV call to the worker's errors.
func (h *requestHost) kvStoreError(op, ns, key string, err error) error {
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		// The namespace was deleted under the request.
		return fmt.Errorf("hosting: kv %s %q of site %q: %w", op, key, h.site, worker.ErrKVUnbound)
	case errors.Is(err, tenants.ErrInvalid):
		return fmt.Errorf("hosting: kv %s %q of site %q: %w: %w", op, key, h.site, worker.ErrKVInvalid, err)
	}
	return fmt.Errorf("hosting: kv %s %q of site %q in namespace %s: %w", op, key, h.site, ns, err)
}

// KVPeek answers a get from the node's cache: worker.KVPeeker.
func (h *requestHost) KVPeek(binding, key string) ([]byte, bool, bool) {
	e := h.e
	if e.kvCache == nil {
		return nil, false, false
	}
	ns := h.d.kv[binding]
	if ns == "" {
		return nil, false, false
	}
	if owner, ok := e.kvOwners.Load(ns); !ok || owner != h.d.tenantID {
		return nil, false, false
	}
	v, found, ok := e.kvCache.peek(h.d.tenantID, ns, key, e.now)
	if ok {
		h.turns.read(ns, key)
	}
	return v, found, ok
}

// KVGet reads key through the node's cache.
func (h *requestHost) KVGet(ctx context.Context, binding, key string) ([]byte, error) {
	ns, err := h.kvNamespace(ctx, binding)
	if err != nil {
		return nil, err
	}
	defer h.turns.read(ns, key) // once it returned (kvturn.go)
	c := h.e.kvCache
	if c != nil {
		if v, found, ok := c.peek(h.d.tenantID, ns, key, h.e.now); ok {
			if !found {
				return nil, worker.ErrKVNotFound
			}
			return v, nil
		}
	}
	var g kvGen
	if c != nil {
		g = c.gen(ns, key)
	}
	ent, err := h.e.kv.KVGet(ctx, ns, key)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return nil, h.kvStoreError("get", ns, key, err)
	}
	found := err == nil
	if c != nil {
		c.fill(h.d.tenantID, ns, key, ent.Value, found, ent.Expires, g)
	}
	if !found {
		return nil, worker.ErrKVNotFound
	}
	return ent.Value, nil
}

// kvAllowed asks Config.KVWriteAllowed.
func (h *requestHost) kvAllowed(ctx context.Context, ns, key string, value []byte) error {
	if h.e.kvWriteAllowed == nil {
		return nil
	}
	w := KVWrite{TenantID: h.d.tenantID, Site: h.site, NamespaceID: ns, Key: key, Bytes: int64(len(key) + len(value))}
	if err := h.e.kvWriteAllowed(ctx, w); err != nil {
		return fmt.Errorf("hosting: kv put %q of site %q refused: %w", key, h.site, err)
	}
	return nil
}

func (h *requestHost) expires(ttl time.Duration) time.Time {
	if ttl <= 0 {
		return time.Time{}
	}
	return h.e.now().Add(ttl)
}

// KVPut writes key to the store, then to the node's cache.
func (h *requestHost) KVPut(ctx context.Context, binding, key string, value []byte, ttl time.Duration) error {
	defer h.e.kvWriteLatency.since(time.Now())
	ns, err := h.kvNamespace(ctx, binding)
	if err != nil {
		return err
	}
	if err := h.kvAllowed(ctx, ns, key, value); err != nil {
		return err
	}
	ent := tenants.KVEntry{Key: key, Value: value, Expires: h.expires(ttl)}
	return h.kvWrite(ctx, "put", ns, key, value, true, ent.Expires, func() error {
		return h.e.kv.KVPut(ctx, ns, ent)
	})
}

// kvWrite runs write against the store and updates the node's cache
// with its result (value, found) or, if it failed, drops the key.
func (h *requestHost) kvWrite(ctx context.Context, op, ns, key string, value []byte, found bool, expires time.Time, write func() error) error {
	c := h.e.kvCache
	var g kvGen
	if c != nil {
		g = c.gen(ns, key)
	}
	err := write()
	if c != nil {
		if err != nil {
			c.invalidate(h.d.tenantID, ns, key) // the store's state is unknown
		} else {
			c.written(h.d.tenantID, ns, key, value, found, expires, g)
		}
	}
	if err != nil {
		if errors.Is(err, worker.ErrKVConflict) {
			return err
		}
		return h.kvStoreError(op, ns, key, err)
	}
	return nil
}

// KVDelete deletes key from the store and the node's cache.
func (h *requestHost) KVDelete(ctx context.Context, binding, key string) error {
	defer h.e.kvWriteLatency.since(time.Now())
	ns, err := h.kvNamespace(ctx, binding)
	if err != nil {
		return err
	}
	return h.kvWrite(ctx, "delete", ns, key, nil, false, time.Time{}, func() error {
		return h.e.kv.KVDelete(ctx, ns, key)
	})
}

// KVCompareAndSwap always asks the store, then updates the node's cache. It
// waits for the key's turn on this node, and keeps it after a conflict for
// the request's retry (kvturn.go).
func (h *requestHost) KVCompareAndSwap(ctx context.Context, binding, key string, old []byte, oldExists bool, value []byte, ttl time.Duration) (err error) {
	ns, err := h.kvNamespace(ctx, binding)
	if err != nil {
		return err
	}
	if err := h.kvAllowed(ctx, ns, key, value); err != nil {
		return err
	}
	turn, err := h.turns.forCAS(ctx, h.e.kvTurns, ns, key)
	if err != nil {
		return h.kvStoreError("compare-and-swap", ns, key, fmt.Errorf("waiting for the key's turn: %w", err))
	}
	// Deferred, so that a panic (which wazero turns into the call's
	// error) cannot leave the key's turn held.
	defer func() { h.turns.settle(turn, errors.Is(err, worker.ErrKVConflict)) }()
	defer h.e.kvWriteLatency.since(time.Now())
	ent := tenants.KVEntry{Key: key, Value: value, Expires: h.expires(ttl)}
	return h.kvWrite(ctx, "compare-and-swap", ns, key, value, true, ent.Expires, func() error {
		wrote, err := h.e.kv.KVCompareAndSwap(ctx, ns, old, oldExists, ent)
		if err == nil && !wrote {
			// The cached value may be what made the guest try: the
			// failed write drops it, so its next read goes to the store.
			return fmt.Errorf("hosting: kv compare-and-swap %q of site %q: %w", key, h.site, worker.ErrKVConflict)
		}
		return err
	})
}

// KVList lists keys from the store (listings are not cached).
func (h *requestHost) KVList(ctx context.Context, binding, prefix, cursor string, limit int) ([]string, string, error) {
	ns, err := h.kvNamespace(ctx, binding)
	if err != nil {
		return nil, "", err
	}
	keys, next, err := h.e.kv.KVList(ctx, ns, prefix, tenants.PageRequest{Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", h.kvStoreError("list", ns, prefix, err)
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Key
	}
	return names, next, nil
}

// KVChanged drops key of namespace namespaceID from the node's KV cache
// (key "": the whole namespace, which may have been deleted): the edge is
// a tenants.KVFollower, told of other nodes' writes by the change feed
// and of the admin API's writes on this node.
func (e *Edge) KVChanged(namespaceID, key string) {
	owner, _ := e.kvOwners.Load(namespaceID)
	tenantID, _ := owner.(string)
	if e.kvCache != nil {
		e.kvCache.invalidate(tenantID, namespaceID, key)
	}
	if key == "" {
		e.kvOwners.Delete(namespaceID)
	}
}

var (
	_ worker.KV          = (*requestHost)(nil)
	_ worker.KVPeeker    = (*requestHost)(nil)
	_ tenants.KVFollower = (*Edge)(nil)
)
