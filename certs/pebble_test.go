package certs

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pierhq/pier/certs/pgstorage"
	"github.com/pierhq/pier/internal/testenv"
)

// TestPebbleEndToEnd obtains real certificates from Pebble: on demand
// during a handshake and proactively through Obtain, while junk and
// disallowed names never cause an order or a storage read.
func TestPebbleEndToEnd(t *testing.T) {
	httpLn, tlsLn, httpPort, tlsPort := validationListeners(t)
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddA(t, "www.example.test", "127.0.0.1")
	p.AddA(t, "api.example.test", "127.0.0.1")

	allowed := map[string]bool{"www.example.test": true, "api.example.test": true}
	var allowMu sync.Mutex
	st := &countingStorage{Storage: &certmagic.FileStorage{Path: t.TempDir()}}
	m, err := New(Config{
		Storage:    st,
		CA:         p.Directory,
		CARoot:     p.TLSRoots,
		Email:      "ops@example.test",
		Allow:      func(h string) bool { allowMu.Lock(); defer allowMu.Unlock(); return allowed[h] },
		TenantOf:   func(string) string { return "t1" },
		ListenHost: "127.0.0.1",
		HTTPPort:   httpPort,
		TLSPort:    tlsPort,
		Logger:     quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.Host) })
	httpSrv := &http.Server{Handler: m.HTTPChallengeHandler(site), ErrorLog: slogErrorLog()}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	serveTLS(t, m, tlsLn)
	addr := tlsLn.Addr().String()

	// Junk first: nothing is ordered, nothing is read.
	baseline := runtime.NumGoroutine()
	ops := st.ops.Load()
	// That they fail before anything is ordered or read is what the
	// counts below check (not how long they take: the machine may be busy).
	for _, sni := range []string{"", "junk", "evil.example.test", "www.example.test.evil", "-x.example.test", "127.0.0.1"} {
		conn, err := handshake(addr, sni, p.CertPool)
		if err == nil {
			conn.Close()
			t.Errorf("handshake with SNI %q succeeded", sni)
		}
	}
	var wg sync.WaitGroup
	var succeeded sync.Map
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sni := fmt.Sprintf("junk-%d.example.test", i)
			if i%2 == 0 {
				sni = fmt.Sprintf("x%d..bad", i)
			}
			if conn, err := handshake(addr, sni, p.CertPool); err == nil {
				conn.Close()
				succeeded.Store(sni, true)
			}
		}()
	}
	wg.Wait()
	succeeded.Range(func(k, _ any) bool { t.Errorf("junk handshake %v succeeded", k); return true })
	if n := p.Orders(); n != 0 {
		t.Errorf("Pebble saw %d orders after junk handshakes, want 0", n)
	}
	if n := st.ops.Load() - ops; n != 0 {
		t.Errorf("junk handshakes performed %d storage operations, want 0", n)
	}
	var metrics strings.Builder
	m.WriteMetrics(&metrics)
	for _, want := range []string{`pier_tls_handshakes_refused_total{reason="malformed_sni"} 104`, `pier_tls_handshakes_refused_total{reason="not_allowed"} 102`, "pier_cert_orders_total 0"} {
		if !strings.Contains(metrics.String(), want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, metrics.String())
		}
	}
	waitGoroutines(t, baseline)

	// On demand: the first handshake for an allowed name obtains it.
	conn, err := handshake(addr, "WWW.example.test", p.CertPool)
	if err != nil {
		t.Fatalf("handshake for an allowed name: %v", err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if leaf.DNSNames[0] != "www.example.test" || !strings.Contains(strings.ToLower(leaf.Issuer.CommonName), "pebble") {
		t.Errorf("certificate for %v issued by %q; want www.example.test from Pebble", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1", n)
	}
	if s := m.Status("www.example.test"); s.State != StateActive || s.NotAfter.Before(time.Now().Add(24*time.Hour)) {
		t.Errorf("status = %+v, want active", s)
	}
	// Cached now: no second order.
	conn, err = handshake(addr, "www.example.test", p.CertPool)
	if err != nil {
		t.Fatalf("second handshake: %v", err)
	}
	conn.Close()

	// Proactively, as when a domain becomes active.
	if err := m.Obtain("api.example.test"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, "api.example.test", StateActive)
	if n := p.Orders(); n != 2 {
		t.Errorf("Pebble saw %d orders, want 2", n)
	}
	conn, err = handshake(addr, "api.example.test", p.CertPool)
	if err != nil {
		t.Fatalf("handshake after Obtain: %v", err)
	}
	conn.Close()

	// A name that was allowed and is not any more is no longer served.
	allowMu.Lock()
	delete(allowed, "api.example.test")
	allowMu.Unlock()
	m.Forget("api.example.test")
	if conn, err := handshake(addr, "api.example.test", p.CertPool); err == nil {
		conn.Close()
		t.Error("handshake for a removed name succeeded")
	}
	if n := p.Orders(); n != 2 {
		t.Errorf("Pebble saw %d orders, want still 2", n)
	}
}

// TestPebbleFailureBackoff: a name whose validation fails (its DNS points
// nowhere) is reported failed with a retry time, and handshakes during the
// back-off fail fast without another order.
func TestPebbleFailureBackoff(t *testing.T) {
	httpLn, tlsLn, httpPort, tlsPort := validationListeners(t)
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: tlsPort})
	// No A record for down.example.test: Pebble cannot validate it.
	m, err := New(Config{
		Storage: &certmagic.FileStorage{Path: t.TempDir()},
		CA:      p.Directory, CARoot: p.TLSRoots,
		Allow:      func(h string) bool { return h == "down.example.test" },
		ListenHost: "127.0.0.1", HTTPPort: httpPort, TLSPort: tlsPort,
		RetryBase: time.Hour,
		Logger:    quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	httpSrv := &http.Server{Handler: m.HTTPChallengeHandler(http.NotFoundHandler()), ErrorLog: slogErrorLog()}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	serveTLS(t, m, tlsLn)

	if err := m.Obtain("down.example.test"); err != nil {
		t.Fatal(err)
	}
	s := waitStatus(t, m, "down.example.test", StateFailed)
	if s.Reason == "" || s.NextRetry.Before(time.Now().Add(50*time.Minute)) {
		t.Errorf("failed status = %+v; want a reason and a retry about an hour away", s)
	}
	orders := p.Orders()
	if orders < 1 {
		t.Errorf("Pebble saw %d orders, want at least 1", orders)
	}
	// It fails on the back-off gate (its error names the retry time), not
	// after another order: the order count says so, on any machine.
	if conn, err := handshake(tlsLn.Addr().String(), "down.example.test", p.CertPool); err == nil {
		conn.Close()
		t.Error("handshake for a failed name succeeded")
	}
	if n := p.Orders(); n != orders {
		t.Errorf("orders went from %d to %d during the back-off", orders, n)
	}
}

// waitGoroutines waits for the goroutine count to come back to about
// baseline (idle connections and timers may linger briefly).
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	err := testenv.Poll(testenv.Patience, func() error {
		if n := runtime.NumGoroutine(); n > baseline+5 {
			return fmt.Errorf("%d goroutines, baseline %d", n, baseline)
		}
		return nil
	})
	if err != nil {
		buf := make([]byte, 1<<20)
		t.Fatalf("%v:\n%s", err, buf[:runtime.Stack(buf, true)])
	}
}

// TestPebbleSharedStorageOneOrder: two managers (two nodes) sharing
// PostgreSQL storage obtain the same new name at once; the storage lock
// lets exactly one of them order it, and both serve it.
func TestPebbleSharedStorageOneOrder(t *testing.T) {
	httpLn, tlsLn, httpPort, tlsPort := validationListeners(t)
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddA(t, "shared.example.test", "127.0.0.1")
	pg := testenv.StartPostgres(t)
	pool, err := pgxpool.New(context.Background(), pg.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	var managers []*Manager
	for range 2 {
		st, err := pgstorage.New(context.Background(), pgstorage.Config{Pool: pool, PollInterval: 50 * time.Millisecond, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		m, err := New(Config{
			Storage: st, CA: p.Directory, CARoot: p.TLSRoots,
			Allow:      func(h string) bool { return h == "shared.example.test" },
			ListenHost: "127.0.0.1", HTTPPort: httpPort, TLSPort: tlsPort,
			Logger: quietLogger(),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		managers = append(managers, m)
	}
	// Validation reaches node 0's listeners; node 1's challenges are
	// answered from the shared storage (distributed solving).
	httpSrv := &http.Server{Handler: managers[0].HTTPChallengeHandler(http.NotFoundHandler()), ErrorLog: slogErrorLog()}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	serveTLS(t, managers[0], tlsLn)

	for _, m := range managers {
		if err := m.Obtain("shared.example.test"); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range managers {
		waitStatus(t, m, "shared.example.test", StateActive)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders for one name on two nodes, want 1", n)
	}
	var total int
	for _, m := range managers {
		var b strings.Builder
		if err := m.WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
		var n int
		for _, line := range strings.Split(b.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "pier_cert_orders_total "); ok {
				fmt.Sscan(v, &n)
			}
		}
		total += n
	}
	if total != 1 {
		t.Errorf("pier_cert_orders_total summed over both nodes = %d, want 1", total)
	}
}

// TestPebbleEachChallenge obtains a certificate with only HTTP-01 and with
// only TLS-ALPN-01 allowed, so both validation paths are known to work.
func TestPebbleEachChallenge(t *testing.T) {
	for _, challenge := range []string{"http-01", "tls-alpn-01"} {
		t.Run(challenge, func(t *testing.T) {
			httpLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			httpPort := httpLn.Addr().(*net.TCPAddr).Port
			tlsPort := tlsLn.Addr().(*net.TCPAddr).Port
			p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: tlsPort})
			p.AddA(t, "one.example.test", "127.0.0.1")
			m, err := New(Config{
				Storage: &certmagic.FileStorage{Path: t.TempDir()},
				CA:      p.Directory, CARoot: p.TLSRoots,
				Allow:      func(h string) bool { return h == "one.example.test" },
				ListenHost: "127.0.0.1", HTTPPort: httpPort, TLSPort: tlsPort,
				Logger: quietLogger(),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			var httpHits sync.Map
			site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
			h := m.HTTPChallengeHandler(site)
			httpSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				httpHits.Store(r.URL.Path, true)
				h.ServeHTTP(w, r)
			}), ErrorLog: slogErrorLog()}
			go httpSrv.Serve(httpLn)
			t.Cleanup(func() { httpSrv.Close() })
			serveTLS(t, m, tlsLn)
			if challenge == "http-01" {
				m.acme.DisableTLSALPNChallenge = true
			} else {
				m.acme.DisableHTTPChallenge = true
			}
			conn, err := handshake(tlsLn.Addr().String(), "one.example.test", p.CertPool)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			conn.Close()
			sawHTTP := false
			httpHits.Range(func(k, _ any) bool {
				sawHTTP = sawHTTP || strings.HasPrefix(k.(string), challengePrefix)
				return true
			})
			if sawHTTP != (challenge == "http-01") {
				t.Errorf("HTTP-01 requests seen: %v", sawHTTP)
			}
		})
	}
}

// TestUnreadableStoredCertificateIsReobtained: a stored certificate that
// cannot be parsed is treated as missing and obtained again.
func TestUnreadableStoredCertificateIsReobtained(t *testing.T) {
	fsStore := &certmagic.FileStorage{Path: t.TempDir()}
	allow := func(h string) bool { return h == "site.localhost" }
	m, err := New(Config{Storage: fsStore, Internal: true, Allow: allow, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Obtain("site.localhost"); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, m, "site.localhost", StateActive)
	m.Close()
	key := certmagic.StorageKeys.SiteCert(m.internal.IssuerKey(), "site.localhost")
	if err := fsStore.Store(context.Background(), key, []byte("not a certificate")); err != nil {
		t.Fatal(err)
	}

	m2, err := New(Config{Storage: fsStore, Internal: true, Allow: allow, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if err := m2.Obtain("site.localhost"); err != nil {
		t.Fatal(err)
	}
	// Active on a fresh manager means the repaired certificate loaded.
	waitStatus(t, m2, "site.localhost", StateActive)
	v, err := fsStore.Load(context.Background(), key)
	if err != nil || !strings.HasPrefix(string(v), "-----BEGIN CERTIFICATE") {
		t.Errorf("stored certificate after repair = %.40q, %v", v, err)
	}
}

// renewalRuns numbers TestPebbleRenewal's runs.
var renewalRuns atomic.Int64

// TestPebbleRenewal: a short-lived certificate is renewed by handshakes
// (on-demand maintenance) and the renewed one is served.
func TestPebbleRenewal(t *testing.T) {
	// A name of its own per run: certmagic keeps the issuances in flight
	// per name for the whole process, and the renewal a handshake of an
	// earlier run (-count) started outlives its Manager, retrying against
	// that run's stopped Pebble for a minute and more; a handshake for the
	// same name would wait for it.
	name := fmt.Sprintf("renew%d.example.test", renewalRuns.Add(1))
	httpLn, tlsLn, httpPort, tlsPort := validationListeners(t)
	p := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: tlsPort, ShortLived: time.Minute})
	p.AddA(t, name, "127.0.0.1")
	m, err := New(Config{
		Storage: &certmagic.FileStorage{Path: renewalStorageDir(t)},
		CA:      p.Directory, CARoot: p.TLSRoots, ACMEProfile: "shortlived",
		Allow:      func(h string) bool { return h == name },
		ListenHost: "127.0.0.1", HTTPPort: httpPort, TLSPort: tlsPort,
		Logger: quietLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	httpSrv := &http.Server{Handler: m.HTTPChallengeHandler(http.NotFoundHandler()), ErrorLog: slogErrorLog()}
	go httpSrv.Serve(httpLn)
	t.Cleanup(func() { httpSrv.Close() })
	serveTLS(t, m, tlsLn)

	serial := func() string {
		conn, err := handshake(tlsLn.Addr().String(), name, p.CertPool)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		leaf := conn.ConnectionState().PeerCertificates[0]
		if leaf.NotAfter.Sub(leaf.NotBefore) > 2*time.Minute {
			t.Fatalf("certificate valid %v; want the short-lived profile", leaf.NotAfter.Sub(leaf.NotBefore))
		}
		return leaf.SerialNumber.String()
	}
	first := serial()
	// It is renewed within its minute (a busy machine only delays when),
	// and served once issued, or after expiry by the handshake that
	// obtains it.
	testenv.WaitFor(t, testenv.Patience, func() error {
		if serial() == first {
			return fmt.Errorf("the short-lived certificate was not renewed; status %+v", m.Status(name))
		}
		return nil
	})
	if s := m.Status(name); s.State != StateActive {
		t.Errorf("status after renewal = %+v", s)
	}
}

// validationListeners opens the loopback listeners Pebble's HTTP-01 and
// TLS-ALPN-01 validations are pointed at.
func validationListeners(t *testing.T) (httpLn, tlsLn net.Listener, httpPort, tlsPort int) {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { httpLn.Close() })
	tlsLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tlsLn.Close() })
	return httpLn, tlsLn, httpLn.Addr().(*net.TCPAddr).Port, tlsLn.Addr().(*net.TCPAddr).Port
}

// renewalStorageDir is a storage directory for tests whose certificates
// certmagic renews on its own: a renewal a handshake started may still be
// writing when the test's Manager has closed (certmagic does not let its
// on-demand renewals be waited for), so removal is retried for a while
// rather than failing the test as t.TempDir's cleanup would.
func renewalStorageDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pier-certs-renewal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; ; i++ {
			err := os.RemoveAll(dir)
			if err == nil || i == 50 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}
