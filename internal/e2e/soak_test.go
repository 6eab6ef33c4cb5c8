package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoak (make soak) keeps one `pier serve` busy for PIER_SOAK_DURATION
// (default 10m): readers hammer a static site and a worker, a deployer
// publishes a new version every few seconds (and a broken one in between,
// which must leave the live version alone), and a sampler watches the
// process's memory and goroutines. It fails on any 5xx or transport error,
// a reader seeing a version older than one already seen after activation,
// or memory/goroutines that keep growing.
func TestSoak(t *testing.T) {
	duration := soakDuration(t)
	s := startPier(t, "", []string{"--pprof"})
	s.pier("tenants", "create", "acme", "--plan", "pro")
	// The readers ask as fast as they can: the tenant's request rate is
	// raised above what they send, so that no answer is a 429.
	if code := s.api("PATCH", "/api/v1/tenants/acme", s.Token, map[string]any{"limits": map[string]int{"requestsPerSecond": 1_000_000, "requestBurst": 1_000_000}}, nil); code != 200 {
		t.Fatalf("raising the request rate: %d", code)
	}
	s.pier("sites", "create", "soak", "--tenant", "acme")
	withWorker := false
	if dir := exampleWorkerDir(t, "worker-go"); dir != "" {
		withWorker = true
		s.pier("sites", "create", "worker", "--tenant", "acme")
		s.deploy(dir, "worker")
	}

	files := map[string]string{"404.html": "<h1>Not found</h1>"}
	for i := range 200 {
		files[fmt.Sprintf("assets/f%03d.txt", i)] = strings.Repeat(fmt.Sprintf("file %d\n", i), 1+i*10)
	}
	site := writeSite(t, files)
	writeVersion := func(v int) {
		if err := os.WriteFile(site+"/index.html", []byte("version "+strconv.Itoa(v)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeVersion(1)
	s.deploy(site, "soak")

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var (
		requests, failures atomic.Int64
		live               atomic.Int64 // newest version whose activation returned
		failMu             sync.Mutex
		failSamples        []string
	)
	live.Store(1)
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 20 {
			failMu.Lock()
			failSamples = append(failSamples, fmt.Sprintf(format, args...))
			failMu.Unlock()
		}
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}}
	get := func(host, path string) (int, string, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+s.EdgeAddr+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				floor := live.Load()
				var path string
				switch n := rand.IntN(10); {
				case n == 0:
					path = "/"
				case n == 1:
					path = "/missing-" + strconv.Itoa(rand.IntN(1000))
				default:
					path = fmt.Sprintf("/assets/f%03d.txt", rand.IntN(200))
				}
				status, body, err := get("soak.localhost", path)
				if ctx.Err() != nil {
					return
				}
				requests.Add(1)
				switch {
				case err != nil:
					fail("GET %s: %v", path, err)
				case status >= 500:
					fail("GET %s: %d %q", path, status, body)
				case path == "/":
					v, _ := strconv.Atoi(strings.TrimPrefix(body, "version "))
					if status != 200 || int64(v) < floor {
						fail("GET / = %d %q after version %d went live", status, body, floor)
					}
				case strings.HasPrefix(path, "/missing-") && status != 404:
					fail("GET %s = %d, want 404", path, status)
				case strings.HasPrefix(path, "/assets/") && status != 200:
					fail("GET %s = %d, want 200", path, status)
				}
			}
		})
	}
	if withWorker {
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					status, body, err := get("worker.localhost", "/api/hello?name=soak")
					if ctx.Err() != nil {
						return
					}
					requests.Add(1)
					if err != nil || status != 200 || !strings.Contains(body, `"soak"`) {
						fail("worker: %d %q %v", status, body, err)
					}
				}
			})
		}
	}
	deploys, refused := 0, 0
	wg.Go(func() {
		for v := 2; ctx.Err() == nil; v++ {
			time.Sleep(3 * time.Second)
			if ctx.Err() != nil {
				return
			}
			if v%5 == 0 {
				// A broken deploy: refused, live version unchanged.
				os.WriteFile(site+"/_redirects", []byte("/a /b 999\n"), 0o644)
				if _, _, err := s.pierToken(s.Token, "deploy", site, "--site", "soak"); err == nil {
					fail("a deploy with an invalid _redirects succeeded")
				}
				os.Remove(site + "/_redirects")
				refused++
				continue
			}
			writeVersion(v)
			if _, errOut, err := s.pierToken(s.Token, "deploy", site, "--site", "soak"); err != nil {
				if ctx.Err() == nil {
					fail("deploy %d: %v %s", v, err, errOut)
				}
				return
			}
			live.Store(int64(v))
			deploys++
		}
	})

	pid := s.cmd.Process.Pid
	type sample struct {
		at         time.Duration
		rss        int64
		goroutines int
	}
	var samples []sample
	start := time.Now()
	take := func() {
		samples = append(samples, sample{time.Since(start), rssKB(t, pid), goroutines(t, s.API)})
	}
	take()
	tick := time.NewTicker(max(duration/20, time.Second))
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
			take()
		}
	}
	tick.Stop()
	wg.Wait()
	client.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	take()

	for _, x := range samples {
		t.Logf("t=%-8s rss=%6d KiB goroutines=%d", x.at.Round(time.Second), x.rss, x.goroutines)
	}
	t.Logf("%d requests, %d deploys, %d refused broken deploys, %d failures", requests.Load(), deploys, refused, failures.Load())
	if n := failures.Load(); n > 0 {
		t.Errorf("%d failures; first ones:\n%s", n, strings.Join(failSamples, "\n"))
	}
	if deploys < 2 {
		t.Errorf("only %d deploys went through", deploys)
	}
	// Growth: memory after the first quarter (caches warm) must not have
	// doubled by the end, and goroutines must be back near the start.
	if len(samples) >= 4 {
		warm := samples[len(samples)/4].rss
		if end := samples[len(samples)-1].rss; end > 2*warm+64<<10 {
			t.Errorf("RSS grew from %d KiB (warm) to %d KiB", warm, end)
		}
	}
	if first, last := samples[0].goroutines, samples[len(samples)-1].goroutines; last > first+20 {
		t.Errorf("goroutines %d at start, %d after the load stopped", first, last)
	}
}

// exampleWorkerDir is the built example's directory, or "" when it is not
// built.
func exampleWorkerDir(t *testing.T, name string) string {
	dir := repoRoot(t) + "/examples/" + name
	if _, err := os.Stat(dir + "/build/worker.wasm"); err != nil {
		return ""
	}
	return dir
}

// rssKB is a process's resident set size from /proc.
func rssKB(t *testing.T, pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading pier's memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return n
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// goroutines counts pier's goroutines through --pprof.
func goroutines(t *testing.T, api string) int {
	resp, err := http.Get(api + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatalf("goroutine profile: %v", err)
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	// "goroutine profile: total N"
	n, err := strconv.Atoi(strings.TrimSpace(line[strings.LastIndex(line, " ")+1:]))
	if err != nil {
		t.Fatalf("goroutine profile header %q", line)
	}
	return n
}

// soakDuration skips the test unless PIER_SOAK=1 (make soak) and returns
// PIER_SOAK_DURATION (default 10m).
func soakDuration(t *testing.T) time.Duration {
	if os.Getenv("PIER_SOAK") != "1" {
		t.Skip("soak: set PIER_SOAK=1 (make soak)")
	}
	duration := 10 * time.Minute
	if v := os.Getenv("PIER_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PIER_SOAK_DURATION: %v", err)
		}
		duration = d
	}
	return duration
}
