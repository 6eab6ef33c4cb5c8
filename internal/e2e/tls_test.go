package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// certTimeout bounds how long a certificate may take from verification
// to active (Pebble validates at once; the machine may be busy).
const certTimeout = 60 * time.Second

// onboardDomain is the README's flow through the CLI, with token's
// rights: add host to site, create the records it prints in
// challtestsrv, verify, and wait for the certificate. It returns the
// domain's ownership token.
func onboardDomain(t *testing.T, n *tlsNode, a *acme, token, site, host string) string {
	t.Helper()
	out, errOut, err := n.pierToken(token, "domains", "add", host, "--site", site)
	if err != nil {
		t.Fatalf("pier domains add: %v\n%s%s", err, out, errOut)
	}
	txt := addedRecords(t, out)["TXT"]
	if txt[0] != "_pier-challenge."+host || txt[1] == "" {
		t.Fatalf("pier domains add printed no TXT record for %s:\n%s", host, out)
	}
	a.ClearTXT(t, txt[0])
	a.SetTXT(t, txt[0], txt[1])
	a.AddA(t, host, "127.0.0.1")
	if out, errOut, err := n.pierToken(token, "domains", "verify", host, "--site", site); err != nil || !strings.Contains(out, host+": active") {
		t.Fatalf("pier domains verify: %v\n%s%s", err, out, errOut)
	}
	n.waitCertActive(token, site, host, certTimeout)
	return txt[1]
}

// TestCustomDomainOnboarding is the README's "Custom domains and HTTPS"
// flow through the real binary and the CLI, against Pebble: the records
// printed, verification, the certificate status passing from
// pending_issuance to active, the site over HTTPS with Pebble's
// certificate, the 308 from http, and removal stopping the handshake.
func TestCustomDomainOnboarding(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const host = "www.example.test"
	a := startACME(t)
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, nil)

	n.pier("tenants", "create", "acme")
	n.pier("sites", "create", "blog", "--tenant", "acme")
	n.deploy(filepath.Join(repoRoot(t), "examples", "site"), "blog")

	// Before anything: no certificate for the name.
	if c, err := handshake(n.HTTPSAddr, host, a.CertPool); err == nil {
		c.Close()
		t.Fatal("handshake for a name nobody added succeeded")
	}

	out := n.pier("domains", "add", host, "--site", "blog")
	recs := addedRecords(t, out)
	txt, cname := recs["TXT"], recs["CNAME"]
	if txt[0] != "_pier-challenge."+host || txt[1] == "" {
		t.Fatalf("TXT record = %q; output:\n%s", txt, out)
	}
	if cname != [2]string{host, "blog." + platformDomain} {
		t.Errorf("CNAME record = %q, want %s → blog.%s; output:\n%s", cname, host, platformDomain, out)
	}
	if !strings.Contains(out, "pier domains verify "+host+" --site blog") {
		t.Errorf("add does not say what to run next:\n%s", out)
	}
	if st, cert := listRow(t, n.pier("domains", "list", "--site", "blog"), host); st != "pending" || cert != "pending_validation" {
		t.Errorf("after add: status %s, cert %s; want pending, pending_validation", st, cert)
	}
	// Verifying before the records exist fails and says so.
	if errOut := n.pierFail("domains", "verify", host, "--site", "blog"); !strings.Contains(errOut, "pending") {
		t.Errorf("verify without records: stderr %q", errOut)
	}

	// The tenant creates the records: the TXT proof, and the name points
	// at the platform (an A record to --public-ip; Pebble resolves it).
	a.SetTXT(t, txt[0], txt[1])
	a.AddA(t, host, "127.0.0.1")
	ordersBefore := a.Orders()
	if out := n.pier("domains", "verify", host, "--site", "blog"); !strings.Contains(out, host+": active") {
		t.Fatalf("verify: %q", out)
	}

	// The TLS layer writes the certificate status asynchronously: after
	// verification it is pending_issuance until the certificate is in.
	seen := map[string]bool{}
	deadline := time.Now().Add(certTimeout)
	for {
		st, cert := listRow(t, n.pier("domains", "list", "--site", "blog"), host)
		if st != "active" {
			t.Fatalf("domain status %s after a successful verify", st)
		}
		seen[cert] = true
		if cert == "active" {
			break
		}
		if cert != "pending_issuance" {
			d, _ := n.domain(n.Token, "blog", host)
			t.Fatalf("certificate status %s while issuing (want pending_issuance, then active): %+v", cert, d)
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate not active after %v", certTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("certificate statuses seen after verify: %v", seen)
	if d, code := n.domain(n.Token, "blog", host); code != 200 || d.Status != "active" || d.CertStatus != "active" || d.CertError != "" {
		t.Errorf("GET domain = %d %+v", code, d)
	}
	if got := a.Orders() - ordersBefore; got != 1 {
		t.Errorf("Pebble saw %d orders for one domain, want 1", got)
	}
	m := n.metrics()
	if m["pier_cert_orders_total"] != 1 || m["pier_cert_obtained_total"] != 1 || m["pier_cert_orders_failed_total"] != 0 {
		t.Errorf("metrics: orders %v, obtained %v, failed %v; want 1, 1, 0",
			m["pier_cert_orders_total"], m["pier_cert_obtained_total"], m["pier_cert_orders_failed_total"])
	}

	// A real browser-like client trusting only Pebble's issuing root.
	r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool)
	if err != nil {
		t.Fatalf("GET https://%s/: %v", host, err)
	}
	if r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
		t.Errorf("GET https://%s/ = %d %.200q", host, r.Status, r.Body)
	}
	if r.Leaf == nil || len(r.Leaf.DNSNames) != 1 || r.Leaf.DNSNames[0] != host {
		t.Errorf("leaf names = %v, want [%s]", r.Leaf.DNSNames, host)
	}
	if issuer := r.Leaf.Issuer.CommonName; !strings.Contains(strings.ToLower(issuer), "pebble") {
		t.Errorf("leaf issued by %q, want Pebble's intermediate", issuer)
	}
	if len(r.Chains) == 0 || !r.Chains[0][len(r.Chains[0])-1].Equal(rootOf(t, a.Pebble)) {
		t.Errorf("the served chain does not end at Pebble's root")
	}
	if r, err := httpsGet(n.HTTPSAddr, host, "/about", a.CertPool); err != nil || r.Status != 200 || !strings.Contains(r.Body, "About") {
		t.Errorf("GET https://%s/about = %v %v", host, r.Status, err)
	}

	// http:// answers 308 to https:// (with the --https port).
	if r := n.get(host, "/about?x=1"); r.Status != http.StatusPermanentRedirect ||
		r.Header.Get("Location") != fmt.Sprintf("https://%s:%d/about?x=1", host, n.HTTPSPort) {
		t.Errorf("GET http://%s/about?x=1 = %d Location %q", host, r.Status, r.Header.Get("Location"))
	}
	// Platform hosts stay on plain http (no public certificate for them).
	if r := n.get("blog."+platformDomain, "/"); r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
		t.Errorf("GET http://blog.%s/ = %d", platformDomain, r.Status)
	}
	if c, err := handshake(n.HTTPSAddr, "blog."+platformDomain, nil); err == nil {
		c.Close()
		t.Errorf("handshake for a platform host succeeded without --tls-internal")
	}

	// Removing the domain stops serving it at once.
	if out := n.pier("domains", "remove", host, "--site", "blog"); !strings.Contains(out, "removed "+host) {
		t.Errorf("remove: %q", out)
	}
	if c, err := handshake(n.HTTPSAddr, host, a.CertPool); err == nil {
		c.Close()
		t.Error("handshake for a removed domain succeeded")
	}
	if r := n.get(host, "/"); r.Status == http.StatusPermanentRedirect || strings.Contains(r.Body, "Hello from Pier") {
		t.Errorf("GET http://%s/ after removal = %d %.100q", host, r.Status, r.Body)
	}
	if _, code := n.domain(n.Token, "blog", host); code != http.StatusNotFound {
		t.Errorf("GET removed domain = %d, want 404", code)
	}
	if got := a.Orders() - ordersBefore; got != 1 {
		t.Errorf("Pebble saw %d orders in all, want 1", got)
	}
}

// rootOf parses Pebble's issuing root.
func rootOf(t *testing.T, p *testenv.Pebble) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(p.RootPEM)
	if b == nil {
		t.Fatalf("Pebble's root is not PEM")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
