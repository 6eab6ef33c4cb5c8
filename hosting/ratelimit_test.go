package hosting

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

func TestSiteRate(t *testing.T) {
	t.Parallel()
	free, _ := tenants.PlanLimits(tenants.PlanFree)
	rate := func(rps, burst int) tenants.Limits {
		return tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: rps, RequestBurst: burst}}
	}
	tests := []struct {
		name   string
		limits tenants.Limits
		want   rateLimit
	}{
		{"free plan: 100/s, burst 200", free, rateLimit{interval: int64(10 * time.Millisecond), tolerance: 199 * int64(10*time.Millisecond)}},
		{"one per second, burst 1", rate(1, 1), rateLimit{interval: int64(time.Second)}},
		{"a burst of 0 counts as 1", rate(4, 0), rateLimit{interval: int64(250 * time.Millisecond)}},
		{"no rate: no limit", rate(0, 10), rateLimit{}},
		{"above one per nanosecond: no limit", rate(2_000_000_000, 10), rateLimit{}},
		{"a huge burst does not overflow", rate(1, math.MaxInt), rateLimit{interval: int64(time.Second), tolerance: maxRateTolerance}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := siteRate(tc.limits); got != tc.want {
				t.Fatalf("siteRate = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTake(t *testing.T) {
	t.Parallel()
	const s = int64(time.Second)
	tests := []struct {
		name       string
		rps, burst int
		at         []int64         // ns of successive takes
		want       []time.Duration // what each returns
	}{
		{"burst, then refused", 10, 3, []int64{0, 0, 0, 0},
			[]time.Duration{0, 0, 0, 100 * time.Millisecond}},
		{"refills one per interval", 10, 2, []int64{0, 0, 0, s / 10, s / 10, s/10 + s/20},
			[]time.Duration{0, 0, 100 * time.Millisecond, 0, 100 * time.Millisecond, 50 * time.Millisecond}},
		{"refused takes are not counted", 1, 1, []int64{0, s / 2, s - 1, s},
			[]time.Duration{0, 500 * time.Millisecond, 1, 0}},
		{"idle refills the whole burst and no more", 10, 2, []int64{0, 0, 3600 * s, 3600 * s, 3600 * s},
			[]time.Duration{0, 0, 0, 0, 100 * time.Millisecond}},
		{"no limit", 0, 0, []int64{0, 0, 0}, []time.Duration{0, 0, 0}},
	}
	t.Run("a raised rate clears the slower rate's backlog", func(t *testing.T) {
		t.Parallel()
		slow := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 1, RequestBurst: 5}})
		fast := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 1000, RequestBurst: 1000}})
		var u siteUsage
		for range 5 {
			u.take(slow, 0) // the arrival time is 5 s ahead
		}
		for i, want := range []time.Duration{0, time.Millisecond} {
			if got := u.take(fast, s); got != want {
				t.Fatalf("take %d at the faster rate = %v, want %v", i, got, want)
			}
		}
		if got := u.take(fast, s+int64(time.Millisecond)); got != 0 {
			t.Fatalf("one interval later = %v, want allowed", got)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rl := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: tc.rps, RequestBurst: tc.burst}})
			var u siteUsage
			for i, at := range tc.at {
				if got := u.take(rl, at); got != tc.want[i] {
					t.Fatalf("take %d at %v = %v, want %v", i, time.Duration(at), got, tc.want[i])
				}
			}
		})
	}
}

// Concurrent takes at one instant admit exactly the burst (run with -race).
func TestTakeConcurrent(t *testing.T) {
	t.Parallel()
	const burst, goroutines, each = 500, 8, 1000
	rl := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 100, RequestBurst: burst}})
	var u siteUsage
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				if u.take(rl, int64(time.Hour)) == 0 {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != burst {
		t.Fatalf("%d of %d concurrent requests allowed, want the burst, %d", n, goroutines*each, burst)
	}
	// One interval later, exactly one more.
	at := int64(time.Hour) + int64(10*time.Millisecond)
	if u.take(rl, at) != 0 || u.take(rl, at) == 0 {
		t.Fatal("one interval after the burst, want exactly one request allowed")
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		wait time.Duration
		want string
	}{
		{0, "1"},
		{time.Nanosecond, "1"},
		{999 * time.Millisecond, "1"},
		{time.Second, "1"},
		{time.Second + time.Nanosecond, "2"},
		{60 * time.Second, "60"},
		{90*time.Second + 1, "91"},
	}
	for _, tc := range tests {
		t.Run(tc.wait.String(), func(t *testing.T) {
			if got := retryAfter(tc.wait); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("retryAfter(%v) = %q, want %q", tc.wait, got, tc.want)
			}
		})
	}
}

// The limiter's state is in the site's counters, on the line the request
// counters already write: it costs no memory and no extra cache line.
func TestRateLimiterLayout(t *testing.T) {
	if off := unsafe.Offsetof(siteUsage{}.rateTAT); off+8 > 64 {
		t.Fatalf("rateTAT at offset %d: not on the request counters' cache line", off)
	}
	if n := unsafe.Sizeof(siteUsage{}); n != 192 {
		t.Fatalf("siteUsage is %d bytes, want 192", n)
	}
}

// setRate sets tenant id's rate overrides in the fake registry.
func setRate(reg *fakeRegistry, id string, rps, burst int) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	tn := reg.tenants[id]
	tn.Limits.RequestsPerSecond, tn.Limits.RequestBurst = rps, burst
	reg.tenants[id] = tn
}

func TestEdgeRateLimit(t *testing.T) {
	t.Parallel()
	hub := logstream.New(64)
	e := newEnv(t, Config{RateLimits: true, Logs: hub, RouteTTL: 10 * time.Second})
	// Site "busy" of tenant tn1 may get 1 request a second, 2 in a row;
	// site "calm" of another tenant keeps the free plan's 100/s.
	setRate(e.reg, testTenant, 1, 2)
	e.site("busy", "b1", helloSite, tenants.DeploymentConfig{})
	e.reg.addTenant("tn2")
	e.reg.addSite("tn2", "s-calm", "calm")
	e.reg.deploy("calm", tenants.Deployment{ID: "c1", Manifest: e.blobs.manifest("tn2", helloSite)}, true)
	const busy, calm = "busy.pier.test", "calm.pier.test"
	sub := hub.Subscribe("busy")
	defer sub.Close()

	for i := range 2 {
		if w := e.get("/", busy); w.Code != http.StatusOK {
			t.Fatalf("request %d within the burst: %d", i, w.Code)
		}
		sub.Next()
	}
	w := e.get("/", busy, "Accept", "application/json")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("request over the rate: %d %q, want 429", w.Code, w.Body.String())
	}
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != "rate_limited" {
		t.Errorf("body %q (%v), want the JSON error rate_limited", w.Body.String(), err)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	ev, _, ok := sub.Next()
	if !ok || ev.Outcome != logstream.OutcomeRateLimited || ev.Status != http.StatusTooManyRequests {
		t.Errorf("log event %+v (%v), want outcome %s, status 429", ev, ok, logstream.OutcomeRateLimited)
	}

	t.Run("another tenant's site is served", func(t *testing.T) {
		for i := range 150 {
			if w := e.get("/", calm); w.Code != http.StatusOK {
				t.Fatalf("request %d to the neighbour: %d", i, w.Code)
			}
		}
	})
	t.Run("every host of the site shares its bucket", func(t *testing.T) {
		for _, host := range []string{busy, "b1--busy.pier.test"} {
			if w := e.get("/", host); w.Code != http.StatusTooManyRequests {
				t.Errorf("%s: %d, want 429", host, w.Code)
			}
		}
	})
	t.Run("ACME and ownership challenges are never limited", func(t *testing.T) {
		for _, p := range []string{"/.well-known/acme-challenge/tok", ChallengePath + "tok"} {
			if w := e.get(p, busy); w.Code == http.StatusTooManyRequests {
				t.Errorf("%s answered 429", p)
			}
		}
	})
	t.Run("HEAD and HTML", func(t *testing.T) {
		w := e.do(http.MethodHead, "/", busy)
		if w.Code != http.StatusTooManyRequests || w.Body.Len() != 0 || w.Header().Get("Retry-After") != "1" {
			t.Errorf("HEAD: %d, %d body bytes, Retry-After %q", w.Code, w.Body.Len(), w.Header().Get("Retry-After"))
		}
		w = e.get("/", busy, "Accept", "text/html")
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("HTML: %d %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
	t.Run("counted", func(t *testing.T) {
		u := e.edge.Usage("busy")
		// 5 answered 429 and the 2 challenges' 404s.
		if u.RateLimited != 5 || u.Requests["4xx"] != 7 || u.Requests["2xx"] != 2 {
			t.Errorf("usage %+v, want 5 rate-limited (in 4xx, beside 2 404s) and 2 served", u)
		}
		if n := e.edge.Usage("calm").RateLimited; n != 0 {
			t.Errorf("neighbour rate-limited %d times", n)
		}
	})
	t.Run("refilled a second later", func(t *testing.T) {
		e.clock.Advance(time.Second)
		if w := e.get("/", busy); w.Code != http.StatusOK {
			t.Fatalf("after a second: %d", w.Code)
		}
		if w := e.get("/", busy); w.Code != http.StatusTooManyRequests {
			t.Fatalf("second request after a second: %d, want 429", w.Code)
		}
	})
	t.Run("a changed override applies once the route is revalidated", func(t *testing.T) {
		setRate(e.reg, testTenant, 1, 5)
		e.clock.Advance(11 * time.Second) // past RouteTTL: this request revalidates
		e.get("/", busy)
		waitIdle(t, e, busy)
		e.clock.Advance(time.Minute) // a full bucket
		for i := range 5 {
			if w := e.get("/", busy); w.Code != http.StatusOK {
				t.Fatalf("request %d within the new burst of 5: %d", i, w.Code)
			}
		}
		if w := e.get("/", busy); w.Code != http.StatusTooManyRequests {
			t.Fatalf("request over the new burst: %d, want 429", w.Code)
		}
	})
	t.Run("a changed override applies at once after Invalidate", func(t *testing.T) {
		setRate(e.reg, testTenant, 1000, 1000)
		e.edge.Invalidate("busy")
		e.clock.Advance(10 * time.Second) // past the old rate's backlog
		for i := range 100 {
			if w := e.get("/", busy); w.Code != http.StatusOK {
				t.Fatalf("request %d after raising the rate: %d", i, w.Code)
			}
		}
	})
}

func TestEdgeRateLimitsOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	setRate(e.reg, testTenant, 1, 1)
	e.site("site", "d1", helloSite, tenants.DeploymentConfig{})
	for i := range 10 {
		if w := e.get("/", "site.pier.test"); w.Code != http.StatusOK {
			t.Fatalf("request %d with rate limits off: %d", i, w.Code)
		}
	}
}

// BenchmarkRateLimitTake is the limiter's check on one site from every
// core at once (the worst case: one contended line).
func BenchmarkRateLimitTake(b *testing.B) {
	rl := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 1_000_000_000, RequestBurst: math.MaxInt}})
	var u siteUsage
	start := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if u.take(rl, int64(time.Since(start))) != 0 {
				b.Fatal("limited")
			}
		}
	})
}

// BenchmarkRateLimitTakeManySites spreads the checks over 10,000 sites.
func BenchmarkRateLimitTakeManySites(b *testing.B) {
	rl := siteRate(tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 1_000_000_000, RequestBurst: math.MaxInt}})
	sites := make([]siteUsage, 10_000)
	start := time.Now()
	var seq atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := int(seq.Add(7919))
		for pb.Next() {
			i = (i + 7919) % len(sites)
			if sites[i].take(rl, int64(time.Since(start))) != 0 {
				b.Fatal("limited")
			}
		}
	})
}

// BenchmarkEdgeParallelRateLimited is BenchmarkEdgeParallel with rate
// limits on and a rate the benchmark never reaches: the check's cost on
// the whole request.
func BenchmarkEdgeParallelRateLimited(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("on=%v", on), func(b *testing.B) {
			e := newEnv(b, Config{RateLimits: on, Now: time.Now})
			setRate(e.reg, testTenant, 1_000_000_000, math.MaxInt)
			e.site("site", "d1", templateSite(), tenants.DeploymentConfig{})
			r := benchRequest("/small.txt", "site.pier.test")
			e.edge.ServeHTTP(newBenchWriter(), r)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := newBenchWriter()
				for pb.Next() {
					w.reset()
					e.edge.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		})
	}
}
