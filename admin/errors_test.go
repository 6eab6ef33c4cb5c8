package admin_test

import "testing"

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
