package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/internal/testenv"
)

// recordingUpstream is a loopback HTTP server that records the requests
// it gets; pier serve reaches it through --egress-allow-addr.
type recordingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r)
		u.mu.Unlock()
		fmt.Fprintf(w, "upstream %s", r.URL.RequestURI())
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *recordingUpstream) requests() []*http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]*http.Request(nil), u.seen...)
}

// deployWorkerGoFollowed deploys the worker-go example (site, its
// directory) as site worker-go of a new tenant acme and follows its log
// stream, once that stream has shown an invocation.
func deployWorkerGoFollowed(t *testing.T, s *server, site string) *logFollower {
	t.Helper()
	s.pier("tenants", "create", "acme")
	s.pier("sites", "create", "worker-go", "--tenant", "acme")
	s.deploy(site, "worker-go")
	logs := s.followLogs("worker-go")
	testenv.WaitFor(t, testenv.Patience, func() error {
		s.get("worker-go.localhost", "/api/ping")
		if !strings.Contains(strings.Join(logs.Lines(), "\n"), `"kind":"invocation"`) {
			return errors.New("pier logs shows no invocation yet")
		}
		return nil
	})
	return logs
}

// fetchThrough asks the worker-go example to fetch target.
func fetchThrough(s *server, target string) response {
	s.t.Helper()
	return s.get("worker-go.localhost", "/api/fetch?url="+url.QueryEscape(target))
}

// TestOutboundWorker runs pier serve with examples/worker-outbound as the
// operator's outbound worker and fetches from the worker-go example: a
// denied host gets the outbound worker's 403 and is never contacted; other
// fetches reach the upstream with the header it added, method, path and
// query intact; the egress policy still refuses loopback and the platform
// after the outbound worker passes them on; the site's log stream shows
// each fetch and the decision.
func TestOutboundWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	site := exampleWorker(t, "worker-go")
	outbound := filepath.Join(exampleWorker(t, "worker-outbound"), "build", "worker.wasm")
	up := newRecordingUpstream(t)
	upAddr := up.Listener.Addr().String()
	s := startPier(t, "", []string{
		"--outbound-worker", outbound,
		"--outbound-worker-var", "DENY_HOSTS=blocked.example,*.ads.example",
		"--egress-allow-addr", upAddr,
	})
	logs := deployWorkerGoFollowed(t, s, site)

	t.Run("deny", func(t *testing.T) {
		for _, target := range []string{"http://blocked.example/x", "https://cdn.ads.example/y"} {
			r := fetchThrough(s, target)
			if r.Status != 200 || !strings.Contains(r.Body, `"status":403`) {
				t.Errorf("fetch %s = %d %q, want the outbound worker's 403", target, r.Status, r.Body)
			}
		}
		if n := len(up.requests()); n != 0 {
			t.Errorf("the upstream got %d requests", n)
		}
	})
	t.Run("pass-through with the header added", func(t *testing.T) {
		r := fetchThrough(s, "http://"+upAddr+"/hello?q=1")
		if r.Status != 200 || !strings.Contains(r.Body, `"status":200`) || !strings.Contains(r.Body, `"bytes":19`) {
			t.Fatalf("fetch = %d %q, want the upstream's 200", r.Status, r.Body)
		}
		seen := up.requests()
		if len(seen) != 1 {
			t.Fatalf("the upstream got %d requests, want 1", len(seen))
		}
		if got := seen[0]; got.Method != "GET" || got.URL.RequestURI() != "/hello?q=1" || got.Header.Get("Pier-Outbound") != "checked" || got.Host != upAddr {
			t.Errorf("the upstream saw %s %s%s Pier-Outbound=%q", got.Method, got.Host, got.URL.RequestURI(), got.Header.Get("Pier-Outbound"))
		}
	})
	t.Run("egress policy still applies", func(t *testing.T) {
		for _, target := range []string{"http://127.0.0.1:1/", "http://localhost:1/", s.API + "/healthz", "http://169.254.169.254/latest/meta-data/"} {
			r := fetchThrough(s, target)
			if r.Status != 403 || !strings.Contains(r.Body, "egress_denied") {
				t.Errorf("fetch %s = %d %q, want egress_denied", target, r.Status, r.Body)
			}
		}
	})
	testenv.WaitFor(t, testenv.Patience, func() error {
		joined := strings.Join(logs.Lines(), "\n")
		for _, want := range []string{
			`"kind":"subrequest"`,
			`"path":"http://blocked.example/x","status":403`,
			`"outcome":"answered"`,
			`"outcome":"continued"`,
			`"message":"outbound: deny GET http://blocked.example/x (tenant acme, site worker-go)"`,
			`"message":"outbound: pass GET http://` + upAddr + `/hello?q=1 (tenant acme, site worker-go)"`,
		} {
			if !strings.Contains(joined, want) {
				return fmt.Errorf("log stream lacks %s; got:\n%s", want, joined)
			}
		}
		return nil
	})
}

// TestOutboundWorkerByPlan: with --outbound-worker-plan the free plan's
// tenants' fetches go through the outbound worker (it adds its header
// upstream) and the pro plan's do not (no node-wide one is set).
func TestOutboundWorkerByPlan(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	site := exampleWorker(t, "worker-go")
	outbound := filepath.Join(exampleWorker(t, "worker-outbound"), "build", "worker.wasm")
	up := newRecordingUpstream(t)
	upAddr := up.Listener.Addr().String()
	s := startPier(t, "", []string{
		"--outbound-worker-plan", "free=" + outbound,
		"--egress-allow-addr", upAddr,
	})
	s.pier("tenants", "create", "small", "--plan", "free")
	s.pier("tenants", "create", "big", "--plan", "pro")
	s.pier("sites", "create", "free-site", "--tenant", "small")
	s.pier("sites", "create", "pro-site", "--tenant", "big")
	s.deploy(site, "free-site")
	s.deploy(site, "pro-site")
	for _, tc := range []struct{ site, header string }{{"free-site", "checked"}, {"pro-site", ""}} {
		before := len(up.requests())
		r := s.get(tc.site+".localhost", "/api/fetch?url="+url.QueryEscape("http://"+upAddr+"/from/"+tc.site))
		if r.Status != 200 || !strings.Contains(r.Body, `"status":200`) {
			t.Fatalf("%s: fetch = %d %q, want the upstream's 200", tc.site, r.Status, r.Body)
		}
		seen := up.requests()
		if len(seen) != before+1 {
			t.Fatalf("%s: the upstream got %d requests, want 1", tc.site, len(seen)-before)
		}
		if got := seen[before].Header.Get("Pier-Outbound"); got != tc.header {
			t.Errorf("%s: the upstream saw Pier-Outbound=%q, want %q", tc.site, got, tc.header)
		}
	}
}

// TestOutboundWorkerRunaway: an outbound worker that never returns is
// stopped at --outbound-worker-cpu; the fetch fails in the tenant's worker
// (a network error), the site keeps answering, and the failure is the
// outbound worker's in the log stream, not the site's invocation.
func TestOutboundWorkerRunaway(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	site := exampleWorker(t, "worker-go")
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("PIER_TEST_REQUIRE_SERVERS") == "1" {
			t.Fatal("wat2wasm not found: run make examples (installs wabt)")
		}
		t.Skip("wat2wasm not found")
	}
	wasm := filepath.Join(t.TempDir(), "outbound-loop.wasm")
	if out, err := exec.Command(wat2wasm, filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "outbound-loop.wat"), "-o", wasm).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, out)
	}
	up := newRecordingUpstream(t)
	s := startPier(t, "", []string{"--outbound-worker", wasm, "--outbound-worker-cpu", "20ms", "--egress-allow-addr", up.Listener.Addr().String()})
	logs := deployWorkerGoFollowed(t, s, site)
	for i := range 3 {
		r := fetchThrough(s, up.URL+"/")
		if r.Status != 502 || !strings.Contains(r.Body, "fetch_failed") {
			t.Errorf("fetch %d through the runaway = %d %q, want 502 fetch_failed", i, r.Status, r.Body)
		}
		// The edge keeps serving, the worker too.
		if r := s.get("worker-go.localhost", "/api/hello?name=x"); r.Status != 200 || !strings.Contains(r.Body, `{"hello":"x"}`) {
			t.Errorf("hello beside the runaway = %d %q", r.Status, r.Body)
		}
		if r := s.get("worker-go.localhost", "/"); r.Status != 200 {
			t.Errorf("static index beside the runaway = %d", r.Status)
		}
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the upstream got %d requests through a failed outbound worker", n)
	}
	testenv.WaitFor(t, testenv.Patience, func() error {
		joined := strings.Join(logs.Lines(), "\n")
		if !strings.Contains(joined, `"outcome":"failed","message":"outbound worker exceeded its CPU limit of 20 ms"`) {
			return fmt.Errorf("log stream lacks the failed subrequest; got:\n%s", joined)
		}
		if strings.Contains(joined, "exceededCpu") {
			return fmt.Errorf("the outbound worker's failure shows as the site's invocation:\n%s", joined)
		}
		return nil
	})
}
