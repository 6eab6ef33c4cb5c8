package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/tenants"
)

// benchRateOverride is the request rate of the benchmarks' tenants: far
// above what one wrk can send, so that the per-site rate limit is checked
// on every request (as pier serve does by default) but never refuses one.
var benchRateOverride = tenants.Limits{Quotas: tenants.Quotas{RequestsPerSecond: 10_000_000, RequestBurst: 10_000_000}}

// raiseRequestRate gives tenant benchRateOverride's request rate through
// the admin API, for benchmarks that drive a real pier serve with wrk.
func raiseRequestRate(ctx context.Context, p *pierProc, tenant string) error {
	body, _ := json.Marshal(map[string]any{"limits": map[string]int{
		"requestsPerSecond": benchRateOverride.RequestsPerSecond, "requestBurst": benchRateOverride.RequestBurst,
	}})
	req, err := http.NewRequestWithContext(ctx, "PATCH", p.API+"/api/v1/tenants/"+tenant, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("raising the request rate of %s: %s", tenant, resp.Status)
	}
	return nil
}

// rateRounds and rateTime: each configuration is measured rateRounds
// times for rateTime (after a one-second warm-up), on and off in turns so
// that a busy neighbour on the machine hits both alike.
const (
	rateRounds = 6
	rateTime   = 4 * time.Second
)

// benchRateLimit measures the cost of the per-site rate limit: the edge
// benchmark's server (the real hosting.Edge over the 1,000-file site)
// with rate limits on and off, both running, the same wrk on the other
// core, on the edge benchmark's small-file workload over 10,000 sites and
// over one site (every request on one bucket). The tenant's rate is far
// above what wrk sends, so the figure is the check's cost; a refused
// request in the "on" runs fails the benchmark. Besides req/s it reports
// the server's CPU time per request (/proc), which a shared machine
// disturbs less, and the median of each round's on/off ratio.
func benchRateLimit(ctx context.Context) error {
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run make bench-tools", tool)
		}
	}
	serverCore, wrkCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-ratelimit")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	var small []string
	for _, f := range makeSite(1) {
		if strings.HasPrefix(f.Path, "/s/") {
			small = append(small, strings.TrimSuffix(f.Path, ".html")) // the canonical URL
		}
	}
	hosts := make([]string, benchSites)
	for i := range hosts {
		hosts[i] = benchSiteName(i) + ".localhost"
	}
	workloads := []struct {
		name  string
		hosts []string
	}{{"10,000 sites", hosts}, {"one site", hosts[:1]}}

	configs := []string{"off", "on"}
	servers := map[string]*rateServer{}
	for _, c := range configs {
		srv, err := startRateServer(ctx, filepath.Join(work, c), serverCore, c == "on")
		if err != nil {
			return fmt.Errorf("edge server, rate limits %s: %w", c, err)
		}
		defer srv.stop()
		servers[c] = srv
	}

	type sample struct {
		reqPerSec float64
		cpuPerReq time.Duration
		p99       time.Duration
	}
	results := map[string][]sample{} // workload/config → one per round
	for wi, w := range workloads {
		script := filepath.Join(work, fmt.Sprintf("w%d.lua", wi))
		warm := filepath.Join(work, fmt.Sprintf("w%d-warm.lua", wi))
		if err := writeWrkScript(script, small, w.hosts); err != nil {
			return err
		}
		if err := writeWarmScript(warm, small, w.hosts); err != nil {
			return err
		}
		for _, c := range configs {
			if _, err := runWrk(ctx, wrkCore, servers[c].addr, warm, 5*time.Second); err != nil {
				return fmt.Errorf("warm-up: %w", err)
			}
		}
		for round := range rateRounds {
			order := configs
			if round%2 == 1 {
				order = []string{"on", "off"}
			}
			for _, c := range order {
				srv := servers[c]
				runWrk(ctx, wrkCore, srv.addr, script, time.Second)
				cpu0 := srv.cpu()
				r, err := runWrk(ctx, wrkCore, srv.addr, script, rateTime)
				cpu := srv.cpu() - cpu0
				if err != nil {
					return err
				}
				if c == "on" && r.Errors != "" {
					return fmt.Errorf("rate limits on, %s: wrk saw%s: the limit refused requests, so this would not measure the check", w.name, r.Errors)
				}
				s := sample{reqPerSec: r.ReqPerSec, p99: r.P99}
				if n := r.ReqPerSec * rateTime.Seconds(); n > 0 {
					s.cpuPerReq = time.Duration(float64(cpu) / n)
				}
				key := w.name + "/" + c
				results[key] = append(results[key], s)
				if os.Getenv("PIER_BENCH_VERBOSE") != "" {
					fmt.Printf("  round %d %-13s rate limits %-3s %9.0f req/s  %5.2f µs CPU/req  p99 %v%s\n", round+1, w.name, c,
						r.ReqPerSec, float64(s.cpuPerReq)/float64(time.Microsecond), r.P99, r.Errors)
				}
			}
		}
	}

	fmt.Println("rate-limit benchmark: the edge benchmark's server (hosting.Edge, 1,000-file site, small files), warm,")
	fmt.Printf("servers pinned to core %s (GOMAXPROCS=1), wrk -t1 -c64 on core %s; rate limits on and off in turns,\n", serverCore, wrkCore)
	fmt.Printf("%d rounds of %v each; the tenant's rate (%d/s, burst %d) is never reached.\n", rateRounds, rateTime, benchRateOverride.RequestsPerSecond, benchRateOverride.RequestBurst)
	fmt.Printf("%-13s %11s %11s %9s %13s %13s %10s\n", "workload", "off req/s", "on req/s", "on/off", "off CPU/req", "on CPU/req", "off/on CPU")
	for _, w := range workloads {
		off, on := results[w.name+"/off"], results[w.name+"/on"]
		var rate, cpu, offRate, onRate, offCPU, onCPU []float64
		for i := range off {
			rate = append(rate, on[i].reqPerSec/off[i].reqPerSec)
			cpu = append(cpu, float64(off[i].cpuPerReq)/float64(on[i].cpuPerReq))
			offRate, onRate = append(offRate, off[i].reqPerSec), append(onRate, on[i].reqPerSec)
			offCPU, onCPU = append(offCPU, float64(off[i].cpuPerReq)), append(onCPU, float64(on[i].cpuPerReq))
		}
		us := func(ns float64) string { return fmt.Sprintf("%.2f µs", ns/1e3) }
		fmt.Printf("%-13s %11.0f %11.0f %8.3fx %13s %13s %9.3fx\n", w.name,
			medianFloat(offRate), medianFloat(onRate), medianFloat(rate), us(medianFloat(offCPU)), us(medianFloat(onCPU)), medianFloat(cpu))
	}
	fmt.Println("(medians over the rounds; on/off and off/on CPU are medians of each round's ratio)")
	fmt.Println("target: on ≥ 0.97× off (req/s, and the inverse of CPU per request)")
	return nil
}

// rateServer is an edge-server process of the rate-limit benchmark.
type rateServer struct {
	addr string
	cmd  *exec.Cmd
}

// startRateServer starts `bench edge-server` pinned to core, with rate
// limits on or off, and waits until it serves.
func startRateServer(ctx context.Context, work, core string, on bool) (*rateServer, error) {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "taskset", "-c", core, self, "edge-server", "-addr", addr,
		"-dir", filepath.Join(work, "pier-blobs"), fmt.Sprintf("-rate-limits=%v", on))
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &rateServer{addr: addr, cmd: cmd}
	if err := waitHTTP(addr, benchSiteName(0)+".localhost", "/s/0000"); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// cpu returns the process's user and system CPU time so far (taskset
// execs the server, so the pid is the server's).
func (s *rateServer) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): state is
	// field 3, utime 14, stime 15, in clock ticks (100 a second).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (s *rateServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
