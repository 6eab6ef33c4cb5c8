package hosting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

// fakeUsageStore records AddUsage calls and sums their rows.
type fakeUsageStore struct {
	mu       sync.Mutex
	calls    [][]tenants.UsageRow
	sums     map[usageKey]tenants.UsageCounters
	fail     error
	compacts []time.Time
}

func newFakeUsageStore() *fakeUsageStore {
	return &fakeUsageStore{sums: map[usageKey]tenants.UsageCounters{}}
}

func (s *fakeUsageStore) AddUsage(ctx context.Context, rows []tenants.UsageRow) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	seen := map[usageKey]bool{}
	for _, r := range rows {
		k := usageKey{r.SiteID, r.Minute.Unix()}
		if seen[k] || r.Minute.Truncate(time.Minute) != r.Minute {
			return fmt.Errorf("row %+v: duplicate or not on a minute", k)
		}
		seen[k] = true
		c := s.sums[k]
		c.Add(&r.UsageCounters)
		s.sums[k] = c
	}
	s.calls = append(s.calls, rows)
	return nil
}

func (s *fakeUsageStore) CompactUsage(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacts = append(s.compacts, now)
	return nil
}

func (s *fakeUsageStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *fakeUsageStore) sum(siteID string, minute time.Time) tenants.UsageCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sums[usageKey{siteID, minute.Unix()}]
}

func (s *fakeUsageStore) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

func requests2xx(n int64, bytes int64) tenants.UsageCounters {
	var c tenants.UsageCounters
	c.Requests[1] = n
	c.BytesOut = n * bytes
	return c
}

func TestUsageOutcomesMatchTenants(t *testing.T) {
	if len(outcomes) != len(tenants.UsageOutcomes) || len(classNames) != len(tenants.UsageClasses) {
		t.Fatalf("hosting counts %d outcomes and %d classes, tenants stores %d and %d", len(outcomes), len(classNames), len(tenants.UsageOutcomes), len(tenants.UsageClasses))
	}
	for i := range outcomes {
		if outcomes[i] != tenants.UsageOutcomes[i] {
			t.Errorf("outcome %d: hosting %q, tenants %q", i, outcomes[i], tenants.UsageOutcomes[i])
		}
	}
	for i := range classNames {
		if classNames[i] != tenants.UsageClasses[i] {
			t.Errorf("class %d: hosting %q, tenants %q", i, classNames[i], tenants.UsageClasses[i])
		}
	}
}

func TestUsageFlushMinutes(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	e.site("idle", "d2", helloSite, tenants.DeploymentConfig{})
	e.get("/", "idle.pier.test") // routed once, then idle
	store := newFakeUsageStore()
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now})
	ctx := context.Background()
	m0 := e.clock.Now().Truncate(time.Minute) // 03:04 (the clock is at 03:04:05)

	mustFlush := func() {
		t.Helper()
		if err := f.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
	mustFlush()
	if got := store.sum("s-idle", m0); got != requests2xx(1, 5) {
		t.Fatalf("idle site's first flush: %+v", got)
	}
	for range 3 {
		e.get("/", "blog.pier.test")
	}
	e.clock.Advance(55 * time.Second) // 03:05:00, a minute boundary
	mustFlush()
	e.get("/", "blog.pier.test")
	e.get("/nope", "blog.pier.test")
	e.clock.Advance(10 * time.Second)
	mustFlush()
	n := store.callCount()
	mustFlush() // nothing new: no call
	if store.callCount() != n {
		t.Fatalf("a flush with nothing counted wrote rows: %v", store.calls[n:])
	}

	if got := store.sum("s-blog", m0); got != requests2xx(3, 5) {
		t.Errorf("blog at %v: %+v, want 3 requests", m0, got)
	}
	want := requests2xx(1, 5)
	want.Requests[3] = 1
	got := store.sum("s-blog", m0.Add(time.Minute))
	if got.Requests != want.Requests {
		t.Errorf("blog at %v: requests %v, want %v", m0.Add(time.Minute), got.Requests, want.Requests)
	}
	if got := store.sum("s-idle", m0.Add(time.Minute)); !got.IsZero() {
		t.Errorf("idle site got a row: %+v", got)
	}
	// Rows add up to the edge's counters since start.
	u := e.edge.Usage("blog")
	if total := add(store.sum("s-blog", m0), got); total.BytesOut != u.BytesOut || total.Requests[1] != u.Requests["2xx"] {
		t.Errorf("rows sum to %+v, the edge counted %+v", total, u)
	}
}

func add(a, b tenants.UsageCounters) tenants.UsageCounters {
	a.Add(&b)
	return a
}

func TestUsageFlushWorkerCounters(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("app", "d1", helloSite, tenants.DeploymentConfig{})
	e.get("/", "app.pier.test")
	store := newFakeUsageStore()
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now})
	u := e.edge.usage.get("app", "s-app", testTenant)
	u.invocation(&worker.Result{Outcome: worker.OutcomeOK, CPU: 3 * time.Millisecond, SubRequests: 2, KVReads: 3, KVWrites: 1, KVBytes: 40})
	u.invocation(&worker.Result{Outcome: worker.OutcomeExceededKVOps, KVReads: 2})
	u.invocation(&worker.Result{Outcome: worker.OutcomeExceededCPU, CPU: 50 * time.Millisecond})
	u.invocation(&worker.Result{Outcome: "brand-new"})
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := store.sum("s-app", e.clock.Now().Truncate(time.Minute))
	var want tenants.UsageCounters
	want.Requests[1] = 1
	want.BytesOut = 5
	want.Invocations[0], want.Invocations[2], want.Invocations[len(want.Invocations)-1] = 1, 1, 1 // the last is "other"
	want.Invocations[slices.Index(tenants.UsageOutcomes[:], "exceededKvOps")] = 1
	want.CPU = 53 * time.Millisecond
	want.SubRequests = 2
	want.KVReads, want.KVWrites, want.KVBytes = 5, 1, 40
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if s := store.calls[0][0]; s.TenantID != testTenant {
		t.Fatalf("row tenant %q", s.TenantID)
	}
}

func TestUsageFlushKeepsRowsWhileTheStoreFails(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	store := newFakeUsageStore()
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now})
	ctx := context.Background()
	m0 := e.clock.Now().Truncate(time.Minute)
	e.get("/", "blog.pier.test")
	store.setFail(errors.New("down"))
	if err := f.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with the store down")
	}
	e.clock.Advance(55 * time.Second)
	e.get("/", "blog.pier.test") // counted in the window that started at 03:04:05
	if err := f.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded with the store down")
	}
	e.get("/", "blog.pier.test") // the 03:05 window
	store.setFail(nil)
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := store.sum("s-blog", m0); got != requests2xx(2, 5) {
		t.Errorf("minute 0 after recovery: %+v", got)
	}
	if got := store.sum("s-blog", m0.Add(time.Minute)); got != requests2xx(1, 5) {
		t.Errorf("minute 1 after recovery: %+v", got)
	}

	t.Run("bounded", func(t *testing.T) {
		f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now, MaxPending: 1})
		store.setFail(errors.New("down"))
		e.get("/", "blog.pier.test")
		f.Flush(ctx)
		e.clock.Advance(time.Minute)
		e.get("/", "blog.pier.test")
		f.Flush(ctx)
		if len(f.pending) != 1 {
			t.Fatalf("%d rows pending, want MaxPending = 1", len(f.pending))
		}
	})
}

// TestUsageFlushConcurrent: requests counted while flushes run are all
// written exactly once (run with -race).
func TestUsageFlushConcurrent(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	store := newFakeUsageStore()
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now})
	const workers, per = 4, 300
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range per {
				e.get("/", "blog.pier.test")
			}
		})
	}
	done := make(chan struct{})
	var flushes sync.WaitGroup
	flushes.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := f.Flush(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	close(done)
	flushes.Wait()
	if err := f.Flush(context.Background()); err != nil { // the shutdown flush
		t.Fatal(err)
	}
	if got := store.sum("s-blog", e.clock.Now().Truncate(time.Minute)); got != requests2xx(workers*per, 5) {
		t.Fatalf("stored %+v, want %d requests", got, workers*per)
	}
}

// fakeAfter is an injected time.After: each call records the wait and
// returns a channel the test fires.
type fakeAfter struct {
	mu    sync.Mutex
	waits []time.Duration
	chans []chan time.Time
}

func (a *fakeAfter) After(d time.Duration) <-chan time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := make(chan time.Time, 1)
	a.waits = append(a.waits, d)
	a.chans = append(a.chans, c)
	return c
}

// wait returns the i-th wait once Run asked for it.
func (a *fakeAfter) wait(t *testing.T, i int) (time.Duration, chan time.Time) {
	t.Helper()
	testenv.WaitFor(t, testenv.Patience, func() error {
		a.mu.Lock()
		defer a.mu.Unlock()
		if len(a.waits) <= i {
			return fmt.Errorf("Run asked for %d timers, want %d", len(a.waits), i+1)
		}
		return nil
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.waits[i], a.chans[i]
}

func TestUsageFlusherRun(t *testing.T) {
	e := newEnv(t, Config{})
	e.site("blog", "d1", helloSite, tenants.DeploymentConfig{})
	store := newFakeUsageStore()
	after := &fakeAfter{}
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now, After: after.After, CompactInterval: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		f.Run(ctx)
		close(stopped)
	}()
	m0 := e.clock.Now().Truncate(time.Minute)

	// The clock is at 03:04:05: flushes at :10, :20, … :50, 03:05:00, :10.
	wantWaits := []time.Duration{5, 10, 10, 10, 10, 10, 10}
	for i, w := range wantWaits {
		e.get("/", "blog.pier.test")
		d, c := after.wait(t, i)
		if d != w*time.Second {
			t.Fatalf("wait %d: %v, want %v", i, d, w*time.Second)
		}
		e.clock.Advance(d)
		c <- e.clock.Now()
		testenv.WaitFor(t, testenv.Patience, func() error {
			if n := store.callCount(); n != i+1 {
				return fmt.Errorf("%d flushes, want %d", n, i+1)
			}
			return nil
		})
	}
	if got := store.sum("s-blog", m0); got != requests2xx(6, 5) {
		t.Errorf("minute 03:04: %+v, want 6 requests", got)
	}
	if got := store.sum("s-blog", m0.Add(time.Minute)); got != requests2xx(1, 5) {
		t.Errorf("minute 03:05: %+v, want 1 request", got)
	}
	store.mu.Lock()
	compacts := len(store.compacts)
	store.mu.Unlock()
	if compacts != 1 {
		t.Errorf("%d compactions in 65 s, want 1 (every minute)", compacts)
	}

	// Shutdown: Run returns without flushing; Flush writes the rest.
	e.get("/", "blog.pier.test")
	cancel()
	<-stopped
	if n := store.callCount(); n != len(wantWaits) {
		t.Fatalf("Run flushed on cancel")
	}
	if err := f.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := store.sum("s-blog", m0.Add(time.Minute)); got != requests2xx(2, 5) {
		t.Errorf("minute 03:05 after the shutdown flush: %+v, want 2 requests", got)
	}
}

type discardUsage struct{ rows int }

func (d *discardUsage) AddUsage(ctx context.Context, rows []tenants.UsageRow) error {
	d.rows = len(rows)
	return nil
}
func (d *discardUsage) CompactUsage(context.Context, time.Time) error { return nil }

// BenchmarkUsageFlush10000Sites measures one flush of 10,000 active sites
// (every site counted a request since the previous flush) up to the
// store call; the stores' own cost is BenchmarkAddUsage10000 in
// tenants/sqlitestore and tenants/pgstore.
func BenchmarkUsageFlush10000Sites(b *testing.B) {
	e := newEnv(b, Config{})
	const n = 10_000
	sites := make([]*siteUsage, n)
	for i := range sites {
		sites[i] = e.edge.usage.get(fmt.Sprintf("site-%d", i), fmt.Sprintf("s-%d", i), testTenant)
	}
	store := &discardUsage{}
	f := NewUsageFlusher(e.edge, store, UsageFlusherConfig{Now: e.clock.Now})
	b.ReportAllocs()
	for b.Loop() {
		for _, u := range sites {
			u.record(200, 100)
		}
		if err := f.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		if store.rows != n {
			b.Fatalf("%d rows, want %d", store.rows, n)
		}
	}
}
