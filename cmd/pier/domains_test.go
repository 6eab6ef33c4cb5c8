package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/domainverify"
)

// txtChecker is an admin.DomainChecker whose TXT records are a map; the
// HTTP proof never answers and DNS always points here.
type txtChecker struct {
	mu  sync.Mutex
	txt map[string]string
}

func (c *txtChecker) CheckTXT(ctx context.Context, host, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.txt[host] != token {
		return fmt.Errorf("%w: no TXT record _pier-challenge.%s found", domainverify.ErrNotProven, host)
	}
	return nil
}

func (c *txtChecker) CheckHTTP(ctx context.Context, host, token, body string) error {
	return fmt.Errorf("%w: no answer", domainverify.ErrNotProven)
}

func (c *txtChecker) PointsHere(ctx context.Context, host, cname string, ips []string) (bool, error) {
	return true, nil
}

func TestDomainsCommands(t *testing.T) {
	chk := &txtChecker{txt: map[string]string{}}
	api := newRealAPI(t, func(c *admin.Config) {
		c.Domain, c.Verifier, c.PublicIPs = "pier.test", chk, []string{"192.0.2.7"}
	})
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	api.must(t, adm, "sites", "create", "blog", "--tenant", "acme")

	out := api.must(t, adm, "domains", "add", "www.example.com", "--site", "blog")
	token := regexp.MustCompile(`pier-[a-z2-7]{32}\b`).FindString(out)
	for _, want := range []string{"TXT", "_pier-challenge.www.example.com", "CNAME", "blog.pier.test", "pier domains verify www.example.com --site blog"} {
		if !strings.Contains(out, want) {
			t.Errorf("domains add output lacks %q:\n%s", want, out)
		}
	}
	if token == "" {
		t.Fatalf("no token in:\n%s", out)
	}
	if out := api.must(t, adm, "domains", "add", "example.com", "--site", "blog"); !strings.Contains(out, "A") || !strings.Contains(out, "192.0.2.7") {
		t.Errorf("apex records:\n%s", out)
	}

	// Not proven yet: verify fails and says why.
	res := api.pier(t, adm, "domains", "verify", "www.example.com", "--site", "blog")
	if res.code == 0 || !strings.Contains(res.stdout, "pending") || !strings.Contains(res.stdout, "_pier-challenge.www.example.com") {
		t.Errorf("verify before the TXT record: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	chk.mu.Lock()
	chk.txt["www.example.com"] = token
	chk.mu.Unlock()
	if out := api.must(t, adm, "domains", "verify", "www.example.com", "--site", "blog"); !strings.Contains(out, "www.example.com: active") {
		t.Errorf("verify:\n%s", out)
	}

	out = api.must(t, adm, "domains", "list", "--site", "blog")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "CERT") || !strings.Contains(lines[1], "example.com") || !strings.Contains(lines[2], "active") {
		t.Errorf("domains list:\n%s", out)
	}

	// Usage errors and server errors.
	if res := api.pier(t, adm, "domains", "add", "www.example.org"); res.code == 0 || !strings.Contains(res.stderr, "--site") {
		t.Errorf("add without --site: exit %d %s", res.code, res.stderr)
	}
	if res := api.pier(t, adm, "domains", "add", "x.blog.pier.test", "--site", "blog"); res.code == 0 || !strings.Contains(res.stderr, "hostname") {
		t.Errorf("add below the platform domain: exit %d %s", res.code, res.stderr)
	}

	api.must(t, adm, "domains", "remove", "www.example.com", "--site", "blog")
	if out := api.must(t, adm, "domains", "list", "--site", "blog"); strings.Contains(out, "www.example.com") {
		t.Errorf("list after remove:\n%s", out)
	}
	if res := api.pier(t, adm, "domains", "remove", "www.example.com", "--site", "blog"); res.code == 0 {
		t.Errorf("removing twice succeeded")
	}
}
