package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// benchNeighbour measures what one tenant's attack costs another
// (issue 11): through a real `pier serve` using every core, a quiet
// tenant's static site is requested at a steady pace, alone and then
// under attack, three times in turn: while another tenant's 8 runaway workers (free plan, 10 ms of CPU) are
// requested back to back (waiting out a 429's Retry-After: the tenant's
// CPU rate) and 4 connections send a POST body at 1 byte/s to a third
// tenant's body-reading worker. It prints the quiet tenant's static
// p50/p99 in both phases, their ratio (target ≤ 2×, no errors), a genuine
// upload's latency beside the slow bodies and the CPU the runaways used
// per invocation (from /metrics).
func benchNeighbour(ctx context.Context) error {
	root := repoRoot()
	work, err := os.MkdirTemp("", "pier-bench-neighbour")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	sites := map[string]string{ // site → its worker ("" for none)
		"static": "",
		"spin":   filepath.Join(root, "hosting", "testdata", "workers", "spin.wasm"),
		"upload": filepath.Join(root, "hosting", "testdata", "workers", "body.wasm"),
	}
	for site, wasm := range sites {
		if err := writeNeighbourSite(filepath.Join(work, site), wasm); err != nil {
			return err
		}
	}
	p, err := startPierServe(ctx, filepath.Join(work, "data"), nil, nil)
	if err != nil {
		return err
	}
	defer p.Stop()
	for _, c := range [][]string{
		// Enterprise: its request rate (10,000/s) is above the clients'.
		{"tenants", "create", "quiet", "--plan", "enterprise"},
		{"tenants", "create", "attacker", "--plan", "free"},
		// The slow bodies go to a third tenant's site, beside its genuine
		// uploads: the attacker's runaways use up their own tenant's CPU
		// rate, which would refuse those uploads too.
		{"tenants", "create", "uploader", "--plan", "free"},
		{"sites", "create", "static", "--tenant", "quiet"},
		{"sites", "create", "spin", "--tenant", "attacker"},
		{"sites", "create", "upload", "--tenant", "uploader"},
		{"deploy", filepath.Join(work, "static"), "--site", "static"},
		{"deploy", filepath.Join(work, "spin"), "--site", "spin"},
		{"deploy", filepath.Join(work, "upload"), "--site", "upload"},
	} {
		if _, err := p.cli(ctx, c...); err != nil {
			return err
		}
	}
	if err := waitHTTP(p.Edge, "static.localhost", "/style.css"); err != nil {
		return err
	}

	// Quiet and attacked phases take turns, so that a busy neighbour on
	// the machine weighs on both alike; each side's p99 is over all of
	// its rounds' requests.
	const rounds, phase = 3, 4 * time.Second
	var quiet, attack neighbourResult
	var st attackStats
	for range rounds {
		quiet.add(measureNeighbour(ctx, p.Edge, phase))
		stop := st.start(ctx, p.Edge)
		time.Sleep(time.Second) // the attack under way
		cpu0, _, err := workerCPU(p.API, "spin")
		if err != nil {
			stop()
			return err
		}
		attack.add(measureNeighbour(ctx, p.Edge, phase))
		cpu1, _, err := workerCPU(p.API, "spin")
		stop()
		if err != nil {
			return err
		}
		st.cpu += cpu1 - cpu0
	}
	cpu, invocations, err := workerCPU(p.API, "spin")
	if err != nil {
		return err
	}

	load, _ := os.ReadFile("/proc/loadavg") // a shared machine's other load shows in both phases
	fmt.Printf("neighbour benchmark: a quiet tenant's static GETs (4 clients, 2 ms apart), %d rounds of %v quiet then %v attacked, pier serve on %d cores, load average %s\n",
		rounds, phase, phase, cores(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	qp99, ap99 := percentileOf(quiet.lat, 0.99), percentileOf(attack.lat, 0.99)
	fmt.Printf("  quiet:  %6d requests, p50 %v p99 %v, %d errors\n", quiet.n(), percentileOf(quiet.lat, 0.5), qp99, quiet.errors)
	fmt.Printf("  attack: %6d requests, p50 %v p99 %v, %d errors   (8 runaway workers of one tenant, 4 slow-body connections to another's)\n",
		attack.n(), percentileOf(attack.lat, 0.5), ap99, attack.errors)
	fmt.Printf("  p99 under attack / quiet: %.2f×   (target ≤ 2×, no errors)\n", float64(ap99)/float64(max(qp99, 1)))
	fmt.Printf("  runaways: %d requests (%d answered 503 worker_cpu_exceeded, %d 429 worker_cpu_rate_exceeded), %.1f ms of CPU per invocation on average (free plan: 10 ms), %.0f ms of CPU per second during the attack (free plan's rate: 250)\n",
		st.runaways.Load(), st.runaway503.Load(), st.runaway429.Load(), float64(cpu)/float64(max(invocations, 1))/float64(time.Millisecond),
		float64(st.cpu)/(rounds*phase).Seconds()/float64(time.Millisecond))
	fmt.Printf("  genuine uploads beside %d slow-body connections: %d, p99 %v, %d errors\n",
		st.slowConns.Load(), len(st.uploads), percentileOf(st.uploads, 0.99), st.uploadErrors)
	return nil
}

// attackStats adds up the attack's rounds.
type attackStats struct {
	runaways, runaway503, runaway429, slowConns atomic.Int64
	cpu                                         time.Duration // the runaways' CPU during the measured phases

	mu           sync.Mutex
	uploads      []time.Duration
	uploadErrors int
}

// start starts the attack: 8 clients requesting the runaway worker back to
// back (waiting out a 429's Retry-After), 4 slow-body connections and a
// genuine upload every 100 ms beside them. stop ends it and waits.
func (st *attackStats) start(ctx context.Context, edge string) (stop func()) {
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: time.Minute}
	for range 8 {
		wg.Go(func() {
			for actx.Err() == nil {
				code, _, err := doRequest(actx, client, "GET", edge, "spin.localhost", "/", "")
				if err != nil {
					continue
				}
				st.runaways.Add(1)
				switch code {
				case http.StatusServiceUnavailable:
					st.runaway503.Add(1)
				case http.StatusTooManyRequests:
					// The tenant's CPU rate: wait the Retry-After (at
					// least 1 s), or this measures a flood of 429s
					// rather than the runaways.
					st.runaway429.Add(1)
					select {
					case <-actx.Done():
					case <-time.After(time.Second):
					}
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for actx.Err() == nil {
				st.slowConns.Add(1)
				slowBody(actx, edge, "upload.localhost")
			}
		})
	}
	wg.Go(func() {
		for actx.Err() == nil {
			start := time.Now()
			code, body, err := doRequest(actx, client, "POST", edge, "upload.localhost", "/", "genuine")
			if actx.Err() != nil {
				return
			}
			st.mu.Lock()
			if err != nil || code != 200 || body != "genuine" {
				st.uploadErrors++
			} else {
				st.uploads = append(st.uploads, time.Since(start))
			}
			st.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// writeNeighbourSite writes a site directory: a few static files and, if
// wasm is set, that worker.
func writeNeighbourSite(dir, wasm string) error {
	pub := filepath.Join(dir, "public")
	if err := os.MkdirAll(pub, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"style.css": strings.Repeat("body{color:#123}\n", 64),
		"about.txt": "about\n",
	}
	if wasm == "" {
		files["index.html"] = "<h1>quiet</h1>"
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(pub, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	toml := "[assets]\ndirectory = \"public\"\n"
	if wasm != "" {
		b, err := os.ReadFile(wasm)
		if err != nil {
			return fmt.Errorf("reading %s: %w", wasm, err)
		}
		if err := os.WriteFile(filepath.Join(dir, "worker.wasm"), b, 0o644); err != nil {
			return err
		}
		toml += "\n[worker]\nmain = \"worker.wasm\"\n"
	}
	return os.WriteFile(filepath.Join(dir, "pier.toml"), []byte(toml), 0o644)
}

// neighbourResult is the quiet tenant's requests in one or more phases.
type neighbourResult struct {
	lat    []time.Duration // of the successful requests
	errors int
}

func (r *neighbourResult) add(o neighbourResult) {
	r.lat = append(r.lat, o.lat...)
	r.errors += o.errors
}

func (r *neighbourResult) n() int { return len(r.lat) + r.errors }

// measureNeighbour requests the static site from 4 clients, each waiting
// 2 ms between requests, for d.
func measureNeighbour(ctx context.Context, edge string, d time.Duration) neighbourResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var wg sync.WaitGroup
	paths := []string{"/style.css", "/about.txt", "/"}
	for c := range 4 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				start := time.Now()
				code, _, err := doRequest(context.Background(), client, "GET", edge, "static.localhost", paths[(c+i)%len(paths)], "")
				d := time.Since(start)
				mu.Lock()
				if err != nil || code != 200 {
					errs++
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return neighbourResult{lat: lat, errors: errs}
}

// doRequest sends one request and reads the whole answer.
func doRequest(ctx context.Context, client *http.Client, method, addr, host, path, body string) (int, string, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, r)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// slowBody sends a POST announcing a 1 MB body and then sends it at
// 1 byte/s, until ctx ends or the server gives up on it.
func slowBody(ctx context.Context, addr, host string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		time.Sleep(100 * time.Millisecond)
		return
	}
	defer c.Close()
	go func() { // the server's answer, if it gives up
		_, _ = http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
	}()
	if _, err := fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: 1000000\r\n\r\n", host); err != nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if _, err := c.Write([]byte("x")); err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// workerCPU reads a site's worker CPU time and invocations from /metrics.
func workerCPU(api, site string) (time.Duration, int64, error) {
	resp, err := http.Get(api + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var cpu time.Duration
	var n int64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.HasPrefix(rest, `site="`+site+`"`) {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			continue
		}
		switch name {
		case "pier_worker_cpu_seconds_total":
			cpu = time.Duration(v * float64(time.Second))
		case "pier_worker_invocations_total":
			n += int64(v)
		}
	}
	return cpu, n, sc.Err()
}

// percentileOf returns the p-th percentile of ds (sorting a copy).
func percentileOf(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(max(int(float64(len(s))*p+0.999999)-1, 0), len(s)-1)
	return s[i].Round(10 * time.Microsecond)
}
