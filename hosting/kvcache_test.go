package hosting

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

var kvT0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func kvNow() time.Time { return kvT0 }

func mustPeek(t *testing.T, c *kvCache, tenant, ns, key, want string) {
	t.Helper()
	v, found, ok := c.peek(tenant, ns, key, kvNow)
	switch {
	case want == "<miss>":
		if ok {
			t.Errorf("peek %s/%s = %q, %v; want a miss", ns, key, v, found)
		}
	case want == "<absent>":
		if !ok || found {
			t.Errorf("peek %s/%s = %q, found %v, ok %v; want a cached absence", ns, key, v, found, ok)
		}
	case !ok || !found || string(v) != want:
		t.Errorf("peek %s/%s = %q, found %v, ok %v; want %q", ns, key, v, found, ok, want)
	}
}

func TestKVCache(t *testing.T) {
	t.Run("fill and peek", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		c.fill("t1", "ns", "k", []byte("v"), true, time.Time{}, c.gen("ns", "k"))
		c.fill("t1", "ns", "absent", nil, false, time.Time{}, c.gen("ns", "absent"))
		mustPeek(t, c, "t1", "ns", "k", "v")
		mustPeek(t, c, "t1", "ns", "absent", "<absent>")
		mustPeek(t, c, "t2", "ns", "k", "<miss>") // another tenant's view
	})
	t.Run("a fill older than an invalidation is dropped", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		g := c.gen("ns", "k")
		c.invalidate("t1", "ns", "k") // a write elsewhere, while the fill read the store
		c.fill("t1", "ns", "k", []byte("old"), true, time.Time{}, g)
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
		g = c.gen("ns", "k")
		c.invalidate("", "ns", "") // the namespace
		c.fill("t1", "ns", "k", []byte("old"), true, time.Time{}, g)
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
		g = c.gen("ns", "k")
		c.reset()
		c.fill("t1", "ns", "k", []byte("old"), true, time.Time{}, g)
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
	})
	t.Run("a fill older than a write is dropped", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		gFill := c.gen("ns", "k")
		c.written("t1", "ns", "k", []byte("new"), true, time.Time{}, c.gen("ns", "k"))
		c.fill("t1", "ns", "k", []byte("old"), true, time.Time{}, gFill)
		mustPeek(t, c, "t1", "ns", "k", "new")
	})
	t.Run("concurrent writes leave no value", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		g1, g2 := c.gen("ns", "k"), c.gen("ns", "k")
		c.written("t1", "ns", "k", []byte("2"), true, time.Time{}, g2)
		c.written("t1", "ns", "k", []byte("1"), true, time.Time{}, g1) // order unknown
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
	})
	t.Run("invalidation", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		for _, k := range []string{"a", "b"} {
			c.fill("t1", "ns", k, []byte(k), true, time.Time{}, c.gen("ns", k))
			c.fill("t1", "other", k, []byte(k), true, time.Time{}, c.gen("other", k))
		}
		c.invalidate("t1", "ns", "a")
		mustPeek(t, c, "t1", "ns", "a", "<miss>")
		mustPeek(t, c, "t1", "ns", "b", "b")
		c.invalidate("", "ns", "")
		mustPeek(t, c, "t1", "ns", "b", "<miss>")
		mustPeek(t, c, "t1", "other", "a", "a")
		c.reset()
		mustPeek(t, c, "t1", "other", "a", "<miss>")
		if n := c.bytes.Load(); n != 0 {
			t.Errorf("%d bytes left after reset", n)
		}
	})
	t.Run("expired entries are not served", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 1024)
		c.fill("t1", "ns", "k", []byte("v"), true, kvT0.Add(time.Second), c.gen("ns", "k"))
		mustPeek(t, c, "t1", "ns", "k", "v")
		if _, _, ok := c.peek("t1", "ns", "k", func() time.Time { return kvT0.Add(time.Second) }); ok {
			t.Error("served at its expiry")
		}
	})
	t.Run("large values are not cached", func(t *testing.T) {
		c := newKVCache(1<<20, 1<<20, 4)
		c.written("t1", "ns", "k", []byte("small"), true, time.Time{}, c.gen("ns", "k"))
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
		c.fill("t1", "ns", "k", []byte("1234"), true, time.Time{}, c.gen("ns", "k"))
		mustPeek(t, c, "t1", "ns", "k", "1234")
		// A large write drops the small value it replaces.
		c.written("t1", "ns", "k", []byte("larger"), true, time.Time{}, c.gen("ns", "k"))
		mustPeek(t, c, "t1", "ns", "k", "<miss>")
	})
}

// TestKVCacheShares: one tenant filling the cache evicts its own keys,
// not another's; the whole cache stays within its bound.
func TestKVCacheShares(t *testing.T) {
	const entry int64 = kvEntryOverhead + 2 + 4 + 100
	c := newKVCache(40*entry, 10*entry, 1024)
	val := make([]byte, 100)
	for i := range 5 {
		k := fmt.Sprintf("b%03d", i)
		c.fill("quiet", "ns", k, val, true, time.Time{}, c.gen("ns", k))
	}
	for i := range 1000 {
		k := fmt.Sprintf("a%03d", i)
		c.fill("noisy", "ns", k, val, true, time.Time{}, c.gen("ns", k))
	}
	for i := range 5 {
		if _, _, ok := c.peek("quiet", "ns", fmt.Sprintf("b%03d", i), kvNow); !ok {
			t.Errorf("the quiet tenant's key %d was evicted", i)
		}
	}
	noisy := c.tenant("noisy", false)
	if noisy.bytes > c.tenantLimit || len(noisy.m) != 10 {
		t.Errorf("the noisy tenant holds %d bytes in %d entries (share %d)", noisy.bytes, len(noisy.m), c.tenantLimit)
	}
	// Many tenants, each within its share: the total stays bounded.
	for n := range 20 {
		for i := range 10 {
			k := fmt.Sprintf("k%d", i)
			c.fill("t"+strconv.Itoa(n), "ns", k, val, true, time.Time{}, c.gen("ns", k))
		}
	}
	if got := c.bytes.Load(); got > c.limit {
		t.Errorf("cache holds %d bytes, limit %d", got, c.limit)
	}
	var sum int64
	c.tenants.Range(func(_, v any) bool {
		tc := v.(*kvTenantCache)
		tc.mu.RLock()
		for _, e := range tc.m {
			sum += e.size
		}
		tc.mu.RUnlock()
		return true
	})
	if sum != c.bytes.Load() {
		t.Errorf("entries hold %d bytes, the count says %d", sum, c.bytes.Load())
	}
}

// TestKVCacheStaleFillRace: readers fill from a store while writers
// change it and invalidate, as the change feed does; once all is quiet,
// whatever the cache holds is what the store holds.
func TestKVCacheStaleFillRace(t *testing.T) {
	c := newKVCache(1<<20, 1<<20, 1024)
	var mu sync.Mutex
	store := map[string]string{}
	read := func(k string) (string, bool) {
		mu.Lock()
		defer mu.Unlock()
		v, ok := store[k]
		return v, ok
	}
	keys := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[rng.IntN(len(keys))]
				if _, _, ok := c.peek("t", "ns", k, kvNow); ok {
					continue
				}
				g := c.gen("ns", k)
				v, found := read(k)
				if rng.IntN(2) == 0 {
					time.Sleep(time.Microsecond) // widen the window
				}
				c.fill("t", "ns", k, []byte(v), found, time.Time{}, g)
			}
		}()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			for i := range 2000 {
				k := keys[rng.IntN(len(keys))]
				if w == 0 { // a local write: through the cache
					g := c.gen("ns", k)
					mu.Lock()
					store[k] = strconv.Itoa(i)
					mu.Unlock()
					c.written("t", "ns", k, []byte(strconv.Itoa(i)), true, time.Time{}, g)
				} else { // another node's: the store, then the feed
					mu.Lock()
					store[k] = "remote" + strconv.Itoa(i)
					mu.Unlock()
					c.invalidate("t", "ns", k)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	for _, k := range keys {
		v, found, ok := c.peek("t", "ns", k, kvNow)
		want, wantFound := read(k)
		if ok && (found != wantFound || string(v) != want) {
			t.Errorf("key %s: cache has %q (found %v), store %q (found %v)", k, v, found, want, wantFound)
		}
	}
}

// BenchmarkKVCacheHit measures the cache's hit path (KVPeek's), on every
// core at once.
func BenchmarkKVCacheHit(b *testing.B) {
	c := newKVCache(DefaultKVCacheBytes, DefaultKVCacheBytes/8, KVCacheMaxValue)
	c.fill("tenant", "ns-0123456789", "hot", []byte("a value of some thirty-two bytes"), true, time.Time{}, c.gen("ns-0123456789", "hot"))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, found, ok := c.peek("tenant", "ns-0123456789", "hot", kvNow); !ok || !found {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkKVCacheHitSerial is BenchmarkKVCacheHit on one goroutine.
func BenchmarkKVCacheHitSerial(b *testing.B) {
	c := newKVCache(DefaultKVCacheBytes, DefaultKVCacheBytes/8, KVCacheMaxValue)
	c.fill("tenant", "ns-0123456789", "hot", []byte("a value of some thirty-two bytes"), true, time.Time{}, c.gen("ns-0123456789", "hot"))
	for range b.N {
		if _, found, ok := c.peek("tenant", "ns-0123456789", "hot", kvNow); !ok || !found {
			b.Fatal("miss")
		}
	}
}
