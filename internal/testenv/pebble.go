package testenv

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/pebbleconf"
)

// Pebble is a running Pebble ACME CA with a pebble-challtestsrv DNS server
// that Pebble resolves names through.
type Pebble struct {
	// Directory is the ACME directory URL (https://127.0.0.1:PORT/dir).
	Directory string
	// TLSRoots trusts the certificate Pebble's ACME and management
	// listeners present (generated for the run); an ACME client needs it.
	TLSRoots *x509.CertPool
	// TLSRootPEM is TLSRoots' certificate, PEM-encoded (for a file flag
	// such as --acme-ca-root).
	TLSRootPEM []byte
	// RootPEM is the root of the certificates Pebble issues (fetched from
	// its management API's /roots/0); CertPool trusts it.
	RootPEM  []byte
	CertPool *x509.CertPool
	// DNS is challtestsrv's DNS address (udp and tcp), for resolvers
	// under test.
	DNS string
	// Management is Pebble's management API base URL.
	Management string
	// ChallSrv is challtestsrv's management API base URL.
	ChallSrv string

	pebbleOut *orderCounter
	client    *http.Client
}

// PebbleOptions sets where Pebble's validation connects: HTTPPort for
// HTTP-01, TLSPort for TLS-ALPN-01 (on the address challtestsrv resolves
// the name to). Both are required: they are the test's own listeners.
type PebbleOptions struct {
	HTTPPort, TLSPort int
	// ShortLived, if set, adds a "shortlived" certificate profile with
	// this validity (renewal tests). Pebble gives orders that name no
	// profile a random one, so clients must then name theirs.
	ShortLived time.Duration
}

// pebbleStartTimeout bounds how long StartPebble waits for the servers.
const pebbleStartTimeout = Patience

// StartPebble starts pebble-challtestsrv (DNS only, no default A/AAAA
// answer) and Pebble on free loopback ports, Pebble resolving through
// challtestsrv, validating with no sleep (PEBBLE_VA_NOSLEEP=1) and with
// its default nonce rejection on, and stops both when tb ends.
//
// The binaries are $PIER_TEST_PEBBLE_BIN and
// $PIER_TEST_CHALLTESTSRV_BIN, else <repo root>/.cache/bin/pebble and
// pebble-challtestsrv (where `make test` builds them), else PATH; if
// either is missing the test skips (or fails under
// PIER_TEST_REQUIRE_SERVERS=1).
func StartPebble(tb testing.TB, opts PebbleOptions) *Pebble {
	tb.Helper()
	if opts.HTTPPort == 0 || opts.TLSPort == 0 {
		tb.Fatalf("testenv: pebble: PebbleOptions.HTTPPort and TLSPort are required")
	}
	pebbleBin := findBinary("PIER_TEST_PEBBLE_BIN", "pebble")
	challBin := findBinary("PIER_TEST_CHALLTESTSRV_BIN", "pebble-challtestsrv")
	if pebbleBin == "" || challBin == "" {
		missing(tb, "pebble or pebble-challtestsrv binary not found (set PIER_TEST_PEBBLE_BIN and PIER_TEST_CHALLTESTSRV_BIN, or run `make test`, which builds them into .cache/bin)")
	}
	dir := tb.TempDir()
	cert, certPEM, keyPEM, err := pebbleconf.LoopbackCert("pier testenv pebble", time.Now(), 24*time.Hour)
	if err != nil {
		tb.Fatalf("testenv: pebble: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		tb.Fatalf("testenv: pebble: %v", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		tb.Fatalf("testenv: pebble: %v", err)
	}
	p := &Pebble{
		TLSRoots:   pool,
		TLSRootPEM: certPEM,
		// Generous: challtestsrv and Pebble answer at once unless the
		// machine is busy.
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool},
		}},
	}

	var lastErr error
	for range 3 {
		ports, err := freePorts(4)
		if err != nil {
			tb.Fatalf("testenv: pebble: %v", err)
		}
		dnsAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
		challMgmt := "127.0.0.1:" + strconv.Itoa(ports[1])
		stopChall, err := startProcess(challBin, nil, nil, func(exited <-chan struct{}) error {
			return waitTCP(challMgmt, exited)
		},
			"-dnsserver", dnsAddr, "-management", challMgmt,
			"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
			"-defaultIPv4", "", "-defaultIPv6", "")
		if err != nil {
			lastErr = fmt.Errorf("pebble-challtestsrv: %w", err)
			continue
		}
		listen := "127.0.0.1:" + strconv.Itoa(ports[2])
		mgmt := "127.0.0.1:" + strconv.Itoa(ports[3])
		cfgFile := filepath.Join(dir, "pebble-config.json")
		cfg, err := pebbleconf.Config{
			Listen: listen, Management: mgmt, CertFile: certFile, KeyFile: keyFile,
			HTTPPort: opts.HTTPPort, TLSPort: opts.TLSPort, ShortLived: opts.ShortLived,
		}.JSON()
		if err == nil {
			err = os.WriteFile(cfgFile, cfg, 0o600)
		}
		if err != nil {
			stopChall()
			tb.Fatalf("testenv: pebble: %v", err)
		}
		counter := &orderCounter{}
		stopPebble, err := startProcess(pebbleBin, []string{"PEBBLE_VA_NOSLEEP=1"}, counter, func(exited <-chan struct{}) error {
			return waitHTTP(p.client, "https://"+mgmt+"/roots/0", "https://"+listen+"/dir", exited)
		}, "-config", cfgFile, "-dnsserver", dnsAddr)
		if err != nil {
			stopChall()
			lastErr = fmt.Errorf("pebble: %w", err)
			continue
		}
		tb.Cleanup(func() {
			stopPebble()
			stopChall()
		})
		p.Directory = "https://" + listen + "/dir"
		p.Management = "https://" + mgmt
		p.ChallSrv = "http://" + challMgmt
		p.DNS = dnsAddr
		p.pebbleOut = counter
		root, err := p.get("/roots/0")
		if err != nil {
			tb.Fatalf("testenv: pebble: fetching root: %v", err)
		}
		p.RootPEM = root
		p.CertPool = x509.NewCertPool()
		if !p.CertPool.AppendCertsFromPEM(root) {
			tb.Fatalf("testenv: pebble: /roots/0 is not PEM: %q", root)
		}
		return p
	}
	tb.Fatalf("testenv: pebble: %v", lastErr)
	return nil
}

// Orders is how many orders Pebble has created so far (counted from its
// log).
func (p *Pebble) Orders() int { return p.pebbleOut.count() }

// AddA makes challtestsrv answer A queries for host with addrs.
func (p *Pebble) AddA(tb testing.TB, host string, addrs ...string) {
	tb.Helper()
	p.post(tb, "/add-a", map[string]any{"host": fqdn(host), "addresses": addrs})
}

// ClearA removes host's A records.
func (p *Pebble) ClearA(tb testing.TB, host string) {
	tb.Helper()
	p.post(tb, "/clear-a", map[string]any{"host": fqdn(host)})
}

// SetTXT makes challtestsrv answer TXT queries for host with value.
func (p *Pebble) SetTXT(tb testing.TB, host, value string) {
	tb.Helper()
	p.post(tb, "/set-txt", map[string]any{"host": fqdn(host), "value": value})
}

// ClearTXT removes host's TXT records.
func (p *Pebble) ClearTXT(tb testing.TB, host string) {
	tb.Helper()
	p.post(tb, "/clear-txt", map[string]any{"host": fqdn(host)})
}

// SetCNAME makes challtestsrv answer host with a CNAME to target.
func (p *Pebble) SetCNAME(tb testing.TB, host, target string) {
	tb.Helper()
	p.post(tb, "/set-cname", map[string]any{"host": fqdn(host), "target": fqdn(target)})
}

func fqdn(h string) string {
	if strings.HasSuffix(h, ".") {
		return h
	}
	return h + "."
}

func (p *Pebble) post(tb testing.TB, path string, body any) {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatalf("testenv: challtestsrv %s: %v", path, err)
	}
	resp, err := p.client.Post(p.ChallSrv+path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("testenv: challtestsrv %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		tb.Fatalf("testenv: challtestsrv %s: %s: %s", path, resp.Status, msg)
	}
}

func (p *Pebble) get(path string) ([]byte, error) {
	resp, err := p.client.Get(p.Management + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, b)
	}
	return b, nil
}

// startProcess runs bin with args and extra environment, waits with ready
// until it serves, and returns a stop func.
func startProcess(bin string, env []string, out io.Writer, ready func(exited <-chan struct{}) error, args ...string) (stop func(), err error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return runChild(cmd, out, syscall.SIGTERM, 10*time.Second, ready)
}

// waitHTTP polls until url (and url2, if not "") answer 200, the process
// exits or pebbleStartTimeout passes.
func waitHTTP(client *http.Client, url, url2 string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), pebbleStartTimeout)
	defer cancel()
	ok := func(u string) bool {
		if u == "" {
			return true
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok(url) && ok(url2) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("exited before serving")
		case <-ctx.Done():
			return fmt.Errorf("not serving %s after %s", url, pebbleStartTimeout)
		case <-tick.C:
		}
	}
}

// waitTCP polls until addr accepts connections, the process exits or
// pebbleStartTimeout passes.
func waitTCP(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(pebbleStartTimeout)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not accepting connections on %s after %s", addr, pebbleStartTimeout)
		}
		select {
		case <-exited:
			return errors.New("exited before serving")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findBinary returns $env, else <repo root>/.cache/bin/name, else name on
// PATH, else "".
func findBinary(env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	if root := minioRepoRoot(); root != "" {
		p := filepath.Join(root, ".cache", "bin", name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// orderCounter counts "Added order" lines in Pebble's log.
type orderCounter struct {
	mu      sync.Mutex
	partial []byte
	n       int
}

func (c *orderCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		if bytes.Contains(c.partial[:i], []byte("Added order")) {
			c.n++
		}
		c.partial = c.partial[i+1:]
	}
	return len(p), nil
}

func (c *orderCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
