package examples_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/hosting/worker"
)

// outboundHost is the edge's side of the outbound worker for one fetch:
// the fetch's variables and the log lines.
type outboundHost struct {
	testHost
	vars map[string]string
}

func (h *outboundHost) RequestVars() map[string]string { return h.vars }

// TestOutboundExample builds examples/worker-outbound and runs fetches
// through it as the edge does (hosting.OutboundLimits, the fetch as its
// request, the tenant and site as variables): denied hosts get its 403,
// the others continue with Pier-Outbound: checked; every call is logged.
func TestOutboundExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module; skipped with -short")
	}
	if _, err := exec.LookPath("make"); err != nil {
		missing(t, "make not installed")
	}
	if _, err := exec.LookPath("clang"); err != nil && os.Getenv("PIER_TEST_REQUIRE_SERVERS") != "1" {
		t.Skip("clang not installed (make -C examples deps)")
	}
	wasm := build(t, "worker-outbound")
	ctx := context.Background()
	var cacheDir string
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "pier-test", "wasm-cache")
	}
	rt, err := worker.New(ctx, worker.Config{PoolSize: 1, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	tests := []struct {
		name     string
		vars     map[string]string // the operator's
		url      string
		denied   string // the host named in the 403, "" if it continues
		wantLine string
	}{
		{"denied host", map[string]string{"DENY_HOSTS": "blocked.example, *.ads.example"}, "http://blocked.example/x?y=1", "blocked.example",
			"deny GET http://blocked.example/x?y=1 (tenant acme, site blog)"},
		{"denied below a glob, port and case ignored", map[string]string{"DENY_HOSTS": "blocked.example,*.ads.example"}, "https://CDN.Ads.Example:8443/p", "cdn.ads.example",
			"deny GET https://CDN.Ads.Example:8443/p"},
		{"the glob's own name passes", map[string]string{"DENY_HOSTS": "*.ads.example"}, "http://ads.example/", "",
			"pass GET http://ads.example/ (tenant acme, site blog)"},
		{"other hosts pass", map[string]string{"DENY_HOSTS": "blocked.example"}, "https://api.example.com/v1", "",
			"pass GET https://api.example.com/v1"},
		{"default list", nil, "http://blocked.example/", "blocked.example", "deny GET http://blocked.example/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := rt.NewWorker(ctx, wasm, tc.vars, hosting.OutboundLimits(time.Second))
			if err != nil {
				t.Fatalf("NewWorker: %v", err)
			}
			defer w.Close(ctx)
			host := &outboundHost{vars: map[string]string{
				hosting.OutboundVarTenant: "acme", hosting.OutboundVarSite: "blog",
				hosting.OutboundVarPlan: "free", hosting.OutboundVarURL: tc.url,
			}}
			var continued *http.Request
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { continued = r })
			req := httptest.NewRequest("GET", tc.url, nil)
			rec := httptest.NewRecorder()
			res := w.Serve(rec, req, host, next)
			if res.Outcome != worker.OutcomeOK {
				t.Fatalf("outcome %s: %v", res.Outcome, res.Err)
			}
			if tc.denied != "" {
				if continued != nil || rec.Code != 403 || rec.Header().Get("Content-Type") != "application/json" {
					t.Fatalf("continued=%v status %d %q, want the 403", continued != nil, rec.Code, rec.Body)
				}
				var body struct {
					Error struct{ Code, Host string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "outbound_denied" || body.Error.Host != tc.denied {
					t.Fatalf("body %q (%v), want outbound_denied naming %s", rec.Body, err, tc.denied)
				}
			} else {
				if continued == nil {
					t.Fatalf("did not continue: %d %q", rec.Code, rec.Body)
				}
				if got := continued.Header.Get("Pier-Outbound"); got != "checked" {
					t.Errorf("Pier-Outbound = %q, want checked", got)
				}
			}
			if !strings.Contains(host.logText(), tc.wantLine) {
				t.Errorf("logs %q, want %q", host.logText(), tc.wantLine)
			}
		})
	}
}
