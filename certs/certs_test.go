package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/pierhq/pier/internal/testenv"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{"www.example.com", "www.example.com", true},
		{"WWW.Example.COM.", "www.example.com", true},
		{"xn--bcher-kva.example", "xn--bcher-kva.example", true},
		{"site.localhost", "site.localhost", true},
		{"localhost", "", false},
		{"", "", false},
		{".", "", false},
		{"a..b", "", false},
		{"-a.example", "", false},
		{"a-.example", "", false},
		{"*.example.com", "", false},
		{"127.0.0.1", "", false},
		{"exa mple.com", "", false},
		{"bücher.example", "", false},
		{strings.Repeat("a", 64) + ".example", "", false},
		{strings.Repeat("a.", 127) + "com", "", false},
	} {
		got, ok := Normalize(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := newBudget(&certmagic.FileStorage{Path: t.TempDir()}, quietLogger(), 3, 2, time.Minute, 4*time.Minute, clock)
	ctx := context.Background()

	for _, name := range []string{"a.t1.test", "b.t1.test"} {
		if ok, reason, _ := b.take(ctx, name, "t1"); !ok {
			t.Fatalf("take(%s) refused: %s", name, reason)
		}
	}
	ok, reason, retry := b.take(ctx, "c.t1.test", "t1")
	if ok || !strings.Contains(reason, "tenant") || !retry.Equal(now.Add(time.Hour)) {
		t.Fatalf("third order of t1 = %v %q %v; want refused by the tenant budget until %v", ok, reason, retry, now.Add(time.Hour))
	}
	if st := b.snapshot("c.t1.test"); st.state != StateFailed || st.reason != reason {
		t.Errorf("refused name's state = %+v", st)
	}
	if ok, _, _ := b.take(ctx, "x.t2.test", "t2"); !ok {
		t.Fatal("another tenant's order refused")
	}
	if ok, reason, _ := b.take(ctx, "y.t3.test", "t3"); ok || !strings.Contains(reason, "global") {
		t.Fatalf("fourth order = %v %q; want refused by the global budget", ok, reason)
	}
	now = now.Add(time.Hour + time.Second)
	if ok, reason, _ := b.take(ctx, "y.t3.test", "t3"); !ok {
		t.Fatalf("order after the window refused: %s", reason)
	}

	// Back-off doubles up to the maximum, and a success resets it.
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute}
	for i, w := range want {
		got := b.failed("f.test", "boom")
		if !got.Equal(now.Add(w)) {
			t.Errorf("failure %d: next retry %v, want %v", i+1, got.Sub(now), w)
		}
		if !b.backedOff("f.test") {
			t.Errorf("failure %d: not backed off", i+1)
		}
		if ok, _, _ := b.take(ctx, "f.test", ""); ok {
			t.Errorf("failure %d: backed-off name could order", i+1)
		}
	}
	now = now.Add(5 * time.Minute)
	if b.backedOff("f.test") {
		t.Error("still backed off after the retry time")
	}
	b.succeeded("f.test")
	if got := b.failed("f.test", "boom"); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("after a success the back-off restarts at %v, got %v", time.Minute, got.Sub(now))
	}
}

// countingStorage counts the storage operations certmagic performs.
type countingStorage struct {
	certmagic.Storage
	ops atomic.Int64
}

func (s *countingStorage) Load(ctx context.Context, k string) ([]byte, error) {
	s.ops.Add(1)
	return s.Storage.Load(ctx, k)
}

func (s *countingStorage) Exists(ctx context.Context, k string) bool {
	s.ops.Add(1)
	return s.Storage.Exists(ctx, k)
}

func (s *countingStorage) Stat(ctx context.Context, k string) (certmagic.KeyInfo, error) {
	s.ops.Add(1)
	return s.Storage.Stat(ctx, k)
}

func (s *countingStorage) List(ctx context.Context, p string, r bool) ([]string, error) {
	s.ops.Add(1)
	return s.Storage.List(ctx, p, r)
}

func (s *countingStorage) Lock(ctx context.Context, k string) error {
	s.ops.Add(1)
	return s.Storage.Lock(ctx, k)
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// serveTLS serves "hello <host>" over TLS with m's configuration.
func serveTLS(t *testing.T, m *Manager, ln net.Listener) {
	t.Helper()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello "+r.Host)
		}),
		TLSConfig: m.TLSConfig(),
	}
	srv.ErrorLog = slogErrorLog()
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

// handshake connects to addr with SNI serverName, trusting roots. An
// allowed name's first handshake waits for its certificate to be issued
// (an ACME order, on a busy machine), hence testenv.Patience; refused
// names fail at once.
func handshake(addr, serverName string, roots *x509.CertPool) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: testenv.Patience}
	return tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: serverName, RootCAs: roots, NextProtos: []string{"http/1.1"}})
}

func TestInternalIssuer(t *testing.T) {
	st := &countingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	allowed := map[string]bool{"site.localhost": true}
	var changedMu sync.Mutex
	changed := map[string]int{}
	m, err := New(Config{
		Storage:  st,
		Internal: true,
		Allow:    func(h string) bool { return allowed[h] },
		OnChange: func(h string) { changedMu.Lock(); changed[h]++; changedMu.Unlock() },
		Logger:   quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rootPEM := m.InternalRootPEM()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("InternalRootPEM holds no certificate")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveTLS(t, m, ln)
	addr := ln.Addr().String()

	if s := m.Status("site.localhost"); s.State != StateNone {
		t.Errorf("status before any handshake = %+v, want none", s)
	}
	if m.HasCertificate("site.localhost") {
		t.Error("HasCertificate before any handshake")
	}
	client := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots}, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}}
	resp, err := client.Get("https://site.localhost/")
	if err != nil {
		t.Fatalf("GET over TLS with on-demand internal certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello site.localhost" {
		t.Errorf("body = %q", body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	if leaf.Issuer.CommonName == "" || !strings.HasPrefix(leaf.Issuer.CommonName, "Pier Local CA") || leaf.DNSNames[0] != "site.localhost" {
		t.Errorf("leaf issuer %q names %v", leaf.Issuer.CommonName, leaf.DNSNames)
	}
	if !m.HasCertificate("SITE.localhost") || m.HasCertificate("other.localhost") {
		t.Error("HasCertificate does not follow the certificates in memory")
	}
	// Go's client strips a trailing dot; other clients may not.
	if _, err := m.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: "Site.Localhost."}); err != nil {
		t.Errorf("SNI in mixed case with a trailing dot: %v", err)
	}
	if resp.TLS.NegotiatedProtocol != "h2" {
		t.Errorf("negotiated %q, want h2", resp.TLS.NegotiatedProtocol)
	}
	if s := m.Status("site.localhost"); s.State != StateActive || s.NotAfter.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("status after issuance = %+v, want active for about a week", s)
	}

	// Malformed, missing and disallowed names fail without touching storage.
	before := st.ops.Load()
	for _, sni := range []string{"other.localhost", "junk", "", "a..b", "127.0.0.1", strings.Repeat("x", 300) + ".test"} {
		conn, err := handshake(addr, sni, roots)
		if err == nil {
			conn.Close()
			t.Errorf("handshake with SNI %q succeeded", sni)
		}
	}
	if n := st.ops.Load() - before; n != 0 {
		t.Errorf("junk handshakes performed %d storage operations, want 0", n)
	}
	if err := m.Obtain("other.localhost"); !errors.Is(err, ErrNotAllowed) {
		t.Errorf("Obtain(disallowed) = %v, want ErrNotAllowed", err)
	}
	changedMu.Lock()
	if changed["site.localhost"] == 0 || len(changed) != 1 {
		t.Errorf("OnChange saw %v; want site.localhost (issued on demand) and nothing else", changed)
	}
	changedMu.Unlock()

	// A second manager on the same storage keeps the same root and loads
	// the stored certificate proactively through Obtain.
	m2, err := New(Config{Storage: st.Storage, Internal: true, Allow: func(h string) bool { return allowed[h] }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if string(m2.InternalRootPEM()) != string(rootPEM) {
		t.Error("second manager on the same storage created another root")
	}
	if err := m2.Obtain("SITE.localhost."); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m2, "site.localhost", StateActive)
}

func waitStatus(t *testing.T, m *Manager, host, want string) Status {
	t.Helper()
	var s Status
	testenv.WaitFor(t, testenv.Patience, func() error {
		if s = m.Status(host); s.State != want {
			return fmt.Errorf("status of %s = %+v, want %s", host, s, want)
		}
		return nil
	})
	return s
}

func TestHTTPChallengeHandlerGates(t *testing.T) {
	st := &countingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	m, err := New(Config{Storage: st, CA: "https://127.0.0.1:1/dir", Allow: func(h string) bool { return h == "ok.example" }, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var nextCalls atomic.Int64
	h := m.HTTPChallengeHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nextCalls.Add(1)
		io.WriteString(w, "site")
	}))
	for _, c := range []struct {
		host, path string
		status     int
		next       bool
	}{
		{"ok.example", "/index.html", 200, true},
		{"evil.example", "/.well-known/acme-challenge/abc", 404, false},
		{"bad host", "/.well-known/acme-challenge/abc", 404, false},
		{"ok.example:80", "/.well-known/acme-challenge/unknowntoken", 404, false},
	} {
		before := nextCalls.Load()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "http://x"+c.path, nil)
		req.Host = c.host
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || (nextCalls.Load() > before) != c.next {
			t.Errorf("%s%s: status %d next %v; want %d %v", c.host, c.path, rec.Code, nextCalls.Load() > before, c.status, c.next)
		}
	}
}

func slogErrorLog() *log.Logger { return slog.NewLogLogger(quietLogger().Handler(), slog.LevelError) }

// BenchmarkHandshakeCached measures a full TLS handshake for a name whose
// certificate is in memory (the edge's hot path).
func BenchmarkHandshakeCached(b *testing.B) {
	m, err := New(Config{
		Storage:  &certmagic.FileStorage{Path: b.TempDir()},
		Internal: true,
		Allow:    func(h string) bool { return h == "site.localhost" },
		Logger:   quietLogger(),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(m.InternalRootPEM())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	cfg := m.TLSConfig()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, cfg)
				tc.Handshake()
				tc.Close()
			}()
		}
	}()
	conn, err := handshake(ln.Addr().String(), "site.localhost", roots)
	if err != nil {
		b.Fatal(err)
	}
	conn.Close()
	b.ResetTimer()
	for range b.N {
		conn, err := handshake(ln.Addr().String(), "site.localhost", roots)
		if err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}
