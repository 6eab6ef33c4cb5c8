package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

// platformDomain is the --domain of the TLS tests' nodes.
const platformDomain = "pier.test"

// acme is a Pebble CA whose validation connections go to the --http and
// --https ports reserved for the node that will listen on them.
type acme struct {
	*testenv.Pebble
	HTTPPort, HTTPSPort int
	// RootFile is Pebble's listener certificate (--acme-ca-root).
	RootFile string
}

// startACME reserves a node's --http and --https ports and starts Pebble
// validating on them.
func startACME(t *testing.T) *acme {
	t.Helper()
	a := &acme{HTTPPort: keptPort(t), HTTPSPort: keptPort(t)}
	for a.HTTPSPort == a.HTTPPort {
		a.HTTPSPort = keptPort(t)
	}
	a.Pebble = testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: a.HTTPPort, TLSPort: a.HTTPSPort})
	a.RootFile = filepath.Join(t.TempDir(), "pebble-listener.pem")
	if err := os.WriteFile(a.RootFile, a.TLSRootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// tlsNode is a `pier serve` with --https, ordering from Pebble.
type tlsNode struct {
	*server
	HTTPSAddr string // 127.0.0.1:port
	HTTPSPort int
}

// startTLSNode starts `pier serve --https` against a's Pebble on the
// given ports (a.HTTPPort and a.HTTPSPort for the node Pebble validates
// at), with extra flags, and waits until its admin API answers.
func startTLSNode(t *testing.T, a *acme, httpPort, httpsPort int, extra []string, env ...string) *tlsNode {
	t.Helper()
	s := &server{
		t:        t,
		Data:     t.TempDir(),
		EdgeAddr: fmt.Sprintf("127.0.0.1:%d", httpPort),
		env:      env,
	}
	s.API = "http://" + anyPort
	n := &tlsNode{server: s, HTTPSAddr: fmt.Sprintf("127.0.0.1:%d", httpsPort), HTTPSPort: httpsPort}
	// Pebble validates at these ports (and tests dial the HTTPS one).
	s.fixed = map[string]bool{s.EdgeAddr: true, n.HTTPSAddr: true}
	s.args = append([]string{
		"serve", "--data", s.Data, "--admin", anyPort, "--pprof",
		"--domain", platformDomain,
		"--http", s.EdgeAddr, "--https", n.HTTPSAddr,
		"--acme-ca", a.Directory, "--acme-ca-root", a.RootFile,
		"--dns-resolver", a.DNS, "--public-ip", "127.0.0.1",
		"--workers=false",
	}, extra...)
	s.start()
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("pier serve %s output:\n%s", n.HTTPSAddr, tail(s.out.String(), 8000))
		}
	})
	return n
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// handshake connects to addr with SNI sni, trusting roots.
func handshake(addr, sni string, roots *x509.CertPool) (*tls.Conn, error) {
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: certTimeout},
		Config:    &tls.Config{ServerName: sni, RootCAs: roots, NextProtos: []string{"http/1.1"}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), certTimeout)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*tls.Conn), nil
}

// httpsResponse is an answer over HTTPS with the certificate served.
type httpsResponse struct {
	response
	Leaf   *x509.Certificate
	Chains [][]*x509.Certificate
}

// httpsGet requests https://host/path from the HTTPS listener at addr on a
// new connection (SNI host), verifying the certificate against roots.
func httpsGet(addr, host, path string, roots *x509.CertPool) (httpsResponse, error) {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	defer tr.CloseIdleConnections()
	c := &http.Client{
		Transport:     tr,
		Timeout:       certTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	_, port, _ := net.SplitHostPort(addr)
	resp, err := c.Get("https://" + host + ":" + port + path)
	if err != nil {
		return httpsResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return httpsResponse{}, err
	}
	r := httpsResponse{response: response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}}
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.Leaf = resp.TLS.PeerCertificates[0]
		r.Chains = resp.TLS.VerifiedChains
	}
	return r, nil
}

// domainJSON is a custom domain as the API shows it.
type domainJSON struct {
	Hostname   string `json:"hostname"`
	Site       string `json:"site"`
	TenantID   string `json:"tenant_id"`
	Status     string `json:"status"`
	Token      string `json:"token"`
	Error      string `json:"error"`
	CertStatus string `json:"cert_status"`
	CertError  string `json:"cert_error"`
}

// domain reads site's custom domain host through the API with token.
func (s *server) domain(token, site, host string) (domainJSON, int) {
	s.t.Helper()
	var d domainJSON
	code := s.api("GET", "/api/v1/sites/"+site+"/domains/"+host, token, nil, &d)
	return d, code
}

// addedRecords parses `pier domains add`'s table: type → (name, value).
func addedRecords(t *testing.T, out string) map[string][2]string {
	t.Helper()
	recs := map[string][2]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && (f[0] == "TXT" || f[0] == "CNAME" || f[0] == "A" || f[0] == "AAAA") {
			recs[f[0]] = [2]string{f[1], f[2]}
		}
	}
	return recs
}

// listRow returns host's STATUS and CERT columns in `pier domains list`.
func listRow(t *testing.T, out, host string) (status, cert string) {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == host {
			return f[1], f[2]
		}
	}
	t.Fatalf("%s not in pier domains list:\n%s", host, out)
	return "", ""
}

// waitCertActive polls the API until site's domain host has an active
// certificate, failing on a failed one.
func (s *server) waitCertActive(token, site, host string, timeout time.Duration) domainJSON {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, code := s.domain(token, site, host)
		if code == http.StatusOK && d.CertStatus == "active" {
			return d
		}
		if d.CertStatus == "failed" {
			s.t.Fatalf("certificate of %s failed: %+v", host, d)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("certificate of %s not active after %v: %d %+v", host, timeout, code, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metrics reads the node's /metrics as name{labels} → value.
func (s *server) metrics() map[string]float64 {
	s.t.Helper()
	resp, err := http.Get(s.API + "/metrics")
	if err != nil {
		s.t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// goroutines is the node's goroutine count (from --pprof).
func (s *server) goroutines() int {
	s.t.Helper()
	body := s.getURL(s.API + "/debug/pprof/goroutine?debug=1")
	var n int
	if _, err := fmt.Sscanf(body, "goroutine profile: total %d", &n); err != nil {
		s.t.Fatalf("goroutine profile: %v: %.200q", err, body)
	}
	return n
}

// heapInuse is the node's in-use heap right after a GC (from --pprof).
func (s *server) heapInuse() int64 {
	s.t.Helper()
	body := s.getURL(s.API + "/debug/pprof/heap?gc=1&debug=1")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapInuse = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	s.t.Fatalf("no HeapInuse in the heap profile")
	return 0
}

// rss is the node process's resident set in bytes (0 when unknown).
func (s *server) rss() int64 {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// restartTogether stops the nodes, then starts them all at once (so their
// start-up work races) and waits until every admin API answers.
func restartTogether(t *testing.T, nodes ...*tlsNode) {
	t.Helper()
	for _, n := range nodes {
		n.stop()
	}
	for _, n := range nodes {
		n.launch()
	}
	for _, n := range nodes {
		if addr, lost := n.waitReady(); lost {
			if n.fixed[addr] {
				t.Fatalf("pier serve could not bind %s again after a restart", addr)
			}
			n.rebind(addr) // the admin port, taken meanwhile
			n.start()
		}
	}
}
