package hosting

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/tenants"
)

// slowCASStore is a fakeKVStore whose compare-and-swaps take a while
// before they compare, as a store's do while they wait for a commit: two
// that read the same value overlap, and one of them loses.
type slowCASStore struct {
	*fakeKVStore
	delay time.Duration
}

func (s *slowCASStore) KVCompareAndSwap(ctx context.Context, ns string, old []byte, oldExists bool, e tenants.KVEntry) (bool, error) {
	time.Sleep(s.delay)
	return s.fakeKVStore.KVCompareAndSwap(ctx, ns, old, oldExists, e)
}

// newTurnEnv is a kvEnv on a slowCASStore whose namespace ns1 (binding
// STORE of site app) the tenant owns, and the site's deployment.
func newTurnEnv(t *testing.T, delay time.Duration) (*kvEnv, *deployment) {
	t.Helper()
	store := &slowCASStore{fakeKVStore: newFakeKVStore(time.Now), delay: delay}
	store.addNamespace("ns1", testTenant, "data")
	e := newKVEnv(t, Config{KV: store})
	e.store = store.fakeKVStore
	return e, mustDep(t, e.env, "app.pier.test")
}

// increment is the SDKs' Update of a counter, through h: it returns how
// many compare-and-swaps it took.
func increment(ctx context.Context, h *requestHost, key string) (int, error) {
	for tries := 1; ; tries++ {
		old, err := h.KVGet(ctx, "STORE", key)
		exists := err == nil
		if err != nil && !errors.Is(err, worker.ErrKVNotFound) {
			return tries, err
		}
		n := 0
		if exists {
			if n, err = strconv.Atoi(string(old)); err != nil {
				return tries, err
			}
		}
		err = h.KVCompareAndSwap(ctx, "STORE", key, old, exists, []byte(strconv.Itoa(n+1)), 0)
		if !errors.Is(err, worker.ErrKVConflict) {
			return tries, err
		}
	}
}

// TestKVUpdateLosesOnce: requests of one node incrementing one key each
// lose at most one compare-and-swap, however many run at once, and the
// count is exact. Without the turns a request lost round after round
// (spending its plan's kvOps), with one winner per round of overlapping
// compare-and-swaps.
func TestKVUpdateLosesOnce(t *testing.T) {
	e, d := newTurnEnv(t, time.Millisecond)
	e.edge.kvTurns.hold = time.Minute // the guarantee, whatever the machine's load
	const clients, updates = 8, 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		maxTries int
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range updates {
				h := &requestHost{e: e.edge, d: d, site: "app"}
				tries, err := increment(context.Background(), h, "n")
				h.turns.drop() // the request's end
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				maxTries = max(maxTries, tries)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	h := &requestHost{e: e.edge, d: d, site: "app"}
	if v, err := h.KVGet(context.Background(), "STORE", "n"); err != nil || string(v) != strconv.Itoa(clients*updates) {
		t.Fatalf("count = %q, %v; want %d", v, err, clients*updates)
	}
	if maxTries > 2 {
		t.Errorf("an increment took %d compare-and-swaps; want at most 2", maxTries)
	}
	if n := lineCount(e.edge.kvTurns); n != 0 {
		t.Errorf("%d keys' turns left after every request ended", n)
	}
}

func lineCount(t *kvTurns) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines)
}

// TestKVTurnKeptAtMostHold: a request that lost and never retries keeps
// the key's turn for kvTurns.hold at most, and a compare-and-swap of
// another key, a write or the request's end gives it back at once.
func TestKVTurnKeptAtMostHold(t *testing.T) {
	e, d := newTurnEnv(t, 0)
	ctx := context.Background()
	e.store.set("ns1", "k", "2")
	lose := func() *requestHost {
		h := &requestHost{e: e.edge, d: d, site: "app"}
		if err := h.KVCompareAndSwap(ctx, "STORE", "k", []byte("1"), true, []byte("x"), 0); !errors.Is(err, worker.ErrKVConflict) {
			t.Fatalf("compare-and-swap with a stale value: %v", err)
		}
		return h
	}
	other := &requestHost{e: e.edge, d: d, site: "app"}
	swap := func() error {
		return other.KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("2"), 0)
	}

	t.Run("given back by the timer", func(t *testing.T) {
		e.edge.kvTurns.hold = 20 * time.Millisecond
		lose()
		start := time.Now()
		if err := swap(); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < 20*time.Millisecond {
			t.Errorf("the other request's compare-and-swap waited %v; the loser's turn is kept for 20ms", waited)
		}
	})
	e.edge.kvTurns.hold = time.Hour // from here on, only the request gives it back
	for _, tc := range []struct {
		name string
		do   func(h *requestHost)
	}{
		{"the request's end", func(h *requestHost) { h.turns.drop() }},
		{"a write", func(h *requestHost) { h.KVPut(ctx, "STORE", "other", []byte("v"), 0) }},
		{"a read of another key", func(h *requestHost) { h.KVGet(ctx, "STORE", "other") }},
		{"a compare-and-swap of another key", func(h *requestHost) {
			h.KVCompareAndSwap(ctx, "STORE", "other", nil, false, []byte("v"), 0)
			h.turns.drop()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.store.set("ns1", "other", "v")
			tc.do(lose())
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := other.KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("2"), 0); err != nil {
				t.Fatal(err)
			}
			if n := lineCount(e.edge.kvTurns); n != 0 {
				t.Errorf("%d keys' turns left", n)
			}
		})
	}

	t.Run("a read of the key keeps it", func(t *testing.T) {
		h := lose()
		h.KVGet(ctx, "STORE", "k")
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if err := other.KVCompareAndSwap(short, "STORE", "k", []byte("2"), true, []byte("2"), 0); err == nil || errors.Is(err, worker.ErrKVConflict) {
			t.Fatalf("another request's compare-and-swap while the loser reads the key again: %v, want it to wait", err)
		}
		if err := h.KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("3"), 0); err != nil {
			t.Fatalf("the loser's retry: %v", err)
		}
		if n := lineCount(e.edge.kvTurns); n != 0 {
			t.Errorf("%d keys' turns left after the retry won", n)
		}
	})
}

// BenchmarkKVTurn is what a compare-and-swap's turn costs when nobody
// else wants the key: next to a store's durable write, nothing.
func BenchmarkKVTurn(b *testing.B) {
	turns := newKVTurns()
	var p kvTurnKeeper
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h, err := p.forCAS(ctx, turns, "ns1", "counter")
		if err != nil {
			b.Fatal(err)
		}
		h.giveBack()
	}
}
