package admin_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/tenants"
)

// fakeChecker answers checks from maps: txt[host] and http[host] are the
// tokens published; points[host] says where DNS points; down makes every
// check fail to run.
type fakeChecker struct {
	mu     sync.Mutex
	txt    map[string]string
	http   map[string]string
	points map[string]bool
	down   bool
}

func newFakeChecker() *fakeChecker {
	return &fakeChecker{txt: map[string]string{}, http: map[string]string{}, points: map[string]bool{}}
}

func (f *fakeChecker) set(fn func(*fakeChecker)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *fakeChecker) CheckTXT(ctx context.Context, host, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("dns: server misbehaving")
	}
	if f.txt[host] != token {
		return fmt.Errorf("%w: no TXT record _pier-challenge.%s found", domainverify.ErrNotProven, host)
	}
	return nil
}

func (f *fakeChecker) CheckHTTP(ctx context.Context, host, token, expect string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return fmt.Errorf("connection refused")
	}
	if f.http[host] != expect {
		return fmt.Errorf("%w: wrong answer", domainverify.ErrNotProven)
	}
	return nil
}

func (f *fakeChecker) PointsHere(ctx context.Context, host, cname string, ips []string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return false, fmt.Errorf("dns: server misbehaving")
	}
	return f.points[host], nil
}

type hostLog struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostLog) record(host string) { h.mu.Lock(); h.hosts = append(h.hosts, host); h.mu.Unlock() }
func (h *hostLog) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.hosts)
}

func domainEnv(t *testing.T, ips ...string) (*env, *fakeChecker, *hostLog) {
	fc, changes := newFakeChecker(), &hostLog{}
	e := newEnv(t, withConfig(func(c *admin.Config) {
		c.Verifier, c.OnDomainChange, c.PublicIPs = fc, changes.record, ips
	}))
	return e, fc, changes
}

func records(t *testing.T, r resp) []map[string]any {
	t.Helper()
	var out []map[string]any
	list, _ := r.body["records"].([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestDomainAddRecords(t *testing.T) {
	e, _, _ := domainEnv(t, "192.0.2.10", "2001:db8::10")
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	tests := []struct {
		name, host, wantHost string
		want                 [][2]string // type, value (the TXT value is the token)
	}{
		{"subdomain gets a CNAME", "WWW.Example.com", "www.example.com", [][2]string{{"TXT", ""}, {"CNAME", "blog.pier.test"}}},
		{"apex gets A and AAAA", "example.org", "example.org", [][2]string{{"TXT", ""}, {"A", "192.0.2.10"}, {"AAAA", "2001:db8::10"}}},
		{"IDN in punycode", "bücher.example.net", "xn--bcher-kva.example.net", [][2]string{{"TXT", ""}, {"CNAME", "blog.pier.test"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": tc.host}), 201)
			if r.str("hostname") != tc.wantHost || r.str("status") != "pending" || r.str("cert_status") != "none" || r.str("site") != "blog" {
				t.Fatalf("created %s", r.raw)
			}
			token := r.str("token")
			recs := records(t, r)
			if len(recs) != len(tc.want) {
				t.Fatalf("records %v, want %v", recs, tc.want)
			}
			for i, w := range tc.want {
				value := w[1]
				name := tc.wantHost
				if w[0] == "TXT" {
					value, name = token, "_pier-challenge."+tc.wantHost
				}
				if recs[i]["type"] != w[0] || recs[i]["value"] != value || recs[i]["name"] != name {
					t.Errorf("record %d = %v, want %s %s %s", i, recs[i], w[0], name, value)
				}
			}
			if got, want := r.str("http_proof"), "http://"+tc.wantHost+"/.well-known/pier-challenge/"+token; got != want {
				t.Errorf("http_proof %q, want %q", got, want)
			}
		})
	}
}

func TestDomainAddInvalid(t *testing.T) {
	e, _, _ := domainEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	for _, host := range []string{"", "localhost", "192.0.2.1", "pier.test", "x.blog.pier.test", "co.uk", "*.example.com", "a..b"} {
		t.Run(host, func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": host})
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != "hostname" {
				t.Errorf("error names field %v; body %s", r.errField("field"), r.raw)
			}
		})
	}
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	wantErr(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "WWW.example.com."}), 409, "conflict")
	// Another tenant cannot see or touch the site.
	_, other := e.tenant(t, "bob")
	wantErr(t, e.do(t, "POST", "/api/v1/sites/blog/domains", other, map[string]any{"hostname": "x.example.com"}), 404, "not_found")
	wantErr(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", other, nil), 404, "not_found")
}

func TestDomainVerifyLifecycle(t *testing.T) {
	e, fc, changes := domainEnv(t, "192.0.2.10")
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	token := r.str("token")
	path := "/api/v1/sites/blog/domains/www.example.com"

	// Not proven yet: stays pending with the reason and a next check.
	r = must(t, e.do(t, "POST", path+"/verify", tok, nil), 200)
	if r.str("status") != "pending" || r.str("error") == "" || r.str("next_check") == "" {
		t.Fatalf("unproven verify: %s", r.raw)
	}
	// The HTTP proof alone is enough when nobody else holds the name.
	fc.set(func(f *fakeChecker) { f.http["www.example.com"] = token })
	r = must(t, e.do(t, "POST", path+"/verify", tok, nil), 200)
	if r.str("status") != "active" || r.str("error") != "" || r.str("verified_at") == "" {
		t.Fatalf("verify with HTTP proof: %s", r.raw)
	}
	if got := changes.list(); !slices.Equal(got, []string{"www.example.com"}) {
		t.Errorf("OnDomainChange calls %v", got)
	}
	if hosts, _ := e.store.ActiveDomains(context.Background()); !slices.Equal(hosts, []string{"www.example.com"}) {
		t.Errorf("ActiveDomains %v", hosts)
	}

	// DNS stops pointing here: the background check marks it moved.
	e.clock.Advance(2 * time.Hour)
	n, err := e.api.VerifyDue(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("VerifyDue = %d, %v", n, err)
	}
	r = must(t, e.do(t, "GET", path, tok, nil), 200)
	if r.str("status") != "moved" || r.str("error") == "" {
		t.Fatalf("after DNS moved: %s", r.raw)
	}
	if got := changes.list(); len(got) != 2 {
		t.Errorf("OnDomainChange calls %v, want 2", got)
	}

	// Listing shows it; deleting it stops it.
	l := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains", tok, nil), 200)
	if list, _ := l.body["domains"].([]any); len(list) != 1 {
		t.Errorf("list %s", l.raw)
	}
	must(t, e.do(t, "DELETE", path, tok, nil), 204)
	wantErr(t, e.do(t, "GET", path, tok, nil), 404, "not_found")
	wantErr(t, e.do(t, "DELETE", path, tok, nil), 404, "not_found")
}

func TestDomainDeleteActiveNotifies(t *testing.T) {
	e, fc, changes := domainEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "shop.example.com"}), 201)
	fc.set(func(f *fakeChecker) { f.txt["shop.example.com"] = r.str("token") })
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/shop.example.com/verify", tok, nil), 200)
	must(t, e.do(t, "DELETE", "/api/v1/sites/blog/domains/shop.example.com", tok, nil), 204)
	if got := changes.list(); !slices.Equal(got, []string{"shop.example.com", "shop.example.com"}) {
		t.Errorf("OnDomainChange calls %v, want activation and deletion", got)
	}
	if hosts, _ := e.store.ActiveDomains(context.Background()); len(hosts) != 0 {
		t.Errorf("ActiveDomains after delete %v", hosts)
	}
}

func TestDomainTakeover(t *testing.T) {
	e, fc, _ := domainEnv(t)
	_, tokA := e.tenant(t, "acme")
	e.site(t, tokA, "blog")
	_, tokB := e.tenant(t, "bob")
	e.site(t, tokB, "shop")
	ra := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tokA, map[string]any{"hostname": "www.example.com"}), 201)
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = ra.str("token") })
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tokA, nil), 200)

	// Bob claims it: allowed as a pending claim, but the HTTP proof (the
	// platform would answer it for anyone whose name points here) is not
	// enough, nor is acme's TXT record.
	rb := must(t, e.do(t, "POST", "/api/v1/sites/shop/domains", tokB, map[string]any{"hostname": "www.example.com"}), 201)
	if rb.str("status") != "pending" || rb.str("error") == "" {
		t.Fatalf("claim of an active name: %s", rb.raw)
	}
	fc.set(func(f *fakeChecker) { f.http["www.example.com"] = rb.str("token") })
	r := must(t, e.do(t, "POST", "/api/v1/sites/shop/domains/www.example.com/verify", tokB, nil), 200)
	if r.str("status") != "pending" {
		t.Fatalf("takeover without TXT proof succeeded: %s", r.raw)
	}
	if d, err := e.store.ActiveDomain(context.Background(), "www.example.com"); err != nil || d.TenantID == "" || d.SiteID == "" {
		t.Fatalf("ActiveDomain = %+v, %v", d, err)
	} else if s, _ := e.store.Site(context.Background(), d.SiteID); s.Name != "blog" {
		t.Fatalf("the name moved to %s without proof", s.Name)
	}

	// With a fresh TXT proof of bob's own token it moves atomically.
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = rb.str("token") })
	r = must(t, e.do(t, "POST", "/api/v1/sites/shop/domains/www.example.com/verify", tokB, nil), 200)
	if r.str("status") != "active" {
		t.Fatalf("takeover with TXT proof: %s", r.raw)
	}
	old := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", tokA, nil), 200)
	if old.str("status") != "moved" || old.str("next_check") != "" {
		t.Errorf("old claim after takeover: %s", old.raw)
	}
}

func TestDomainVerifierDNSDown(t *testing.T) {
	e, fc, changes := domainEnv(t, "192.0.2.10")
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	fc.set(func(f *fakeChecker) {
		f.txt["www.example.com"] = r.str("token")
		f.points["www.example.com"] = true
	})
	// The background verifier activates it once due.
	e.clock.Advance(time.Minute)
	if n, err := e.api.VerifyDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("VerifyDue = %d, %v", n, err)
	}
	// A DNS outage keeps it active.
	fc.set(func(f *fakeChecker) { f.down = true })
	e.clock.Advance(2 * time.Hour)
	if _, err := e.api.VerifyDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", tok, nil), 200)
	if d.str("status") != "active" || d.str("error") == "" {
		t.Errorf("after a DNS outage: %s", d.raw)
	}
	if got := changes.list(); len(got) != 1 {
		t.Errorf("OnDomainChange calls %v, want only the activation", got)
	}
	// Nothing else is due right now.
	if n, err := e.api.VerifyDue(context.Background()); err != nil || n != 0 {
		t.Errorf("VerifyDue right after = %d, %v", n, err)
	}
}

func TestDomainSetCertStatus(t *testing.T) {
	e, fc, _ := domainEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	ctx := context.Background()
	if err := e.api.SetCertStatus(ctx, "www.example.com", "active", "", time.Time{}); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("SetCertStatus of a pending domain = %v, want ErrNotFound", err)
	}
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = r.str("token") })
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	retry := e.clock.Now().Add(time.Hour).UTC().Truncate(time.Second)
	if err := e.api.SetCertStatus(ctx, "www.example.com", "failed", "too many orders", retry); err != nil {
		t.Fatal(err)
	}
	d := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", tok, nil), 200)
	if d.str("cert_status") != "failed" || d.str("cert_error") != "too many orders" || d.str("cert_next_retry") != retry.Format(time.RFC3339) {
		t.Errorf("after SetCertStatus: %s", d.raw)
	}
	if err := e.api.SetCertStatus(ctx, "www.example.com", "issued", "", time.Time{}); !errors.Is(err, tenants.ErrInvalid) {
		t.Errorf("SetCertStatus with an unknown status = %v", err)
	}
}

// With TLS on, a claim's certificate status starts at pending_validation,
// turns pending_issuance when the hostname is verified (before the TLS
// layer hears of it) and back to none when the claim leaves active.
func TestDomainCertStatusWithTLS(t *testing.T) {
	fc, statusAtChange := newFakeChecker(), map[string]string{}
	var e *env
	e = newEnv(t, withConfig(func(c *admin.Config) {
		c.Verifier, c.PublicIPs, c.TLS = fc, []string{"192.0.2.10"}, true
		c.OnDomainChange = func(h string) {
			d, err := e.store.ActiveDomain(context.Background(), h)
			if err == nil {
				statusAtChange[h] = d.CertStatus
			} else {
				statusAtChange[h] = "inactive"
			}
		}
	}))
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	if r.str("cert_status") != "pending_validation" {
		t.Errorf("new claim: cert_status %q, want pending_validation", r.str("cert_status"))
	}
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = r.str("token"); f.points["www.example.com"] = true })
	v := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	if v.str("status") != "active" || v.str("cert_status") != "pending_issuance" {
		t.Errorf("verified: %s", v.raw)
	}
	if statusAtChange["www.example.com"] != "pending_issuance" {
		t.Errorf("OnDomainChange saw cert status %q, want pending_issuance already stored", statusAtChange["www.example.com"])
	}
	if err := e.api.SetCertStatus(context.Background(), "www.example.com", "active", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if d := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", tok, nil), 200); d.str("cert_status") != "active" {
		t.Errorf("after SetCertStatus(active): %s", d.raw)
	}
	// DNS moves away: the claim is moved and its certificate status reset.
	fc.set(func(f *fakeChecker) { f.points["www.example.com"] = false })
	m := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	if m.str("status") != "moved" || m.str("cert_status") != "none" {
		t.Errorf("moved: %s", m.raw)
	}
}

func TestDomainTenantDisabledAndDeleted(t *testing.T) {
	e, fc, changes := domainEnv(t)
	id, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	r := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = r.str("token") })
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	ctx := context.Background()

	must(t, e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"disabled": true}), 200)
	if got := changes.list(); len(got) != 2 {
		t.Errorf("OnDomainChange calls after disabling the tenant: %v", got)
	}
	if hosts, _ := e.store.ActiveDomains(ctx); len(hosts) != 0 {
		t.Errorf("a disabled tenant's domain is listed active: %v", hosts)
	}
	must(t, e.do(t, "DELETE", "/api/v1/tenants/"+id, e.admin, nil), 204)
	if got := changes.list(); len(got) != 3 {
		t.Errorf("OnDomainChange calls after deleting the tenant: %v", got)
	}
	if claims, _ := e.store.DomainClaims(ctx, "www.example.com"); len(claims) != 0 {
		t.Errorf("claims survive their tenant: %v", claims)
	}
}
