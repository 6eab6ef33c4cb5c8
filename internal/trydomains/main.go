// Command trydomains is `make try-domains`: it starts Pebble (the ACME
// test CA), pebble-challtestsrv (a DNS server whose records an HTTP API
// sets) and `pier serve --https` configured for each other on fixed
// loopback ports, in ./data-try (never make run's ./data), prints the
// commands that take a custom domain from `pier domains add` to an HTTPS
// answer signed by Pebble, and stops all three on Ctrl-C.
//
// It is a development tool: it imports no Pier package (it runs the pier
// binary) and nothing imports it. It reads its flags; pier serve gets no
// PIER_* variable from its environment, so the run is the same on every
// machine.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long each server may take to answer.
const startTimeout = 60 * time.Second

func main() {
	l := defaultLayout()
	pebble := flag.String("pebble", ".cache/bin/pebble", "Pebble binary")
	chall := flag.String("challtestsrv", ".cache/bin/pebble-challtestsrv", "pebble-challtestsrv binary")
	flag.StringVar(&l.Pier, "pier", l.Pier, "pier binary")
	flag.StringVar(&l.Dir, "dir", l.Dir, "directory of the run, wiped at each start")
	flag.Parse()
	l.Pier = relative(l.Pier)
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "trydomains: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, l, *pebble, *chall, os.Stdout); err != nil {
		if ctx.Err() != nil {
			err = errors.New("trydomains: interrupted while starting; stopped what had started")
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run starts the three servers, prints the steps to out and waits for
// ctx or for a server to exit.
func run(ctx context.Context, l layout, pebbleBin, challBin string, out io.Writer) error {
	for _, bin := range []string{pebbleBin, challBin, l.Pier} {
		if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
			return fmt.Errorf("trydomains: %s not found: run `make try-domains`, which builds it", bin)
		}
	}
	if err := checkPorts(l.listeners()); err != nil {
		return err
	}
	if err := prepare(l, time.Now()); err != nil {
		return err
	}
	var procs []*proc
	defer func() {
		// Reverse order: pier first, so it does not log Pebble's going.
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
	}()
	exited := make(chan *proc, 3)
	start := func(name, bin string, env, args []string, echo io.Writer, ready func(context.Context) error) error {
		p, err := startProc(ctx, name, bin, env, args, l.logFile(name), echo, ready, exited)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		return nil
	}

	fmt.Fprintf(out, "trydomains: starting pebble-challtestsrv (DNS %s), Pebble (https://%s/dir) and pier serve (%s, %s)…\n",
		l.DNS, l.ACME, l.HTTP, l.HTTPS)
	if err := start("challtestsrv", challBin, nil, l.challtestsrvArgs(), nil, func(ctx context.Context) error {
		return waitTCP(ctx, l.ChallMgmt, l.DNS)
	}); err != nil {
		return err
	}
	api, err := pebbleClient(l)
	if err != nil {
		return err
	}
	if err := start("pebble", pebbleBin, l.pebbleEnv(), l.pebbleArgs(), nil, func(ctx context.Context) error {
		return waitHTTP(ctx, api, "https://"+l.PebbleMgmt+"/roots/0", "https://"+l.ACME+"/dir")
	}); err != nil {
		return err
	}
	root, err := get(ctx, api, "https://"+l.PebbleMgmt+"/roots/0")
	if err != nil {
		return fmt.Errorf("trydomains: fetching Pebble's root: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(root) {
		return fmt.Errorf("trydomains: Pebble's /roots/0 is not a PEM certificate: %.200q", root)
	}
	if err := os.WriteFile(l.rootFile(), root, 0o644); err != nil {
		return fmt.Errorf("trydomains: writing Pebble's root: %w", err)
	}
	// pier's own output is the run's progress (certificates obtained,
	// failures): it goes to the terminal as well as to its log.
	if err := start("pier", l.Pier, nil, l.pierArgs(), out, func(ctx context.Context) error {
		// Its listeners are all open once the admin API answers (a TCP
		// probe of --https would log a failed handshake).
		return waitHTTP(ctx, http.DefaultClient, "http://"+l.Admin+"/metrics", "")
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%s\n", l.steps())

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\ntrydomains: stopping pier serve, Pebble and pebble-challtestsrv")
		return nil
	case p := <-exited:
		return fmt.Errorf("trydomains: %s exited on its own (%v); the end of %s:\n%s", p.name, p.err, p.logPath, p.tail())
	}
}

// checkPorts fails with a clear message when an address is taken.
func checkPorts(ls []listener) error {
	for _, ln := range ls {
		t, err := net.Listen("tcp", ln.Addr)
		if err == nil {
			t.Close()
			if ln.UDP {
				var u net.PacketConn
				if u, err = net.ListenPacket("udp", ln.Addr); err == nil {
					u.Close()
				}
			}
		}
		if err != nil {
			return fmt.Errorf("trydomains: %s (%s) is taken: %w\n"+
				"Another `make try-domains` may still be running; `ss -ltnup | grep :%s` shows which program holds it",
				ln.Addr, ln.What, err, port(ln.Addr))
		}
	}
	return nil
}

// marker names a directory this program made, so that it only ever wipes
// one of its own.
const marker = ".try-domains"

// prepare empties l.Dir and writes Pebble's configuration and listener
// certificate into it.
func prepare(l layout, now time.Time) error {
	if _, err := os.Stat(l.Dir); err == nil {
		if _, err := os.Stat(filepath.Join(l.Dir, marker)); err != nil {
			entries, _ := os.ReadDir(l.Dir)
			if len(entries) > 0 {
				return fmt.Errorf("trydomains: %s exists and was not made by try-domains; not wiping it (pass -dir)", l.Dir)
			}
		}
		if err := os.RemoveAll(l.Dir); err != nil {
			return fmt.Errorf("trydomains: wiping %s: %w", l.Dir, err)
		}
	}
	for _, d := range []string{l.pierData(), l.pebbleDir(), filepath.Dir(l.logFile("x"))} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("trydomains: %w", err)
		}
	}
	certPEM, keyPEM, err := apiCertPEM(now)
	if err != nil {
		return err
	}
	cfg, err := l.pebbleConfigJSON()
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{filepath.Join(l.Dir, marker), []byte("made by make try-domains; wiped at its next start\n")},
		{l.apiCert(), certPEM},
		{l.apiKey(), keyPEM},
		{l.pebbleConfig(), cfg},
	} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return fmt.Errorf("trydomains: %w", err)
		}
	}
	return nil
}

// pebbleClient trusts the certificate of Pebble's listeners.
func pebbleClient(l layout) (*http.Client, error) {
	b, err := os.ReadFile(l.apiCert())
	if err != nil {
		return nil, fmt.Errorf("trydomains: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(b)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}, nil
}

// waitHTTP polls until url (and url2, unless "") answer 200.
func waitHTTP(ctx context.Context, c *http.Client, url, url2 string) error {
	return poll(ctx, func(ctx context.Context) error {
		for _, u := range []string{url, url2} {
			if u == "" {
				continue
			}
			if _, err := get(ctx, c, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// waitTCP polls until every addr accepts connections.
func waitTCP(ctx context.Context, addrs ...string) error {
	return poll(ctx, func(ctx context.Context) error {
		for _, a := range addrs {
			c, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", a)
			if err != nil {
				return err
			}
			c.Close()
		}
		return nil
	})
}

// poll calls try every 100 ms until it succeeds or ctx ends, returning
// try's last error then.
func poll(ctx context.Context, try func(context.Context) error) error {
	for {
		err := try(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", context.Cause(ctx), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, nil
}

// errNotReady is the cause of a start that took longer than startTimeout.
var errNotReady = errors.New("not answering after " + startTimeout.String())

// relative is path relative to the working directory when it lies below
// it (the steps print bin/pier, not the Makefile's absolute path).
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(path) {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// stripPier drops PIER_* variables from env.
func stripPier(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PIER_") {
			out = append(out, kv)
		}
	}
	return out
}
