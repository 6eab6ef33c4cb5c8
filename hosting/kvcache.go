package hosting

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// kvCache is the node's read cache of KV values (docs/workers.md §2,
// "KV"): bounded by bytes, with a share per tenant so that one tenant's
// keys cannot evict everyone's, values up to maxValue bytes, absent keys
// remembered too. Writes made on this node go through it (write-through);
// other nodes' writes arrive as invalidations from the change feed
// (Edge.KVChanged).
//
// The stale-fill race (a read of the store that started before an
// invalidation installing its old value after it) is closed by
// generations: every invalidation bumps the generation of the key's
// stripe (of the namespace's, for a whole namespace; the global one for a
// resync) before it deletes, and a fill installs only if the generations
// it read before going to the store are unchanged, checked under the
// tenant's lock.
type kvCache struct {
	limit       int64 // bytes, all tenants
	tenantLimit int64 // bytes, each tenant
	maxValue    int

	bytes   atomic.Int64
	tenants sync.Map // tenant ID → *kvTenantCache

	mu   sync.Mutex // guards ring and next
	ring []*kvTenantCache
	next int

	seed   maphash.Seed
	global atomic.Uint64
	keyGen [kvGenStripes]atomic.Uint64
	nsGen  [kvGenStripes]atomic.Uint64
}

const (
	kvGenStripes = 1024
	// kvEntryOverhead is what an entry costs besides its key and value.
	kvEntryOverhead = 96
)

// kvTenantCache holds one tenant's cached keys.
type kvTenantCache struct {
	mu    sync.RWMutex
	m     map[kvCacheKey]*kvCacheEntry
	bytes int64 // guarded by mu
}

type kvCacheKey struct{ ns, key string }

type kvCacheEntry struct {
	value   []byte
	found   bool
	expires time.Time // zero: never
	size    int64
	ref     atomic.Bool // CLOCK reference bit
}

// kvGen is the generations a fill started with.
type kvGen [3]uint64

func newKVCache(limit, tenantLimit int64, maxValue int) *kvCache {
	return &kvCache{limit: limit, tenantLimit: min(tenantLimit, limit), maxValue: maxValue, seed: maphash.MakeSeed()}
}

func (c *kvCache) stripes(ns, key string) (nsStripe, keyStripe uint64) {
	h := maphash.String(c.seed, ns)
	return h % kvGenStripes, (h ^ maphash.String(c.seed, key)) % kvGenStripes
}

func (c *kvCache) keyStripe(ns, key string) uint64 {
	_, k := c.stripes(ns, key)
	return k
}

// gen returns the generations of (ns, key), to pass to fill or written.
func (c *kvCache) gen(ns, key string) kvGen {
	n, k := c.stripes(ns, key)
	return kvGen{c.global.Load(), c.nsGen[n].Load(), c.keyGen[k].Load()}
}

// tenant returns tenantID's cache, creating it if create.
func (c *kvCache) tenant(tenantID string, create bool) *kvTenantCache {
	if v, ok := c.tenants.Load(tenantID); ok {
		return v.(*kvTenantCache)
	}
	if !create {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, loaded := c.tenants.LoadOrStore(tenantID, &kvTenantCache{m: map[kvCacheKey]*kvCacheEntry{}})
	tc := v.(*kvTenantCache)
	if !loaded {
		c.ring = append(c.ring, tc)
	}
	return tc
}

// peek returns the cached answer for (ns, key) of tenantID: ok false when
// there is none (or it expired by now(), asked only of an entry with an
// expiry).
func (c *kvCache) peek(tenantID, ns, key string, now func() time.Time) (value []byte, found, ok bool) {
	tc := c.tenant(tenantID, false)
	if tc == nil {
		return nil, false, false
	}
	tc.mu.RLock()
	e := tc.m[kvCacheKey{ns, key}]
	tc.mu.RUnlock()
	if e == nil || (!e.expires.IsZero() && !now().Before(e.expires)) {
		return nil, false, false
	}
	if !e.ref.Load() {
		e.ref.Store(true)
	}
	return e.value, e.found, true
}

// fill installs what a read of the store found, unless (ns, key) was
// invalidated since g was taken.
func (c *kvCache) fill(tenantID, ns, key string, value []byte, found bool, expires time.Time, g kvGen) {
	c.install(tenantID, ns, key, value, found, expires, g, false)
}

// written installs what this node just wrote (found false: deleted),
// and stops fills that read the store before the write. If (ns, key)
// changed otherwise since g was taken (another write or an invalidation
// meanwhile, whose order with this one is unknown), it drops the key
// instead, so the next read goes to the store.
func (c *kvCache) written(tenantID, ns, key string, value []byte, found bool, expires time.Time, g kvGen) {
	c.install(tenantID, ns, key, value, found, expires, g, true)
}

func (c *kvCache) install(tenantID, ns, key string, value []byte, found bool, expires time.Time, g kvGen, write bool) {
	size := int64(len(ns)+len(key)+len(value)) + kvEntryOverhead
	cacheable := len(value) <= c.maxValue && size <= c.tenantLimit
	if !cacheable && !write {
		return
	}
	tc := c.tenant(tenantID, cacheable)
	if tc == nil { // nothing of the tenant is cached
		c.keyGen[c.keyStripe(ns, key)].Add(1)
		return
	}
	k := kvCacheKey{ns, key}
	stripe := c.keyStripe(ns, key)
	tc.mu.Lock()
	current := c.gen(ns, key) == g
	if write {
		c.keyGen[stripe].Add(1)
	}
	if !current && !write {
		// Invalidated since the read: whatever is cached now is newer.
		tc.mu.Unlock()
		return
	}
	if !current || !cacheable {
		if old := tc.m[k]; old != nil {
			c.drop(tc, k, old)
		}
		tc.mu.Unlock()
		return
	}
	if old := tc.m[k]; old != nil {
		c.drop(tc, k, old)
	}
	tc.m[k] = &kvCacheEntry{value: value, found: found, expires: expires, size: size}
	tc.bytes += size
	c.bytes.Add(size)
	for tc.bytes > c.tenantLimit {
		c.evictOne(tc)
	}
	tc.mu.Unlock()
	c.shrink()
}

// drop removes k from tc (locked).
func (c *kvCache) drop(tc *kvTenantCache, k kvCacheKey, e *kvCacheEntry) {
	delete(tc.m, k)
	tc.bytes -= e.size
	c.bytes.Add(-e.size)
}

// evictOne evicts one entry of tc (locked), CLOCK-style: the map's random
// iteration order is the hand; a referenced entry loses its bit and is
// passed over.
func (c *kvCache) evictOne(tc *kvTenantCache) {
	for range 2 {
		for k, e := range tc.m {
			if e.ref.Swap(false) {
				continue
			}
			c.drop(tc, k, e)
			return
		}
	}
}

// shrink evicts until the cache is within its limit, each time from the
// largest of a few tenants taken in turn: the tenants over their fair
// share pay for the pressure.
func (c *kvCache) shrink() {
	for c.bytes.Load() > c.limit {
		c.mu.Lock()
		var victim *kvTenantCache
		var most int64 = -1
		for i := 0; i < len(c.ring) && (i < 4 || most <= 0); i++ {
			tc := c.ring[c.next%len(c.ring)]
			c.next++
			tc.mu.RLock()
			b := tc.bytes
			tc.mu.RUnlock()
			if b > most {
				victim, most = tc, b
			}
		}
		c.mu.Unlock()
		if victim == nil || most <= 0 {
			return
		}
		victim.mu.Lock()
		c.evictOne(victim)
		victim.mu.Unlock()
	}
}

// invalidate drops (ns, key) (key "": every key of ns) from the cache
// of tenantID, or of every tenant when tenantID is "".
func (c *kvCache) invalidate(tenantID, ns, key string) {
	n, k := c.stripes(ns, key)
	if key == "" {
		c.nsGen[n].Add(1)
	} else {
		c.keyGen[k].Add(1)
	}
	clean := func(tc *kvTenantCache) {
		tc.mu.Lock()
		if key != "" {
			if e := tc.m[kvCacheKey{ns, key}]; e != nil {
				c.drop(tc, kvCacheKey{ns, key}, e)
			}
		} else {
			for k, e := range tc.m {
				if k.ns == ns {
					c.drop(tc, k, e)
				}
			}
		}
		tc.mu.Unlock()
	}
	if tenantID != "" {
		if tc := c.tenant(tenantID, false); tc != nil {
			clean(tc)
		}
		return
	}
	c.tenants.Range(func(_, v any) bool {
		clean(v.(*kvTenantCache))
		return true
	})
}

// reset drops everything.
func (c *kvCache) reset() {
	c.global.Add(1)
	c.tenants.Range(func(_, v any) bool {
		tc := v.(*kvTenantCache)
		tc.mu.Lock()
		c.bytes.Add(-tc.bytes)
		tc.bytes = 0
		clear(tc.m)
		tc.mu.Unlock()
		return true
	})
}
