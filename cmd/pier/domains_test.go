package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
	if out := api.must(t, adm, "domains", "list", "--site", "blog"); out != "no custom domains; add one with pier domains add HOST --site blog\n" {
		t.Errorf("empty list:\n%s", out)
	}

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

	// A pending claim listed with the records it still needs.
	out = api.must(t, adm, "domains", "list", "--site", "blog")
	_, todo, ok := strings.Cut(out, "To verify pending domains, create:")
	if !ok {
		t.Fatalf("domains list with pending claims:\n%s", out)
	}
	for _, want := range []string{"www.example.com:", "_pier-challenge.www.example.com", token, "CNAME", "blog.pier.test", "example.com:", "192.0.2.7", "pier domains verify HOST --site blog"} {
		if !strings.Contains(todo, want) {
			t.Errorf("pending section lacks %q:\n%s", want, out)
		}
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
	if len(lines) < 3 || !strings.Contains(lines[0], "CERT") || !strings.Contains(lines[1], "example.com") || !strings.Contains(lines[2], "active") {
		t.Errorf("domains list:\n%s", out)
	}
	if _, todo, _ := strings.Cut(out, "To verify"); strings.Contains(todo, "www.example.com") {
		t.Errorf("the active domain is listed as still to verify:\n%s", out)
	}

	// An active domain whose certificate failed: verify still exits 0 but
	// says so.
	retry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := api.api.SetCertStatus(context.Background(), "www.example.com", "failed", "CA said no", retry); err != nil {
		t.Fatal(err)
	}
	if out := api.must(t, adm, "domains", "verify", "www.example.com", "--site", "blog"); !strings.Contains(out, "www.example.com: active, certificate failed: CA said no (retry 2030-01-02 03:04:05Z)") {
		t.Errorf("verify with a failed certificate:\n%s", out)
	}

	// Usage errors and server errors.
	if res := api.pier(t, adm, "domains", "add", "www.example.org"); res.code == 0 || !strings.Contains(res.stderr, "--site") {
		t.Errorf("add without --site: exit %d %s", res.code, res.stderr)
	}
	if res := api.pier(t, adm, "domains", "add", "x.blog.pier.test", "--site", "blog"); res.code == 0 || !strings.Contains(res.stderr, "hostname") {
		t.Errorf("add below the platform domain: exit %d %s", res.code, res.stderr)
	}
	if res := api.pier(t, adm, "domains", "add", "127.0.0.1", "--site", "blog"); res.code == 0 || !strings.Contains(res.stderr, `pier: hostname "127.0.0.1" is an IP address`) {
		t.Errorf("add an IP address: exit %d %s", res.code, res.stderr)
	}

	if out := api.must(t, adm, "domains", "block", "www.example.com", "--site", "blog"); out != "www.example.com on site blog: blocked\n" {
		t.Errorf("block printed %q", out)
	}
	if out := api.must(t, adm, "domains", "unblock", "www.example.com", "--site", "blog"); out != "www.example.com on site blog: pending\n" {
		t.Errorf("unblock printed %q", out)
	}
	if out := api.must(t, adm, "domains", "remove", "WWW.Example.com.", "--site", "blog"); out != "removed www.example.com from site blog\n" {
		t.Errorf("remove printed %q", out)
	}
	if out := api.must(t, adm, "domains", "list", "--site", "blog"); strings.Contains(out, "www.example.com") {
		t.Errorf("list after remove:\n%s", out)
	}
	if res := api.pier(t, adm, "domains", "remove", "www.example.com", "--site", "blog"); res.code == 0 {
		t.Errorf("removing twice succeeded")
	}
}
