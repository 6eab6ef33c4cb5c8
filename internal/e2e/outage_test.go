package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// TestDatabaseOutageKeepsServing: with PostgreSQL down, a verified custom
// domain keeps being served over HTTPS from the certificate in memory
// (past the route cache's TTL, so stale routes are what serves), no
// certificate is ordered for anything, and once the database is back the
// API works again without a restart.
func TestDatabaseOutageKeepsServing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	pg := testenv.StartPostgres(t)
	dsn := pg.NewDatabase(t)
	a := startACME(t)
	n := startTLSNode(t, a, a.HTTPPort, a.HTTPSPort, []string{"--db", dsn})
	const host = "www.example.test"
	n.pier("tenants", "create", "acme")
	n.pier("sites", "create", "blog", "--tenant", "acme")
	n.deploy(filepath.Join(repoRoot(t), "examples", "site"), "blog")
	onboardDomain(t, n, a, n.Token, "blog", host)
	if r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool); err != nil || r.Status != 200 {
		t.Fatalf("before the outage: %+v %v", r, err)
	}
	orders := a.Orders()

	pg.Stop()
	// Longer than RouteTTL (10 s): routes are revalidated against a
	// database that does not answer, and the stale ones keep serving.
	deadline := time.Now().Add(13 * time.Second)
	served := 0
	for i := 0; time.Now().Before(deadline); i++ {
		r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool)
		if err != nil || r.Status != 200 || !strings.Contains(r.Body, "Hello from Pier") {
			t.Fatalf("during the outage (%d requests served): %d %v", served, r.Status, err)
		}
		served++
		// Names the node has not heard of get no certificate and no order.
		if c, err := handshake(n.HTTPSAddr, fmt.Sprintf("new%d.example.test", i), a.CertPool); err == nil {
			c.Close()
			t.Fatal("a handshake for an unknown name succeeded during the outage")
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got := a.Orders() - orders; got != 0 {
		t.Errorf("%d certificate orders during the outage, want 0", got)
	}
	if code := n.api("GET", "/api/v1/sites/blog/domains", n.Token, nil, nil); code < 500 {
		t.Errorf("the API answered %d with the database down, want a 5xx", code)
	}

	pg.Start(t)
	testenv.WaitFor(t, testenv.Patience, func() error {
		if code := n.api("GET", "/api/v1/sites/blog/domains", n.Token, nil, nil); code != 200 {
			return fmt.Errorf("the API did not recover after the database came back: %d", code)
		}
		return nil
	})
	if r, err := httpsGet(n.HTTPSAddr, host, "/", a.CertPool); err != nil || r.Status != 200 {
		t.Fatalf("after the outage: %+v %v", r, err)
	}
}
