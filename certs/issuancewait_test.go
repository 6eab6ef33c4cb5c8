package certs

import (
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
)

// deadlineConn records the deadlines a handshake sets on it.
type deadlineConn struct {
	net.Conn
	mu        sync.Mutex
	deadlines []time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadlines = append(c.deadlines, t)
	return nil
}

func newDeadlineConn(t *testing.T) *deadlineConn {
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &deadlineConn{Conn: a}
}

func (c *deadlineConn) set() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.deadlines...)
}

// TestHandshakeWaitsForIssuance: a handshake for an allowed name with no
// certificate in memory gets IssuanceWait to see the issuance through (the
// HTTP server's own handshake deadline is its short header timeout); one
// served from memory, or refused, leaves the connection's deadline alone;
// once the certificate is there the rest of the handshake gets only
// handshakeRest.
func TestHandshakeWaitsForIssuance(t *testing.T) {
	t.Parallel()
	const name = "site.localhost"
	m := newMemoTestManager(t, func(h string) bool { return h == name })
	get := m.TLSConfig().GetCertificate

	refused := newDeadlineConn(t)
	if _, err := get(&tls.ClientHelloInfo{ServerName: "other.localhost", Conn: refused}); err == nil {
		t.Fatal("a disallowed name got a certificate")
	}
	if d := refused.set(); len(d) != 0 {
		t.Errorf("a refused handshake extended its deadline: %v", d)
	}

	first := newDeadlineConn(t)
	before := time.Now()
	if _, err := get(&tls.ClientHelloInfo{ServerName: name, Conn: first}); err != nil {
		t.Fatal(err)
	}
	d := first.set()
	if len(d) != 2 || d[0].Before(before.Add(DefaultIssuanceWait)) {
		t.Fatalf("first handshake's deadlines %v, want one at least %v ahead, then a shorter one", d, DefaultIssuanceWait)
	}
	if !d[1].Before(d[0]) || d[1].After(time.Now().Add(handshakeRest)) {
		t.Errorf("once the certificate is there the deadline is %v, want at most %v ahead", d[1], handshakeRest)
	}

	again := newDeadlineConn(t)
	if _, err := get(&tls.ClientHelloInfo{ServerName: name, Conn: again}); err != nil {
		t.Fatal(err)
	}
	if d := again.set(); len(d) != 0 {
		t.Errorf("a handshake served from memory changed its deadline: %v", d)
	}
}
