package hosting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting/egress"
	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// upstreamLog records what a test upstream received.
type upstreamLog struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (u *upstreamLog) add(r *http.Request) {
	u.mu.Lock()
	u.reqs = append(u.reqs, r)
	u.mu.Unlock()
}

func (u *upstreamLog) all() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.reqs...)
}

// outboundEnv is an edge whose site "app" runs the bindings guest, with
// the outbound test worker in mode as the operator's outbound worker and
// api.example.test served by a test upstream.
func outboundEnv(t *testing.T, mode string, cpu time.Duration) (*env, *upstreamLog, *logstream.Subscription) {
	t.Helper()
	return outboundEnvWith(t, func(cfg *Config, outbound func(mode string, cpu time.Duration) OutboundWorker) {
		cfg.Outbound = outbound(mode, cpu)
	})
}

// outboundEnvWith is outboundEnv with the outbound workers set by setup,
// which makes them with outbound.
func outboundEnvWith(t *testing.T, setup func(cfg *Config, outbound func(mode string, cpu time.Duration) OutboundWorker)) (*env, *upstreamLog, *logstream.Subscription) {
	t.Helper()
	seen := &upstreamLog{}
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.add(r)
		fmt.Fprintf(w, "hi from upstream %s%s", r.Host, r.URL.RequestURI())
	}))
	t.Cleanup(upstream.Close)
	rt := newRuntime(t)
	outbound := func(mode string, cpu time.Duration) OutboundWorker {
		ob, err := rt.NewWorker(context.Background(), wasmFixture(t, "outbound"), map[string]string{"MODE": mode}, OutboundLimits(cpu))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ob.Close(context.Background()) })
		return ob
	}
	hub := logstream.New(64)
	cfg := Config{
		Workers: rt,
		Logs:    hub,
		Egress: &egress.Policy{
			Resolver: publicResolver{"api.example.test": "93.184.216.34"},
			Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if addr != "93.184.216.34:80" {
					return nil, fmt.Errorf("unexpected dial to %s", addr)
				}
				var d net.Dialer
				return d.DialContext(ctx, "tcp", upstream.Listener.Addr().String())
			},
		},
	}
	setup(&cfg, outbound)
	e := newWorkerEnv(t, cfg)
	e.workerSite("app", "d1", "bindings", workerFiles, tenants.DeploymentConfig{})
	events := hub.Subscribe("app")
	t.Cleanup(events.Close)
	return e, seen, events
}

func TestOutboundWorker(t *testing.T) {
	tests := []struct {
		name, mode, path string
		want             []string // in the site worker's answer
		upstream         string   // the upstream's request URI ("": not reached)
		upstreamHeader   string   // Pier-Outbound as the upstream saw it
		outcome          string   // of the subrequest event
		status           int      // of the subrequest event
		message          string   // in the subrequest event's message
		logLine          string   // the outbound worker's log line, if any
	}{
		{
			name: "answered: the site's worker gets the outbound worker's refusal", mode: "a", path: "/public",
			want:    []string{"HTTP/1.1 403", "X-Outbound: answered", "denied tenant-tn1/app/free http://api.example.test/hi"},
			outcome: logstream.OutcomeAnswered, status: 403,
		},
		{
			name: "continued with a header added", mode: "c", path: "/public",
			want:     []string{"HTTP/1.1 200", "hi from upstream api.example.test/hi"},
			upstream: "/hi", upstreamHeader: "checked",
			outcome: logstream.OutcomeContinued, status: 200,
			logLine: "outbound: saw http://api.example.test/hi",
		},
		{
			name: "passed through unchanged", mode: "x", path: "/public",
			want:     []string{"HTTP/1.1 200", "hi from upstream api.example.test/hi"},
			upstream: "/hi",
			outcome:  logstream.OutcomeContinued, status: 200,
		},
		{
			name: "URI rewritten", mode: "r", path: "/public",
			want:     []string{"HTTP/1.1 200", "hi from upstream api.example.test/rewritten?x=1"},
			upstream: "/rewritten?x=1",
			outcome:  logstream.OutcomeContinued, status: 200, message: "continued to http://api.example.test/rewritten?x=1",
		},
		{
			name: "loopback continued is still refused by the egress policy", mode: "c", path: "/local",
			want:    []string{"error 2"},
			outcome: logstream.OutcomeContinued, message: "denied",
			logLine: "outbound: saw http://127.0.0.1/",
		},
		{
			name: "a Host header changed to loopback is refused by the egress policy", mode: "h", path: "/public",
			want:    []string{"error 2"},
			outcome: logstream.OutcomeContinued, message: "denied",
		},
		{
			name: "its own fetches are refused", mode: "f", path: "/public",
			want:    []string{"HTTP/1.1 200", "own fetch 1"},
			outcome: logstream.OutcomeAnswered, status: 200,
		},
		{
			name: "a runaway is stopped and the fetch fails", mode: "l", path: "/public",
			want:    []string{"error 3"},
			outcome: logstream.OutcomeFailed, message: "outbound worker exceeded its CPU limit of 20 ms",
		},
		{
			name: "a trap after continuing fails the fetch, which is not sent", mode: "p", path: "/public",
			want:    []string{"error 3"},
			outcome: logstream.OutcomeFailed, message: "outbound worker failed: ",
		},
		{
			name: "a trap fails the fetch", mode: "t", path: "/public",
			want:    []string{"error 3"},
			outcome: logstream.OutcomeFailed, message: "outbound worker failed: ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, seen, events := outboundEnv(t, tc.mode, 20*time.Millisecond)
			// Twice: a stopped or trapped outbound instance must not
			// poison the next fetch.
			for range 2 {
				w := e.get(tc.path, "app.pier.test")
				if w.Code != 200 {
					t.Fatalf("%d %q", w.Code, w.Body.String())
				}
				for _, s := range tc.want {
					if !strings.Contains(w.Body.String(), s) {
						t.Fatalf("body %q lacks %q", w.Body.String(), s)
					}
				}
				var sub, inv *logstream.Event
				var logs []string
				for inv == nil {
					ev := nextEvent(t, events)
					switch ev.Kind {
					case logstream.KindSubrequest:
						sub = &ev
					case logstream.KindInvocation:
						inv = &ev
					case logstream.KindLog:
						logs = append(logs, ev.Message)
					}
				}
				if sub == nil {
					t.Fatal("no subrequest event")
				}
				if sub.Method != "GET" || sub.Outcome != tc.outcome || sub.Status != tc.status || !strings.Contains(sub.Message, tc.message) {
					t.Errorf("subrequest event %+v, want outcome %s status %d message %q", *sub, tc.outcome, tc.status, tc.message)
				}
				if tc.message == "" && sub.Message != "" {
					t.Errorf("subrequest event message %q, want none", sub.Message)
				}
				if !strings.HasPrefix(sub.Path, "http://") {
					t.Errorf("subrequest event path %q, want the absolute URL", sub.Path)
				}
				if tc.logLine != "" && (len(logs) != 1 || logs[0] != tc.logLine) {
					t.Errorf("log lines %q, want %q", logs, tc.logLine)
				}
				// The site's invocation is its own: it answered, whatever
				// the outbound worker did.
				if inv.Outcome != worker.OutcomeOK || inv.SubRequests != 1 {
					t.Errorf("invocation event %+v", *inv)
				}
			}
			got := seen.all()
			if tc.upstream == "" {
				if len(got) != 0 {
					t.Fatalf("the upstream was reached %d times", len(got))
				}
			} else {
				if len(got) != 2 {
					t.Fatalf("the upstream was reached %d times, want 2", len(got))
				}
				r := got[0]
				if r.URL.RequestURI() != tc.upstream || r.Header.Get("Pier-Outbound") != tc.upstreamHeader || r.Host != "api.example.test" {
					t.Errorf("upstream saw %s %s Pier-Outbound=%q, want %s %q", r.Host, r.URL.RequestURI(), r.Header.Get("Pier-Outbound"), tc.upstream, tc.upstreamHeader)
				}
			}
			u := e.edge.Usage("app")
			if u.Invocations != 2 || u.ByOutcome[worker.OutcomeOK] != 2 || u.SubRequests != 2 {
				t.Errorf("usage %+v: the outbound worker's calls are not the site's invocations", u)
			}
			// The edge keeps serving.
			if w := e.get("/style.css", "app.pier.test"); w.Code != 200 {
				t.Errorf("static asset beside it: %d", w.Code)
			}
		})
	}
}

// TestOutboundWorkerByPlan: a plan's own outbound worker replaces the
// node's for its tenants, and a plan listed without one has none (the
// site of these tests is on the free plan).
func TestOutboundWorkerByPlan(t *testing.T) {
	tests := []struct {
		name  string
		setup func(cfg *Config, outbound func(string, time.Duration) OutboundWorker)
		want  string // in the site's answer
		seen  int    // upstream requests
	}{
		{"the plan's own, over the node's", func(cfg *Config, ob func(string, time.Duration) OutboundWorker) {
			cfg.Outbound = ob("x", 0)
			cfg.OutboundByPlan = map[string]OutboundWorker{tenants.PlanFree: ob("a", 0)}
		}, "denied tenant-tn1/app/free", 0},
		{"none for the plan, though the node has one", func(cfg *Config, ob func(string, time.Duration) OutboundWorker) {
			cfg.Outbound = ob("a", 0)
			cfg.OutboundByPlan = map[string]OutboundWorker{tenants.PlanFree: nil}
		}, "hi from upstream api.example.test/hi", 1},
		{"another plan's does not apply", func(cfg *Config, ob func(string, time.Duration) OutboundWorker) {
			cfg.OutboundByPlan = map[string]OutboundWorker{tenants.PlanPro: ob("a", 0)}
		}, "hi from upstream api.example.test/hi", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, seen, _ := outboundEnvWith(t, tc.setup)
			w := e.get("/public", "app.pier.test")
			if body := w.Body.String(); !strings.Contains(body, tc.want) {
				t.Errorf("answer %d %q, want %q in it", w.Code, body, tc.want)
			}
			if n := len(seen.all()); n != tc.seen {
				t.Errorf("the upstream was reached %d times, want %d", n, tc.seen)
			}
		})
	}
}

// TestOutboundWorkerBody: a fetch's method and body reach the outbound
// worker and, when it lets the request continue, the upstream.
func TestOutboundWorkerBody(t *testing.T) {
	e, seen, _ := outboundEnv(t, "c", time.Second)
	d := mustDep(t, e, "app.pier.test")
	h := &requestHost{e: e.edge, d: d, site: "app", tenant: "tenant-tn1", plan: "free"}
	req, err := http.NewRequest("POST", "http://api.example.test/submit?q=1", strings.NewReader("form=data"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := h.Fetch(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := seen.all()
	if len(got) != 1 {
		t.Fatalf("upstream reached %d times", len(got))
	}
	r := got[0]
	if r.Method != "POST" || r.URL.RequestURI() != "/submit?q=1" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.Header.Get("Pier-Outbound") != "checked" || r.ContentLength != int64(len("form=data")) {
		t.Fatalf("upstream saw %s %s %v (%d bytes)", r.Method, r.URL.RequestURI(), r.Header, r.ContentLength)
	}
}

// BenchmarkOutboundAnswer measures one fetch answered by the outbound
// worker (the WAT test worker's refusal): what the outbound worker adds
// to a fetch, the network left out.
func BenchmarkOutboundAnswer(b *testing.B) {
	rt, err := worker.New(context.Background(), worker.Config{PoolSize: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close(context.Background())
	ob, err := rt.NewWorker(context.Background(), wasmFixture(b, "outbound"), map[string]string{"MODE": "a"}, OutboundLimits(0))
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close(context.Background())
	e := &Edge{outbound: ob, log: slog.New(slog.DiscardHandler), now: time.Now, egress: &egress.Policy{}}
	h := &requestHost{e: e, d: &deployment{tenantID: "tn1"}, site: "app", tenant: "acme", plan: "free"}
	req, err := http.NewRequest("GET", "http://api.example.test/hi", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := h.Fetch(context.Background(), req)
		if err != nil || resp.StatusCode != 403 {
			b.Fatalf("%v %v", resp, err)
		}
		resp.Body.Close()
	}
}
