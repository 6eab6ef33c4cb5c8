package certs

import (
	"bytes"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

func newMemoTestManager(tb testing.TB, allow func(string) bool) *Manager {
	tb.Helper()
	m, err := New(Config{
		Storage:  &certmagic.FileStorage{Path: tb.TempDir()},
		Internal: true,
		Allow:    allow,
		Logger:   quietLogger(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// waitActive waits until name's certificate is loaded and its order is
// over (so that Obtain starts a new one).
func waitActive(tb testing.TB, m *Manager, name string) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	busy := func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.obtaining[name] }
	for m.Status(name).State != StateActive || busy() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s not active: %+v", name, m.Status(name))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHandshakeMemo: a name's certificate is reused across handshakes for
// at most handshakeMemoTTL, and only while Allow accepts the name.
func TestHandshakeMemo(t *testing.T) {
	const name = "site.localhost"
	var allowed atomic.Bool
	allowed.Store(true)
	m := newMemoTestManager(t, func(h string) bool { return h == name && allowed.Load() })
	if err := m.Obtain(name); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, name)
	get := m.TLSConfig().GetCertificate
	hello := &tls.ClientHelloInfo{ServerName: "Site.Localhost"}
	first, err := get(hello)
	if err != nil {
		t.Fatal(err)
	}

	// Disallowed: refused at once, counted, despite the memo.
	allowed.Store(false)
	if _, err := get(hello); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("disallowed name: err = %v, want ErrNotAllowed", err)
	}
	if n := m.count.refusedDisallow.Load(); n != 1 {
		t.Errorf("refused not_allowed = %d, want 1", n)
	}
	allowed.Store(true)

	// Replace the certificate (as a renewal would): the old one may be
	// served for up to the TTL, then the new one.
	if _, err := get(hello); err != nil {
		t.Fatal(err)
	}
	m.Forget(name)
	if err := m.deleteStored(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	if err := m.Obtain(name); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, name)
	replaced := time.Now()
	deadline := replaced.Add(handshakeMemoTTL + 5*time.Second)
	for {
		c, err := get(hello)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Certificate[0], first.Certificate[0]) {
			if d := time.Since(replaced); d > handshakeMemoTTL+500*time.Millisecond {
				t.Errorf("new certificate served %v after it was loaded, want ≤ %v", d, handshakeMemoTTL)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate is still served")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Malformed names and TLS-ALPN-01 challenges never use the memo.
	if _, err := get(&tls.ClientHelloInfo{ServerName: "junk"}); !errors.Is(err, ErrMalformedName) {
		t.Errorf("malformed name: err = %v", err)
	}
}

// BenchmarkGetCertificateCached is the certificate lookup of one handshake
// for a name whose certificate is in memory: TLSConfig's GetCertificate
// alone, without the cryptography.
func BenchmarkGetCertificateCached(b *testing.B) {
	m := newMemoTestManager(b, func(h string) bool { return h == "site.localhost" })
	if err := m.Obtain("site.localhost"); err != nil {
		b.Fatal(err)
	}
	waitActive(b, m, "site.localhost")
	get := m.TLSConfig().GetCertificate
	hello := &tls.ClientHelloInfo{ServerName: "site.localhost", SupportedProtos: []string{"h2", "http/1.1"}}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if c, err := get(hello); err != nil || c == nil {
			b.Fatal(err)
		}
	}
}
