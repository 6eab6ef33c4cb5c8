package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// percentile returns the p-th percentile (0 < p ≤ 1) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds))*p+0.999999) - 1
	return ds[min(max(i, 0), len(ds)-1)]
}

// runawayAttack is what runRunaways measured.
type runawayAttack struct {
	overruns  []time.Duration // CPU charged past the budget, per runaway request
	workerLat []time.Duration // the neighbour worker's requests
	timerLat  []time.Duration // how late a 1 ms Go timer fired
}

// runRunaways serves runaways × rounds requests of runaway guests
// ("loop", 10 ms budget) at once, each its own site of one tenant, and
// meanwhile the neighbours: another tenant's fast worker ("hello") and a
// Go timer (what a static request needs: a P).
func runRunaways(tb testing.TB, runaways, rounds int) runawayAttack {
	const budget = 10 * time.Millisecond
	rt := newRuntime(tb, Config{PoolSize: 2})
	owned := func(o Owner, name string) *Worker {
		w, err := rt.NewOwnedWorker(context.Background(), o, guest(tb, name), nil, Limits{CPU: budget})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = w.Close(context.Background()) })
		return w
	}
	neighbour := owned(Owner{Tenant: "quiet", Site: "quiet"}, "hello")
	var a runawayAttack
	var mu sync.Mutex
	var running atomic.Int32
	running.Store(int32(runaways))
	var wg sync.WaitGroup
	for i := range runaways {
		w := owned(Owner{Tenant: "attacker", Site: fmt.Sprint("spin", i)}, "loop")
		wg.Go(func() {
			defer running.Add(-1)
			for range rounds {
				res := w.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil)
				if res.Outcome != OutcomeExceededCPU {
					tb.Errorf("runaway: outcome %q (%v), want %q", res.Outcome, res.Err, OutcomeExceededCPU)
					return
				}
				mu.Lock()
				a.overruns = append(a.overruns, res.CPU-budget)
				mu.Unlock()
			}
		})
	}
	for running.Load() > 0 {
		start := time.Now()
		rec := httptest.NewRecorder()
		if res := neighbour.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil); res.Outcome != OutcomeOK || rec.Code != 200 {
			tb.Fatalf("neighbour: outcome %q (%v), status %d", res.Outcome, res.Err, rec.Code)
		}
		a.workerLat = append(a.workerLat, time.Since(start))
		start = time.Now()
		time.Sleep(time.Millisecond)
		a.timerLat = append(a.timerLat, time.Since(start)-time.Millisecond)
	}
	wg.Wait()
	return a
}

// TestRunawaysStoppedOnTime runs 8 runaway guests at once, more than
// there are Ps on a small machine, and checks that each is stopped close
// to its CPU budget, while a neighbour's worker and plain Go code (the
// edge's static serving) keep answering. Before the run slots, the kernel
// backstop stopped such guests at 2×budget+50 ms (overrun p99 57–91 ms
// measured), and the neighbours waited 300–600 ms at p99; with the run
// slots and a backstop, 13–20 ms; with the interrupt function checking the
// CPU clock every millisecond, under 1 ms.
func TestRunawaysStoppedOnTime(t *testing.T) {
	a := runRunaways(t, 8, 8)
	p99 := percentile(a.overruns, 0.99)
	t.Logf("8 runaways × 8, budget 10ms: overrun p50 %v p99 %v max %v; neighbour worker p99 %v (%d), Go timer late p99 %v",
		percentile(a.overruns, 0.5), p99, slices.Max(a.overruns),
		percentile(a.workerLat, 0.99), len(a.workerLat), percentile(a.timerLat, 0.99))
	// The target (issue 11) is 20 ms at p99, measured by
	// BenchmarkConcurrentRunaways (0.1–0.2 ms on a loaded 2-core machine).
	// The overrun is CPU time, which a busy machine does not inflate.
	if p99 > 20*time.Millisecond {
		t.Errorf("overrun p99 %v, want ≤ 20ms", p99)
	}
	// The neighbours wait for one running guest at most (measured: about
	// 12 ms at p99 on a loaded 2-core machine).
	if p := percentile(a.workerLat, 0.99); p > 150*time.Millisecond {
		t.Errorf("neighbour worker p99 %v, want ≤ 150ms", p)
	}
	if p := percentile(a.timerLat, 0.99); p > 150*time.Millisecond {
		t.Errorf("a Go timer fired %v late at p99, want ≤ 150ms", p)
	}
}

// BenchmarkConcurrentRunaways serves 8 runaway guests (10 ms budget) at
// once, 8 requests each per iteration, and reports the p99 of the CPU
// they used past their budget (target ≤ 20 ms on 2 cores, issue 11), with
// a neighbour worker's p99 latency meanwhile.
func BenchmarkConcurrentRunaways(b *testing.B) {
	var all runawayAttack
	for b.Loop() {
		a := runRunaways(b, 8, 8)
		all.overruns = append(all.overruns, a.overruns...)
		all.workerLat = append(all.workerLat, a.workerLat...)
	}
	b.ReportMetric(float64(percentile(all.overruns, 0.99).Microseconds())/1000, "p99-cpu-over-ms")
	b.ReportMetric(float64(percentile(all.overruns, 0.5).Microseconds())/1000, "p50-cpu-over-ms")
	b.ReportMetric(float64(percentile(all.workerLat, 0.99).Microseconds())/1000, "p99-neighbour-ms")
}

// TestRunSlotsShared checks the scheduler's order: with one slot, a
// tenant that queued many requests does not keep another tenant out, and
// a request that waits longer than QueueTimeout is refused as busy, not
// as the worker's failure.
func TestRunSlotsShared(t *testing.T) {
	s := newScheduler(1, time.Hour)
	a, b := s.register(Owner{Tenant: "a", Site: "a1"}, 0), s.register(Owner{Tenant: "b", Site: "b1"}, 0)
	ctx := context.Background()
	if err := s.enter(ctx, a); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 8)
	var wg sync.WaitGroup
	queued := 0
	queue := func(o runShare, name string) {
		wg.Go(func() {
			if err := s.enter(ctx, o); err != nil {
				t.Error(err)
				return
			}
			order <- name
			s.leave(o, nil, 0)
		})
		queued++
		testenv.WaitFor(t, testenv.Patience, func() error { // queued in this order
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.queue) != queued {
				return fmt.Errorf("%d queued, want %d", len(s.queue), queued)
			}
			return nil
		})
	}
	for i := range 4 {
		queue(a, fmt.Sprint("a", i))
	}
	queue(b, "b")
	s.leave(a, nil, 0)
	wg.Wait()
	close(order)
	var got []string
	for n := range order {
		got = append(got, n)
	}
	if want := []string{"b", "a0", "a1", "a2", "a3"}; !slices.Equal(got, want) {
		t.Errorf("granted in order %v, want %v", got, want)
	}

	// A garbage collection that starts while the runaway spins waits for
	// it, holding the waiting request's timeout up: none meanwhile.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	rt := newRuntime(t, Config{MaxRunning: 1, QueueTimeout: 50 * time.Millisecond})
	spin := newWorker(t, rt, "loop", nil, Limits{CPU: 500 * time.Millisecond})
	hello := newWorker(t, rt, "hello", nil, Limits{})
	done := make(chan Result)
	go func() {
		done <- spin.Serve(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil)
	}()
	testenv.WaitFor(t, testenv.Patience, func() error {
		rt.sched.mu.Lock()
		defer rt.sched.mu.Unlock()
		if rt.sched.running == 0 {
			return errors.New("the runaway holds no slot yet")
		}
		return nil
	})
	rec := httptest.NewRecorder()
	res := hello.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil)
	if res.Outcome != OutcomeBusy || res.Status != 503 || res.Code != "worker_busy" || res.Invoked() {
		t.Errorf("with the only slot taken: outcome %q status %d code %q invoked %v, want busy 503 worker_busy", res.Outcome, res.Status, res.Code, res.Invoked())
	}
	if res.Detail != "worker not run: the request waited 50 ms for a turn to run" {
		t.Errorf("Detail = %q", res.Detail)
	}
	if r := <-done; r.Outcome != OutcomeExceededCPU {
		t.Errorf("runaway: %q", r.Outcome)
	}
}

// slowBody is a request body that sends one byte and then waits until it
// is told to fail (as the server's read deadline would).
type slowBody struct {
	sent  bool
	reads chan struct{} // closed at the first Read
	once  sync.Once
	fail  chan error
}

func newSlowBody() *slowBody {
	return &slowBody{reads: make(chan struct{}), fail: make(chan error, 1)}
}

func (b *slowBody) Read(p []byte) (int, error) {
	b.once.Do(func() { close(b.reads) })
	if !b.sent {
		b.sent = true
		p[0] = 'x'
		return 1, nil
	}
	return 0, <-b.fail
}

func (b *slowBody) Close() error { return nil }

// timeoutError is what a connection's read returns past its deadline.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestSlowBodiesHoldNoInstance: requests whose bodies arrive slowly hold
// no instance (nor run slot) of a body-reading worker, so a genuine
// request beside them is answered at once; the slow ones end as the
// client's failure (408 or 400), not the worker's exception.
func TestSlowBodiesHoldNoInstance(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	// A CPU rate with room for two requests' budgets at once: the slow
	// bodies must not reserve it either.
	w := newWorker(t, rt, "echo", nil, Limits{CPU: 10 * time.Millisecond, CPURate: 10 * time.Millisecond})
	const slow = 4
	bodies := make([]*slowBody, slow)
	results := make(chan Result, slow)
	for i := range bodies {
		bodies[i] = newSlowBody()
		r := httptest.NewRequest("POST", "/upload", nil)
		r.Body, r.ContentLength = bodies[i], 100
		go func() { results <- w.Serve(httptest.NewRecorder(), r, &fakeHost{}, nil) }()
		select {
		case <-bodies[i].reads:
		case res := <-results:
			t.Fatalf("slow request %d answered before its body was read: %q (%v)", i, res.Outcome, res.Err)
		}
	}
	genuine := make(chan string, 1)
	go func() {
		rec := httptest.NewRecorder()
		res := w.Serve(rec, httptest.NewRequest("POST", "/upload", strings.NewReader("genuine body")), &fakeHost{}, nil)
		genuine <- fmt.Sprintf("%s %d %s", res.Outcome, rec.Code, rec.Body)
	}()
	select {
	case got := <-genuine:
		if !strings.HasPrefix(got, "ok 200 POST /upload") || !strings.HasSuffix(got, "genuine body") {
			t.Errorf("genuine request: %q", got)
		}
	case <-time.After(5 * time.Second): // it needs milliseconds; before read-ahead it waited for the slow clients
		t.Error("the genuine request waited behind slow request bodies")
	}
	// The slow clients time out (two) or go away (two).
	for i, b := range bodies {
		if i%2 == 0 {
			b.fail <- timeoutError{}
		} else {
			b.fail <- io.ErrUnexpectedEOF
		}
	}
	var timeouts, incomplete int
	for range slow {
		res := <-results
		if res.Outcome != OutcomeClientError || res.Invoked() {
			t.Errorf("slow client: outcome %q (%v), want %q and not invoked", res.Outcome, res.Err, OutcomeClientError)
			continue
		}
		switch {
		case res.Status == 408 && res.Code == "request_timeout" && res.Detail == "worker not run: the client did not send its request body in time":
			timeouts++
		case res.Status == 400 && res.Code == "request_body_incomplete" && res.Detail == "worker not run: the client did not send its whole request body":
			incomplete++
		default:
			t.Errorf("slow client: %d %q %q", res.Status, res.Code, res.Detail)
		}
	}
	if timeouts != 2 || incomplete != 2 {
		t.Errorf("%d timeouts and %d incomplete bodies, want 2 and 2", timeouts, incomplete)
	}
	if used := rt.bodies.used; used != 0 {
		t.Errorf("%d body bytes still counted after the requests", used)
	}
}

// TestBodyBudget: bodies read ahead count against MaxBufferedBodies on
// the node and a quarter of it per site; a body that does not fit is
// refused as busy (the platform's), and the bytes are given back.
func TestBodyBudget(t *testing.T) {
	rt := newRuntime(t, Config{MaxBufferedBodies: 64 << 10})
	w := newWorker(t, rt, "echo", nil, Limits{})
	big := strings.Repeat("b", 20<<10) // more than a quarter of 64 KiB
	res := w.Serve(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(big)), &fakeHost{}, nil)
	if res.Outcome != OutcomeBusy || res.Status != 503 || res.Code != "worker_busy" {
		t.Errorf("a 20 KiB body with a 16 KiB share: outcome %q status %d code %q", res.Outcome, res.Status, res.Code)
	}
	if res.Detail != "worker not run: too many request bodies were being received" {
		t.Errorf("Detail = %q", res.Detail)
	}
	small := strings.Repeat("s", 10<<10)
	rec := httptest.NewRecorder()
	res = w.Serve(rec, httptest.NewRequest("POST", "/", strings.NewReader(small)), &fakeHost{}, nil)
	if res.Outcome != OutcomeOK || !strings.HasSuffix(rec.Body.String(), small) {
		t.Errorf("a 10 KiB body: outcome %q (%v)", res.Outcome, res.Err)
	}
	if rt.bodies.used != 0 || len(rt.bodies.bySite) != 0 {
		t.Errorf("%d bytes (%v) still counted", rt.bodies.used, rt.bodies.bySite)
	}
}

// TestHandledGrowFailure: a guest whose memory.grow is refused at the
// plan's cap and that answers anyway is reported as exceededMemory (every
// violation is logged), with its answer; without the cap it is ok.
func TestHandledGrowFailure(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 1})
	tests := []struct {
		name          string
		lim           Limits
		requests      int
		body, outcome string
		detail        string
	}{
		// Twice: the same instance again, counted per request.
		{"refused at the cap", Limits{MemoryBytes: 1 << 20}, 2, "refused", OutcomeExceededMemory, "worker exceeded its memory limit of 1 MiB"},
		// Once: 10,000 pages more would pass 1 GiB the second time.
		{"within the cap", Limits{MemoryBytes: 1 << 30}, 1, "grown", OutcomeOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorker(t, rt, "grow", nil, tt.lim)
			for i := range tt.requests {
				rec := httptest.NewRecorder()
				res := w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil)
				if res.Outcome != tt.outcome || rec.Code != 200 || rec.Body.String() != tt.body || res.Detail != tt.detail {
					t.Errorf("request %d: outcome %q detail %q, %d %q; want %q %q, 200 %q", i, res.Outcome, res.Detail, rec.Code, rec.Body, tt.outcome, tt.detail, tt.body)
				}
			}
		})
	}
}

// TestCPURate checks a tenant's CPU rate: its runaways use their second's
// worth of CPU, then its requests are refused with 429 and a Retry-After
// (not run, not an invocation) while another tenant's worker runs; the
// bucket refills at the rate, and a request that uses less than its
// budget gives the rest back.
func TestCPURate(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 2})
	// 20 ms per second: a burst of two 10 ms runaways. A refusal comes
	// after a few more even when each runaway takes 200 ms of wall-clock
	// time on a loaded machine (the bucket refills 4 ms meanwhile).
	const rate = 20 * time.Millisecond
	lim := Limits{CPU: 10 * time.Millisecond, CPURate: rate}
	owned := func(o Owner, name string, lim Limits) *Worker {
		w, err := rt.NewOwnedWorker(context.Background(), o, guest(t, name), nil, lim)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close(context.Background()) })
		return w
	}
	spin := owned(Owner{Tenant: "greedy", Site: "spin"}, "loop", lim)
	hello := owned(Owner{Tenant: "greedy", Site: "hello"}, "hello", lim)
	other := owned(Owner{Tenant: "other", Site: "other"}, "loop", lim)
	serve := func(w *Worker) (Result, *httptest.ResponseRecorder) {
		rec := httptest.NewRecorder()
		return w.Serve(rec, httptest.NewRequest("GET", "/", nil), &fakeHost{}, nil), rec
	}
	var ran int
	var refused Result
	for range 20 {
		res, _ := serve(spin)
		if res.Outcome == OutcomeCPURateLimited {
			refused = res
			break
		}
		if res.Outcome != OutcomeExceededCPU {
			t.Fatalf("runaway: outcome %q (%v)", res.Outcome, res.Err)
		}
		ran++
	}
	if ran < 2 || ran > 12 || refused.Outcome == "" {
		t.Fatalf("%d runaways of 10 ms ran before a refusal (%q), want 2 and a few more", ran, refused.Outcome)
	}
	if refused.Status != http.StatusTooManyRequests || refused.Code != "worker_cpu_rate_exceeded" || refused.Invoked() ||
		refused.RetryAfter <= 0 || refused.RetryAfter > time.Second || !strings.Contains(refused.Detail, "CPU rate of 20 ms per second") {
		t.Errorf("refusal: %+v", refused)
	}
	// The tenant's other site shares the bucket; another tenant does not.
	if res, _ := serve(hello); res.Outcome != OutcomeCPURateLimited {
		t.Errorf("the same tenant's other worker: outcome %q", res.Outcome)
	}
	if res, _ := serve(other); res.Outcome != OutcomeExceededCPU {
		t.Errorf("another tenant's worker: outcome %q (%v)", res.Outcome, res.Err)
	}
	// After Retry-After the tenant's workers run again.
	time.Sleep(refused.RetryAfter)
	testenv.WaitFor(t, testenv.Patience, func() error {
		if res, _ := serve(hello); res.Outcome != OutcomeOK {
			return fmt.Errorf("after the retry: outcome %q", res.Outcome)
		}
		return nil
	})
	// A hello-world gives back almost all of its reservation: 20 in a row
	// reserve 200 ms but use a fraction of the 20 ms burst.
	thrifty := owned(Owner{Tenant: "thrifty", Site: "hello"}, "hello", lim)
	for i := range 20 {
		if res, _ := serve(thrifty); res.Outcome != OutcomeOK {
			t.Fatalf("hello %d: outcome %q: short requests must not pay their whole budget", i, res.Outcome)
		}
	}
}

// TestCPURateNotHeldWhileWaiting: a request waiting on the host (here a
// fetch) holds only the CPU it used of its tenant's rate, not its whole
// budget, so many requests waiting on I/O at once are not refused. With a
// rate of 20 ms per second and 10 ms budgets, the bucket holds two
// budgets: the third concurrent request was refused when the waiting ones
// kept theirs.
func TestCPURateNotHeldWhileWaiting(t *testing.T) {
	rt := newRuntime(t, Config{PoolSize: 8})
	lim := Limits{CPU: 10 * time.Millisecond, CPURate: 20 * time.Millisecond}
	w, err := rt.NewOwnedWorker(context.Background(), Owner{Tenant: "io", Site: "io"}, guest(t, "fetch"), nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	release := make(chan struct{})
	waiting := make(chan struct{}, 8)
	host := &fakeHost{fetch: func(ctx context.Context, req *http.Request) (*http.Response, error) {
		waiting <- struct{}{}
		<-release
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("ok"))}, nil
	}}
	const n = 6
	results := make(chan Result, n)
	for i := range n {
		go func() {
			rec := httptest.NewRecorder()
			results <- w.Serve(rec, httptest.NewRequest("GET", "/", nil), host, nil)
		}()
		select { // the next request starts once this one waits on its fetch
		case <-waiting:
		case res := <-results:
			close(release)
			t.Fatalf("request %d of %d did not reach its fetch: outcome %q (%v)", i+1, n, res.Outcome, res.Err)
		}
	}
	close(release)
	for range n {
		if res := <-results; res.Outcome != OutcomeOK {
			t.Errorf("outcome %q (%v), want ok", res.Outcome, res.Err)
		}
	}
}

// TestSchedulerBegin: begin takes a run slot and the request's whole
// budget from its tenant's rate together; when the tenant went past its
// burst since admitCPU, it takes neither, whether a slot was free at once
// or came after a wait.
func TestSchedulerBegin(t *testing.T) {
	ctx := context.Background()
	s := newScheduler(1, time.Minute)
	rs := s.register(Owner{Tenant: "t", Site: "s"}, 10*time.Millisecond)
	other := s.register(Owner{Tenant: "o", Site: "o"}, 0)
	const budget = 5 * time.Millisecond
	state := func() (running int, tat int64) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.running, rs.tenant.cpuTAT.Load()
	}

	held, retry := s.admitCPU(rs, budget)
	hold := held.ref()
	if hold == nil || retry != 0 {
		t.Fatalf("admitCPU: hold %v, retry %v", hold, retry)
	}
	now, retry, err := s.begin(ctx, rs, hold)
	if err != nil || retry != 0 || now <= 0 {
		t.Fatalf("begin: now %v, retry %v, err %v", now, retry, err)
	}
	if running, tat := state(); running != 1 || hold.held != budget || tat < int64(now)+debt(budget, 10*time.Millisecond) {
		t.Fatalf("after begin: %d running, %v held, bucket %v ahead", running, hold.held, time.Duration(tat-int64(now)))
	}
	s.leave(rs, hold, time.Millisecond)
	if running, _ := state(); running != 0 || hold.held != time.Millisecond {
		t.Fatalf("after leave: %d running, %v held, want 0 and the 1ms used", running, hold.held)
	}

	// The tenant's other requests ran meanwhile: its bucket is past its
	// burst when this one, admitted before, is about to start.
	late := func() *cpuHold {
		held, retry := s.admitCPU(rs, budget)
		h := held.ref()
		if h == nil || retry != 0 {
			t.Fatalf("admitCPU: hold %v, retry %v", h, retry)
		}
		rs.tenant.cpuTAT.Store(int64(mono()) + int64(3*time.Second))
		return h
	}
	// admitCPU compares with the latest start's clock first: a stale one
	// that would refuse is read again.
	s.seen.Store(int64(mono() - 5*time.Second))
	rs.tenant.cpuTAT.Store(int64(mono() + time.Second/2))
	if held, retry := s.admitCPU(rs, budget); held.ref() == nil || retry != 0 {
		t.Fatalf("admitCPU with the bucket 0.5s ahead (burst 1s), the last start 5s ago: retry %v", retry)
	}
	h := late()
	if _, retry := s.admitCPU(rs, budget); retry < 2*time.Second-time.Second/10 {
		t.Fatalf("admitCPU with the bucket 3s ahead (burst 1s): retry %v, want about 2s", retry)
	}
	_, tatBefore := state()
	if _, retry, err := s.begin(ctx, rs, h); err != nil || retry <= 0 {
		t.Fatalf("begin past the burst, a slot free: retry %v, err %v", retry, err)
	}
	if running, tat := state(); running != 0 || h.held != 0 || tat != tatBefore {
		t.Fatalf("a refused begin holds %d slots and %v of the rate (bucket moved %v)", running, h.held, time.Duration(tat-tatBefore))
	}

	// The same after waiting for the slot another tenant held.
	rs.tenant.cpuTAT.Store(0)
	if err := s.enter(ctx, other); err != nil {
		t.Fatal(err)
	}
	h = late()
	done := make(chan time.Duration, 1)
	go func() {
		_, retry, err := s.begin(ctx, rs, h)
		if err != nil {
			t.Error(err)
		}
		done <- retry
	}()
	testenv.WaitFor(t, testenv.Patience, func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.queue) != 1 {
			return fmt.Errorf("%d queued, want 1", len(s.queue))
		}
		return nil
	})
	s.leave(other, nil, 0)
	if retry := <-done; retry <= 0 {
		t.Fatalf("begin past the burst after a wait: retry %v", retry)
	}
	if running, _ := state(); running != 0 || h.held != 0 {
		t.Fatalf("a begin refused after its wait holds %d slots and %v of the rate", running, h.held)
	}
}

// A rate lifted while a request ran (a new Worker of the tenant registers
// none) makes its settling move nothing, rather than divide by zero.
func TestDebtWithoutRate(t *testing.T) {
	if d := debt(time.Millisecond, 0); d != 0 {
		t.Fatalf("debt at no rate: %d", d)
	}
	if d := debt(time.Millisecond, 10*time.Millisecond); d != int64(100*time.Millisecond) {
		t.Fatalf("1 ms at 10 ms per second: %v, want 100ms", time.Duration(d))
	}
}
