package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/domainverify"
	"github.com/pierhq/pier/tenants"
)

// fakeChecker answers checks from maps: txt[host] and http[host] are the
// tokens published; edge[host] says the name reaches the platform's edge,
// which answers the HTTP proof of every pending claim; points[host] says
// whether DNS points here, cname[host] is the name's CNAME target; down
// makes every check fail to run (with an error naming an internal
// resolver, as the real one does).
type fakeChecker struct {
	mu     sync.Mutex
	txt    map[string]string
	http   map[string]string
	edge   map[string]bool
	points map[string]bool
	cname  map[string]string
	down   bool
	// httpChecks counts CheckHTTP calls.
	httpChecks int
}

func newFakeChecker() *fakeChecker {
	return &fakeChecker{txt: map[string]string{}, http: map[string]string{}, edge: map[string]bool{},
		points: map[string]bool{}, cname: map[string]string{}}
}

// errResolverDown is what the real verifier returns when the resolver
// fails: a user-safe message, and a cause naming the platform's resolver.
func errResolverDown(what string) error {
	return &domainverify.CheckError{Msg: "the DNS lookup of " + what + " failed (SERVFAIL or a malformed answer)",
		Err: errors.New("lookup " + what + " on 10.255.255.53:53: server misbehaving")}
}

func (f *fakeChecker) set(fn func(*fakeChecker)) { f.mu.Lock(); fn(f); f.mu.Unlock() }

func (f *fakeChecker) CheckTXT(ctx context.Context, host, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return errResolverDown("TXT _pier-challenge." + host)
	}
	if f.txt[host] != token {
		return fmt.Errorf("%w: no TXT record _pier-challenge.%s found", domainverify.ErrNotProven, host)
	}
	return nil
}

func (f *fakeChecker) CheckHTTP(ctx context.Context, host, token, expect string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.httpChecks++
	if f.down {
		return fmt.Errorf("dial tcp 10.0.0.1:80: connection refused")
	}
	if f.edge[host] {
		return nil
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
		return false, errResolverDown(host)
	}
	if len(ips) == 0 { // the canonical name only
		target := f.cname[host]
		if target == "" {
			target = host
		}
		return target == cname, nil
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	// DNS moves away: the claim is moved and its certificate status back
	// to pending_validation, like any claim that is not active.
	fc.set(func(f *fakeChecker) { f.points["www.example.com"] = false })
	m := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/www.example.com/verify", tok, nil), 200)
	if m.str("status") != "moved" || m.str("cert_status") != "pending_validation" || m.str("cert_error") != "" {
		t.Errorf("moved: %s", m.raw)
	}
	if d := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains/www.example.com", tok, nil), 200); d.str("cert_status") != "pending_validation" {
		t.Errorf("moved, read back: %s", d.raw)
	}
}

// A claim that is not active shows pending_validation with TLS on (none
// with TLS off) however it got there: created, failed a check, moved by
// DNS or demoted by another site's takeover.
func TestDomainCertStatusOfInactiveClaims(t *testing.T) {
	t.Parallel()
	for _, tls := range []bool{true, false} {
		t.Run(fmt.Sprint("tls=", tls), func(t *testing.T) {
			want := "none"
			if tls {
				want = "pending_validation"
			}
			fc := newFakeChecker()
			e := newEnv(t, withConfig(func(c *admin.Config) { c.Verifier, c.TLS = fc, tls }))
			_, tokA := e.tenant(t, "acme")
			e.site(t, tokA, "blog")
			_, tokB := e.tenant(t, "bob")
			e.site(t, tokB, "shop")
			pathA, pathB := "/api/v1/sites/blog/domains/www.example.com", "/api/v1/sites/shop/domains/www.example.com"
			ra := must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tokA, map[string]any{"hostname": "www.example.com"}), 201)
			check := func(what string, r resp, status string) {
				t.Helper()
				if r.str("status") != status || r.str("cert_status") != want || r.str("cert_error") != "" {
					t.Errorf("%s: %s, want %s with cert_status %s", what, r.raw, status, want)
				}
			}
			check("created", ra, "pending")
			check("failed verify", must(t, e.do(t, "POST", pathA+"/verify", tokA, nil), 200), "pending")
			check("read back", must(t, e.do(t, "GET", pathA, tokA, nil), 200), "pending")
			if d, err := e.store.Domain(context.Background(), ra.str("site_id"), "www.example.com"); err != nil || d.CertStatus != want {
				t.Errorf("stored claim after a failed verify %+v, %v", d, err)
			}
			e.clock.Advance(time.Hour)
			if _, err := e.api.VerifyDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			check("failed background check", must(t, e.do(t, "GET", pathA, tokA, nil), 200), "pending")

			// acme proves it; bob takes it over with a TXT proof.
			fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = ra.str("token") })
			must(t, e.do(t, "POST", pathA+"/verify", tokA, nil), 200)
			if tls {
				if err := e.api.SetCertStatus(context.Background(), "www.example.com", "failed", "too many orders", e.clock.Now().Add(time.Hour)); err != nil {
					t.Fatal(err)
				}
			}
			rb := must(t, e.do(t, "POST", "/api/v1/sites/shop/domains", tokB, map[string]any{"hostname": "www.example.com"}), 201)
			check("competing claim", rb, "pending")
			fc.set(func(f *fakeChecker) { f.txt["www.example.com"] = rb.str("token") })
			must(t, e.do(t, "POST", pathB+"/verify", tokB, nil), 200)
			check("demoted by a takeover", must(t, e.do(t, "GET", pathA, tokA, nil), 200), "moved")
			check("listed", func() resp {
				l := must(t, e.do(t, "GET", "/api/v1/sites/blog/domains", tokA, nil), 200)
				list, _ := l.body["domains"].([]any)
				if len(list) != 1 {
					t.Fatalf("list %s", l.raw)
				}
				raw, _ := json.Marshal(list[0])
				return resp{raw: raw, body: list[0].(map[string]any)}
			}(), "moved")
			// Stored so too, not only shown.
			if d, err := e.store.Domain(context.Background(), ra.str("site_id"), "www.example.com"); err != nil || d.CertStatus != want || d.CertError != "" {
				t.Errorf("stored demoted claim %+v, %v", d, err)
			}
		})
	}
}

func TestDomainTenantDisabledAndDeleted(t *testing.T) {
	t.Parallel()
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

// The HTTP proof of a claim counts only while no other site claims the
// hostname: the edge answers every pending claim's token for a name
// pointing at the platform, so tenant A cannot take over a name tenant V
// pointed at its site by claiming it too.
func TestDomainHTTPProofWithCompetingClaims(t *testing.T) {
	t.Parallel()
	e, fc, changes := domainEnv(t)
	_, tokV := e.tenant(t, "victor")
	e.site(t, tokV, "vsite")
	_, tokA := e.tenant(t, "attacker")
	e.site(t, tokA, "asite")
	rv := must(t, e.do(t, "POST", "/api/v1/sites/vsite/domains", tokV, map[string]any{"hostname": "www.shop2.io"}), 201)
	// V points the name at its site: the edge now answers any claim's token.
	fc.set(func(f *fakeChecker) { f.cname["www.shop2.io"] = "vsite.pier.test"; f.edge["www.shop2.io"] = true })
	ra := must(t, e.do(t, "POST", "/api/v1/sites/asite/domains", tokA, map[string]any{"hostname": "www.shop2.io"}), 201)
	if !strings.Contains(ra.str("error"), "only the TXT record proves ownership") {
		t.Errorf("a competing claim does not say only TXT proves it: %s", ra.raw)
	}

	r := must(t, e.do(t, "POST", "/api/v1/sites/asite/domains/www.shop2.io/verify", tokA, nil), 200)
	if r.str("status") != "pending" || !strings.Contains(r.str("error"), "only the TXT record proves ownership") {
		t.Fatalf("competing claim verified through the HTTP proof: %s", r.raw)
	}
	// V's own HTTP proof does not count either while A's claim exists.
	r = must(t, e.do(t, "POST", "/api/v1/sites/vsite/domains/www.shop2.io/verify", tokV, nil), 200)
	if r.str("status") != "pending" || !strings.Contains(r.str("error"), "only the TXT record proves ownership") {
		t.Fatalf("HTTP proof with a rival claim: %s", r.raw)
	}
	if n := fc.httpChecksDone(); n != 0 {
		t.Errorf("the HTTP proof was fetched %d times despite rival claims", n)
	}
	if len(changes.list()) != 0 {
		t.Fatalf("a claim became active: %v", changes.list())
	}
	// The TXT record proves V's claim.
	fc.set(func(f *fakeChecker) { f.txt["www.shop2.io"] = rv.str("token") })
	r = must(t, e.do(t, "POST", "/api/v1/sites/vsite/domains/www.shop2.io/verify", tokV, nil), 200)
	if r.str("status") != "active" {
		t.Fatalf("TXT proof with a rival claim: %s", r.raw)
	}
	if d, err := e.store.ActiveDomain(context.Background(), "www.shop2.io"); err != nil || d.SiteID != rv.str("site_id") {
		t.Errorf("active claim %+v, %v", d, err)
	}
}

// Even as the only claimant, a site's HTTP proof counts only when the name
// has no CNAME or a CNAME to the site's own hostname: a name pointed at
// another site belongs to that site's tenant.
func TestDomainHTTPProofNeedsOwnCNAME(t *testing.T) {
	t.Parallel()
	e, fc, _ := domainEnv(t)
	_, tokV := e.tenant(t, "victor")
	e.site(t, tokV, "vsite")
	_, tokA := e.tenant(t, "attacker")
	e.site(t, tokA, "asite")
	fc.set(func(f *fakeChecker) { f.cname["www.shop3.io"] = "vsite.pier.test"; f.edge["www.shop3.io"] = true })
	must(t, e.do(t, "POST", "/api/v1/sites/asite/domains", tokA, map[string]any{"hostname": "www.shop3.io"}), 201)
	r := must(t, e.do(t, "POST", "/api/v1/sites/asite/domains/www.shop3.io/verify", tokA, nil), 200)
	if r.str("status") != "pending" || !strings.Contains(r.str("error"), "CNAME") || !strings.Contains(r.str("error"), "asite.pier.test") {
		t.Fatalf("HTTP proof through another site's CNAME: %s", r.raw)
	}
	if n := fc.httpChecksDone(); n != 0 {
		t.Errorf("the HTTP proof was fetched %d times for a CNAME to another site", n)
	}
	// Pointed at its own site, the name is proven by the HTTP proof.
	fc.set(func(f *fakeChecker) { f.cname["www.shop3.io"] = "asite.pier.test" })
	e.clock.Advance(VerifyWait)
	r = must(t, e.do(t, "POST", "/api/v1/sites/asite/domains/www.shop3.io/verify", tokA, nil), 200)
	if r.str("status") != "active" {
		t.Fatalf("HTTP proof through the site's own CNAME: %s", r.raw)
	}
}

// VerifyWait is long enough for the verify rate limit to allow a check.
const VerifyWait = admin.VerifyRateInterval

func (f *fakeChecker) httpChecksDone() int { f.mu.Lock(); defer f.mu.Unlock(); return f.httpChecks }

// A failed check's error names its cause (as the verifier describes it)
// so the tenant can fix their DNS, but not the platform's resolver.
func TestDomainCheckErrorSaysWhy(t *testing.T) {
	t.Parallel()
	e, fc, _ := domainEnv(t, "192.0.2.10")
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	path := "/api/v1/sites/blog/domains/www.example.com/verify"

	r := must(t, e.do(t, "POST", path, tok, nil), 200)
	if got := r.str("error"); !strings.Contains(got, "no TXT record _pier-challenge.www.example.com found") || !strings.Contains(got, "HTTP proof: ") {
		t.Errorf("not proven: error %q", got)
	}
	fc.set(func(f *fakeChecker) { f.down = true })
	e.clock.Advance(VerifyWait)
	r = must(t, e.do(t, "POST", path, tok, nil), 200)
	got := r.str("error")
	if r.str("status") != "pending" || !strings.Contains(got, "the DNS lookup of TXT _pier-challenge.www.example.com failed (SERVFAIL") {
		t.Errorf("DNS down: error %q", got)
	}
	if strings.Contains(got, "10.255.255.53") || strings.Contains(got, "10.0.0.1") {
		t.Errorf("error %q names an internal address", got)
	}
}

// POST …/verify is rate-limited per claim: a few checks in a row, then
// one per VerifyRateInterval; a faster call answers 429 with Retry-After
// and runs no check. The limit is per claim.
func TestDomainVerifyRateLimit(t *testing.T) {
	t.Parallel()
	e, fc, _ := domainEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "shop.example.com"}), 201)
	path := "/api/v1/sites/blog/domains/www.example.com/verify"
	for i := range admin.VerifyRateBurst {
		must(t, e.do(t, "POST", path, tok, nil), 200)
		if n := fc.httpChecksDone(); n != i+1 {
			t.Fatalf("after %d verifies %d checks", i+1, n)
		}
	}
	r := e.do(t, "POST", path, tok, nil)
	wantErr(t, r, 429, "rate_limited")
	if r.header.Get("Retry-After") != "10" || r.errField("retry_after") != float64(10) {
		t.Errorf("Retry-After %q, retry_after %v; body %s", r.header.Get("Retry-After"), r.errField("retry_after"), r.raw)
	}
	if n := fc.httpChecksDone(); n != admin.VerifyRateBurst {
		t.Errorf("a limited verify ran a check (%d checks)", n)
	}
	// Another claim is not limited.
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains/shop.example.com/verify", tok, nil), 200)
	e.clock.Advance(4 * time.Second)
	r = e.do(t, "POST", path, tok, nil)
	wantErr(t, r, 429, "rate_limited")
	if r.header.Get("Retry-After") != "6" {
		t.Errorf("Retry-After %q after 4s", r.header.Get("Retry-After"))
	}
	e.clock.Advance(6 * time.Second)
	must(t, e.do(t, "POST", path, tok, nil), 200)
	wantErr(t, e.do(t, "POST", path, tok, nil), 429, "rate_limited")

	// The OpenAPI document says so.
	doc := loadOpenAPI(t)
	op := doc["paths"].(map[string]any)["/api/v1/sites/{site}/domains/{host}/verify"].(map[string]any)["post"].(map[string]any)
	res, _ := op["responses"].(map[string]any)["429"].(map[string]any)
	if res == nil {
		t.Fatal("openapi.json: verifyDomain does not document 429")
	}
	if h, _ := res["headers"].(map[string]any); h["Retry-After"] == nil {
		t.Errorf("openapi.json: verifyDomain's 429 has no Retry-After header")
	}
}
