package hosting

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/testenv"
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

// newTurnEnv is a kvEnv on store (a slowCASStore with delay when nil)
// whose namespace ns1 (binding STORE of site app) the tenant owns, and the
// site's deployment. Kept turns last an hour unless the test says
// otherwise: what the tests check must not depend on the machine's load.
func newTurnEnv(t *testing.T, delay time.Duration, store tenants.KVStore) (*kvEnv, *deployment) {
	t.Helper()
	fake := newFakeKVStore(time.Now)
	fake.addNamespace("ns1", testTenant, "data")
	if store == nil {
		store = &slowCASStore{fakeKVStore: fake, delay: delay}
	}
	e := newKVEnv(t, Config{KV: store})
	e.store = fake
	e.edge.kvTurns.grace, e.edge.kvTurns.hold = time.Hour, time.Hour
	return e, mustDep(t, e.env, "app.pier.test")
}

func (e *kvEnv) host(d *deployment) *requestHost {
	return &requestHost{e: e.edge, d: d, site: "app"}
}

// increment is the SDKs' Update of a counter, through h, with between
// (if set) called between the read and the compare-and-swap, as an
// Update's function may. It returns how many compare-and-swaps it took.
func increment(ctx context.Context, h *requestHost, key string, between func()) (int, error) {
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
		if between != nil {
			between()
		}
		err = h.KVCompareAndSwap(ctx, "STORE", key, old, exists, []byte(strconv.Itoa(n+1)), 0)
		if !errors.Is(err, worker.ErrKVConflict) {
			return tries, err
		}
	}
}

// TestKVUpdateLosesOnce: requests of one node incrementing one key each
// lose at most one compare-and-swap, however many run at once and whatever
// other KV calls they make in between, and the count is exact. Without the
// kept turn a request could lose round after round, spending its plan's
// kvOps.
func TestKVUpdateLosesOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		between func(h *requestHost)
	}{
		{"only the key", nil},
		{"reading another key", func(h *requestHost) { h.KVGet(context.Background(), "STORE", "config") }},
		{"writing another key", func(h *requestHost) { h.KVPut(context.Background(), "STORE", "last", []byte("x"), 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, d := newTurnEnv(t, time.Millisecond, nil)
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
						h := e.host(d)
						var between func()
						if tc.between != nil {
							between = func() { tc.between(h) }
						}
						tries, err := increment(context.Background(), h, "n", between)
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
			if v, err := e.host(d).KVGet(context.Background(), "STORE", "n"); err != nil || string(v) != strconv.Itoa(clients*updates) {
				t.Fatalf("count = %q, %v; want %d", v, err, clients*updates)
			}
			if maxTries > 2 {
				t.Errorf("an increment took %d compare-and-swaps; want at most 2", maxTries)
			}
			if n := lineCount(e.edge.kvTurns); n != 0 {
				t.Errorf("%d keys' turns left after every request ended", n)
			}
		})
	}
}

func lineCount(t *kvTurns) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.lines)
}

// lose makes h lose a compare-and-swap of k (which holds "2"), so that it
// keeps k's turn.
func lose(t *testing.T, h *requestHost) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), turnPatience)
	defer cancel()
	if err := h.KVCompareAndSwap(ctx, "STORE", "k", []byte("1"), true, []byte("x"), 0); !errors.Is(err, worker.ErrKVConflict) {
		t.Fatalf("compare-and-swap with a stale value: %v", err)
	}
}

// turnPatience is how long a test waits for a turn that must come: long
// enough for a loaded machine, short enough that a turn never given back
// fails the test rather than hanging it.
const turnPatience = 10 * time.Second

// swapWithin is another request's compare-and-swap of k, which must get
// its turn within limit.
func swapWithin(t *testing.T, e *kvEnv, d *deployment, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if err := e.host(d).KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("2"), 0); err != nil {
		t.Fatalf("another request's compare-and-swap: %v", err)
	}
}

// TestKVTurnGivenBack: a request that lost keeps the key's turn through
// KV calls, and gives it back when it fetches, reads an asset, calls next,
// answers, swaps another key or ends.
func TestKVTurnGivenBack(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	ctx := context.Background()
	e.store.set("ns1", "k", "2")
	req := httptest.NewRequest("GET", "http://127.0.0.1:1/", nil)
	for _, tc := range []struct {
		name string
		do   func(h *requestHost)
	}{
		{"the request's end", func(h *requestHost) { h.turns.drop() }},
		{"a fetch", func(h *requestHost) {
			if resp, err := h.Fetch(ctx, req); err == nil {
				resp.Body.Close()
			}
		}},
		{"an asset", func(h *requestHost) {
			if resp, err := h.Asset(ctx, "/index.html"); err == nil {
				resp.Body.Close()
			}
		}},
		{"the answer", func(h *requestHost) {
			ww := &workerWriter{e: e.edge, w: httptest.NewRecorder(), vals: &e.edge.vals, turns: &h.turns}
			ww.WriteHeader(http.StatusOK)
		}},
		{"next", func(h *requestHost) {
			n := &staticNext{e: e.edge, d: d, v: &routeValue{usage: &siteUsage{}}, turns: &h.turns}
			n.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://app.pier.test/nope", nil))
		}},
		{"a compare-and-swap of another key", func(h *requestHost) {
			e.store.set("ns1", "other", "v")
			h.KVCompareAndSwap(ctx, "STORE", "other", nil, false, []byte("v"), 0) // loses, keeps other's turn
			h.turns.drop()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := e.host(d)
			t.Cleanup(h.turns.drop) // a failure here must not hold up the next case
			lose(t, h)
			tc.do(h)
			swapWithin(t, e, d, turnPatience)
			if n := lineCount(e.edge.kvTurns); n != 0 {
				t.Errorf("%d keys' turns left", n)
			}
		})
	}

	for _, tc := range []struct {
		name string
		do   func(h *requestHost)
	}{
		{"a read of the key", func(h *requestHost) { h.KVGet(ctx, "STORE", "k") }},
		{"a read of the key from the cache", func(h *requestHost) { h.KVPeek("STORE", "k") }},
		{"a read of another key", func(h *requestHost) { h.KVGet(ctx, "STORE", "other") }},
		{"a write of another key", func(h *requestHost) { h.KVPut(ctx, "STORE", "other", []byte("w"), 0) }},
		{"a listing", func(h *requestHost) { h.KVList(ctx, "STORE", "", "", 10) }},
	} {
		t.Run("kept through "+tc.name, func(t *testing.T) {
			h := e.host(d)
			t.Cleanup(h.turns.drop) // a failure here must not hold up the next case
			lose(t, h)
			tc.do(h)
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if err := e.host(d).KVCompareAndSwap(short, "STORE", "k", []byte("2"), true, []byte("2"), 0); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("another request's compare-and-swap while the loser holds the turn: %v, want it to wait", err)
			}
			if err := h.KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("3"), 0); err != nil {
				t.Fatalf("the loser's retry: %v", err)
			}
			e.store.set("ns1", "k", "2")
			if n := lineCount(e.edge.kvTurns); n != 0 {
				t.Errorf("%d keys' turns left after the retry won", n)
			}
		})
	}
}

// TestKVTurnTimers: a loser that does not read the key again gives the
// turn back after the grace; one that does, after the hold counted from
// that read; never before.
func TestKVTurnTimers(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	turns := e.edge.kvTurns

	turns.grace, turns.hold = 30*time.Millisecond, time.Hour
	start := time.Now()
	lose(t, e.host(d))
	swapWithin(t, e, d, turnPatience)
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("the turn of a loser that did not read the key came back after %v, before its 30ms grace", waited)
	}

	turns.grace, turns.hold = time.Hour, 30*time.Millisecond
	h := e.host(d)
	lose(t, h)
	start = time.Now()
	h.KVGet(context.Background(), "STORE", "k")
	swapWithin(t, e, d, turnPatience)
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Errorf("the turn of a loser that read the key came back after %v, before its 30ms hold", waited)
	}
	if n := lineCount(turns); n != 0 {
		t.Errorf("%d keys' turns left", n)
	}
}

// TestKVTurnClaims: requests that lose a "create if absent" and do not
// retry (the key is claimed) hold the turn for the grace at most, not
// while they go on computing their answer.
func TestKVTurnClaims(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.edge.kvTurns.grace = 5 * time.Millisecond
	e.store.set("ns1", "lock", "taken")
	const n, work = 5, 200 * time.Millisecond
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := e.host(d)
			if err := h.KVCompareAndSwap(context.Background(), "STORE", "lock", nil, false, []byte("me"), 0); !errors.Is(err, worker.ErrKVConflict) {
				t.Error(err)
			}
			time.Sleep(work) // the guest computes its answer: no host call
			h.turns.drop()
		}()
	}
	wg.Wait()
	if took := time.Since(start); took >= n*work*3/4 {
		t.Errorf("%d lost claims, each followed by %v of work, took %v: they ran one after another", n, work, took)
	}
}

// TestKVTurnSpinnerWaitsInLine: a request that asks again without reading
// the key (a contender spinning on "create if absent") is no retry: it
// waits behind the compare-and-swap already waiting (the lock holder's
// release), instead of keeping the turn for as long as it keeps losing.
func TestKVTurnSpinnerWaitsInLine(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	spinner := e.host(d)
	t.Cleanup(spinner.turns.drop)
	lose(t, spinner)
	order := make(chan string, 2)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), turnPatience)
		defer cancel()
		if err := e.host(d).KVCompareAndSwap(ctx, "STORE", "k", []byte("2"), true, []byte("free"), 0); err != nil {
			t.Error(err)
		}
		order <- "release"
	}()
	waitQueued(t, e.edge.kvTurns, "ns1", "k", 1)
	lose(t, spinner)
	order <- "spin"
	if first := <-order; first != "release" {
		t.Fatalf("the spinner's compare-and-swap went before the release already waiting")
	}
}

// TestKVTurnReadFromCache: a read of the key answered from the node's
// cache counts as the retry's read: it holds the kept turn for the hold,
// not the grace.
func TestKVTurnReadFromCache(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	e.edge.kvTurns.hold = 10 * time.Millisecond
	h := e.host(d)
	t.Cleanup(h.turns.drop)
	lose(t, h)
	if _, err := e.host(d).KVGet(context.Background(), "STORE", "k"); err != nil { // fills the cache
		t.Fatal(err)
	}
	if _, _, ok := h.KVPeek("STORE", "k"); !ok {
		t.Fatal("the key is not in the cache")
	}
	swapWithin(t, e, d, turnPatience) // with the grace (an hour) it would time out
}

// TestKVTurnRetryAfterKeptTurnWent: a request that lost, read the key
// again and found its kept turn gone (its timer ran out) waits ahead of
// the first attempts already waiting, behind the holder only.
func TestKVTurnRetryAfterKeptTurnWent(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	ctx := context.Background()
	retrier := e.host(d)
	lose(t, retrier)
	if _, err := retrier.KVGet(ctx, "STORE", "k"); err != nil {
		t.Fatal(err)
	}
	retrier.turns.kept.release() // what its timer does when the hold runs out
	holder, err := e.edge.kvTurns.take(ctx, "ns1", "k", false)
	if err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 2)
	swap := func(name string, h *requestHost, old, value string) {
		ctx, cancel := context.WithTimeout(ctx, turnPatience)
		defer cancel()
		if err := h.KVCompareAndSwap(ctx, "STORE", "k", []byte(old), true, []byte(value), 0); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		order <- name
	}
	go swap("first attempt", e.host(d), "3", "4")
	waitQueued(t, e.edge.kvTurns, "ns1", "k", 1)
	go swap("retry", retrier, "2", "3")
	waitQueued(t, e.edge.kvTurns, "ns1", "k", 2)
	holder.giveBack()
	if a, b := <-order, <-order; a != "retry" || b != "first attempt" {
		t.Fatalf("turns went to %s, then %s; want the retry first", a, b)
	}
}

// waitQueued waits until n requests wait for the turn of (ns, key).
func waitQueued(t *testing.T, turns *kvTurns, ns, key string, n int) {
	t.Helper()
	testenv.WaitFor(t, time.Minute, func() error {
		turns.mu.Lock()
		defer turns.mu.Unlock()
		got := 0
		if line := turns.lines[kvCacheKey{ns, key}]; line != nil {
			got = len(line.queue)
		}
		if got != n {
			return errors.New("waiting for " + strconv.Itoa(n) + " waiters, have " + strconv.Itoa(got))
		}
		return nil
	})
}

// TestKVTurnRetryFirst: a request whose compare-and-swap of a key lost,
// and whose kept turn went (it took too long), waits ahead of the first
// attempts already waiting.
func TestKVTurnRetryFirst(t *testing.T) {
	turns := newKVTurns()
	ctx := context.Background()
	holder, err := turns.take(ctx, "ns", "k", false)
	if err != nil {
		t.Fatal(err)
	}
	queued := func(n int) { waitQueued(t, turns, "ns", "k", n) }
	order := make(chan string, 3)
	wait := func(name string, retry bool) {
		h, err := turns.take(ctx, "ns", "k", retry)
		if err != nil {
			t.Error(err)
			return
		}
		order <- name
		h.giveBack()
	}
	go wait("first attempt", false)
	queued(1)
	go wait("retry", true)
	queued(2)
	holder.giveBack()
	if a, b := <-order, <-order; a != "retry" || b != "first attempt" {
		t.Fatalf("turns went to %s, then %s; want the retry first", a, b)
	}
	testenv.WaitFor(t, time.Minute, func() error {
		if n := lineCount(turns); n != 0 {
			return errors.New(strconv.Itoa(n) + " lines left")
		}
		return nil
	})
}

// TestKVTurnStress: many requests taking, keeping, reclaiming and giving
// back the turns of three keys, with timers firing beside them and waits
// cancelled at random: never two holders of a key, nothing left.
func TestKVTurnStress(t *testing.T) {
	turns := newKVTurns()
	turns.grace, turns.hold = 20*time.Microsecond, 40*time.Microsecond
	keys := []string{"a", "b", "c"}
	var inside [3]atomic.Int32
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			var p kvTurnKeeper
			for range 1000 {
				ki := r.IntN(len(keys))
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(8) == 0 {
					cancel()
				}
				h, err := p.forCAS(ctx, turns, "ns", keys[ki])
				cancel()
				if err != nil {
					continue
				}
				if n := inside[ki].Add(1); n != 1 {
					t.Errorf("%d holders of %s", n, keys[ki])
				}
				if r.IntN(4) == 0 {
					time.Sleep(time.Duration(r.IntN(30)) * time.Microsecond)
				}
				inside[ki].Add(-1)
				p.settle(h, r.IntN(2) == 0)
				switch r.IntN(5) {
				case 0:
					p.read("ns", keys[ki])
				case 1:
					time.Sleep(time.Duration(r.IntN(40)) * time.Microsecond)
				case 2:
					p.drop()
				}
			}
			p.drop()
		}()
	}
	wg.Wait()
	testenv.WaitFor(t, time.Minute, func() error { // the last timers run
		if n := lineCount(turns); n != 0 {
			return errors.New(strconv.Itoa(n) + " lines left")
		}
		return nil
	})
}

// panicCASStore's compare-and-swap panics, as a store or cache bug would
// (wazero turns a host function's panic into the call's error, so the
// node goes on).
type panicCASStore struct{ *fakeKVStore }

func (s *panicCASStore) KVCompareAndSwap(ctx context.Context, ns string, old []byte, oldExists bool, e tenants.KVEntry) (bool, error) {
	panic("store bug")
}

// TestKVTurnAfterPanic: a compare-and-swap that panics gives the key's
// turn back.
func TestKVTurnAfterPanic(t *testing.T) {
	fake := newFakeKVStore(time.Now)
	fake.addNamespace("ns1", testTenant, "data")
	e, d := newTurnEnv(t, 0, &panicCASStore{fake})
	func() {
		defer func() { recover() }()
		e.host(d).KVCompareAndSwap(context.Background(), "STORE", "k", nil, false, []byte("v"), 0)
	}()
	if n := lineCount(e.edge.kvTurns); n != 0 {
		t.Errorf("%d keys' turns left after a compare-and-swap panicked", n)
	}
}

// TestKVWriteLatencyWithoutTurn: pier_kv_write_seconds is the store's
// write, not the wait for another request's turn.
func TestKVWriteLatencyWithoutTurn(t *testing.T) {
	e, d := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	e.edge.kvTurns.grace = 50 * time.Millisecond
	lose(t, e.host(d))
	before := e.edge.kvWriteLatency.sumNanos.Load()
	swapWithin(t, e, d, turnPatience)
	if got := time.Duration(e.edge.kvWriteLatency.sumNanos.Load() - before); got >= 50*time.Millisecond {
		t.Errorf("a compare-and-swap of an in-memory store recorded %v of write latency: the wait for the turn", got)
	}
}

// turnsAtAnswer records how many keys' turns were held when the answer
// reached the client.
type turnsAtAnswer struct {
	*httptest.ResponseRecorder
	turns *kvTurns
	held  int
}

func (w *turnsAtAnswer) WriteHeader(status int) {
	w.held = lineCount(w.turns)
	w.ResponseRecorder.WriteHeader(status)
}

// TestKVTurnThroughGuest: a guest's request whose kv_cas lost gives the
// turn back as its answer starts, before it is written to the client (and
// with no timer to do it).
func TestKVTurnThroughGuest(t *testing.T) {
	e, _ := newTurnEnv(t, 0, nil)
	e.store.set("ns1", "k", "2")
	r := httptest.NewRequest("POST", "/", strings.NewReader(string(new(kvScript).cas("STORE", "k", str("1"), "x").b)))
	r.Host = "app.pier.test"
	w := &turnsAtAnswer{ResponseRecorder: httptest.NewRecorder(), turns: e.edge.kvTurns}
	e.edge.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if w.held != 0 {
		t.Errorf("%d keys' turns held when the answer of the request that lost was written", w.held)
	}
	if n := lineCount(e.edge.kvTurns); n != 0 {
		t.Fatalf("%d keys' turns held after the request that lost answered", n)
	}
	if got := e.run(new(kvScript).cas("STORE", "k", str("2"), "3")); len(got) != 1 || got[0] != "0" {
		t.Fatalf("answers %q", got)
	}
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
		p.settle(h, false)
	}
}
