package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPebbleConfig(t *testing.T) {
	t.Parallel()
	l := defaultLayout()
	b, err := l.pebbleConfigJSON()
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Pebble struct {
			ListenAddress           string         `json:"listenAddress"`
			ManagementListenAddress string         `json:"managementListenAddress"`
			Certificate             string         `json:"certificate"`
			PrivateKey              string         `json:"privateKey"`
			HTTPPort                int            `json:"httpPort"`
			TLSPort                 int            `json:"tlsPort"`
			Profiles                map[string]any `json:"profiles"`
		} `json:"pebble"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	p := cfg.Pebble
	abs := func(f string) string { a, _ := filepath.Abs(f); return a }
	for _, c := range []struct{ name, got, want string }{
		{"listenAddress", p.ListenAddress, l.ACME},
		{"managementListenAddress", p.ManagementListenAddress, l.PebbleMgmt},
		{"certificate", p.Certificate, abs(l.apiCert())},
		{"privateKey", p.PrivateKey, abs(l.apiKey())},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	// Pebble validates where pier listens: HTTP-01 on --http, TLS-ALPN-01
	// on --https.
	if p.HTTPPort != 8180 || port(l.HTTP) != "8180" {
		t.Errorf("httpPort = %d, --http %s", p.HTTPPort, l.HTTP)
	}
	if p.TLSPort != 8543 || port(l.HTTPS) != "8543" {
		t.Errorf("tlsPort = %d, --https %s", p.TLSPort, l.HTTPS)
	}
	if len(p.Profiles) != 1 {
		t.Errorf("profiles = %v, want only the default (Pebble picks a random one for orders naming none)", p.Profiles)
	}

	l.HTTP = "127.0.0.1"
	if _, err := l.pebbleConfigJSON(); err == nil {
		t.Error("an --http without a port gave a config")
	}
}

func TestPortsDoNotClash(t *testing.T) {
	t.Parallel()
	// make run's --http, --admin and --tls-internal port, and
	// challtestsrv's default challenge servers.
	taken := []string{"8080", "8081", "8443", "5001", "5002", "5003"}
	seen := map[string]string{}
	for _, ln := range defaultLayout().listeners() {
		p := port(ln.Addr)
		if other, dup := seen[p]; dup {
			t.Errorf("%s and %s both on port %s", ln.What, other, p)
		}
		seen[p] = ln.What
		if slices.Contains(taken, p) {
			t.Errorf("%s on port %s, which make run or challtestsrv's defaults use", ln.What, p)
		}
		if host, _, _ := net.SplitHostPort(ln.Addr); host != "127.0.0.1" {
			t.Errorf("%s listens on %s, want loopback only", ln.What, ln.Addr)
		}
	}
}

// flagValue is the argument after name in args ("" and false if absent).
func flagValue(args []string, name string) (string, bool) {
	i := slices.Index(args, name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func TestArgs(t *testing.T) {
	t.Parallel()
	l := defaultLayout()
	tests := []struct {
		name string
		args []string
		want map[string]string
	}{
		{"challtestsrv", l.challtestsrvArgs(), map[string]string{
			"-dnsserver": l.DNS, "-management": l.ChallMgmt,
			// No AAAA answer (::1 broke TLS-ALPN-01), every A is the edge.
			"-defaultIPv6": "", "-defaultIPv4": "127.0.0.1",
			// Its own challenge and DoH servers would take 5001-5003, 8443.
			"-http01": "", "-https01": "", "-tlsalpn01": "", "-doh": "",
		}},
		{"pebble", l.pebbleArgs(), map[string]string{
			"-config": l.pebbleConfig(), "-dnsserver": l.DNS,
		}},
		{"pier", l.pierArgs(), map[string]string{
			"--data": filepath.Join("data-try", "pier"), "--domain": "localhost",
			"--http": l.HTTP, "--https": l.HTTPS, "--admin": l.Admin,
			"--acme-ca": "https://" + l.ACME + "/dir", "--acme-ca-root": l.apiCert(),
			"--dns-resolver": l.DNS, "--public-ip": "127.0.0.1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for name, want := range tt.want {
				if got, ok := flagValue(tt.args, name); !ok || got != want {
					t.Errorf("%s = %q (given: %v), want %q", name, got, ok, want)
				}
			}
		})
	}
	if !slices.Contains(l.pebbleEnv(), "PEBBLE_VA_NOSLEEP=1") {
		t.Errorf("Pebble's environment %v lacks PEBBLE_VA_NOSLEEP=1", l.pebbleEnv())
	}
}

func TestAPICert(t *testing.T) {
	t.Parallel()
	now := time.Now()
	certPEM, keyPEM, err := apiCertPEM(now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatalf("not PEM: %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool, CurrentTime: now}); err != nil {
			t.Errorf("Pebble's certificate does not verify for %s: %v", name, err)
		}
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Errorf("key is not an EC PRIVATE KEY block")
	}
}

func TestPrepare(t *testing.T) {
	t.Parallel()
	l := defaultLayout()
	l.Dir = filepath.Join(t.TempDir(), "data-try")
	if err := prepare(l, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{l.pebbleConfig(), l.apiCert(), l.apiKey()} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after prepare: %v", err)
		}
	}
	// A second run wipes what the first left.
	stale := filepath.Join(l.pierData(), "pier.db")
	if err := os.WriteFile(stale, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := prepare(l, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("%s survived a second prepare: %v", stale, err)
	}

	// A directory it did not make is left alone.
	other := defaultLayout()
	other.Dir = t.TempDir()
	keep := filepath.Join(other.Dir, "precious")
	if err := os.WriteFile(keep, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := prepare(other, time.Now()); err == nil || !strings.Contains(err.Error(), "not wiping") {
		t.Errorf("prepare of a foreign directory: %v", err)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("foreign file removed: %v", err)
	}
}

func TestCheckPortsNamesTheTakenOne(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	err = checkPorts([]listener{{freeAddr, "free one", false}, {held.Addr().String(), "pier serve --https", false}})
	if err == nil || !strings.Contains(err.Error(), held.Addr().String()+" (pier serve --https) is taken") {
		t.Errorf("checkPorts = %v", err)
	}
}

// TestREADMEHasTheSteps keeps the README's "Trying custom domains
// locally" true: every command the program prints is there verbatim.
func TestREADMEHasTheSteps(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(defaultLayout().steps(), "\n") {
		cmd, ok := strings.CutPrefix(line, "  ")
		if !ok || strings.HasPrefix(cmd, " ") {
			continue
		}
		n++
		if !strings.Contains(string(readme), "\n"+cmd+"\n") {
			t.Errorf("README.md lacks the line %q", cmd)
		}
	}
	if n < 10 {
		t.Errorf("only %d commands in the steps", n)
	}
}
