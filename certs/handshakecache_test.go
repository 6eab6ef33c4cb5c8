package certs

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/pierhq/pier/internal/testenv"
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
	busy := func() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.obtaining[name] }
	testenv.WaitFor(tb, testenv.Patience, func() error {
		if s := m.Status(name); s.State != StateActive || busy() {
			return fmt.Errorf("%s not active (or its order not over): %+v", name, s)
		}
		return nil
	})
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
	// The memo's last entry for the old certificate is from before now.
	lastPut := time.Now()
	m.Forget(name)
	if err := m.deleteStored(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	if err := m.Obtain(name); err != nil {
		t.Fatal(err)
	}
	waitActive(t, m, name)
	// A lookup that starts more than handshakeMemoTTL after the old
	// certificate's last memo entry must get the new one: a busy machine
	// can only make lookups start later, never make this fail.
	testenv.WaitFor(t, testenv.Patience, func() error {
		start := time.Now()
		c, err := get(hello)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c.Certificate[0], first.Certificate[0]) {
			return nil
		}
		if stale := start.Sub(lastPut); stale > handshakeMemoTTL {
			t.Fatalf("the replaced certificate is still served %v after its last memo entry, want ≤ %v", stale, handshakeMemoTTL)
		}
		return errors.New("the replaced certificate is still served")
	})

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
