package certs

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/pierhq/pier/certs/dnshook"
	"github.com/pierhq/pier/internal/testenv"
)

// TestPebbleWildcardDNS01: the manager obtains *.example.test from Pebble
// through DNS-01 (webhook → challtestsrv), and serves every name directly
// under it from memory — sites and previews — without asking Allow, a
// tenant or the CA again; deeper names are not covered.
func TestPebbleWildcardDNS01(t *testing.T) {
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn.Close() // nothing answers HTTP-01: only DNS-01 can succeed
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpLn.Addr().(*net.TCPAddr).Port, TLSPort: tlsLn.Addr().(*net.TCPAddr).Port})
	resolver := p.ZoneResolver(t, "example.test")
	hook := p.NewDNSHook("pier", "hook-secret")
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	provider, err := dnshook.New(dnshook.Config{URL: hookSrv.URL + "/hook", Username: "pier", Password: "hook-secret"})
	if err != nil {
		t.Fatal(err)
	}

	var allowCalls, tenantCalls atomic.Int64
	st := &countingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	m, err := New(Config{
		Storage:        st,
		CA:             p.Directory,
		CARoot:         p.TLSRoots,
		Wildcards:      []string{"*.Example.test"},
		DNS01Provider:  provider,
		DNS01Resolvers: []string{resolver},
		Allow:          func(string) bool { allowCalls.Add(1); return false },
		TenantOf:       func(string) string { tenantCalls.Add(1); return "t1" },
		ListenHost:     "127.0.0.1",
		Logger:         quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	serveTLS(t, m, tlsLn)
	addr := tlsLn.Addr().String()

	s := waitStatus(t, m, "*.example.test", StateActive)
	if s.NotAfter.IsZero() {
		t.Errorf("wildcard status = %+v", s)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1 (the wildcard)", n)
	}
	if got := hook.Calls(); len(got) != 2 || got[0] != "present _acme-challenge.example.test." || got[1] != "cleanup _acme-challenge.example.test." {
		t.Errorf("webhook calls = %q, want present then cleanup of _acme-challenge.example.test.", got)
	}

	allowBefore, opsBefore := allowCalls.Load(), st.ops.Load()
	for _, sni := range []string{"blog.example.test", "abc--blog.example.test", "BLOG.example.test", "no-such-site.example.test"} {
		conn, err := handshake(addr, sni, p.CertPool)
		if err != nil {
			t.Fatalf("handshake for %s: %v", sni, err)
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "*.example.test" {
			t.Errorf("%s served a certificate for %v, want *.example.test", sni, leaf.DNSNames)
		}
	}
	if n := allowCalls.Load() - allowBefore; n != 0 {
		t.Errorf("Allow called %d times for names under the wildcard", n)
	}
	if n := st.ops.Load() - opsBefore; n != 0 {
		t.Errorf("handshakes under the wildcard performed %d storage operations, want 0", n)
	}
	if n := tenantCalls.Load(); n != 0 {
		t.Errorf("TenantOf called %d times: the wildcard is charged to no tenant", n)
	}
	if s := m.Status("blog.example.test"); s.State != StateActive {
		t.Errorf("status of a name under the wildcard = %+v", s)
	}
	// Not covered: deeper names, the apex, other domains. Allow says no,
	// so nothing is ordered.
	for _, sni := range []string{"a.blog.example.test", "example.test", "blog.example.org"} {
		if conn, err := handshake(addr, sni, p.CertPool); err == nil {
			conn.Close()
			t.Errorf("handshake for %s succeeded", sni)
		}
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want still 1", n)
	}
	var metrics strings.Builder
	m.WriteMetrics(&metrics)
	for _, want := range []string{"pier_cert_orders_total 1\n", "pier_cert_obtained_total 1\n"} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics.String())
		}
	}

	// A second manager on the same storage (a restart, another node) loads
	// the stored wildcard without ordering.
	m.Close()
	m2, err := New(Config{
		Storage: st, CA: p.Directory, CARoot: p.TLSRoots,
		Wildcards: []string{"*.example.test"}, DNS01Provider: provider, DNS01Resolvers: []string{resolver},
		Allow: func(string) bool { return false }, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	waitStatus(t, m2, "*.example.test", StateActive)
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders after a restart, want still 1", n)
	}

	// A stored wildcard that cannot be read is obtained again at start.
	m2.Close()
	key := certmagic.StorageKeys.SiteCert(m2.wild.Issuers[0].IssuerKey(), "*.example.test")
	if err := st.Store(context.Background(), key, []byte("not a certificate")); err != nil {
		t.Fatal(err)
	}
	m3, err := New(Config{
		Storage: st, CA: p.Directory, CARoot: p.TLSRoots,
		Wildcards: []string{"*.example.test"}, DNS01Provider: provider, DNS01Resolvers: []string{resolver},
		Allow: func(string) bool { return false }, Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	waitStatus(t, m3, "*.example.test", StateActive)
	if n := p.Orders(); n != 2 {
		t.Errorf("Pebble saw %d orders after the stored wildcard was corrupted, want 2", n)
	}
	if v, err := st.Load(context.Background(), key); err != nil || !strings.HasPrefix(string(v), "-----BEGIN CERTIFICATE") {
		t.Errorf("stored wildcard after repair = %.40q, %v", v, err)
	}
}

// TestWildcardBeforeObtained: until the wildcard is obtained, names under
// it fail the handshake at once without Allow, a storage read or a
// per-name order; a DNS-01 failure is reported with the hook's answer.
func TestWildcardBeforeObtained(t *testing.T) {
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such zone", http.StatusUnprocessableEntity)
	}))
	defer hookSrv.Close()
	provider, err := dnshook.New(dnshook.Config{URL: hookSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer httpLn.Close()
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpLn.Addr().(*net.TCPAddr).Port, TLSPort: tlsLn.Addr().(*net.TCPAddr).Port})
	resolver := p.ZoneResolver(t, "example.test")
	var allowCalls atomic.Int64
	st := &countingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	m, err := New(Config{
		Storage: st, CA: p.Directory, CARoot: p.TLSRoots,
		Wildcards: []string{"*.example.test"}, DNS01Provider: provider, DNS01Resolvers: []string{resolver},
		Allow:  func(string) bool { allowCalls.Add(1); return true },
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	serveTLS(t, m, tlsLn)
	s := waitStatus(t, m, "*.example.test", StateFailed)
	if !strings.Contains(s.Reason, "422") || !strings.Contains(s.Reason, "no such zone") {
		t.Errorf("failure reason %q does not quote the webhook's answer", s.Reason)
	}
	orders, ops := p.Orders(), st.ops.Load()
	for i := range 20 {
		if conn, err := handshake(tlsLn.Addr().String(), fmt.Sprintf("site%d.example.test", i), p.CertPool); err == nil {
			conn.Close()
			t.Fatal("handshake succeeded without a wildcard certificate")
		}
	}
	if n := allowCalls.Load(); n != 0 {
		t.Errorf("Allow called %d times for names under the wildcard", n)
	}
	if n := st.ops.Load() - ops; n != 0 {
		t.Errorf("%d storage operations during handshakes", n)
	}
	if n := p.Orders(); n != orders {
		t.Errorf("orders went from %d to %d: names under the wildcard were ordered one by one", orders, n)
	}
}

func TestWildcardConfig(t *testing.T) {
	t.Parallel()
	provider, _ := dnshook.New(dnshook.Config{URL: "http://127.0.0.1:1"})
	for name, cfg := range map[string]Config{
		"no provider":    {Wildcards: []string{"*.example.com"}},
		"internal":       {Wildcards: []string{"*.example.com"}, DNS01Provider: provider, Internal: true},
		"not a wildcard": {Wildcards: []string{"example.com"}, DNS01Provider: provider},
		"too short":      {Wildcards: []string{"*.localhost"}, DNS01Provider: provider},
		"bad name":       {Wildcards: []string{"*.exa mple.com"}, DNS01Provider: provider},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg.DataDir = t.TempDir()
			cfg.Allow = func(string) bool { return false }
			cfg.Logger = quietLogger()
			if m, err := New(cfg); err == nil {
				m.Close()
				t.Errorf("New(%+v) succeeded", cfg.Wildcards)
			}
		})
	}
}

// TestPebbleWildcardRenewal: a short-lived wildcard is renewed by
// certmagic's maintenance through DNS-01 (the wildcard config, not the
// on-demand one) and the renewed certificate is served.
func TestPebbleWildcardRenewal(t *testing.T) {
	tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer httpLn.Close()
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpLn.Addr().(*net.TCPAddr).Port, TLSPort: tlsLn.Addr().(*net.TCPAddr).Port, ShortLived: time.Minute})
	resolver := p.ZoneResolver(t, "example.test")
	hook := p.NewDNSHook("", "")
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	provider, err := dnshook.New(dnshook.Config{URL: hookSrv.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{
		Storage: &certmagic.FileStorage{Path: renewalStorageDir(t)},
		CA:      p.Directory, CARoot: p.TLSRoots, ACMEProfile: "shortlived",
		Wildcards: []string{"*.example.test"}, DNS01Provider: provider, DNS01Resolvers: []string{resolver},
		Allow:      func(string) bool { return false },
		Logger:     quietLogger(),
		renewCheck: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	serveTLS(t, m, tlsLn)
	waitStatus(t, m, "*.example.test", StateActive)

	// serial is the serial of the certificate served for a name under the
	// wildcard ("" when the handshake fails, e.g. while an expired one is
	// still served on a busy machine).
	serial := func() string {
		conn, err := handshake(tlsLn.Addr().String(), "blog.example.test", p.CertPool)
		if err != nil {
			return ""
		}
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		if leaf.NotAfter.Sub(leaf.NotBefore) > 2*time.Minute || leaf.DNSNames[0] != "*.example.test" {
			t.Fatalf("served %v valid %v; want the short-lived wildcard", leaf.DNSNames, leaf.NotAfter.Sub(leaf.NotBefore))
		}
		return leaf.SerialNumber.String()
	}
	first := serial()
	if first == "" {
		t.Fatal("no handshake with the new wildcard")
	}
	deadline := time.Now().Add(2 * time.Minute)
	for s := first; s == first || s == ""; s = serial() {
		if time.Now().After(deadline) {
			t.Fatalf("the short-lived wildcard was not renewed; status %+v", m.Status("*.example.test"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	if s := m.Status("*.example.test"); s.State != StateActive {
		t.Errorf("status after renewal = %+v", s)
	}
	// Pebble may reuse the valid authorization, so the renewal need not
	// call the webhook again; it is a second order all the same.
	if n := p.Orders(); n < 2 {
		t.Errorf("Pebble saw %d orders, want the order and the renewal", n)
	}
}
