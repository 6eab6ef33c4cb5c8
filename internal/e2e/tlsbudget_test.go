package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCustomDomainOrderBudget: custom domains' certificate orders are
// charged to their tenant (--cert-orders-per-hour-per-tenant): a tenant
// over its budget gets a failed certificate status naming the budget and
// the next retry, visible in the API and `pier domains list`, while
// another tenant's domain is still issued.
func TestCustomDomainOrderBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	a := startACME(t)
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, []string{"--cert-orders-per-hour-per-tenant", "1"})
	site := filepath.Join(repoRoot(t), "examples", "site")
	for _, tenant := range []string{"acme", "globex"} {
		n.pier("tenants", "create", tenant)
		n.pier("sites", "create", tenant+"-blog", "--tenant", tenant)
		n.deploy(site, tenant+"-blog")
	}
	onboardDomain(t, n, a, n.Token, "acme-blog", "one.example.test")

	// acme's second domain: verified, but its order is over the budget.
	const second = "two.example.test"
	out := n.pier("domains", "add", second, "--site", "acme-blog")
	txt := addedRecords(t, out)["TXT"]
	a.SetTXT(t, txt[0], txt[1])
	a.AddA(t, second, "127.0.0.1")
	orders := a.Orders()
	n.pier("domains", "verify", second, "--site", "acme-blog")
	deadline := time.Now().Add(certTimeout)
	var d domainJSON
	for {
		d, _ = n.domain(n.Token, "acme-blog", second)
		if d.CertStatus == "failed" {
			break
		}
		if d.CertStatus == "active" || time.Now().After(deadline) {
			t.Fatalf("certificate of a domain over its tenant's budget: %+v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if d.Status != "active" || !strings.Contains(d.CertError, "tenant certificate order budget exhausted") {
		t.Errorf("over budget: %+v", d)
	}
	var raw map[string]any
	n.api("GET", "/api/v1/sites/acme-blog/domains/"+second, n.Token, nil, &raw)
	if retry, _ := raw["cert_next_retry"].(string); retry == "" {
		t.Errorf("no cert_next_retry in %v", raw)
	}
	if list := n.pier("domains", "list", "--site", "acme-blog"); !strings.Contains(list, "budget exhausted") {
		t.Errorf("pier domains list does not show the refusal:\n%s", list)
	}
	if got := a.Orders() - orders; got != 0 {
		t.Errorf("Pebble saw %d orders for a refused domain", got)
	}
	if c, err := handshake(n.HTTPSAddr, second, a.CertPool); err == nil {
		c.Close()
		t.Error("a domain refused by the budget has a certificate")
	}

	// Another tenant's budget is its own.
	onboardDomain(t, n, a, n.Token, "globex-blog", "www.globex.test")
}
