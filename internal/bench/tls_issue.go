package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/internal/testenv"
)

// issueRuns is how many custom domains benchIssue onboards.
const issueRuns = 6

// benchIssue measures the time from a successful `domains verify` to the
// first TLS handshake served with the issued certificate: the real `pier
// serve` with its ACME issuer pointed at Pebble (no validation sleep),
// Pebble resolving names through pebble-challtestsrv and validating
// against pier's own HTTP and HTTPS listeners, domains verified through
// the admin API (TXT proof and A record served by challtestsrv, pier's
// --dns-resolver).
func benchIssue(ctx context.Context) (err error) {
	work, err := os.MkdirTemp("", "pier-bench-issue")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	tb := &benchTB{dir: work}
	defer tb.cleanup()
	defer tb.recover(&err)

	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = freeAddr(); err != nil {
			return err
		}
	}
	httpAddr, adminAddr, httpsAddr := addrs[0], addrs[1], addrs[2]
	port := func(a string) int { _, p, _ := net.SplitHostPort(a); n, _ := strconv.Atoi(p); return n }
	peb := testenv.StartPebble(tb, testenv.PebbleOptions{HTTPPort: port(httpAddr), TLSPort: port(httpsAddr)})
	caRoot := filepath.Join(work, "pebble-tls-root.pem")
	if err := os.WriteFile(caRoot, peb.TLSRootPEM, 0o600); err != nil {
		return err
	}
	data := filepath.Join(work, "pier")
	cmd := exec.CommandContext(ctx, pierBin(), "serve", "--data", data, "--domain", "localhost",
		"--http", httpAddr, "--admin", adminAddr, "--https", httpsAddr,
		"--acme-ca", peb.Directory, "--acme-ca-root", caRoot, "--acme-email", "ops@example.test",
		"--dns-resolver", peb.DNS, "--public-ip", "127.0.0.1", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &pierProc{cmd: cmd, API: "http://" + adminAddr, Edge: httpAddr, Data: data}
	defer p.Stop()
	if err := waitHealthy(p.API); err != nil {
		return err
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		return err
	}
	c := apiclient.New(p.API, strings.TrimSpace(string(tok)), &http.Client{Timeout: time.Minute})
	if _, err := c.CreateTenant(ctx, apiclient.CreateTenant{Name: "bench"}); err != nil {
		return err
	}
	if _, err := c.CreateSite(ctx, "shop", "bench"); err != nil {
		return err
	}

	var verifyTimes, issueTimes []time.Duration
	for i := range issueRuns {
		host := fmt.Sprintf("www%d.shop-%d.test", i, time.Now().UnixNano()%1e6)
		d, err := c.CreateDomain(ctx, "shop", host)
		if err != nil {
			return err
		}
		for _, r := range d.Records {
			if r.Type == "TXT" {
				peb.SetTXT(tb, r.Name, r.Value)
			}
		}
		peb.AddA(tb, host, "127.0.0.1")
		start := time.Now()
		d, err = c.VerifyDomain(ctx, "shop", host)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", host, err)
		}
		verified := time.Now()
		if d.Status != "active" {
			return fmt.Errorf("verifying %s: status %q (%s)", host, d.Status, d.Error)
		}
		// The first visitor: handshakes until one is served a certificate
		// that chains to Pebble's root.
		if _, err := waitVerifiedHandshake(ctx, httpsAddr, host, peb.CertPool, 2*time.Minute); err != nil {
			return err
		}
		issued := time.Now()
		verifyTimes = append(verifyTimes, verified.Sub(start))
		issueTimes = append(issueTimes, issued.Sub(verified))
		note := ""
		if i == 0 {
			note = "  (includes ACME account registration; not in the median)"
		}
		fmt.Printf("issue %d  %-26s verify call %6v  verify → certificate served %7v%s\n", i+1, host,
			verifyTimes[i].Round(time.Millisecond), issueTimes[i].Round(time.Millisecond), note)
	}
	rest := slices.Clone(issueTimes[1:])
	slices.Sort(rest)
	fmt.Println()
	fmt.Println("certificate issuance: real `pier serve` (SQLite, file certificate storage) with --acme-ca Pebble " + pebbleVersion() + " (PEBBLE_VA_NOSLEEP=1),")
	fmt.Println("DNS from pebble-challtestsrv; each custom domain added and verified through the admin API (TXT proof, A → --public-ip),")
	fmt.Println("then timed from the verify call's answer (status active) to the first handshake served a certificate chaining to Pebble's root")
	fmt.Println("(handshakes retried every 20 ms; certmagic holds a handshake for an allowed name while its order is under way).")
	fmt.Printf("verify → certificate served: median %v, min %v, max %v over runs 2–%d (run 1, with account registration: %v)\n",
		median(rest).Round(time.Millisecond), rest[0].Round(time.Millisecond), rest[len(rest)-1].Round(time.Millisecond),
		issueRuns, issueTimes[0].Round(time.Millisecond))
	return nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pebbleVersion() string {
	out, err := exec.Command("go", "version", "-m", filepath.Join(repoRoot(), ".cache", "bin", "pebble")).Output()
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "mod" {
			return f[2]
		}
	}
	return ""
}

// benchTB lets the benchmark use internal/testenv outside a test: Fatalf
// and Skipf panic (recovered by recover), TempDir and Cleanup work.
// Other testing.TB methods are not used by testenv's Pebble helpers.
type benchTB struct {
	testing.TB
	dir      string
	n        int
	cleanups []func()
}

type tbFailure struct{ msg string }

func (t *benchTB) Helper()                   {}
func (t *benchTB) Fatalf(f string, a ...any) { panic(tbFailure{fmt.Sprintf(f, a...)}) }
func (t *benchTB) Skipf(f string, a ...any)  { panic(tbFailure{fmt.Sprintf(f, a...)}) }
func (t *benchTB) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }

func (t *benchTB) TempDir() string {
	t.n++
	d := filepath.Join(t.dir, "tmp"+strconv.Itoa(t.n))
	os.MkdirAll(d, 0o700)
	return d
}

func (t *benchTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
	t.cleanups = nil
}

// recover turns a Fatalf panic into *err.
func (t *benchTB) recover(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(tbFailure)
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("testenv: %s", f.msg)
	}
}
