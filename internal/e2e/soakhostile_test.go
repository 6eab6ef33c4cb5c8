package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoakHostile (make soak) runs hostile tenants beside well-behaved ones
// on one `pier serve` for PIER_SOAK_DURATION (default 10m) and reports the
// well-behaved tenant's p50/p99 latency and error count, quiet (a fifth
// of the duration, before the attack) and attacked; errors must be zero. The hostile tenant (free plan) keeps, all at once: 8 connections
// asking its worker for an infinite loop, 4 connections sending request
// bodies at 1 byte a second to a worker that reads its body, a flood of
// its static site beyond its request rate, GETs of 16,000-byte paths
// against 64 adversarial run_worker_first patterns, requests carrying both
// Content-Length and Transfer-Encoding, and creating sites past its quota.
func TestSoakHostile(t *testing.T) {
	duration := soakDuration(t)
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm not found: run make examples (installs wabt)")
	}
	hostile := filepath.Join(t.TempDir(), "hostile.wasm")
	if out, err := exec.Command(wat2wasm, filepath.Join(repoRoot(t), "internal", "e2e", "testdata", "hostile.wat"), "-o", hostile).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, out)
	}
	echo := filepath.Join(repoRoot(t), "hosting", "worker", "testdata", "echo.wasm")

	s := startPier(t, "", []string{"--pprof"})
	s.pier("tenants", "create", "good", "--plan", "pro")
	s.pier("tenants", "create", "evil")
	for _, site := range []string{"good-static", "good-worker"} {
		s.pier("sites", "create", site, "--tenant", "good")
	}
	for _, site := range []string{"evil-loop", "evil-body", "evil-flood", "evil-globs"} {
		s.pier("sites", "create", site, "--tenant", "evil")
	}
	files := map[string]string{}
	for i := range 50 {
		files[fmt.Sprintf("f%02d.txt", i)] = strings.Repeat(fmt.Sprintf("file %d\n", i), 1+i*20)
	}
	s.deploy(writeSite(t, files), "good-static")
	s.deploy(writeSite(t, map[string]string{"index.html": "worker"}), "good-worker", "--worker", echo)
	s.deploy(writeSite(t, map[string]string{"index.html": "evil"}), "evil-loop", "--worker", hostile)
	s.deploy(writeSite(t, map[string]string{"index.html": "evil"}), "evil-body", "--worker", echo)
	s.deploy(writeSite(t, map[string]string{"index.html": "flood"}), "evil-flood")
	var globs []string
	for i := range 64 {
		globs = append(globs, fmt.Sprintf("%q", "/"+strings.Repeat("*a", 60)+"*"+strings.Repeat("a", 30)+string(rune('b'+i%20))+"*"))
	}
	globSite := writeSite(t, map[string]string{"index.html": "globs",
		"pier.toml": "[assets]\nrun_worker_first = [" + strings.Join(globs, ", ") + "]\n"})
	s.deploy(globSite, "evil-globs", "--worker", hostile)

	quiet := readWellBehaved(t, s.EdgeAddr, max(duration/5, 10*time.Second), nil)
	var hostileRequests atomic.Int64
	attacked := readWellBehaved(t, s.EdgeAddr, duration, func(ctx context.Context, wg *sync.WaitGroup) {
		attack(ctx, wg, s, &hostileRequests)
	})
	t.Logf("well-behaved tenant, quiet:    %s", quiet)
	t.Logf("well-behaved tenant, attacked: %s (p99 ×%.1f); hostile requests %d",
		attacked, float64(attacked.p99)/float64(max(quiet.p99, time.Millisecond)), hostileRequests.Load())
	for _, ph := range []phase{quiet, attacked} {
		if len(ph.errs) > 0 {
			t.Errorf("%d well-behaved requests failed; first ones:\n%s", len(ph.errs), strings.Join(ph.errs[:min(len(ph.errs), 20)], "\n"))
		}
	}
	if r := s.get("good-static.localhost", "/f01.txt"); r.Status != 200 {
		t.Errorf("after the soak the good site answers %d", r.Status)
	}
}

// slowBody POSTs a 1,000-byte body to host at one byte a second until the
// server or ctx ends the connection.
func slowBody(ctx context.Context, addr, host string) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	fmt.Fprintf(c, "POST /body HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000\r\n\r\n", host)
	for range 1000 {
		if _, err := c.Write([]byte("x")); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	io.Copy(io.Discard, c)
}

// smuggle sends a request carrying both Content-Length and
// Transfer-Encoding with a second request hidden after its chunked body,
// and reads what comes back.
func smuggle(ctx context.Context, addr, host string) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: %s\r\n\r\n", host, host)
	br := bufio.NewReader(c)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// attack runs the hostile tenant's clients until ctx ends.
func attack(ctx context.Context, wg *sync.WaitGroup, s *server, count *atomic.Int64) {
	hostileClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	hit := func(method, host, path string, body io.Reader) {
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+s.EdgeAddr+path, body)
		req.Host = host
		if resp, err := hostileClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	loopHostile := func(n int, f func()) {
		for range n {
			wg.Go(func() {
				for ctx.Err() == nil {
					f()
					count.Add(1)
				}
			})
		}
	}
	loopHostile(8, func() { hit("GET", "evil-loop.localhost", "/loop", nil) })
	loopHostile(4, func() { hit("GET", "evil-flood.localhost", "/", nil) })
	long := "/" + strings.Repeat("a", 16_000)
	loopHostile(2, func() { hit("GET", "evil-globs.localhost", long, nil) })
	loopHostile(4, func() { slowBody(ctx, s.EdgeAddr, "evil-body.localhost") })
	loopHostile(1, func() { smuggle(ctx, s.EdgeAddr, "evil-flood.localhost") })
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			s.pierToken(s.Token, "sites", "create", fmt.Sprintf("evil-x%d", i), "--tenant", "evil")
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
}

// phase is what the well-behaved readers saw during one phase of the soak.
type phase struct {
	n             int
	p50, p99, max time.Duration
	errs          []string
}

func (p phase) String() string {
	return fmt.Sprintf("%d requests, p50 %v, p99 %v, max %v, %d errors",
		p.n, p.p50.Round(time.Microsecond), p.p99.Round(time.Microsecond), p.max.Round(time.Microsecond), len(p.errs))
}

// readWellBehaved runs the well-behaved tenant's steady readers (static
// files and a worker) for d, with start (if any) running beside them, and
// returns their latencies and errors.
func readWellBehaved(t *testing.T, edge string, d time.Duration, start func(context.Context, *sync.WaitGroup)) phase {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	if start != nil {
		start(ctx, &wg)
	}
	type result struct {
		latency time.Duration
		err     string
	}
	var (
		mu      sync.Mutex
		results []result
	)
	goodClient := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	for i := range 4 {
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				host, path := "good-static.localhost", fmt.Sprintf("/f%02d.txt", n%50)
				if i%2 == 1 {
					host, path = "good-worker.localhost", "/echo"
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+edge+path, nil)
				req.Host = host
				begin := time.Now()
				resp, err := goodClient.Do(req)
				r := result{}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						r.err = fmt.Sprintf("%s%s: %d", host, path, resp.StatusCode)
					}
				}
				r.latency = time.Since(begin)
				if err != nil {
					r.err = fmt.Sprintf("%s%s: %v", host, path, err)
				}
				if ctx.Err() != nil && r.err != "" {
					return // cut short by the end of the phase
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // a steady reader, not a flood
			}
		})
	}
	wg.Wait()
	var p phase
	var lat []time.Duration
	for _, r := range results {
		lat = append(lat, r.latency)
		if r.err != "" {
			p.errs = append(p.errs, r.err)
		}
	}
	if len(lat) == 0 {
		t.Fatal("the well-behaved readers made no request")
	}
	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	p.n, p.p50, p.p99, p.max = len(lat), q(0.50), q(0.99), lat[len(lat)-1]
	return p
}
