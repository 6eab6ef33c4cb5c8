package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/logstream"
)

// csrf are the headers the console sends with requests that change state.
func (e *env) csrf() map[string]string {
	return map[string]string{"Origin": e.srv.URL, admin.CSRFHeader: "1"}
}

// cookieDo sends a request authenticated by cookie c (if non-nil) with
// the extra headers hdr.
func (e *env) cookieDo(t testing.TB, method, path string, c *http.Cookie, body any, hdr map[string]string) resp {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, e.srv.URL+path, rd)
	} else {
		req, err = http.NewRequest(method, e.srv.URL+path, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(c)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return e.send(t, req)
}

// sessionCookie returns the session cookie r sets, or nil.
func sessionCookie(r resp) *http.Cookie {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == admin.SessionCookie || c.Name == admin.SecureSessionCookie {
			return c
		}
	}
	return nil
}

// login signs in with token and returns the session cookie.
func (e *env) login(t testing.TB, token string) *http.Cookie {
	t.Helper()
	r := must(t, e.cookieDo(t, "POST", "/api/v1/session", nil, map[string]string{"token": token}, e.csrf()), 201)
	c := sessionCookie(r)
	if c == nil {
		t.Fatalf("sign-in set no session cookie: %v", r.header)
	}
	return c
}

func TestSessionSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tenantTok := e.tenant(t, "acme")

	t.Run("admin", func(t *testing.T) {
		r := must(t, e.cookieDo(t, "POST", "/api/v1/session", nil, map[string]string{"token": e.admin}, e.csrf()), 201)
		if r.str("kind") != "admin" || r.str("auth") != "cookie" || r.str("token_id") != "tok_boot" || r.body["tenant"] != nil {
			t.Errorf("sign-in answer %s", r.raw)
		}
		wantExp := e.clock.Now().Add(admin.DefaultSessionMaxAge).UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
		if r.str("expires_at") != wantExp {
			t.Errorf("expires_at %q, want %q", r.str("expires_at"), wantExp)
		}
		c := sessionCookie(r)
		if c.Value == e.admin || len(c.Value) < 43 {
			t.Errorf("cookie value %q is not a fresh 256-bit secret", c.Value)
		}
		who := must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
		if who.str("kind") != "admin" || who.str("auth") != "cookie" || who.str("idle_expires_at") == "" {
			t.Errorf("GET /session %s", who.raw)
		}
		must(t, e.cookieDo(t, "GET", "/api/v1/tenants", c, nil, nil), 200)
	})
	t.Run("tenant", func(t *testing.T) {
		c := e.login(t, tenantTok)
		who := must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
		tn, _ := who.body["tenant"].(map[string]any)
		if who.str("kind") != "tenant" || tn["name"] != "acme" {
			t.Errorf("GET /session %s", who.raw)
		}
	})
	t.Run("bearer GET /session says who without a session", func(t *testing.T) {
		who := must(t, e.do(t, "GET", "/api/v1/session", tenantTok, nil), 200)
		if who.str("kind") != "tenant" || who.str("auth") != "bearer" || who.body["expires_at"] != nil {
			t.Errorf("GET /session %s", who.raw)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		wantErr(t, e.cookieDo(t, "GET", "/api/v1/session", nil, nil, nil), 401, "unauthorized")
	})
	t.Run("unknown session cookie", func(t *testing.T) {
		c := &http.Cookie{Name: admin.SessionCookie, Value: "forged"}
		wantErr(t, e.cookieDo(t, "GET", "/api/v1/tenants", c, nil, nil), 401, "unauthorized")
	})
	for _, tc := range []struct {
		name   string
		body   any
		hdr    map[string]string
		status int
		code   string
	}{
		{"wrong token", map[string]string{"token": admin.NewTokenSecret()}, e.csrf(), 401, "unauthorized"},
		{"empty token", map[string]string{"token": ""}, e.csrf(), 401, "unauthorized"},
		{"unknown field", map[string]string{"secret": e.admin}, e.csrf(), 400, "invalid"},
		{"no Origin (login CSRF)", map[string]string{"token": e.admin}, map[string]string{admin.CSRFHeader: "1"}, 403, "csrf_refused"},
		{"foreign Origin (login CSRF)", map[string]string{"token": e.admin}, map[string]string{"Origin": "http://evil.example", admin.CSRFHeader: "1"}, 403, "csrf_refused"},
		{"no CSRF header", map[string]string{"token": e.admin}, map[string]string{"Origin": e.srv.URL}, 403, "csrf_refused"},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			r := e.cookieDo(t, "POST", "/api/v1/session", nil, tc.body, tc.hdr)
			wantErr(t, r, tc.status, tc.code)
			if sessionCookie(r) != nil {
				t.Errorf("refused sign-in set a cookie")
			}
		})
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		opts   []envOption
		cookie string
		secure bool
	}{
		{"http", nil, "pier_session", false},
		{"https", []envOption{withTLS()}, "__Host-pier_session", true},
		{"behind TLS", []envOption{withConfig(func(c *admin.Config) { c.BehindTLS = true })}, "__Host-pier_session", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tc.opts...)
			origin := e.srv.URL
			if tc.secure {
				origin = strings.Replace(origin, "http://", "https://", 1)
			}
			hdr := map[string]string{"Origin": origin, admin.CSRFHeader: "1"}
			r := must(t, e.cookieDo(t, "POST", "/api/v1/session", nil, map[string]string{"token": e.admin}, hdr), 201)
			c := sessionCookie(r)
			if c == nil || c.Name != tc.cookie {
				t.Fatalf("cookie %v, want name %s (Set-Cookie %q)", c, tc.cookie, r.header.Values("Set-Cookie"))
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" || c.Secure != tc.secure {
				t.Errorf("cookie flags %q", r.header.Get("Set-Cookie"))
			}
			if c.MaxAge != int(admin.DefaultSessionMaxAge/time.Second) {
				t.Errorf("cookie Max-Age %d", c.MaxAge)
			}
			must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
			// The cookie works under its own name only.
			other := &http.Cookie{Name: "pier_session", Value: c.Value}
			if tc.cookie == "pier_session" {
				other.Name = "__Host-pier_session"
			}
			wantErr(t, e.cookieDo(t, "GET", "/api/v1/session", other, nil, nil), 401, "unauthorized")
			// A state change must come from the scheme the handler is served as.
			wrongScheme := map[string]string{"Origin": strings.Replace(strings.Replace(origin, "https://", "x://", 1), "http://", "https://", 1), admin.CSRFHeader: "1"}
			wantErr(t, e.cookieDo(t, "POST", "/api/v1/tenants", c, map[string]string{"name": "t1"}, wrongScheme), 403, "csrf_refused")
			must(t, e.cookieDo(t, "POST", "/api/v1/tenants", c, map[string]string{"name": "t1"}, hdr), 201)
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	idle, maxAge := admin.DefaultSessionIdle, admin.DefaultSessionMaxAge
	for _, tc := range []struct {
		name  string
		steps []time.Duration // advance the clock, then use the session
		want  []int           // status of each use
	}{
		{"used within the idle time", []time.Duration{idle - time.Minute}, []int{200}},
		{"idle expiry", []time.Duration{idle}, []int{401}},
		{"use slides the idle expiry", []time.Duration{idle - time.Hour, idle - time.Hour, idle - time.Hour}, []int{200, 200, 200}},
		{"idle after sliding", []time.Duration{idle - time.Hour, idle + time.Second}, []int{200, 401}},
		{"absolute cap however much it is used", repeat(idle-time.Hour, int(maxAge/(idle-time.Hour))+1),
			append(repeatInt(200, int(maxAge/(idle-time.Hour))), 401)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			c := e.login(t, e.admin)
			for i, d := range tc.steps {
				e.clock.Advance(d)
				r := e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil)
				if r.status != tc.want[i] {
					t.Fatalf("use %d after %v: status %d, want %d (%s)", i, d, r.status, tc.want[i], r.raw)
				}
			}
		})
	}
	t.Run("idle expiry is written at most once a minute", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.login(t, e.admin)
		stored := func() time.Time {
			cs, err := e.store.ConsoleSession(context.Background(), admin.HashToken(c.Value))
			if err != nil {
				t.Fatal(err)
			}
			return cs.IdleExpires
		}
		first := stored()
		e.clock.Advance(30 * time.Second)
		must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
		if got := stored(); !got.Equal(first) {
			t.Errorf("idle expiry written after 30s: %v, was %v", got, first)
		}
		e.clock.Advance(31 * time.Second)
		must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
		if want := e.clock.Now().Add(idle).UTC().Truncate(time.Millisecond); !stored().Equal(want) {
			t.Errorf("idle expiry after 61s = %v, want %v", stored(), want)
		}
	})
	t.Run("ExpireConsoleSessions", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.login(t, e.admin)
		live := e.login(t, e.admin)
		e.clock.Advance(idle - time.Minute)
		must(t, e.cookieDo(t, "GET", "/api/v1/session", live, nil, nil), 200)
		e.clock.Advance(2 * time.Minute)
		n, err := e.api.ExpireConsoleSessions(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("ExpireConsoleSessions = %d, %v; want 1", n, err)
		}
		must(t, e.cookieDo(t, "GET", "/api/v1/session", live, nil, nil), 200)
	})
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func repeatInt(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestSessionRevocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// revoke ends or restricts the session c signed in with token
		// tokID of tenant "acme"; want is then the answer to a GET and to
		// a POST with the session.
		revoke            func(t *testing.T, e *env, c *http.Cookie, tokID string)
		getCode, postCode string
		getStatus, postSt int
	}{
		{"sign out", func(t *testing.T, e *env, c *http.Cookie, _ string) {
			r := must(t, e.cookieDo(t, "DELETE", "/api/v1/session", c, nil, e.csrf()), 204)
			if cl := sessionCookie(r); cl == nil || cl.MaxAge >= 0 {
				t.Errorf("sign-out did not clear the cookie: %q", r.header.Values("Set-Cookie"))
			}
		}, "unauthorized", "unauthorized", 401, 401},
		{"token deleted", func(t *testing.T, e *env, _ *http.Cookie, tokID string) {
			must(t, e.do(t, "DELETE", "/api/v1/tokens/"+tokID, e.admin, nil), 204)
		}, "unauthorized", "unauthorized", 401, 401},
		{"tenant deleted", func(t *testing.T, e *env, _ *http.Cookie, _ string) {
			must(t, e.do(t, "DELETE", "/api/v1/tenants/acme", e.admin, nil), 204)
		}, "unauthorized", "unauthorized", 401, 401},
		{"tenant disabled: reads only, like its tokens", func(t *testing.T, e *env, _ *http.Cookie, _ string) {
			must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"disabled": true}), 200)
		}, "", "tenant_disabled", 200, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id, _ := e.tenant(t, "acme")
			tok := must(t, e.do(t, "POST", "/api/v1/tenants/"+id+"/tokens", e.admin, map[string]any{"name": "console"}), 201)
			c := e.login(t, tok.str("token"))
			other := e.login(t, e.admin)
			must(t, e.cookieDo(t, "GET", "/api/v1/sites", c, nil, nil), 200)
			tc.revoke(t, e, c, tok.str("id"))
			r := e.cookieDo(t, "GET", "/api/v1/sites", c, nil, nil)
			if r.status != tc.getStatus || (tc.getCode != "" && r.errCode() != tc.getCode) {
				t.Errorf("GET after: %d %s", r.status, r.raw)
			}
			r = e.cookieDo(t, "POST", "/api/v1/sites", c, map[string]string{"name": "www"}, e.csrf())
			wantErr(t, r, tc.postSt, tc.postCode)
			// Other sessions are unaffected.
			must(t, e.cookieDo(t, "GET", "/api/v1/session", other, nil, nil), 200)
		})
	}
	t.Run("sign out without a session is a no-op", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		must(t, e.cookieDo(t, "DELETE", "/api/v1/session", nil, nil, nil), 204)
	})
	t.Run("sign out needs the CSRF defence", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c := e.login(t, e.admin)
		wantErr(t, e.cookieDo(t, "DELETE", "/api/v1/session", c, nil, map[string]string{"Origin": "http://evil.example", admin.CSRFHeader: "1"}), 403, "csrf_refused")
		must(t, e.cookieDo(t, "GET", "/api/v1/session", c, nil, nil), 200)
	})
}

func TestSessionCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	c := e.login(t, tok)
	n := 0
	for _, tc := range []struct {
		name   string
		cookie bool
		bearer bool
		hdr    map[string]string
		status int
	}{
		{"no Origin, no header", true, false, nil, 403},
		{"header without Origin or Referer", true, false, map[string]string{admin.CSRFHeader: "1"}, 403},
		{"matching Origin without header", true, false, map[string]string{"Origin": e.srv.URL}, 403},
		{"foreign Origin with header", true, false, map[string]string{"Origin": "http://evil.example", admin.CSRFHeader: "1"}, 403},
		{"same host, other port", true, false, map[string]string{"Origin": "http://127.0.0.1:1", admin.CSRFHeader: "1"}, 403},
		{"null Origin with header", true, false, map[string]string{"Origin": "null", admin.CSRFHeader: "1"}, 403},
		{"foreign Referer with header", true, false, map[string]string{"Referer": "http://evil.example/x", admin.CSRFHeader: "1"}, 403},
		{"foreign Origin beats matching Referer", true, false, map[string]string{"Origin": "http://evil.example", "Referer": e.srv.URL + "/", admin.CSRFHeader: "1"}, 403},
		{"matching Origin with header", true, false, map[string]string{"Origin": e.srv.URL, admin.CSRFHeader: "1"}, 201},
		{"matching Referer with header", true, false, map[string]string{"Referer": e.srv.URL + "/sites", admin.CSRFHeader: "1"}, 201},
		{"bearer needs no CSRF defence", false, true, nil, 201},
		{"bearer wins over a cookie", true, true, map[string]string{"Origin": "http://evil.example"}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n++
			name := "site" + string(rune('a'+n))
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sites", strings.NewReader(`{"name":"`+name+`"}`))
			if tc.cookie {
				req.AddCookie(c)
			}
			if tc.bearer {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			r := e.send(t, req)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
			if tc.status == 403 && r.errCode() != "csrf_refused" {
				t.Errorf("code %q, want csrf_refused", r.errCode())
			}
		})
	}
	for _, tc := range []struct {
		name, host, origin string
		status             int
	}{
		{"default port in Host", "console.example:80", "http://console.example", 201},
		{"default port in Origin", "console.example", "http://console.example:80", 201},
		{"host case", "Console.Example", "http://console.example", 201},
		{"https port is not http's default", "console.example:443", "http://console.example", 403},
		{"other host", "console.example", "http://example", 403},
	} {
		t.Run("Host "+tc.name, func(t *testing.T) {
			n++
			name := "site" + string(rune('a'+n))
			req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/sites", strings.NewReader(`{"name":"`+name+`"}`))
			req.Host = tc.host
			req.AddCookie(c)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set(admin.CSRFHeader, "1")
			if r := e.send(t, req); r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.raw)
			}
		})
	}
	t.Run("reads need no CSRF defence", func(t *testing.T) {
		must(t, e.cookieDo(t, "GET", "/api/v1/sites", c, nil, nil), 200)
	})
	t.Run("refused requests changed nothing", func(t *testing.T) {
		r := must(t, e.cookieDo(t, "GET", "/api/v1/sites", c, nil, nil), 200)
		var names []string
		for _, s := range r.body["sites"].([]any) {
			names = append(names, s.(map[string]any)["name"].(string))
		}
		if len(names) != 7 {
			t.Errorf("sites %v, want the 7 accepted ones", names)
		}
	})
}

func TestSessionLoginRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	wrong := map[string]string{"token": admin.NewTokenSecret()}
	for range admin.LoginRateBurst {
		wantErr(t, e.cookieDo(t, "POST", "/api/v1/session", nil, wrong, e.csrf()), 401, "unauthorized")
	}
	for _, tc := range []struct {
		name string
		body map[string]string
	}{
		{"wrong token", wrong},
		{"even the right token", map[string]string{"token": e.admin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.cookieDo(t, "POST", "/api/v1/session", nil, tc.body, e.csrf())
			wantErr(t, r, 429, "rate_limited")
			if r.header.Get("Retry-After") != "6" || r.errField("retry_after") != 6.0 {
				t.Errorf("Retry-After %q, retry_after %v", r.header.Get("Retry-After"), r.errField("retry_after"))
			}
		})
	}
	t.Run("bearer API is not limited", func(t *testing.T) {
		must(t, e.do(t, "GET", "/api/v1/tenants", e.admin, nil), 200)
	})
	t.Run("allowed again after the interval", func(t *testing.T) {
		e.clock.Advance(admin.LoginRateInterval)
		e.login(t, e.admin)
	})
}

func TestSessionTenantScope(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	_, otherTok := e.tenant(t, "globex")
	e.site(t, tok, "www")
	e.site(t, otherTok, "shop")
	c := e.login(t, tok)
	for _, tc := range []struct {
		name, method, path string
		status             int
		code               string
	}{
		{"another tenant's site", "GET", "/api/v1/sites/shop", 404, "not_found"},
		{"another tenant's deployments", "GET", "/api/v1/sites/shop/deployments", 404, "not_found"},
		{"another tenant", "GET", "/api/v1/tenants/globex", 404, "not_found"},
		{"delete another tenant's site", "DELETE", "/api/v1/sites/shop", 404, "not_found"},
		{"admin-only route", "POST", "/api/v1/tokens", 403, "forbidden"},
		{"own site", "GET", "/api/v1/sites/www", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.method == "POST" {
				body = map[string]string{"name": "x"}
			}
			r := e.cookieDo(t, tc.method, tc.path, c, body, e.csrf())
			if tc.code == "" {
				must(t, r, tc.status)
				return
			}
			wantErr(t, r, tc.status, tc.code)
		})
	}
	t.Run("lists only its own sites", func(t *testing.T) {
		r := must(t, e.cookieDo(t, "GET", "/api/v1/sites", c, nil, nil), 200)
		sites := r.body["sites"].([]any)
		if len(sites) != 1 || sites[0].(map[string]any)["name"] != "www" {
			t.Errorf("sites %s", r.raw)
		}
	})
}

func TestSessionLogStream(t *testing.T) {
	t.Parallel()
	hub := logstream.New(0)
	e := newEnv(t, withLogs(hub, time.Hour))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	c := e.login(t, tok)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/sites/www/logs", nil)
	req.Header.Set("Accept", "text/event-stream") // as EventSource sends it
	req.AddCookie(c)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &logStream{res: res, lines: bufio.NewReader(res.Body), cancel: cancel}
	ev := logstream.Event{Time: time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC), Site: "www", Kind: logstream.KindLog, Message: "via cookie"}
	hub.Publish("www", ev)
	if got := s.event(t); got != ev {
		t.Errorf("event %+v, want %+v", got, ev)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
	}
	for _, tc := range []struct {
		name, method, path, token string
		status                    int
	}{
		{"healthz", "GET", "/healthz", "", 200},
		{"openapi", "GET", "/api/v1/openapi.json", "", 200},
		{"authenticated", "GET", "/api/v1/tenants", e.admin, 200},
		{"unauthorized", "GET", "/api/v1/tenants", "", 401},
		{"unknown route", "GET", "/nope", "", 404},
		{"sign-in refused", "POST", "/api/v1/session", "", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t, e.do(t, tc.method, tc.path, tc.token, nil), tc.status)
			for k, v := range want {
				if got := r.header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
