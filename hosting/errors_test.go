package hosting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/hosting/worker"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

func TestPreferredFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		accept []string
		want   errorFormat
	}{
		{"no Accept", nil, formatText},
		{"empty", []string{""}, formatText},
		{"anything (curl, fetch)", []string{"*/*"}, formatText},
		{"json", []string{"application/json"}, formatJSON},
		{"json with a charset", []string{"application/json; charset=utf-8"}, formatJSON},
		{"json, case-insensitive", []string{"Application/JSON"}, formatJSON},
		{"json then anything (HTTPie)", []string{"application/json, */*;q=0.5"}, formatJSON},
		{"json, text, anything (axios)", []string{"application/json, text/plain, */*"}, formatJSON},
		{"browser navigation", []string{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"}, formatHTML},
		{"html", []string{"text/html"}, formatHTML},
		{"html preferred by q", []string{"application/json;q=0.5, text/html"}, formatHTML},
		{"json preferred by q", []string{"text/html;q=0.4, application/json;q=0.9"}, formatJSON},
		{"json and html tie", []string{"text/html, application/json"}, formatJSON},
		{"text preferred by q", []string{"text/plain, application/json;q=0.5"}, formatText},
		{"html and text tie", []string{"text/plain, text/html"}, formatHTML},
		{"json refused", []string{"application/json;q=0"}, formatText},
		{"json refused, html accepted", []string{"application/json;q=0, text/html;q=0.1"}, formatHTML},
		{"q with spaces and other parameters", []string{"application/json ; foo=bar ; Q = 0.7 , text/html;q=0.6"}, formatJSON},
		{"malformed q ignores the range", []string{"application/json;q=2, text/html;q=0.5"}, formatHTML},
		{"q with three decimals", []string{"application/json;q=0.001"}, formatJSON},
		{"q with four decimals is malformed", []string{"application/json;q=0.0001"}, formatText},
		{"wildcards name no format", []string{"application/*, text/*"}, formatText},
		{"the highest q of a repeated range", []string{"application/json;q=0.1, text/html;q=0.5, application/json"}, formatJSON},
		{"several field lines", []string{"text/html;q=0.2", "application/json"}, formatJSON},
		{"suffixed json is not json", []string{"application/problem+json"}, formatText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preferredFormat(tt.accept); got != tt.want {
				t.Errorf("preferredFormat(%q) = %d, want %d", tt.accept, got, tt.want)
			}
		})
	}
}

// Accept headers that select each format, as clients send them.
var formatAccepts = []struct {
	name, accept string
}{
	{"text", "*/*"},
	{"html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	{"json", "application/json"},
}

// TestErrorGolden records complete error responses (status, every header,
// body) in each format, one golden file per format, so any change to what
// a visitor sees is visible in review. Regenerate with:
// go test ./hosting -run ErrorGolden -update
func TestErrorGolden(t *testing.T) {
	e := newWorkerEnv(t, Config{})
	files := map[string]testFile{"/index.html": {body: "<h1>home</h1>"}}
	e.site("site", "d1", files, tenants.DeploymentConfig{Headers: "/*\n  X-Frame-Options: DENY\n"})
	e.deploy("site", "p1", files, tenants.DeploymentConfig{}, false)
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	requests := []struct {
		method, target, host string
	}{
		{"GET", "/", "unknown.pier.test"},
		{"HEAD", "/", "unknown.pier.test"},
		{"GET", "/", "bad_host.pier.test"},
		{"GET", "/missing", "site.pier.test"},
		{"HEAD", "/missing", "site.pier.test"},
		{"GET", "/missing", "p1--site.pier.test"},
		{"POST", "/", "site.pier.test"},
		{"GET", "/a/%2e%2e/b", "site.pier.test"},
		{"GET", "/run", "spin.pier.test"},
	}
	for _, f := range formatAccepts {
		t.Run(f.name, func(t *testing.T) {
			var out bytes.Buffer
			for _, rq := range requests {
				rec := e.do(rq.method, rq.target, rq.host, "Accept", f.accept)
				fmt.Fprintf(&out, "### %s %s Host: %s | Accept: %s\n%d\n", rq.method, rq.target, rq.host, f.accept, rec.Code)
				for _, k := range slices.Sorted(mapKeys(rec.Header())) {
					fmt.Fprintf(&out, "%s: %s\n", k, strings.Join(rec.Header()[k], " | "))
				}
				fmt.Fprintf(&out, "\n%s\n", rec.Body.String())
			}
			golden := filepath.Join("testdata", "errors", f.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("responses differ from %s (run with -update and review the diff):\n%s", golden, out.String())
			}
		})
	}
}

// TestErrorFormats checks every visitor-facing error of the edge in the
// three formats: the status and stable code are the same in each, the
// JSON is the envelope, the HTML page is self-contained and escaped.
func TestErrorFormats(t *testing.T) {
	t.Parallel()
	e := newWorkerEnv(t, Config{})
	e.site("site", "d1", map[string]testFile{"/index.html": {body: "<h1>home</h1>"}}, tenants.DeploymentConfig{})
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	off := newEnv(t, Config{}) // workers disabled
	off.workerSite("app", "d1", "counter", workerFiles, tenants.DeploymentConfig{})
	down := newEnv(t, Config{})
	down.reg.setFail(errors.New("db down"))
	tests := []struct {
		name                 string
		env                  *env
		method, target, host string
		status               int
		code                 string
	}{
		{"unknown host", e, "GET", "/", "nope.pier.test", 404, "hostname_not_configured"},
		{"malformed host", e, "GET", "/", "a_b.pier.test", 400, "malformed_host"},
		{"not found", e, "GET", "/missing", "site.pier.test", 404, "not_found"},
		{"method not allowed", e, "DELETE", "/", "site.pier.test", 405, "method_not_allowed"},
		{"malformed path", e, "GET", "/a/%2e%2e/b", "site.pier.test", 400, "malformed_path"},
		{"registry down", down, "GET", "/", "site.pier.test", 503, "service_unavailable"},
		{"workers disabled", off, "GET", "/api", "app.pier.test", 503, "workers_disabled"},
		{"worker over its CPU limit", e, "GET", "/run", "spin.pier.test", 503, "worker_cpu_exceeded"},
	}
	for _, tt := range tests {
		for _, f := range formatAccepts {
			t.Run(tt.name+"/"+f.name, func(t *testing.T) {
				rec := tt.env.do(tt.method, tt.target, tt.host, "Accept", f.accept)
				body := rec.Body.String()
				if rec.Code != tt.status {
					t.Fatalf("status %d, want %d (%q)", rec.Code, tt.status, body)
				}
				h := rec.Header()
				if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Vary") != "Accept" || h.Get("Content-Length") != fmt.Sprint(len(body)) {
					t.Errorf("headers %v", h)
				}
				switch f.name {
				case "json":
					var env struct {
						Error struct{ Code, Message string } `json:"error"`
					}
					if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code != tt.code || env.Error.Message == "" {
						t.Errorf("body %q (%v), want the envelope with code %s", body, err, tt.code)
					}
					if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
						t.Errorf("Content-Type %q", ct)
					}
				case "html":
					if !strings.HasPrefix(body, "<!doctype html>") || !strings.Contains(body, "<code>"+tt.code+"</code>") {
						t.Errorf("body %q, want a page with code %s", body, tt.code)
					}
					for _, bad := range []string{"<script", "src=", "href=", "url(", "@import", "s-site", testTenant} {
						if strings.Contains(body, bad) {
							t.Errorf("page contains %q: %s", bad, body)
						}
					}
					if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" || h.Get("Content-Security-Policy") == "" {
						t.Errorf("Content-Type %q, CSP %q", ct, h.Get("Content-Security-Policy"))
					}
				default:
					if !strings.HasSuffix(body, " ("+tt.code+")\n") {
						t.Errorf("body %q, want the message and (%s)", body, tt.code)
					}
					if ct := h.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
						t.Errorf("Content-Type %q", ct)
					}
				}
			})
		}
	}
}

func TestRenderErrorEscapes(t *testing.T) {
	t.Parallel()
	const msg = `<script>alert("x")</script> & more`
	tests := []struct {
		name   string
		format errorFormat
		want   string
	}{
		{"html", formatHTML, "<p>" + html.EscapeString(msg) + "</p>"},
		{"json", formatJSON, `{"error":{"code":"c_1","message":"\u003cscript\u003ealert(\"x\")\u003c/script\u003e \u0026 more"}}` + "\n"},
		{"text", formatText, msg + " (c_1)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderError(tt.format, 500, "c_1", msg)
			if !strings.Contains(got, tt.want) {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
			if tt.format == formatHTML && strings.Contains(got, "<script") {
				t.Errorf("unescaped message: %s", got)
			}
		})
	}
}

// TestErrorResponseHeaders checks what the writer keeps and adds: a
// site's 404 keeps its _headers and stays cacheable, with Accept added
// to its Vary; a preview's error is noindex.
func TestErrorResponseHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	files := map[string]testFile{"/index.html": {body: "home"}}
	e.site("site", "d1", files, tenants.DeploymentConfig{
		Headers: "/*\n  X-Frame-Options: DENY\n  Vary: Cookie\n/cached/*\n  Cache-Control: public, max-age=60\n",
	})
	e.deploy("site", "p1", files, tenants.DeploymentConfig{}, false)
	tests := []struct {
		name, target, host string
		want               map[string]string
	}{
		{"site 404", "/missing", "site.pier.test", map[string]string{
			"X-Frame-Options": "DENY", "Vary": "Cookie | Accept", "Cache-Control": defaultCacheControl}},
		{"site 404 with its own Cache-Control", "/cached/x", "site.pier.test", map[string]string{
			"Cache-Control": "public, max-age=60"}},
		{"preview 404", "/missing", "p1--site.pier.test", map[string]string{
			"X-Robots-Tag": "noindex", "Vary": "Accept"}},
		{"unknown host", "/", "nope.pier.test", map[string]string{
			"Cache-Control": "no-store", "Vary": "Accept", "X-Robots-Tag": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(tt.target, tt.host, "Accept", "text/html")
			for k, v := range tt.want {
				if got := strings.Join(rec.Header()[k], " | "); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestWorkerFailureLogged checks what a site's log stream shows for a
// failed invocation: one invocation event saying what happened in words,
// no stack trace, no separate log line.
func TestWorkerFailureLogged(t *testing.T) {
	t.Parallel()
	hub := logstream.New(64)
	e := newWorkerEnv(t, Config{Logs: hub})
	e.workerSite("spin", "s1", "spin", workerFiles, tenants.DeploymentConfig{})
	events := hub.Subscribe("spin")
	defer events.Close()
	if w := e.get("/run", "spin.pier.test"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("spin: %d %q", w.Code, w.Body.String())
	}
	ev := nextEvent(t, events)
	const want = "worker exceeded its CPU limit of 10 ms" // the free plan's
	if ev.Kind != logstream.KindInvocation || ev.Outcome != worker.OutcomeExceededCPU || ev.Message != want {
		t.Errorf("event %+v, want an invocation with message %q", ev, want)
	}
	if ev, _, ok := events.Next(); ok {
		t.Errorf("second event %+v: the failure is reported once", ev)
	}
}

// BenchmarkEdgeError answers an unknown host in each format: negotiating
// Accept and writing a fixed error must not allocate.
func BenchmarkEdgeError(b *testing.B) {
	for _, f := range formatAccepts {
		b.Run(f.name, func(b *testing.B) {
			e := benchEnv(b, tenants.DeploymentConfig{})
			runBench(b, e, benchRequest("/", "nosuchsite.pier.test", "Accept", f.accept), 404)
		})
	}
}
