package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitHandshake polls until a handshake for sni succeeds and returns the
// names of the certificate served.
func waitHandshake(t *testing.T, n *tlsNode, a *acme, sni string, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := handshake(n.HTTPSAddr, sni, a.CertPool)
		if err == nil {
			names := c.ConnectionState().PeerCertificates[0].DNSNames
			c.Close()
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake for %s after %v: %v", sni, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWildcardDNS01 runs `pier serve --dns01-webhook` against Pebble: the
// node obtains *.pier.test through DNS-01 (its webhook calls set the TXT
// record in challtestsrv), and serves a site and its preview over HTTPS
// from that one certificate; a restart reuses it without a new order.
func TestWildcardDNS01(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := startACME(t)
	resolver := a.ZoneResolver(t, platformDomain)
	hook := a.NewDNSHook("pier", "hook-secret")
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, []string{
		"--dns01-webhook", hookSrv.URL + "/hook", "--dns01-webhook-user", "pier", "--dns01-resolver", resolver,
	}, "PIER_DNS01_WEBHOOK_PASSWORD=hook-secret")
	n.waitOutput("pier: platform hosts: wildcard certificate for *." + platformDomain + " through ACME DNS-01")

	n.pier("tenants", "create", "acme")
	n.pier("sites", "create", "blog", "--tenant", "acme")
	dep := n.deploy(filepath.Join(repoRoot(t), "examples", "site"), "blog")

	if names := waitHandshake(t, n, a, "blog."+platformDomain, certTimeout); len(names) != 1 || names[0] != "*."+platformDomain {
		t.Fatalf("blog.%s served a certificate for %v, want *.%s", platformDomain, names, platformDomain)
	}
	if got := hook.Calls(); len(got) != 2 || got[0] != "present _acme-challenge."+platformDomain+"." || got[1] != "cleanup _acme-challenge."+platformDomain+"." {
		t.Errorf("webhook calls = %q, want present then cleanup of _acme-challenge.%s.", got, platformDomain)
	}
	r, err := httpsGet(n.HTTPSAddr, "blog."+platformDomain, "/", a.CertPool)
	if err != nil || r.Status != http.StatusOK || r.Body == "" {
		t.Fatalf("https://blog.%s/: %v %d %.100q", platformDomain, err, r.Status, r.Body)
	}
	// The preview, on the same certificate.
	u, err := url.Parse(dep.PreviewURL)
	if err != nil || !strings.HasPrefix(u.Hostname(), dep.Deployment+"--blog.") {
		t.Fatalf("preview URL %q", dep.PreviewURL)
	}
	pr, err := httpsGet(n.HTTPSAddr, u.Hostname(), "/", a.CertPool)
	if err != nil || pr.Status != http.StatusOK || pr.Body != r.Body {
		t.Fatalf("https://%s/: %v %d %.100q", u.Hostname(), err, pr.Status, pr.Body)
	}
	if pr.Leaf.DNSNames[0] != "*."+platformDomain || !strings.Contains(pr.Header.Get("X-Robots-Tag"), "noindex") {
		t.Errorf("preview served %v with X-Robots-Tag %q", pr.Leaf.DNSNames, pr.Header.Get("X-Robots-Tag"))
	}
	// A name with no site: the wildcard is served (nothing to order), the
	// edge answers 404.
	jr, err := httpsGet(n.HTTPSAddr, "no-such-site."+platformDomain, "/", a.CertPool)
	if err != nil || jr.Status != http.StatusNotFound {
		t.Errorf("https://no-such-site.%s/: %v %d", platformDomain, err, jr.Status)
	}
	if got := a.Orders(); got != 1 {
		t.Errorf("Pebble saw %d orders, want 1 (the wildcard)", got)
	}
	if m := n.metrics(); m["pier_cert_orders_total"] != 1 || m["pier_cert_obtained_total"] != 1 {
		t.Errorf("metrics: orders %v, obtained %v; want 1, 1", m["pier_cert_orders_total"], m["pier_cert_obtained_total"])
	}

	// A restart loads the stored wildcard: no new order.
	n.restart()
	if names := waitHandshake(t, n, a, "blog."+platformDomain, certTimeout); names[0] != "*."+platformDomain {
		t.Errorf("after a restart: %v", names)
	}
	if got := a.Orders(); got != 1 {
		t.Errorf("Pebble saw %d orders after a restart, want still 1", got)
	}
}

// TestWildcardPerSiteOnDemand runs `pier serve --https` without DNS-01:
// an existing site's name gets its own certificate on the first
// handshake, charged to its tenant's order budget; names of no site,
// previews and deeper names fail the handshake without an order.
func TestWildcardPerSiteOnDemand(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := startACME(t)
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, []string{"--cert-orders-per-hour-per-tenant", "1"})
	n.waitOutput("pier: platform hosts: per-site certificates on demand")
	n.pier("tenants", "create", "acme")
	n.pier("tenants", "create", "other")
	n.pier("sites", "create", "blog", "--tenant", "acme")
	n.pier("sites", "create", "docs", "--tenant", "acme")
	n.pier("sites", "create", "shop", "--tenant", "other")
	dep := n.deploy(filepath.Join(repoRoot(t), "examples", "site"), "blog")
	for _, s := range []string{"blog", "docs", "shop"} {
		a.AddA(t, s+"."+platformDomain, "127.0.0.1")
	}

	// Junk under the domain first: refused, nothing ordered.
	for _, sni := range []string{"no-such-site." + platformDomain, dep.Deployment + "--blog." + platformDomain, "a.blog." + platformDomain, platformDomain} {
		if c, err := handshake(n.HTTPSAddr, sni, a.CertPool); err == nil {
			c.Close()
			t.Errorf("handshake for %s succeeded", sni)
		}
	}
	if got := a.Orders(); got != 0 {
		t.Fatalf("Pebble saw %d orders after junk handshakes, want 0", got)
	}

	// The site obtains its own certificate on the first handshake.
	if names := waitHandshake(t, n, a, "blog."+platformDomain, certTimeout); len(names) != 1 || names[0] != "blog."+platformDomain {
		t.Fatalf("blog served a certificate for %v", names)
	}
	r, err := httpsGet(n.HTTPSAddr, "blog."+platformDomain, "/", a.CertPool)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("https://blog.%s/: %v %d", platformDomain, err, r.Status)
	}
	if got := a.Orders(); got != 1 {
		t.Errorf("Pebble saw %d orders, want 1", got)
	}
	// acme's budget (1 an hour) is spent: its second site is refused
	// without an order; another tenant's site is not affected.
	if c, err := handshake(n.HTTPSAddr, "docs."+platformDomain, a.CertPool); err == nil {
		c.Close()
		t.Error("a second site of a tenant over its hourly budget got a certificate")
	}
	if got := a.Orders(); got != 1 {
		t.Errorf("Pebble saw %d orders after a refused one, want 1", got)
	}
	if names := waitHandshake(t, n, a, "shop."+platformDomain, certTimeout); names[0] != "shop."+platformDomain {
		t.Errorf("shop served %v", names)
	}
	if m := n.metrics(); m["pier_cert_orders_total"] != 2 || m["pier_cert_orders_refused_total"] < 1 {
		t.Errorf("metrics: orders %v, refused %v; want 2, ≥1", m["pier_cert_orders_total"], m["pier_cert_orders_refused_total"])
	}
}
