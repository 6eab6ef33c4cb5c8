package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/tenants"
)

// TestAttention: the operator's attention list shows failed
// certificates, blocked claims and failing verifications, not healthy or
// unchecked claims, and the order budget when TLS is on; tenants may not
// read it.
func TestAttention(t *testing.T) {
	t.Parallel()
	fc, changes := newFakeChecker(), &hostLog{}
	e := newEnv(t, withConfig(func(c *admin.Config) {
		c.Verifier, c.OnDomainChange = fc, changes.record
		c.TLS = true
		c.CertOrders = func(context.Context) (int, int, error) { return 7, 100, nil }
	}))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	add := func(host string) string {
		return must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": host}), 201).str("token")
	}
	add("fresh.example.com") // never checked: not listed
	add("failing.example.com")
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/failing.example.com/verify", tok, nil), 200) // no record: fails
	for _, host := range []string{"good.example.com", "badcert.example.com", "blocked.example.com"} {
		token := add(host)
		fc.set(func(f *fakeChecker) { f.txt[host] = token })
		must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/"+host+"/verify", tok, nil), 200)
	}
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/blocked.example.com/block", e.admin, nil), 200)
	if err := e.api.SetCertStatus(context.Background(), "badcert.example.com", tenants.CertFailed, "rate limited by the CA", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	r := must(t, e.do(t, "GET", "/api/v1/attention", e.admin, nil), 200)
	got := map[string]bool{}
	for _, x := range r.body["domains"].([]any) {
		d := x.(map[string]any)
		got[d["hostname"].(string)] = true
		if d["site"] != "blog" {
			t.Errorf("claim without its site: %v", d)
		}
	}
	for host, want := range map[string]bool{"failing.example.com": true, "badcert.example.com": true, "blocked.example.com": true, "good.example.com": false, "fresh.example.com": false} {
		if got[host] != want {
			t.Errorf("%s listed: %v, want %v (%s)", host, got[host], want, r.raw)
		}
	}
	orders, _ := r.body["cert_orders"].(map[string]any)
	if orders["last_hour"] != 7.0 || orders["cap"] != 100.0 {
		t.Errorf("cert_orders %v", r.body["cert_orders"])
	}
	wantErr(t, e.do(t, "GET", "/api/v1/attention", tok, nil), 403, "forbidden")
}
