package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/pierhq/pier/hosting"
)

// The TLS benchmark (`bench tls`) has two parts:
//
//  1. Handshakes per second for a cached certificate: the real `pier serve
//     --tls-internal` (its HTTPS listener, certs.Manager and certmagic
//     cache) against Debian's nginx serving the very same certificate and
//     key, and a bare crypto/tls server as a reference, each pinned to the
//     same core with one worker, taking turns under a Go load generator
//     (`bench tls-load`) on the other core. Full and resumed handshakes,
//     TLS 1.3 and TLS 1.2, the same client settings for every server.
//  2. Time from a successful `domains verify` to an issued certificate:
//     the real `pier serve` with its ACME issuer pointed at Pebble
//     (tls_issue.go).

// tlsBenchHost is the name the handshake benchmark asks for: a platform
// host, which `pier serve --tls-internal` certifies from its local CA.
const tlsBenchHost = "bench.localhost"

// Handshake benchmark timing and load.
const (
	tlsWarmup   = time.Second
	tlsDuration = 5 * time.Second
	tlsConns    = 32
	tlsSlice    = 200 * time.Millisecond
	tlsRounds   = 2
)

// benchTLS runs both parts, or only "handshakes" or "issue" when args
// name one.
func benchTLS(ctx context.Context, args []string) error {
	for _, tool := range []string{"nginx", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run make bench-tools", tool)
		}
	}
	if _, err := os.Stat(pierBin()); err != nil {
		return fmt.Errorf("%s: %w (run make build)", pierBin(), err)
	}
	part := ""
	if len(args) > 0 {
		part = args[0]
	}
	switch part {
	case "handshakes":
		return benchHandshakes(ctx)
	case "issue":
		return benchIssue(ctx)
	case "":
	default:
		return fmt.Errorf("bench tls: unknown part %q (handshakes, issue)", part)
	}
	if err := benchHandshakes(ctx); err != nil {
		return err
	}
	fmt.Println()
	return benchIssue(ctx)
}

// tlsCase is one handshake measurement.
type tlsCase struct {
	version string // "1.3" or "1.2"
	resume  bool
}

func (c tlsCase) String() string {
	if c.resume {
		return "TLS " + c.version + " resumed"
	}
	return "TLS " + c.version + " full"
}

func benchHandshakes(ctx context.Context) error {
	serverCore, clientCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-tls")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// Pier: the real binary, pinned; its certificate is obtained on demand
	// from the internal CA by the first handshake, then served from memory.
	pier, httpsAddr, err := startPierTLS(ctx, filepath.Join(work, "pier"), serverCore)
	if err != nil {
		return err
	}
	defer pier.Stop()
	rootPEM, err := os.ReadFile(filepath.Join(pier.Data, "tls-internal-root.pem"))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	pierLeaf, err := waitVerifiedHandshake(ctx, httpsAddr, tlsBenchHost, roots, 30*time.Second)
	if err != nil {
		return fmt.Errorf("pier: %w", err)
	}
	// The certificate and key the manager stored (and serves), for nginx.
	st := &certmagic.FileStorage{Path: filepath.Join(pier.Data, "certs")}
	certPEM, err := st.Load(ctx, certmagic.StorageKeys.SiteCert("pier-internal", tlsBenchHost))
	if err != nil {
		return fmt.Errorf("reading pier's stored certificate: %w", err)
	}
	keyPEM, err := st.Load(ctx, certmagic.StorageKeys.SitePrivateKey("pier-internal", tlsBenchHost))
	if err != nil {
		return fmt.Errorf("reading pier's stored key: %w", err)
	}
	if b, _ := pem.Decode(certPEM); b == nil || !bytes.Equal(b.Bytes, pierLeaf.Raw) {
		return errors.New("the stored certificate is not the one pier serves")
	}
	certFile, keyFile := filepath.Join(work, "cert.pem"), filepath.Join(work, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	// A second handshake must show the same certificate (served from
	// memory, not issued again).
	if leaf, err := waitVerifiedHandshake(ctx, httpsAddr, tlsBenchHost, roots, 5*time.Second); err != nil || !bytes.Equal(leaf.Raw, pierLeaf.Raw) {
		return fmt.Errorf("pier: second handshake: different certificate or %v", err)
	}

	nginxAddr, nginxPIDs, stopNginx, err := startNginxTLS(ctx, filepath.Join(work, "nginx"), certFile, keyFile, serverCore)
	if err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	defer stopNginx()
	if leaf, err := waitVerifiedHandshake(ctx, nginxAddr, tlsBenchHost, roots, 30*time.Second); err != nil {
		return fmt.Errorf("nginx: %w", err)
	} else if !bytes.Equal(leaf.Raw, pierLeaf.Raw) {
		return errors.New("nginx serves a different certificate than pier")
	}

	bareAddr, barePID, stopBare, err := startBareTLS(ctx, certFile, keyFile, serverCore)
	if err != nil {
		return fmt.Errorf("go-bare: %w", err)
	}
	defer stopBare()
	if leaf, err := waitVerifiedHandshake(ctx, bareAddr, tlsBenchHost, roots, 30*time.Second); err != nil {
		return fmt.Errorf("go-bare: %w", err)
	} else if !bytes.Equal(leaf.Raw, pierLeaf.Raw) {
		return errors.New("go-bare serves a different certificate than pier")
	}

	servers := []tlsTarget{
		{"pier", httpsAddr, func() []int { return []int{pier.cmd.Process.Pid} }},
		{"nginx", nginxAddr, nginxPIDs},
		{"go-bare", bareAddr, func() []int { return []int{barePID} }},
	}
	cases := []tlsCase{{"1.3", false}, {"1.3", true}, {"1.2", false}, {"1.2", true}}
	// Case by case, the servers in turns (tls-load), so that the noise
	// of a shared machine hits them alike; the whole series tlsRounds
	// times, keeping each figure's best round.
	best := map[string]map[tlsCase]tlsLoadResult{}
	for _, s := range servers {
		best[s.name] = map[tlsCase]tlsLoadResult{}
	}
	for round := 1; round <= tlsRounds; round++ {
		for _, c := range cases {
			rs, err := runTLSLoadPinned(ctx, clientCore, servers, c)
			if err != nil {
				return fmt.Errorf("%v: %w", c, err)
			}
			for i, r := range rs {
				s := servers[i]
				best[s.name][c] = best[s.name][c].best(r)
				fmt.Printf("round %d %-7s %-16s %6.0f handshakes/s  %6.0f per CPU-s  server CPU %3.0f%%  client CPU %3.0f%%  %s%s\n",
					round, s.name, c, r.Rate(), r.PerCPU(), 100*r.ServerCPU/r.Seconds, 100*r.ClientCPU/r.Seconds, r.Params, r.problems())
			}
		}
	}
	results := best
	obtained, err := certsObtained(pier.API)
	if err != nil {
		return err
	}

	fmt.Println()
	fmt.Printf("TLS handshake benchmark: real `pier serve --tls-internal` (HTTPS listener, certs.Manager, certmagic cache) vs nginx %s,\n", nginxVersion())
	fmt.Printf("the same certificate and key (%s, certificate obtained on demand by pier's first handshake, then cached),\n", keyType(keyPEM))
	fmt.Printf("server pinned to core %s (GOMAXPROCS=1 / worker_processes 1), Go load generator on core %s (GOMAXPROCS=1, %d connections,\n", serverCore, clientCore, tlsConns)
	fmt.Printf("X25519 for all, certificate chain not verified by the client during the run); the servers take turns of %v,\n", tlsSlice)
	fmt.Printf("%v warm-up + %v measured each per figure, %d rounds, each figure the best of its rounds (the machine is shared);\n", tlsWarmup, tlsDuration, tlsRounds)
	fmt.Println("each connection: TCP connect, handshake, close. Resumed: session tickets (both servers), only DidResume counted.")
	fmt.Println("go-bare is a reference: crypto/tls with the certificate in tls.Config.Certificates, in the same http.Server set-up, no certs.Manager.")
	fmt.Println("per CPU-s = handshakes per second of server CPU time: the server's capacity when the one-core client is the bottleneck.")
	fmt.Printf("%-16s %9s %9s %9s %8s %11s %11s %11s %8s %8s\n", "", "nginx/s", "pier/s", "bare/s", "×nginx",
		"nginx/CPU-s", "pier/CPU-s", "bare/CPU-s", "×nginx", "×bare")
	for _, c := range cases {
		n, p, g := results["nginx"][c], results["pier"][c], results["go-bare"][c]
		fmt.Printf("%-16s %9.0f %9.0f %9.0f %7.2fx %11.0f %11.0f %11.0f %7.2fx %7.2fx\n", c, n.Rate(), p.Rate(), g.Rate(), p.Rate()/n.Rate(),
			n.PerCPU(), p.PerCPU(), g.PerCPU(), p.PerCPU()/n.PerCPU(), p.PerCPU()/g.PerCPU())
	}
	if obtained == 1 {
		fmt.Println("pier obtained its one certificate before the runs and none during them (pier_cert_obtained_total 1).")
	} else {
		fmt.Printf("WARNING: pier_cert_obtained_total is %d, want 1: the certificate was not only served from memory\n", obtained)
	}
	fmt.Println("target: pier ≥ 0.8× nginx")
	return nil
}

// startPierTLS starts `pier serve --tls-internal` pinned to core, HTTPS on
// a free loopback port; it returns once the admin API answers.
func startPierTLS(ctx context.Context, data, core string) (*pierProc, string, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		addrs[i] = a
	}
	edge, adm, https := addrs[0], addrs[1], addrs[2]
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, pierBin(), "serve", "--data", data, "--domain", "localhost",
		"--http", edge, "--admin", adm, "--https", https, "--tls-internal", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	p := &pierProc{cmd: cmd, API: "http://" + adm, Edge: edge, Data: data}
	if err := waitHealthy(p.API); err != nil {
		p.Stop()
		return nil, "", err
	}
	return p, https, nil
}

// certsObtained reads pier_cert_obtained_total from pier's /metrics.
func certsObtained(api string) (int, error) {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "pier_cert_obtained_total "); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("%s/metrics has no pier_cert_obtained_total", api)
}

func waitHealthy(api string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("pier serve did not become ready (%s/healthz)", api)
}

// waitVerifiedHandshake handshakes with addr for sni, verifying the chain
// against roots, until one succeeds; it returns the leaf served.
func waitVerifiedHandshake(ctx context.Context, addr, sni string, roots *x509.CertPool, timeout time.Duration) (*x509.Certificate, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		d := &tls.Dialer{Config: &tls.Config{ServerName: sni, RootCAs: roots}}
		hctx, cancel := context.WithTimeout(ctx, time.Until(deadline))
		c, err := d.DialContext(hctx, "tcp", addr)
		cancel()
		if err == nil {
			leaf := c.(*tls.Conn).ConnectionState().PeerCertificates[0]
			c.Close()
			return leaf, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("no verified handshake with %s for %s: %v", addr, sni, lastErr)
}

// startNginxTLS starts nginx pinned to core with one worker serving
// certFile/keyFile over TLS 1.2 and 1.3 with session tickets and a shared
// session cache. pids lists the master and its workers.
func startNginxTLS(ctx context.Context, dir, certFile, keyFile, core string) (addr string, pids func() []int, stop func(), err error) {
	addr, err = freeAddr()
	if err != nil {
		return "", nil, nil, err
	}
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log crit;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ecdh_curve X25519:prime256v1;
  ssl_session_cache shared:SSL:10m;
  ssl_session_timeout 1h;
  ssl_session_tickets on;
  server {
    listen %[2]s ssl;
    server_name %[5]s;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    return 200 "ok\n";
  }
}
`, dir, addr, certFile, keyFile, tlsBenchHost)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, nil, err
	}
	stop, err = startProcess(ctx, "taskset", []string{"-c", core, "nginx", "-c", confPath, "-p", dir}, nil)
	if err != nil {
		return "", nil, nil, err
	}
	pids = func() []int {
		b, _ := os.ReadFile(filepath.Join(dir, "nginx.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return []int{pid}
	}
	return addr, pids, stop, nil
}

func nginxVersion() string {
	out, _ := exec.Command("nginx", "-v").CombinedOutput()
	v := strings.TrimSpace(string(out))
	v = strings.TrimPrefix(v, "nginx version: ")
	if o, err := exec.Command("openssl", "version").Output(); err == nil {
		if f := strings.Fields(string(o)); len(f) >= 2 {
			v += " (" + f[0] + " " + f[1] + ")"
		}
	}
	return v
}

func keyType(keyPEM []byte) string {
	k, err := certmagic.PEMDecodePrivateKey(keyPEM)
	if err != nil {
		return "unknown key"
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PrivateKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PrivateKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

// tlsLoadResult is what `bench tls-load` prints (JSON).
type tlsLoadResult struct {
	Handshakes int64   // successful handshakes of the kind measured
	NotResumed int64   // resumed runs: handshakes that did not resume
	Errors     int64   // failed dials or handshakes
	FirstError string  `json:",omitempty"`
	Seconds    float64 // measured wall time
	ServerCPU  float64 // CPU seconds the server processes used meanwhile
	ClientCPU  float64 // CPU seconds this load generator used meanwhile
	Params     string  // negotiated version, cipher suite and group

	bestPerCPU float64 // set by best
}

func (r tlsLoadResult) Rate() float64 { return float64(r.Handshakes) / r.Seconds }

func (r tlsLoadResult) PerCPU() float64 {
	if r.bestPerCPU != 0 {
		return r.bestPerCPU
	}
	if r.ServerCPU == 0 {
		return 0
	}
	return float64(r.Handshakes) / r.ServerCPU
}

// best keeps the higher rate and the higher rate per CPU-second of r and
// o (possibly from different rounds: the least disturbed of each).
func (r tlsLoadResult) best(o tlsLoadResult) tlsLoadResult {
	if r.Seconds == 0 {
		return o
	}
	out := r
	if o.Rate() > r.Rate() {
		out = o
	}
	out.bestPerCPU = max(r.PerCPU(), o.PerCPU())
	return out
}

func (r tlsLoadResult) problems() string {
	var s string
	if r.NotResumed > 0 {
		s += fmt.Sprintf("  NOT RESUMED: %d", r.NotResumed)
	}
	if r.Errors > 0 {
		s += fmt.Sprintf("  errors: %d (%s)", r.Errors, r.FirstError)
	}
	return s
}

// runTLSLoadPinned runs `bench tls-load` pinned to core against every
// target at once (interleaved) and returns one result per target.
func runTLSLoadPinned(ctx context.Context, core string, targets []tlsTarget, c tlsCase) ([]tlsLoadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var addrs, pids []string
	for _, t := range targets {
		addrs = append(addrs, t.addr)
		var ps []string
		for _, p := range t.pids() {
			ps = append(ps, strconv.Itoa(p))
		}
		pids = append(pids, strings.Join(ps, ","))
	}
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, self, "tls-load", "-addrs", strings.Join(addrs, ";"), "-sni", tlsBenchHost,
		"-tls", c.version, "-resume="+strconv.FormatBool(c.resume), "-pids", strings.Join(pids, ";"))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("tls-load: %w", err)
	}
	var rs []tlsLoadResult
	if err := json.Unmarshal(out, &rs); err != nil {
		return nil, fmt.Errorf("tls-load output %q: %w", out, err)
	}
	if len(rs) != len(targets) {
		return nil, fmt.Errorf("tls-load: %d results for %d targets", len(rs), len(targets))
	}
	for i, r := range rs {
		if r.Handshakes == 0 {
			return nil, fmt.Errorf("%s: no handshakes%s", targets[i].name, r.problems())
		}
	}
	return rs, nil
}

// tlsTarget is a server under test.
type tlsTarget struct {
	name string
	addr string
	pids func() []int
}

// runTLSLoad is the load generator. Its goroutines connect, handshake and
// close in a loop, against one target at a time: the targets take turns
// in slices of tlsSlice, so that whatever else the machine runs disturbs
// them alike. A handshake counts for its target only if it started and
// ended within one measured slice. After the warm-up (also in turns) it
// measures until each target has had the duration, then prints one
// tlsLoadResult per target as a JSON array.
func runTLSLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tls-load", flag.ContinueOnError)
	addrList := fs.String("addrs", "", "server addresses, separated by ;")
	sni := fs.String("sni", tlsBenchHost, "server name")
	version := fs.String("tls", "1.3", "TLS version: 1.3 or 1.2")
	resume := fs.Bool("resume", false, "resume sessions (session tickets) and count only resumed handshakes")
	conns := fs.Int("c", tlsConns, "concurrent connections")
	warmup := fs.Duration("warmup", tlsWarmup, "warm-up per target")
	duration := fs.Duration("d", tlsDuration, "measured time per target")
	slice := fs.Duration("slice", tlsSlice, "turn length")
	pidList := fs.String("pids", "", "per target (separated by ;), comma-separated PIDs whose CPU time (and their children's) to report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	addrs := strings.Split(*addrList, ";")
	pidGroups := strings.Split(*pidList, ";")
	n := len(addrs)
	pids := make([][]int, n)
	for i := range pids {
		if i < len(pidGroups) {
			for _, s := range strings.Split(pidGroups[i], ",") {
				if p, err := strconv.Atoi(s); err == nil {
					pids[i] = append(pids[i], p)
				}
			}
		}
	}
	cfgs := make([]*tls.Config, n)
	for i := range cfgs {
		cfg := &tls.Config{
			ServerName: *sni,
			// The chain was verified before the run (waitVerifiedHandshake);
			// during it the client only checks the handshake signature, so
			// that it spends as little as it can of its one core.
			InsecureSkipVerify: true,
			// X25519 key exchange with every server (the Debian nginx's
			// OpenSSL has no ML-KEM, which Go would otherwise prefer);
			// P-256 listed too, as TLS 1.2 servers check an ECDSA
			// certificate's curve against it.
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		}
		switch *version {
		case "1.3":
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
		case "1.2":
			cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		default:
			return fmt.Errorf("-tls %q: want 1.3 or 1.2", *version)
		}
		if *resume {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(16)
			// Obtain a ticket: TLS 1.3 sends it after the handshake, so
			// read for a moment. Go's client keeps using a ticket until
			// it is replaced.
			c, err := tls.Dial("tcp", addrs[i], cfg)
			if err != nil {
				return err
			}
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			c.Read(make([]byte, 1))
			c.Close()
		}
		cfgs[i] = cfg
	}
	params := make([]atomic.Value, n)
	handshake := func(i int) (resumed bool, err error) {
		c, err := net.DialTimeout("tcp", addrs[i], 5*time.Second)
		if err != nil {
			return false, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Client(c, cfgs[i])
		if err := tc.Handshake(); err != nil {
			return false, err
		}
		st := tc.ConnectionState()
		if params[i].Load() == nil {
			params[i].Store(fmt.Sprintf("%s %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID))
		}
		return st.DidResume, nil
	}

	// turn: target index in the low 16 bits, measured flag in bit 16,
	// slice number above; a handshake counts if turn is unchanged.
	var turn atomic.Int64
	type counts struct {
		ok, notResumed, failed atomic.Int64
		firstErr               atomic.Value
	}
	cnt := make([]counts, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t := turn.Load()
				i := int(t & 0xffff)
				resumed, err := handshake(i)
				if t&(1<<16) == 0 || turn.Load() != t {
					continue
				}
				switch {
				case err != nil:
					cnt[i].failed.Add(1)
					cnt[i].firstErr.CompareAndSwap(nil, err.Error())
				case *resume && !resumed:
					cnt[i].notResumed.Add(1)
				default:
					cnt[i].ok.Add(1)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	results := make([]tlsLoadResult, n)
	var slices int64
	run := func(total time.Duration, measured bool) error {
		for elapsed := time.Duration(0); elapsed < total; elapsed += *slice {
			for i := range n {
				slices++
				t := slices<<17 | int64(i)
				if measured {
					t |= 1 << 16
				}
				srv0, cli0, start := procCPU(pids[i]), selfCPU(), time.Now()
				turn.Store(t)
				select {
				case <-time.After(*slice):
				case <-ctx.Done():
					return ctx.Err()
				}
				if measured {
					results[i].Seconds += time.Since(start).Seconds()
					results[i].ServerCPU += procCPU(pids[i]) - srv0
					results[i].ClientCPU += selfCPU() - cli0
				}
			}
		}
		return nil
	}
	if err := run(*warmup, false); err != nil {
		return err
	}
	if err := run(*duration, true); err != nil {
		return err
	}
	turn.Store(0) // the last slice's stragglers do not count
	for i := range results {
		r := &results[i]
		r.Handshakes, r.NotResumed, r.Errors = cnt[i].ok.Load(), cnt[i].notResumed.Load(), cnt[i].failed.Load()
		r.FirstError, _ = cnt[i].firstErr.Load().(string)
		r.Params, _ = params[i].Load().(string)
	}
	return json.NewEncoder(os.Stdout).Encode(results)
}

// procCPU is the user+system CPU seconds of pids and their children.
func procCPU(pids []int) float64 {
	var ticks int64
	seen := map[int]bool{}
	var add func(pid int)
	add = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// Fields after the parenthesised command: state is field 3,
		// utime 14, stime 15.
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				ticks += u + st
			}
		}
		if c, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			for _, s := range strings.Fields(string(c)) {
				if child, err := strconv.Atoi(s); err == nil {
					add(child)
				}
			}
		}
	}
	for _, p := range pids {
		add(p)
	}
	return float64(ticks) / 100 // USER_HZ
}

func selfCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// startBareTLS re-executes this program as `bench tls-bare-server`,
// pinned to core with GOMAXPROCS=1.
func startBareTLS(ctx context.Context, certFile, keyFile, core string) (addr string, pid int, stop func(), err error) {
	addr, err = freeAddr()
	if err != nil {
		return "", 0, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, self, "tls-bare-server", "-addr", addr, "-cert", certFile, "-key", keyFile)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop = func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	return addr, cmd.Process.Pid, stop, nil
}

// runBareTLSServer is the go-bare reference of the handshake benchmark:
// the HTTPS server set-up of `pier serve` (hosting.NewServer, the same
// NextProtos and minimum version) with a fixed certificate.
func runBareTLSServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tls-bare-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	certFile := fs.String("cert", "", "certificate PEM file")
	keyFile := fs.String("key", "", "key PEM file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := hosting.NewServer(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }))
	srv.TLSConfig = &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS12,
	}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
