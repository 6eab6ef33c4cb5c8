package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/testenv"
)

func TestStartTLSInternal(t *testing.T) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f := registerTLSFlags(fs, newEnvDefaults())
	if err := fs.Parse([]string{"--tls-internal", "--https", "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	site := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "site "+r.Host) })
	ts, err := startTLS(context.Background(), f, tlsOptions{
		Data:     data,
		HTTPAddr: "127.0.0.1:8080",
		Allow:    func(h string) bool { return h == "blog.localhost" },
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, site)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ts.Serve() }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), testenv.Patience)
		defer cancel()
		if err := ts.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	// Certificate progress reaches the store through ReportStatus.
	type statusRec struct{ host, status string }
	recorded := make(chan statusRec, 16)
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go ts.ReportStatus(rctx, func(_ context.Context, host, status, _ string, _ time.Time) error {
		recorded <- statusRec{host, status}
		return nil
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	rootPEM, err := os.ReadFile(ts.RootFile())
	if err != nil {
		t.Fatalf("internal root not written: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	addr := ts.Addr().String()
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
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "site blog.localhost" || resp.ProtoMajor != 2 {
		t.Errorf("got %q over %s; want the site over HTTP/2", body, resp.Proto)
	}
	if _, err := client.Get("https://other.localhost/"); err == nil {
		t.Error("a disallowed name was served")
	}
	for deadline := time.After(testenv.Patience); ; {
		select {
		case r := <-recorded:
			if r.host != "blog.localhost" {
				t.Errorf("status recorded for %q", r.host)
			}
			if r.status != "active" {
				continue
			}
		case <-deadline:
			t.Fatal("the active certificate status was never recorded")
		}
		break
	}
	// Plain HTTP: challenges answered first (404 for unknown tokens),
	// everything else reaches the edge.
	h := ts.HTTPHandler(site)
	rec := &recorder{header: http.Header{}}
	req, _ := http.NewRequest("GET", "http://blog.localhost/.well-known/acme-challenge/x", nil)
	h.ServeHTTP(rec, req)
	if rec.status != http.StatusNotFound {
		t.Errorf("challenge path = %d, want 404 (internal issuer has no challenges)", rec.status)
	}
}

type recorder struct {
	header http.Header
	status int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(s int)           { r.status = s }

func TestPlatformSite(t *testing.T) {
	for _, tc := range []struct {
		host, site string
		ok         bool
	}{
		{"blog.pier.test", "blog", true},
		{"abc--blog.pier.test", "", false}, // preview: never per-name
		{"a.blog.pier.test", "", false},
		{"pier.test", "", false},
		{".pier.test", "", false},
		{"blog.other.test", "", false},
		{"blogpier.test", "", false},
	} {
		site, ok := platformSite(tc.host, "pier.test")
		if site != tc.site || ok != tc.ok {
			t.Errorf("platformSite(%q) = %q, %v; want %q, %v", tc.host, site, ok, tc.site, tc.ok)
		}
	}
}

func TestPlatformTLSMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, platformTLSOff},
		{[]string{"--https", ":443"}, platformTLSPerSite},
		{[]string{"--https", ":443", "--dns01-webhook", "https://hook.example/dns"}, platformTLSWildcard},
		{[]string{"--tls-internal"}, platformTLSInternal},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f := registerTLSFlags(fs, newEnvDefaults())
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if got := f.platformTLS(); got != tc.want {
			t.Errorf("%v: platformTLS = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestStartTLSDNS01Rejects(t *testing.T) {
	for _, tc := range []struct {
		name, domain string
		args         []string
		want         string
	}{
		{"with internal", "pier.test", []string{"--tls-internal", "--dns01-webhook", "https://hook.example/dns"}, "exclude each other"},
		{"bad url", "pier.test", []string{"--dns01-webhook", "hook.example"}, "not an http(s) URL"},
		{"local domain", "localhost", []string{"--dns01-webhook", "https://hook.example/dns"}, "public --domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			f := registerTLSFlags(fs, newEnvDefaults())
			if err := fs.Parse(append([]string{"--https", "127.0.0.1:0"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			ts, err := startTLS(context.Background(), f, tlsOptions{
				Domain: tc.domain, Data: t.TempDir(), HTTPAddr: "127.0.0.1:8080",
				Allow:  func(string) bool { return false },
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			}, http.NotFoundHandler())
			if err == nil {
				ts.Shutdown(context.Background())
				t.Fatal("startTLS succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
		})
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
	f := registerTLSFlags(fs, newEnvDefaults())
	fs.PrintDefaults()
	if strings.Contains(out.String(), "hunter2") {
		t.Error("--help shows the webhook password")
	}
	if f.DNS01User != "pier" {
		t.Errorf("PIER_DNS01_WEBHOOK_USER not read: %q", f.DNS01User)
	}
}

func TestChallengeLookup(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	now := time.Unix(1_700_000_000, 0)
	c := newChallengeLookup(func(_ context.Context, h string) bool {
		mu.Lock()
		calls[h]++
		mu.Unlock()
		return h == "www.example.com"
	})
	c.now = func() time.Time { return now }
	if !c.allow("www.example.com") || c.allow("junk.example.com") {
		t.Fatal("answers do not follow the store")
	}
	// Answers are kept for a while: no second lookup.
	for range 5 {
		c.allow("www.example.com")
		c.allow("junk.example.com")
	}
	if calls["www.example.com"] != 1 || calls["junk.example.com"] != 1 {
		t.Errorf("lookups %v, want one per name while the answer is fresh", calls)
	}
	// A flood of distinct names is cut off at the burst; time refills it.
	for i := range 1000 {
		c.allow(fmt.Sprintf("n%d.example.com", i))
	}
	if total := len(calls); total > challengeLookupBurst+2 {
		t.Errorf("%d lookups for a flood of 1,000 names, want at most the burst (%d)", total, challengeLookupBurst)
	}
	now = now.Add(time.Second)
	before := len(calls)
	for i := range 100 {
		c.allow(fmt.Sprintf("m%d.example.com", i))
	}
	if got := len(calls) - before; got != challengeLookupsPerSecond {
		t.Errorf("%d lookups one second later, want %d", got, challengeLookupsPerSecond)
	}
	// Expired answers are looked up again.
	now = now.Add(challengeAnswerTTL)
	c.allow("www.example.com")
	if calls["www.example.com"] != 2 {
		t.Errorf("www.example.com looked up %d times after its answer expired, want 2", calls["www.example.com"])
	}
}
