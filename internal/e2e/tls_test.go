package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
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

// TestDomainTakeover: a hostname active on one tenant's site moves to
// another tenant's only with a fresh TXT proof holding the new claim's
// token — until then the first site keeps serving it over HTTPS — and
// then it moves at once; neither tenant sees the other's claim.
func TestDomainTakeover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const host = "shop.example.test"
	a := startACME(t)
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, nil)

	n.pier("tenants", "create", "first")
	n.pier("tenants", "create", "second")
	n.pier("sites", "create", "one", "--tenant", "first")
	n.pier("sites", "create", "two", "--tenant", "second")
	tok1 := strings.TrimSpace(n.pier("tokens", "create", "--tenant", "first", "--name", "ci"))
	tok2 := strings.TrimSpace(n.pier("tokens", "create", "--tenant", "second", "--name", "ci"))
	deployAs := func(token, site, body string) {
		t.Helper()
		out, errOut, err := n.pierToken(token, "deploy", writeSite(t, map[string]string{"index.html": body}), "--site", site)
		if err != nil {
			t.Fatalf("deploy %s: %v\n%s%s", site, err, out, errOut)
		}
	}
	deployAs(tok1, "one", "site one of the first tenant")
	deployAs(tok2, "two", "site two of the second tenant")

	onboardDomain(t, n, a, tok1, "one", host)
	serves := func(want string) {
		t.Helper()
		r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool)
		if err != nil || r.Status != 200 || r.Body != want {
			t.Fatalf("GET https://%s/ = %v %q; want %q", host, err, r.Body, want)
		}
	}
	serves("site one of the first tenant")
	orders := a.Orders()

	// The second tenant claims the name: the record it is told to create
	// differs, and with the first tenant's TXT record still in DNS the
	// claim stays pending. (The edge answers the second claim's HTTP proof
	// since the name points here, which is why it must not count for a
	// takeover; the verifier fetches it on port 80, not this node's
	// --http, so admin's unit tests cover that it is ignored.)
	out, errOut, err := n.pierToken(tok2, "domains", "add", host, "--site", "two")
	if err != nil {
		t.Fatalf("second tenant's add: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, "active on another site") {
		t.Errorf("add of a name active elsewhere does not say so:\n%s", out)
	}
	txt2 := addedRecords(t, out)["TXT"]
	d1, _ := n.domain(tok1, "one", host)
	if txt2[0] != "_pier-challenge."+host || txt2[1] == "" || txt2[1] == d1.Token {
		t.Fatalf("second claim's TXT record %q (first claim's token %q)", txt2, d1.Token)
	}
	if r := n.get(host, "/.well-known/pier-challenge/"+txt2[1]); r.Status != 200 || strings.TrimSpace(r.Body) != txt2[1] {
		t.Errorf("HTTP proof of the second claim = %d %q", r.Status, r.Body)
	}
	if out, _, err := n.pierToken(tok2, "domains", "verify", host, "--site", "two"); err == nil {
		t.Fatalf("takeover without a fresh TXT proof verified:\n%s", out)
	}
	if d2, _ := n.domain(tok2, "two", host); d2.Status != "pending" {
		t.Errorf("second claim = %+v, want pending", d2)
	}
	if d1, _ := n.domain(tok1, "one", host); d1.Status != "active" || d1.CertStatus != "active" {
		t.Errorf("first claim after a refused takeover = %+v", d1)
	}
	serves("site one of the first tenant")
	if r := n.get(host, "/"); r.Status != http.StatusPermanentRedirect {
		t.Errorf("GET http://%s/ = %d, want 308", host, r.Status)
	}

	// Neither tenant sees the other's claim or site.
	if _, code := n.domain(tok2, "one", host); code != http.StatusNotFound {
		t.Errorf("second tenant reading the first's domain: %d, want 404", code)
	}
	if _, code := n.domain(tok1, "two", host); code != http.StatusNotFound {
		t.Errorf("first tenant reading the second's claim: %d, want 404", code)
	}
	if code := n.api("DELETE", "/api/v1/sites/one/domains/"+host, tok2, nil, nil); code != http.StatusNotFound {
		t.Errorf("second tenant deleting the first's domain: %d, want 404", code)
	}
	if _, errOut, err := n.pierToken(tok2, "domains", "list", "--site", "one"); err == nil {
		t.Error("second tenant listed the first tenant's domains")
	} else if !strings.Contains(errOut, "not found") && !strings.Contains(errOut, "404") {
		t.Errorf("second tenant listing the first's domains: %q", errOut)
	}
	serves("site one of the first tenant")

	// The TXT record changes to the second claim's token: the name moves.
	// Clients keep requesting it meanwhile: every request is answered,
	// first by the first site, and once verify has answered only by the
	// second.
	a.ClearTXT(t, txt2[0])
	a.SetTXT(t, txt2[0], txt2[1])
	type result struct {
		start time.Time
		body  string
		err   error
	}
	var (
		results  []result
		mu       sync.Mutex
		stop     = make(chan struct{})
		loopDone = make(chan struct{})
	)
	var clients sync.WaitGroup
	for range 4 {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool)
				mu.Lock()
				results = append(results, result{start, r.Body, err})
				mu.Unlock()
			}
		}()
	}
	go func() { clients.Wait(); close(loopDone) }()
	time.Sleep(200 * time.Millisecond) // some requests before the move
	if out, errOut, err := n.pierToken(tok2, "domains", "verify", host, "--site", "two"); err != nil || !strings.Contains(out, host+": active") {
		close(stop)
		<-loopDone
		t.Fatalf("takeover with the TXT proof: %v\n%s%s", err, out, errOut)
	}
	verified := time.Now()
	deadline := verified.Add(10 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, r := range results {
			if r.start.After(verified) && r.body == "site two of the second tenant" {
				n++
			}
		}
		mu.Unlock()
		if n >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-loopDone
	var before, after, second int
	for _, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("request started %v after verify answered failed: %v (a moved name must be served throughout)", r.start.Sub(verified).Round(time.Millisecond), r.err)
		case r.body == "site one of the first tenant" && r.start.After(verified):
			t.Errorf("the first tenant's site served %s after the takeover was verified", host)
		case r.body == "site one of the first tenant":
			before++
		case r.body == "site two of the second tenant":
			second++
			if r.start.After(verified) {
				after++
			}
		default:
			t.Errorf("request during the takeover answered %.80q", r.body)
		}
	}
	t.Logf("during the takeover: %d requests to the first site, then %d to the second (%d after verify answered)", before, second, after)
	if before == 0 || after < 5 {
		t.Errorf("requests: %d served by the first site before, %d by the second after the takeover", before, after)
	}
	if d1, code := n.domain(tok1, "one", host); code != 200 || d1.Status != "moved" {
		t.Errorf("first claim after the takeover = %d %+v, want moved", code, d1)
	}
	d2 := n.waitCertActive(tok2, "two", host, certTimeout)
	if d2.Status != "active" {
		t.Errorf("second claim = %+v", d2)
	}
	if r := n.get(host, "/"); r.Status != http.StatusPermanentRedirect {
		t.Errorf("GET http://%s/ after the takeover = %d, want 308", host, r.Status)
	}
	serves("site two of the second tenant")
	t.Logf("orders for the takeover: %d (the stored certificate for the name is reused)", a.Orders()-orders)
	if _, code := n.domain(tok2, "one", host); code != http.StatusNotFound {
		t.Errorf("second tenant reading the first's claim after the takeover: %d, want 404", code)
	}
}
