package hosting

import (
	"net/http"
	"testing"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/logstream"
	"github.com/pierhq/pier/tenants"
)

// Every request of a followed site that the edge answers without a worker
// is one request event saying how it was answered.
func TestRequestEvents(t *testing.T) {
	t.Parallel()
	hub := logstream.New(64)
	e := newEnv(t, Config{Logs: hub})
	e.site("www", "d1", map[string]testFile{
		"/index.html": {body: "hello"},
		"/about.html": {body: "about us"},
		"/404.html":   {body: "no such page"},
	}, tenants.DeploymentConfig{NotFoundHandling: tenants.NotFound404, Redirects: "/old /about 301\n/r /about.html 200\n"})
	e.site("app", "a1", map[string]testFile{"/index.html": {body: "spa"}}, tenants.DeploymentConfig{NotFoundHandling: tenants.NotFoundSPA})
	e.site("quiet", "q1", helloSite, tenants.DeploymentConfig{})
	www := hub.Subscribe("www")
	defer www.Close()
	app := hub.Subscribe("app")
	defer app.Close()

	tests := []struct {
		name, method, host, path string
		status                   int
		outcome                  string
		bytes                    int64
		message                  string
		sub                      *logstream.Subscription
	}{
		{"asset", "GET", "www", "/", 200, logstream.OutcomeStatic, 5, "", www},
		{"HEAD of an asset", "HEAD", "www", "/", 200, logstream.OutcomeStatic, 0, "", www},
		{"redirect rule", "GET", "www", "/old", 301, logstream.OutcomeRedirect, 0, "", www},
		{"html_handling redirect", "GET", "www", "/about.html", 307, logstream.OutcomeRedirect, 0, "", www},
		{"rewrite rule", "GET", "www", "/r", 200, logstream.OutcomeRewrite, 8, "", www},
		{"404 page", "GET", "www", "/nope", 404, logstream.OutcomeNotFound, 12, "", www},
		{"method without a worker", "POST", "www", "/", 405, logstream.OutcomeMethodNotAllowed, -1, "", www},
		{"single-page app", "GET", "app", "/dashboard", 200, logstream.OutcomeFallback, 3, "", app},
		{"storage down", "GET", "app", "/", 503, logstream.OutcomeError, -1, "service unavailable (service_unavailable)", app},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.outcome == logstream.OutcomeError {
				e.blobs.setFail(assets.ErrUnavailable)
				defer e.blobs.setFail(nil)
			}
			w := e.do(tc.method, tc.path, tc.host+".pier.test")
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			ev, dropped, ok := tc.sub.Next()
			if !ok {
				t.Fatal("no event")
			}
			want := logstream.Event{
				Time: e.clock.Now(), Site: tc.host, Kind: logstream.KindRequest, Method: tc.method, Path: tc.path,
				Status: tc.status, Outcome: tc.outcome, BytesOut: tc.bytes, Message: tc.message,
			}
			if tc.bytes < 0 {
				want.BytesOut = int64(w.Body.Len()) // the error body
			}
			if ev != want || dropped != 0 {
				t.Errorf("event %+v (dropped %d)\nwant  %+v", ev, dropped, want)
			}
			if ev, _, ok := tc.sub.Next(); ok {
				t.Errorf("a second event %+v", ev)
			}
		})
	}
	t.Run("a site nobody follows", func(t *testing.T) {
		if w := e.get("/", "quiet.pier.test"); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		for _, s := range []*logstream.Subscription{www, app} {
			if ev, _, ok := s.Next(); ok {
				t.Errorf("event %+v of another site", ev)
			}
		}
	})
}
