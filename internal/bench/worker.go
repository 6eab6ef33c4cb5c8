package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// benchWorker measures the Go example worker (examples/worker-go, built by
// make examples) through a real `pier serve`: its first request after the
// deploy and after a restart, then wrk against it and against the same
// handler compiled natively into a plain Go HTTP server, each pinned to one
// core with GOMAXPROCS=1 and wrk on the other.
func benchWorker(ctx context.Context) error {
	root := repoRoot()
	example := filepath.Join(root, "examples", "worker-go")
	if _, err := os.Stat(filepath.Join(example, "build", "worker.wasm")); err != nil {
		return fmt.Errorf("examples/worker-go is not built: run make examples")
	}
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run make bench-tools", tool)
		}
	}
	serverCore, wrkCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-worker")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	// Native: the same handler as a plain net/http server (built in its
	// own directory: examples/worker-go is a module of its own).
	native := filepath.Join(work, "native")
	build := exec.CommandContext(ctx, "go", "build", "-o", native, ".")
	build.Dir = example
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building the native handler: %v\n%s", err, out)
	}
	nativeAddr, err := freeAddr()
	if err != nil {
		return err
	}
	// Its log line per /api/hello goes to /dev/null (the worker's goes to
	// pier's log stream): still written, not printed among the figures.
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer devNull.Close()
	stopNative, err := startProcessTo(ctx, "taskset", []string{"-c", serverCore, native, "-addr", nativeAddr, "-public", filepath.Join(example, "public")}, []string{"GOMAXPROCS=1"}, devNull)
	if err != nil {
		return err
	}
	if err := waitHTTP(nativeAddr, "localhost", "/api/hello?name=bench"); err != nil {
		stopNative()
		return err
	}
	// The other example workers, when built (make examples): the same
	// hello-world answer from a guest without a Go runtime.
	others := []otherWorker{
		{site: "worker-rust", lang: "Rust", path: "/rust/hello", kvNamespace: "rust-demo"},
		{site: "worker-wat", lang: "WAT", path: "/wat"},
		{site: "worker-c", lang: "C", path: "/c/hello?name=bench"},
	}
	for i := range others {
		o := &others[i]
		_, err := os.Stat(filepath.Join(root, "examples", o.site, "build", "worker.wasm"))
		o.built = err == nil
	}
	defer stopNative()
	// Pier: deploy through the CLI, then measure.
	data := filepath.Join(work, "data")
	p, err := startPierServe(ctx, data, nil, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	if err := deployExamples(ctx, p, root, others); err != nil {
		p.Stop()
		return err
	}
	firstAfterDeploy, err := timeGet(p.Edge, "worker-go.localhost", "/api/hello?name=first")
	if err != nil {
		p.Stop()
		return err
	}
	// Restart on the same data (the compilation cache is in it).
	p.Stop()
	p, err = startPierServe(ctx, data, nil, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	firstAfterRestart, err := timeGet(p.Edge, "worker-go.localhost", "/api/hello?name=restart")
	if err != nil {
		p.Stop()
		return err
	}
	p.Stop()
	// Once more, giving the boot-time prewarm two seconds to finish.
	p, err = startPierServe(ctx, data, nil, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	firstAfterPrewarm, err := timeGet(p.Edge, "worker-go.localhost", "/api/hello?name=prewarmed")
	if err != nil {
		p.Stop()
		return err
	}
	p.Stop()

	// wrk against the native server and a pinned pier, both on the server
	// core, in interleaved rounds (the machine may be shared): each figure
	// is the best of its rounds.
	p, err = startPierServePinned(ctx, serverCore, data)
	if err != nil {
		return err
	}
	defer p.Stop()
	type target struct{ name, addr, host, path string }
	targets := []target{
		{"native ping", nativeAddr, "worker-go.localhost", "/api/ping"},
		{"native hello", nativeAddr, "worker-go.localhost", "/api/hello?name=bench"},
		{"go ping", p.Edge, "worker-go.localhost", "/api/ping"},
		{"go hello", p.Edge, "worker-go.localhost", "/api/hello?name=bench"},
	}
	for _, o := range others {
		if o.built {
			targets = append(targets, target{o.lang, p.Edge, o.site + ".localhost", o.path})
		}
	}
	best := map[string]wrkResult{}
	for i, t := range targets {
		script := filepath.Join(work, fmt.Sprintf("t%d.lua", i))
		if err := writeWrkScript(script, []string{t.path}, []string{t.host}); err != nil {
			return err
		}
		if err := waitHTTP(t.addr, t.host, t.path); err != nil {
			return err
		}
	}
	for round := range wrkRounds {
		for i, t := range targets {
			script := filepath.Join(work, fmt.Sprintf("t%d.lua", i))
			runWrk(ctx, wrkCore, t.addr, script, time.Second)
			r, err := runWrk(ctx, wrkCore, t.addr, script, wrkTime)
			if err != nil {
				return err
			}
			if r.ReqPerSec > best[t.name].ReqPerSec {
				best[t.name] = r
			}
			if os.Getenv("PIER_BENCH_VERBOSE") != "" {
				fmt.Printf("  round %d %-12s %.0f req/s\n", round+1, t.name, r.ReqPerSec)
			}
		}
	}

	fmt.Println("worker benchmark: examples/worker-go (Go SDK, pooled http-wasm reactor), GET /api/hello, pro plan")
	fmt.Printf("  first request after deploy     %v\n", firstAfterDeploy.Round(100*time.Microsecond))
	fmt.Printf("  first request after restart    %v as soon as it is ready, %v two seconds later   (target ≤ 50 ms)\n",
		firstAfterRestart.Round(100*time.Microsecond), firstAfterPrewarm.Round(100*time.Microsecond))
	fmt.Printf("  wrk, one core each, best of %d interleaved %v rounds:\n", wrkRounds, wrkTime)
	for _, name := range []string{"ping", "hello"} {
		n, p := best["native "+name], best["go "+name]
		fmt.Printf("    /api/%-5s native %0.f req/s (p99 %v), pier (Go SDK worker) %0.f req/s (p99 %v): %.2f× native%s%s\n",
			name, n.ReqPerSec, n.P99, p.ReqPerSec, p.P99, p.ReqPerSec/n.ReqPerSec, n.Errors, p.Errors)
	}
	n := best["native ping"]
	for _, o := range others {
		if !o.built {
			fmt.Printf("    %-4s worker: not built (make examples)\n", o.lang)
			continue
		}
		r := best[o.lang]
		fmt.Printf("    %-4s worker (examples/%s, %s) through pier %0.f req/s (p99 %v): %.2f× native /api/ping%s\n",
			o.lang, o.site, o.path, r.ReqPerSec, r.P99, r.ReqPerSec/n.ReqPerSec, r.Errors)
	}
	fmt.Println("  (target for the hello-world /api/ping: ≥ 0.7× native)")
	fmt.Println("  CPU-bound guest with limits vs without, and runaway stop latency: go test -run '^$' -bench 'ServeCPUBound|RunawayStop|ColdStart|ConcurrentRunaways' ./hosting/worker")
	return nil
}

// wrkRounds and wrkTime: each target is measured wrkRounds times for
// wrkTime (after a one-second warm-up), targets interleaved.
const (
	wrkRounds = 3
	wrkTime   = 5 * time.Second
)

// otherWorker is a non-Go example worker measured beside the Go one.
type otherWorker struct {
	site, lang, path string
	kvNamespace      string // created in the tenant before the deploy
	built            bool
}

// deployExamples creates the tenant bench (pro plan, request rate raised
// past wrk's) and deploys examples/worker-go and the built others, each
// to the site of its name.
func deployExamples(ctx context.Context, p *pierProc, root string, others []otherWorker) error {
	if _, err := p.cli(ctx, "tenants", "create", "bench", "--plan", "pro"); err != nil {
		return err
	}
	if err := raiseRequestRate(ctx, p, "bench"); err != nil { // wrk asks faster than the pro plan's rate
		return err
	}
	sites := append([]otherWorker{{site: "worker-go", built: true}}, others...)
	for _, o := range sites {
		if !o.built {
			continue
		}
		if _, err := p.cli(ctx, "sites", "create", o.site, "--tenant", "bench"); err != nil {
			return err
		}
		if o.kvNamespace != "" { // bound by the example's pier.toml
			if _, err := p.cli(ctx, "kv", "create", o.kvNamespace, "--tenant", "bench"); err != nil {
				return err
			}
		}
		if _, err := p.cli(ctx, "deploy", filepath.Join(root, "examples", o.site), "--site", o.site); err != nil {
			return err
		}
	}
	return nil
}

// startPierServePinned starts bin/pier serve on data pinned to one core.
func startPierServePinned(ctx context.Context, core, data string) (*pierProc, error) {
	return startBinPinned(ctx, pierBin(), core, data)
}

// startBinPinned starts bin serve on data pinned to one core, with
// GOMAXPROCS=1, and waits for the Go example to answer.
func startBinPinned(ctx context.Context, bin, core, data string) (*pierProc, error) {
	edge, err := freeAddr()
	if err != nil {
		return nil, err
	}
	adm, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, bin, "serve", "--data", data, "--http", edge, "--admin", adm, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &pierProc{cmd: cmd, bin: bin, API: "http://" + adm, Edge: edge, Data: data}
	if err := waitHTTP(edge, "worker-go.localhost", "/api/hello?name=warm"); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// timeGet times one request until its whole body has arrived.
func timeGet(addr, host, path string) (time.Duration, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.Host = host
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 {
				return 0, fmt.Errorf("GET %s%s: %d", host, path, resp.StatusCode)
			}
			return d, nil
		}
		if time.Now().After(deadline) {
			return 0, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
