package admin_test

import (
	"net/http"
	"testing"
)

// An invalid field's message names the field once, whether or not the
// validator's text already starts with it.
func TestInvalidFieldMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "127.0.0.1"}), 400)
	msg := r.body["error"].(map[string]any)["message"].(string)
	if msg != `hostname "127.0.0.1" is an IP address, not a DNS name` {
		t.Errorf("message %q", msg)
	}
	r = must(t, e.do(t, "POST", "/api/v1/tenants", e.admin, map[string]any{"name": "x", "plan": "platinum"}), 400)
	msg = r.body["error"].(map[string]any)["message"].(string)
	if len(msg) < 6 || msg[:6] != "plan: " {
		t.Errorf("message %q, want it to start with the field name", msg)
	}
}

// Adding a hostname the site already has says so and where to look.
func TestDuplicateDomainMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "WWW.example.com"}), 409)
	er := r.body["error"].(map[string]any)
	if msg := er["message"].(string); msg != "www.example.com is already a domain of site blog; `pier domains list --site blog` shows its status and records" {
		t.Errorf("message %q", msg)
	}
	if er["field"] != "hostname" {
		t.Errorf("error %v, want field hostname", er)
	}
}

// TestMethodNotAllowed: a method a path does not answer is a JSON 405
// whose Allow header names the methods it does (RFC 9110 §15.5.6).
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"PATCH", "/api/v1/kv/ns/keys/k", "GET, HEAD, PUT, DELETE"},
		{"DELETE", "/api/v1/tenants/acme/kv", "GET, POST"},
		{"PUT", "/api/v1/sites", "GET, POST"},
		{"POST", "/healthz", "GET"},
	} {
		r := e.do(t, tc.method, tc.path, e.admin, nil)
		if r.status != http.StatusMethodNotAllowed || r.errCode() != "method_not_allowed" {
			t.Errorf("%s %s: %d %s, want 405 method_not_allowed", tc.method, tc.path, r.status, r.raw)
		}
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	// A method chi does not know: 405 where the path exists, else 404.
	if r := e.do(t, "FOO", "/api/v1/sites", e.admin, nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, POST" {
		t.Errorf("FOO /api/v1/sites: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := e.do(t, "FOO", "/api/v1/nope", e.admin, nil); r.status != http.StatusNotFound || r.errCode() != "not_found" {
		t.Errorf("FOO /api/v1/nope: %d %s, want 404 not_found", r.status, r.raw)
	}
}
