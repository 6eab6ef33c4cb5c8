package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/hosting"
	"github.com/pierhq/pier/tenants"
)

// The benchmark site: 900 small (1–4 KiB), 90 medium (20–100 KiB) and 10
// large (1–2 MiB) files, deterministic.
type benchFile struct {
	Path string // "/s/0001.html"
	Data []byte
}

func makeSite(seed uint64) []benchFile {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var files []benchFile
	add := func(prefix string, n, min, max int, ext string) {
		for i := 0; i < n; i++ {
			size := min + r.IntN(max-min+1)
			b := make([]byte, size)
			const alphabet = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ<>/=\n0123456789"
			for j := range b {
				b[j] = alphabet[r.IntN(len(alphabet))]
			}
			files = append(files, benchFile{Path: fmt.Sprintf("/%s/%04d.%s", prefix, i, ext), Data: b})
		}
	}
	add("s", 900, 1<<10, 4<<10, "html")
	add("m", 90, 20<<10, 100<<10, "css")
	add("l", 10, 1<<20, 2<<20, "bin")
	return files
}

const benchSites = 10_000

func benchSiteName(i int) string { return fmt.Sprintf("site%05d", i) }

// runEdgeServer is the Pier side of the edge benchmark, started pinned to
// one core: the real hosting.Edge and assets cache over a real fsblob store
// holding the site, with the registry held in memory (10,000 sites of one
// tenant, all on the benchmark deployment). A warm request never reaches
// the registry, so this measures exactly what `pier serve` does per request.
func runEdgeServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("edge-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	dir := fs.String("dir", "", "blob directory")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the serving to this file")
	rateLimits := fs.Bool("rate-limits", true, "check each request against its site's rate, as pier serve does (the tenant's rate is far above what wrk sends)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	blobs, err := fsblob.New(*dir)
	if err != nil {
		return err
	}
	salt := make([]byte, 16)
	manifest := assets.Manifest{}
	for _, f := range makeSite(1) {
		h := assets.Hash(salt, f.Data)
		if err := blobs.Put(ctx, assets.Key("t_bench", h, ""), strings.NewReader(string(f.Data)), int64(len(f.Data))); err != nil {
			return err
		}
		manifest[f.Path] = assets.Entry{Hash: h, Size: int64(len(f.Data)), ContentType: assets.ContentType(f.Path)}
	}
	reg := &memRegistry{
		tenant: tenants.Tenant{ID: "t_bench", Name: "bench", Plan: tenants.PlanPro, Salt: salt, Limits: benchRateOverride},
		sites:  make(map[string]tenants.Site, benchSites),
	}
	for i := 0; i < benchSites; i++ {
		name := benchSiteName(i)
		reg.sites[name] = tenants.Site{ID: "s_" + name, TenantID: "t_bench", Name: name, ActiveDeployment: "d" + name}
	}
	reg.deploy = func(siteID, id string) tenants.Deployment {
		return tenants.Deployment{ID: id, SiteID: siteID, TenantID: "t_bench", Manifest: manifest,
			Config: tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFound404}}
	}
	cache := assets.NewCache(blobs, 256<<20)
	edge := hosting.New(hosting.Config{Domain: "localhost", RateLimits: *rateLimits}, reg, cache)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := hosting.NewServer(ln.Addr().String(), edge)
	fmt.Println("listening", ln.Addr())
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type memRegistry struct {
	tenant tenants.Tenant
	sites  map[string]tenants.Site
	deploy func(siteID, id string) tenants.Deployment
}

func (m *memRegistry) Site(_ context.Context, ref string) (tenants.Site, error) {
	if s, ok := m.sites[ref]; ok {
		return s, nil
	}
	return tenants.Site{}, tenants.ErrNotFound
}

func (m *memRegistry) Tenant(_ context.Context, ref string) (tenants.Tenant, error) {
	if ref == m.tenant.ID || ref == m.tenant.Name {
		return m.tenant, nil
	}
	return tenants.Tenant{}, tenants.ErrNotFound
}

func (m *memRegistry) Deployment(_ context.Context, siteID, id string) (tenants.Deployment, error) {
	name := strings.TrimPrefix(siteID, "s_")
	if s, ok := m.sites[name]; ok && s.ActiveDeployment == id {
		return m.deploy(siteID, id), nil
	}
	return tenants.Deployment{}, tenants.ErrNotFound
}

var _ hosting.Registry = (*memRegistry)(nil)

type wrkResult struct {
	ReqPerSec float64
	P99       time.Duration
	Errors    string
}

func benchEdge(ctx context.Context) error {
	for _, tool := range []string{"wrk", "nginx", "caddy", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run make bench-tools", tool)
		}
	}
	serverCore, wrkCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-edge")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// The same files on disk for nginx and Caddy.
	root := filepath.Join(work, "root")
	site := makeSite(1)
	for _, f := range site {
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	var small, all []string
	for _, f := range site {
		all = append(all, f.Path)
		if strings.HasPrefix(f.Path, "/s/") {
			small = append(small, f.Path)
		}
	}
	hosts := make([]string, benchSites)
	for i := range hosts {
		hosts[i] = benchSiteName(i) + ".localhost"
	}

	type server struct {
		name  string
		start func() (addr string, stop func(), err error)
		hosts []string
	}
	servers := []server{
		{"nginx", func() (string, func(), error) { return startNginx(ctx, work, root, serverCore) }, []string{"localhost"}},
		{"caddy", func() (string, func(), error) { return startCaddy(ctx, work, root, serverCore) }, []string{"localhost"}},
		{"go-bare", func() (string, func(), error) {
			return startSelf(ctx, work, serverCore, "bare-server", "localhost", "/s/0000.html")
		}, []string{"localhost"}},
		{"pier", func() (string, func(), error) { return startPierEdge(ctx, work, serverCore) }, hosts},
	}
	workloads := []struct {
		name  string
		paths []string
	}{{"small", small}, {"mixed", all}}

	results := map[string]map[string]wrkResult{}
	for _, s := range servers {
		addr, stop, err := s.start()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		results[s.name] = map[string]wrkResult{}
		for _, w := range workloads {
			script := filepath.Join(work, s.name+"-"+w.name+".lua")
			paths := w.paths
			if s.name == "pier" {
				// auto-trailing-slash: the canonical URL of /x.html is /x
				// (requesting /x.html would measure 307 redirects).
				paths = make([]string, len(w.paths))
				for i, p := range w.paths {
					paths[i] = strings.TrimSuffix(p, ".html")
				}
			}
			if err := writeWrkScript(script, paths, s.hosts); err != nil {
				stop()
				return err
			}
			// Warm up: every host and every file in turn (for Pier, every
			// route and the shared deployment get loaded), then the random
			// mix for a few seconds; then measure.
			warm := filepath.Join(work, s.name+"-"+w.name+"-warm.lua")
			if err := writeWarmScript(warm, paths, s.hosts); err != nil {
				stop()
				return err
			}
			for _, sc := range []string{warm, script} {
				if _, err := runWrk(ctx, wrkCore, addr, sc, 5*time.Second); err != nil {
					stop()
					return fmt.Errorf("%s warm-up: %w", s.name, err)
				}
			}
			r, err := runWrk(ctx, wrkCore, addr, script, 10*time.Second)
			if err != nil {
				stop()
				return fmt.Errorf("%s %s: %w", s.name, w.name, err)
			}
			results[s.name][w.name] = r
			fmt.Printf("%-6s %-6s %9.0f req/s  p99 %v%s\n", s.name, w.name, r.ReqPerSec, r.P99, r.Errors)
		}
		stop()
	}

	fmt.Println()
	fmt.Println("edge benchmark: 1,000-file site (900 × 1–4 KiB, 90 × 20–100 KiB, 10 × 1–2 MiB), warm,")
	fmt.Printf("server pinned to core %s (GOMAXPROCS=1 / worker_processes 1), wrk -t1 -c64 on core %s, 10 s per run;\n", serverCore, wrkCore)
	fmt.Println("Pier's Host header drawn from 10,000 sites, all semantics on (html_handling, _headers, ETag, Range, encodings).")
	fmt.Println("go-bare is a reference: a plain net/http server answering the same files from a map in memory, no semantics.")
	fmt.Printf("%-8s %10s %10s %10s %10s %10s %8s %8s %8s\n", "workload", "nginx", "caddy", "go-bare", "pier", "pier p99", "×caddy", "×nginx", "×bare")
	for _, w := range workloads {
		n, c, g, p := results["nginx"][w.name], results["caddy"][w.name], results["go-bare"][w.name], results["pier"][w.name]
		fmt.Printf("%-8s %10.0f %10.0f %10.0f %10.0f %10v %7.2fx %7.2fx %7.2fx   (p99 nginx %v, caddy %v, go-bare %v)\n",
			w.name, n.ReqPerSec, c.ReqPerSec, g.ReqPerSec, p.ReqPerSec, p.P99, p.ReqPerSec/c.ReqPerSec, p.ReqPerSec/n.ReqPerSec, p.ReqPerSec/g.ReqPerSec, n.P99, c.P99, g.P99)
	}
	fmt.Println("targets: pier ≥ 2× caddy and ≥ 0.8× nginx on both workloads, p99 no worse than caddy")
	return nil
}

func writeWrkScript(path string, paths, hosts []string) error {
	var b strings.Builder
	b.WriteString("local paths = {")
	for _, p := range paths {
		fmt.Fprintf(&b, "%q,", p)
	}
	b.WriteString("}\nlocal hosts = {")
	for _, h := range hosts {
		fmt.Fprintf(&b, "%q,", h)
	}
	b.WriteString("}\n")
	b.WriteString(`math.randomseed(42)
request = function()
  local p = paths[math.random(#paths)]
  local h = hosts[math.random(#hosts)]
  return wrk.format("GET", p, {["Host"] = h})
end
`)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// writeWarmScript writes a wrk script that walks every host and every path
// in turn, so a warm-up of a few seconds touches them all.
func writeWarmScript(path string, paths, hosts []string) error {
	var b strings.Builder
	b.WriteString("local paths = {")
	for _, p := range paths {
		fmt.Fprintf(&b, "%q,", p)
	}
	b.WriteString("}\nlocal hosts = {")
	for _, h := range hosts {
		fmt.Fprintf(&b, "%q,", h)
	}
	b.WriteString("}\n")
	b.WriteString(`local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1], {["Host"] = hosts[(i % #hosts) + 1]})
end
`)
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

var (
	reqRE     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p99RE     = regexp.MustCompile(`\s99%\s+([0-9.]+)(us|ms|s)`)
	non2xxRE  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	socketErr = regexp.MustCompile(`Socket errors: .*`)
)

func runWrk(ctx context.Context, core, addr, script string, d time.Duration) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, "wrk", "-t1", "-c64",
		"-d"+strconv.Itoa(int(d.Seconds()))+"s", "--latency", "-s", script, "http://"+addr+"/")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	var r wrkResult
	m := reqRE.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("wrk output without Requests/sec:\n%s", out)
	}
	r.ReqPerSec, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := p99RE.FindSubmatch(out); m != nil {
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
		r.P99 = time.Duration(v * float64(unit))
	}
	if m := non2xxRE.FindSubmatch(out); m != nil {
		r.Errors += "  non-2xx/3xx: " + string(m[1])
	}
	if m := socketErr.Find(out); m != nil {
		r.Errors += "  " + string(m)
	}
	return r, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitHTTP(addr, host, path string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = host
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer 200 for %s%s", addr, host, path)
}

func startProcess(ctx context.Context, name string, args []string, env []string) (func(), error) {
	return startProcessTo(ctx, name, args, env, os.Stderr)
}

// startProcessTo is startProcess with the process's standard error going
// to stderr (an *os.File is handed to the process as is: no copying
// goroutine in this process, which is not pinned to a core).
func startProcessTo(ctx context.Context, name string, args []string, env []string, stderr io.Writer) (func(), error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = io.Discard, stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}, nil
}

func startNginx(ctx context.Context, work, root, core string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(work, "nginx")
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  keepalive_requests 1000000;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  include /etc/nginx/mime.types;
  server {
    listen %[2]s;
    root %[3]s;
  }
}
`, dir, addr, root)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	stop, err := startProcess(ctx, "taskset", []string{"-c", core, "nginx", "-c", confPath, "-p", dir}, nil)
	if err != nil {
		return "", nil, err
	}
	return addr, stop, waitHTTP(addr, "localhost", "/s/0000.html")
}

func startCaddy(ctx context.Context, work, root, core string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(work, "caddy")
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf("{\n\tadmin off\n\tauto_https off\n}\nhttp://%s {\n\troot * %s\n\tfile_server\n}\n", addr, root)
	confPath := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return "", nil, err
	}
	stop, err := startProcess(ctx, "taskset", []string{"-c", core, "caddy", "run", "--config", confPath, "--adapter", "caddyfile"},
		[]string{"GOMAXPROCS=1", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir})
	if err != nil {
		return "", nil, err
	}
	return addr, stop, waitHTTP(addr, "localhost", "/s/0000.html")
}

// runBareServer is the go-bare reference: net/http answering the benchmark
// files from a map, with a Content-Type and nothing else.
func runBareServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	fs.String("dir", "", "unused")
	if err := fs.Parse(args); err != nil {
		return err
	}
	files := map[string][]byte{}
	types := map[string][]string{}
	for _, f := range makeSite(1) {
		files[f.Path] = f.Data
		types[f.Path] = []string{assets.ContentType(f.Path)}
	}
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h["Content-Type"] = types[r.URL.Path]
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		w.Write(b)
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startPierEdge re-executes this program as `bench edge-server`, pinned.
func startPierEdge(ctx context.Context, work, core string) (string, func(), error) {
	return startSelf(ctx, work, core, "edge-server", benchSiteName(0)+".localhost", "/s/0000")
}

// startSelf re-executes this program as `bench <mode>`, pinned to core.
func startSelf(ctx context.Context, work, core, mode, probeHost, probePath string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, self, mode, "-addr", addr, "-dir", filepath.Join(work, "pier-blobs"))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	go io.Copy(io.Discard, bufio.NewReader(stdout))
	stop := func() {
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
	return addr, stop, waitHTTP(addr, probeHost, probePath)
}
