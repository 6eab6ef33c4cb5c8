package admin_test

import (
	"context"
	"testing"
)

// The operator blocks a claim: an active one stops being served at once,
// a blocked one is never checked and proves nothing; tenants cannot block
// or unblock; unblocking puts it back to pending.
func TestDomainBlock(t *testing.T) {
	t.Parallel()
	e, fc, changes := domainEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = r.str("token") })
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	before := len(changes.list())

	if code := e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/block", tok, nil).status; code != 403 {
		t.Errorf("a tenant blocking its own domain: %d, want 403", code)
	}
	b := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/block", e.admin, nil), 200)
	if b.str("status") != "blocked" || b.str("error") == "" {
		t.Errorf("blocked: %s", b.raw)
	}
	if got := changes.list(); len(got) != before+1 {
		t.Errorf("OnDomainChange not called when an active domain was blocked: %v", got)
	}
	if hosts, _ := e.store.ActiveDomains(context.Background()); len(hosts) != 0 {
		t.Errorf("a blocked domain is still active: %v", hosts)
	}
	// Checking a blocked claim changes nothing, even with a valid proof.
	if v := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200); v.str("status") != "blocked" {
		t.Errorf("verify of a blocked claim: %s", v.raw)
	}
	if code := e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/unblock", tok, nil).status; code != 403 {
		t.Errorf("a tenant unblocking: %d, want 403", code)
	}
	u := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/unblock", e.admin, nil), 200)
	if u.str("status") != "pending" {
		t.Errorf("unblocked: %s", u.raw)
	}
	if v := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200); v.str("status") != "active" {
		t.Errorf("verify after unblocking: %s", v.raw)
	}
}
