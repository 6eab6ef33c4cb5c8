package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/internal/tlspolicy"
)

// syncBuffer is an io.Writer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func testServeConfig(t *testing.T, args ...string) serveConfig {
	t.Helper()
	base := []string{"--data", t.TempDir(), "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--workers=false"}
	cfg, err := parseServeFlags(append(base, args...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestServeLifecycle: the open steps build a server that answers on every
// listener (HTTPS from the internal CA, the edge, the admin API), Run
// ends with its context, and Close releases every port.
func TestServeLifecycle(t *testing.T) {
	cfg := testServeConfig(t, "--tls-internal", "--https", "127.0.0.1:0")
	var out syncBuffer
	s, err := openServer(context.Background(), cfg, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	admin := "http://" + s.adminLn.Addr().String()
	testenv.WaitFor(t, testenv.Patience, func() error {
		resp, err := http.Get(admin + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("healthz: %d", resp.StatusCode)
		}
		return nil
	})
	banner := out.String()
	if !strings.Contains(banner, "pier: admin API for the CLI's --api: "+admin+" ") || !strings.Contains(banner, "pier: next, in another terminal: ") {
		t.Errorf("banner lacks the API address or the next step:\n%s", banner)
	}
	// Every URL the banner prints answers (the edge's with its 404 for an
	// unknown site).
	for _, u := range regexp.MustCompile(`https?://[^ ),/]+(/[^ ),]*)?`).FindAllString(banner, -1) {
		if strings.Contains(u, "<site>") {
			continue
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Errorf("banner URL %s: %v", u, err)
			continue
		}
		resp.Body.Close()
		if u != admin && resp.StatusCode != http.StatusOK {
			t.Errorf("banner URL %s answers %d", u, resp.StatusCode)
		}
	}

	rootPEM, err := os.ReadFile(s.rootFile)
	if err != nil {
		t.Fatalf("internal root not written: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	addr := s.tlsLn.Addr().String()
	// The first request waits for its certificate to be issued.
	client := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
	}}
	resp, err := client.Get("https://blog.localhost/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.ProtoMajor != 2 {
		t.Errorf("unknown site over HTTPS: %d over %s, want the edge's 404 over HTTP/2", resp.StatusCode, resp.Proto)
	}
	if _, err := client.Get("https://blog.example.com/"); err == nil {
		t.Error("a name outside the platform domain got a certificate")
	}

	addrs := []string{s.edgeLn.Addr().String(), s.adminLn.Addr().String(), addr}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still held after Close: %v", a, err)
			continue
		}
		ln.Close()
	}
}

// TestOpenServerReleasesOnFailure: a step that fails (the admin port is
// taken) closes what the steps before it opened.
func TestOpenServerReleasesOnFailure(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	edgePort, err := testenv.KeptPort() // out of reach of outgoing connections until it is bound again below
	if err != nil {
		t.Fatal(err)
	}
	edgeAddr := fmt.Sprintf("127.0.0.1:%d", edgePort)
	data := t.TempDir()
	cfg := testServeConfig(t, "--data", data, "--http", edgeAddr, "--admin", taken.Addr().String())
	if _, err := openServer(context.Background(), cfg, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Fatalf("openServer with the admin port taken: %v", err)
	}
	ln, err := net.Listen("tcp", edgeAddr)
	if err != nil {
		t.Fatalf("edge port still held after a failed start: %v", err)
	}
	ln.Close()
	// The database was closed too: a second server opens it.
	cfg = testServeConfig(t, "--data", data)
	s, err := openServer(context.Background(), cfg, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.token")); err != nil {
		t.Errorf("admin token: %v", err)
	}
}

func TestTLSMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want tlspolicy.Mode
	}{
		{nil, tlspolicy.Off},
		{[]string{"--https", ":443"}, tlspolicy.PerSite},
		{[]string{"--https", ":443", "--dns01-webhook", "https://hook.example/dns"}, tlspolicy.Wildcard},
		{[]string{"--tls-internal"}, tlspolicy.Internal},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f := registerTLSFlags(envFlags{fs: fs, ev: newEnvDefaults()})
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := f.mode(); got != tc.want {
			t.Errorf("%v: mode = %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestDNS01PasswordNotInHelp: the webhook password's env twin is not shown
// as the flag's default by --help.
func TestDNS01PasswordNotInHelp(t *testing.T) {
	t.Setenv("PIER_DNS01_WEBHOOK_PASSWORD", "hunter2")
	t.Setenv("PIER_DNS01_WEBHOOK_USER", "pier")
	var out strings.Builder
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(&out)
	f := registerTLSFlags(envFlags{fs: fs, ev: newEnvDefaults()})
	fs.PrintDefaults()
	if strings.Contains(out.String(), "hunter2") {
		t.Error("--help shows the webhook password")
	}
	if f.DNS01User != "pier" {
		t.Errorf("PIER_DNS01_WEBHOOK_USER not read: %q", f.DNS01User)
	}
	c, err := parseServeFlags([]string{"--https", ":8443", "--domain", "pier.example.com", "--dns01-webhook", "https://hook.example/dns"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.TLS.DNS01Password != "hunter2" {
		t.Errorf("PIER_DNS01_WEBHOOK_PASSWORD not read: %q", c.TLS.DNS01Password)
	}
}

func TestNextStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ api, token, want string }{
		{"http://127.0.0.1:8081", "./data/admin.token", "pier tenants create acme"},
		{"http://127.0.0.1:8081", "data/admin.token", "pier tenants create acme"},
		{"http://127.0.0.1:9000", "data/admin.token", "PIER_API=http://127.0.0.1:9000 pier tenants create acme"},
		{"http://127.0.0.1:8081", "/srv/pier/admin.token", "PIER_TOKEN=$(cat /srv/pier/admin.token) pier tenants create acme"},
	} {
		if got := nextStep(tc.api, tc.token); got != tc.want {
			t.Errorf("nextStep(%q, %q) = %q, want %q", tc.api, tc.token, got, tc.want)
		}
	}
}

func TestConsoleHostFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, host, want, err string
	}{
		{"outside the domain", "Console.Example.NET.", "console.example.net", ""},
		{"the domain itself", "pier.example.com", "", "is under --domain pier.example.com"},
		{"under the domain", "console.pier.example.com", "", "same-site with the console"},
		{"not a name", "console example", "", "--console-host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := parseServeFlags([]string{"--domain", "pier.example.com", "--console-host", tc.host}, io.Discard)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want one with %q", err, tc.err)
			case tc.err == "" && c.ConsoleHost != tc.want:
				t.Errorf("console host %q, want %q", c.ConsoleHost, tc.want)
			}
		})
	}
}

// TestConsoleHost: with --console-host the edge's listeners serve the
// admin handler for that name, over HTTPS with its own certificate and
// over HTTP until the certificate is in memory, then by redirect; other
// names still reach the sites.
func TestConsoleHost(t *testing.T) {
	cfg := testServeConfig(t, "--tls-internal", "--https", "127.0.0.1:0", "--console-host", "console.example.test")
	var out syncBuffer
	s, err := openServer(context.Background(), cfg, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		s.Close()
	}()
	edge := "http://" + s.edgeLn.Addr().String()
	get := func(c *http.Client, url, host string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s (Host %s): %v", url, host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	testenv.WaitFor(t, testenv.Patience, func() error {
		_, err := http.Get(edge)
		return err
	})
	// Over HTTP the console host is served until its certificate (ordered
	// at start-up) is in memory, then redirected.
	switch resp, body := get(noRedirect, edge+"/healthz", "console.example.test"); {
	case resp.StatusCode == 200 && strings.Contains(body, "ok"):
	case resp.StatusCode == http.StatusPermanentRedirect && strings.HasPrefix(resp.Header.Get("Location"), "https://console.example.test:"):
	default:
		t.Fatalf("console host over HTTP: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if resp, _ := get(noRedirect, edge+"/healthz", "blog.localhost"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a site's name reached the admin handler: %d", resp.StatusCode)
	}

	rootPEM, err := os.ReadFile(s.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	addr := s.tlsLn.Addr().String()
	client := &http.Client{Timeout: testenv.Patience, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
	}}
	if resp, body := get(client, "https://console.example.test/api/v1/openapi.json", ""); resp.StatusCode != 200 || !strings.Contains(body, "openapi") {
		t.Fatalf("console host over HTTPS: %d %.80s", resp.StatusCode, body)
	}
	if resp, _ := get(client, "https://console.example.test/api/v1/sites", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API through the console host without a token: %d, want 401", resp.StatusCode)
	}
	testenv.WaitFor(t, testenv.Patience, func() error {
		resp, _ := get(noRedirect, edge+"/healthz", "console.example.test")
		if resp.StatusCode != http.StatusPermanentRedirect || !strings.HasPrefix(resp.Header.Get("Location"), "https://console.example.test:") {
			return fmt.Errorf("plain HTTP for the console host: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		return nil
	})
	if resp, _ := get(client, "https://console.example.test/metrics", ""); resp.StatusCode == http.StatusOK {
		t.Error("the console host serves /metrics, which stays on the private admin listener")
	}
	if !strings.Contains(out.String(), "pier: console and API at https://console.example.test:") {
		t.Errorf("banner lacks the console address:\n%s", out.String())
	}
}
