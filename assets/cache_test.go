package assets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// memBackend is an in-memory Backend that counts Gets per key and lets a
// test intercept them.
type memBackend struct {
	mu    sync.Mutex
	blobs map[string][]byte
	gets  map[string]int
	total atomic.Int64
	// onGet, when set, runs before each Get and may replace its result.
	onGet func(ctx context.Context, key string, n int) error
}

func newMemBackend() *memBackend {
	return &memBackend{blobs: map[string][]byte{}, gets: map[string]int{}}
}

func (m *memBackend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	m.mu.Lock()
	m.gets[key]++
	n := m.gets[key]
	onGet := m.onGet
	m.mu.Unlock()
	m.total.Add(1)
	if onGet != nil {
		if err := onGet(ctx, key, n); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return nil, fmt.Errorf("mem: %q: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m *memBackend) Put(_ context.Context, key string, r io.Reader, size int64) error {
	b, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.blobs[key] = b
	m.mu.Unlock()
	return nil
}

func (m *memBackend) Size(_ context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key]
	if !ok {
		return 0, ErrNotFound
	}
	return int64(len(b)), nil
}

func (m *memBackend) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.blobs, key)
	m.mu.Unlock()
	return nil
}

func (m *memBackend) getsOf(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gets[key]
}

var _ Backend = (*memBackend)(nil)

func (m *memBackend) set(key string, data []byte) {
	m.mu.Lock()
	m.blobs[key] = data
	m.mu.Unlock()
}

func mustBytes(t *testing.T, c *Cache, key string, want []byte) {
	t.Helper()
	got, err := c.Bytes(t.Context(), key)
	if err != nil {
		t.Fatalf("Bytes(%q): %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Bytes(%q) = %d bytes, want %d", key, len(got), len(want))
	}
}

func TestCacheHitAndMiss(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	b.set("k", []byte("hello"))
	c := NewCache(b, 0)
	if c.Backend() != b {
		t.Error("Backend() is not the backend given")
	}
	for range 3 {
		mustBytes(t, c, "k", []byte("hello"))
	}
	if n := b.getsOf("k"); n != 1 {
		t.Errorf("backend read %d times, want 1", n)
	}
	st := c.Stats()
	want := CacheStats{Hits: 2, Misses: 1, Bytes: int64(len("hello")+len("k")) + entryOverhead, Items: 1}
	if st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
}

func TestCacheDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		max        int64
		wantMax    int64
		wantShards int
	}{
		{"zero is default", 0, DefaultCacheBytes, maxCacheShards},
		{"negative is default", -1, DefaultCacheBytes, maxCacheShards},
		{"small is one shard", 1 << 20, 1 << 20, 1},
		{"4MiB", 4 << 20, 4 << 20, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := NewCache(newMemBackend(), tc.max)
			if c.max != tc.wantMax || len(c.shards) != tc.wantShards || c.maxItem != tc.wantMax/16 {
				t.Errorf("max %d shards %d maxItem %d, want %d %d %d", c.max, len(c.shards), c.maxItem, tc.wantMax, tc.wantShards, tc.wantMax/16)
			}
		})
	}
}

func TestCacheNotFoundAndErrorsNotCached(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	c := NewCache(b, 0)
	if _, err := c.Bytes(t.Context(), "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Bytes(missing) = %v, want ErrNotFound", err)
	}
	b.set("missing", []byte("now here"))
	mustBytes(t, c, "missing", []byte("now here"))

	b.set("flaky", []byte("data"))
	b.onGet = func(_ context.Context, key string, n int) error {
		if key == "flaky" && n == 1 {
			return fmt.Errorf("mem: %w", ErrUnavailable)
		}
		return nil
	}
	if _, err := c.Bytes(t.Context(), "flaky"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("first Bytes(flaky) = %v, want ErrUnavailable", err)
	}
	mustBytes(t, c, "flaky", []byte("data"))
	if n := b.getsOf("flaky"); n != 2 {
		t.Errorf("backend read flaky %d times, want 2 (the error must not be cached)", n)
	}
}

func TestCacheLargeBlobsReadThrough(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	c := NewCache(b, 1<<20) // items up to 64 KiB
	big := bytes.Repeat([]byte("x"), 64<<10+1)
	fits := bytes.Repeat([]byte("y"), 64<<10)
	b.set("big", big)
	b.set("fits", fits)
	for range 2 {
		mustBytes(t, c, "big", big)
		mustBytes(t, c, "fits", fits)
	}
	if n := b.getsOf("big"); n != 2 {
		t.Errorf("big blob read %d times, want 2 (not cached)", n)
	}
	if n := b.getsOf("fits"); n != 1 {
		t.Errorf("blob of maxBytes/16 read %d times, want 1 (cached)", n)
	}
}

// blobOfCost returns data whose entry cost under key is exactly cost.
func blobOfCost(key string, cost int) []byte {
	return bytes.Repeat([]byte{key[len(key)-1]}, cost-len(key)-entryOverhead)
}

func TestCacheBoundAndClockEviction(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	c := NewCache(b, 1<<20) // one shard of 1 MiB, items ≤ 64 KiB
	const slot = 64 << 10   // 16 entries fill the cache exactly
	key := func(i int) string { return fmt.Sprintf("k%02d", i) }
	for i := range 24 {
		b.set(key(i), blobOfCost(key(i), slot))
	}
	for i := range 16 {
		mustBytes(t, c, key(i), blobOfCost(key(i), slot))
	}
	if st := c.Stats(); st.Items != 16 || st.Bytes != 1<<20 || st.Evictions != 0 {
		t.Fatalf("after filling: %+v, want 16 items, 1 MiB, no evictions", st)
	}
	mustBytes(t, c, key(0), blobOfCost(key(0), slot)) // k00 is now referenced
	for i := 16; i < 24; i++ {
		mustBytes(t, c, key(i), blobOfCost(key(i), slot))
		if st := c.Stats(); st.Bytes > 1<<20 {
			t.Fatalf("cache holds %d bytes, over its bound", st.Bytes)
		}
	}
	if st := c.Stats(); st.Items != 16 || st.Evictions != 8 {
		t.Fatalf("after 8 more: %+v, want 16 items and 8 evictions", st)
	}
	// The referenced k00 survived; the unreferenced k01..k08 went; k09..
	// k23 stayed. Survivors are checked first: reading an evicted blob
	// evicts another.
	survivors := []int{0, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}
	for _, i := range survivors {
		before := b.getsOf(key(i))
		mustBytes(t, c, key(i), blobOfCost(key(i), slot))
		if b.getsOf(key(i)) != before {
			t.Errorf("%s was evicted, want it cached", key(i))
		}
	}
	for i := 1; i <= 8; i++ {
		before := b.getsOf(key(i))
		mustBytes(t, c, key(i), blobOfCost(key(i), slot))
		if b.getsOf(key(i)) != before+1 {
			t.Errorf("%s was still cached, want it evicted", key(i))
		}
	}
}

func TestCacheEvictedBlobReadAgain(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	c := NewCache(b, 1<<20)
	for i := range 40 {
		k := fmt.Sprintf("k%d", i)
		b.set(k, blobOfCost(k, 60<<10))
		mustBytes(t, c, k, blobOfCost(k, 60<<10))
	}
	st := c.Stats()
	if st.Bytes > 1<<20 || st.Evictions == 0 {
		t.Fatalf("Stats = %+v, want ≤ 1 MiB held and some evictions", st)
	}
	if n := b.getsOf("k0"); n != 1 {
		t.Fatalf("k0 read %d times before re-reading", n)
	}
	mustBytes(t, c, "k0", blobOfCost("k0", 60<<10))
	if n := b.getsOf("k0"); n != 2 {
		t.Errorf("evicted k0 read %d times, want 2", n)
	}
}

func TestCacheForget(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	c := NewCache(b, 0)
	b.set("k", []byte("v1"))
	mustBytes(t, c, "k", []byte("v1"))
	b.set("k", []byte("v2"))
	mustBytes(t, c, "k", []byte("v1"))
	c.Forget("k")
	c.Forget("never-cached")
	mustBytes(t, c, "k", []byte("v2"))
	if st := c.Stats(); st.Items != 1 {
		t.Errorf("Items = %d, want 1", st.Items)
	}
}

// waitFor yields until cond holds; the test's own deadline bounds it.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		if t.Context().Err() != nil {
			t.Fatal("condition never held")
		}
		runtime.Gosched()
	}
}

func TestCacheCoalescesMisses(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	b.set("k", []byte("shared"))
	release := make(chan struct{})
	b.onGet = func(ctx context.Context, key string, n int) error {
		<-release
		return nil
	}
	c := NewCache(b, 0)
	const n = 10
	var wg sync.WaitGroup
	results := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = c.Bytes(t.Context(), "k") })
	}
	waitFor(t, func() bool { st := c.Stats(); return st.Misses == 1 && st.Coalesced == n-1 })
	close(release)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || string(results[i]) != "shared" {
			t.Errorf("caller %d: %q, %v", i, results[i], errs[i])
		}
	}
	if got := b.total.Load(); got != 1 {
		t.Errorf("backend read %d times, want 1", got)
	}
}

func TestCacheCoalescedErrorReachesWaiters(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	release := make(chan struct{})
	b.onGet = func(ctx context.Context, key string, n int) error {
		<-release
		return fmt.Errorf("mem: %w", ErrUnavailable)
	}
	c := NewCache(b, 0)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { _, errs[i] = c.Bytes(t.Context(), "k") })
	}
	waitFor(t, func() bool { return c.Stats().Coalesced == 3 })
	close(release)
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("caller %d: %v, want ErrUnavailable", i, err)
		}
	}
	if got := b.total.Load(); got != 1 {
		t.Errorf("backend read %d times, want 1", got)
	}
}

func TestCacheLeaderCanceledWaiterRetries(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	b.set("k", []byte("data"))
	entered := make(chan struct{})
	b.onGet = func(ctx context.Context, key string, n int) error {
		if n == 1 {
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	c := NewCache(b, 0)
	leaderCtx, cancel := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Bytes(leaderCtx, "k")
		leaderErr <- err
	}()
	<-entered
	waiter := make(chan []byte, 1)
	go func() {
		data, err := c.Bytes(t.Context(), "k")
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		waiter <- data
	}()
	waitFor(t, func() bool { return c.Stats().Coalesced == 1 })
	cancel()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Errorf("leader: %v, want context.Canceled", err)
	}
	if got := <-waiter; string(got) != "data" {
		t.Errorf("waiter got %q, want data", got)
	}
}

func TestCacheWaiterCanceled(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	b.set("k", []byte("data"))
	release := make(chan struct{})
	b.onGet = func(ctx context.Context, key string, n int) error {
		<-release
		return nil
	}
	c := NewCache(b, 0)
	leader := make(chan error, 1)
	go func() {
		_, err := c.Bytes(t.Context(), "k")
		leader <- err
	}()
	waitFor(t, func() bool { return c.Stats().Misses == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	waiterErr := make(chan error, 1)
	go func() {
		_, err := c.Bytes(ctx, "k")
		waiterErr <- err
	}()
	waitFor(t, func() bool { return c.Stats().Coalesced == 1 })
	cancel()
	if err := <-waiterErr; !errors.Is(err, context.Canceled) {
		t.Errorf("waiter: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-leader; err != nil {
		t.Errorf("leader: %v", err)
	}
	mustBytes(t, c, "k", []byte("data"))
}

func TestCacheBackendPanicDoesNotWedge(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	b.set("k", []byte("data"))
	b.onGet = func(ctx context.Context, key string, n int) error {
		if n == 1 {
			panic("backend bug")
		}
		return nil
	}
	c := NewCache(b, 0)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic did not propagate")
			}
		}()
		c.Bytes(t.Context(), "k")
	}()
	mustBytes(t, c, "k", []byte("data"))
}

func TestCacheConcurrent(t *testing.T) {
	t.Parallel()
	b := newMemBackend()
	const keys = 200
	for i := range keys {
		k := fmt.Sprintf("k%d", i)
		b.set(k, bytes.Repeat([]byte(k), 100+i*37))
	}
	c := NewCache(b, 4<<20)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for j := range 2000 {
				i := (j*7 + g*13) % keys
				k := fmt.Sprintf("k%d", i)
				got, err := c.Bytes(t.Context(), k)
				if err != nil || !bytes.Equal(got, bytes.Repeat([]byte(k), 100+i*37)) {
					t.Errorf("Bytes(%s): %d bytes, %v", k, len(got), err)
					return
				}
				if j%500 == 0 {
					c.Forget(k)
				}
			}
		})
	}
	wg.Wait()
	if st := c.Stats(); st.Bytes > 4<<20 || st.Hits == 0 {
		t.Errorf("Stats = %+v", st)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	be := newMemBackend()
	const n = 1000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = Key("tenant1", FormatSum(uint64(i)*0x9e3779b97f4a7c15), "")
		be.set(keys[i], bytes.Repeat([]byte("x"), 2048))
	}
	c := NewCache(be, 0)
	ctx := context.Background()
	for _, k := range keys {
		if _, err := c.Bytes(ctx, k); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Bytes(ctx, keys[i%n]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
