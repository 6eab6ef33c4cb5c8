package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// benchKV measures KV through a real `pier serve` on its embedded SQLite:
// a worker doing one get of a hot key and one put per request, under wrk
// (one thread, 64 connections, on its own core), as req/s and p99. The
// worker is hosting/worker's test guest testdata/kv.wasm, which runs the
// KV calls its request body lists; the get latency inside the guest is
// BenchmarkKVGet in hosting/worker (make bench-kv runs it after this).
func benchKV(ctx context.Context) error {
	root := repoRoot()
	wasm, err := os.ReadFile(filepath.Join(root, "hosting", "worker", "testdata", "kv.wasm"))
	if err != nil {
		return err
	}
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found: run make bench-tools", tool)
		}
	}
	_, wrkCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-kv")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	site := filepath.Join(work, "site")
	if err := os.MkdirAll(filepath.Join(site, "public"), 0o755); err != nil {
		return err
	}
	files := map[string][]byte{
		"kv.wasm":           wasm,
		"public/index.html": []byte("<!doctype html><title>kv bench</title>\n"),
		"pier.toml": []byte(`site = "kv-bench"

[assets]
directory = "public"
run_worker_first = ["*"]

[[kv]]
binding = "STORE"
namespace = "bench"

[worker]
main = "kv.wasm"
`),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(site, name), b, 0o644); err != nil {
			return err
		}
	}

	p, err := startPierServe(ctx, filepath.Join(work, "data"), nil, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	defer p.Stop()
	if _, err := p.cli(ctx, "tenants", "create", "bench", "--plan", "pro"); err != nil {
		return err
	}
	if err := raiseRequestRate(ctx, p, "bench"); err != nil {
		return err
	}
	var ns struct{ ID string }
	if err := p.api(ctx, "POST", "/api/v1/tenants/bench/kv", `{"name":"bench"}`, &ns); err != nil {
		return fmt.Errorf("creating the namespace: %w", err)
	}
	hot := "a value of some thirty-two bytes"
	if err := p.api(ctx, "PUT", "/api/v1/kv/"+ns.ID+"/keys/hot", hot, nil); err != nil {
		return fmt.Errorf("writing the hot key: %w", err)
	}
	if _, err := p.cli(ctx, "sites", "create", "kv-bench", "--tenant", "bench"); err != nil {
		return err
	}
	if _, err := p.cli(ctx, "deploy", site, "--site", "kv-bench"); err != nil {
		return err
	}

	// One get of the hot key (a 64-byte buffer) and one put of a small
	// value, per request: the guest answers each call's i32 result, then
	// the value got.
	var body []byte
	field := func(s string) {
		body = binary.LittleEndian.AppendUint32(body, uint32(len(s)))
		body = append(body, s...)
	}
	body = append(body, 'g')
	field("STORE")
	field("hot")
	body = binary.LittleEndian.AppendUint32(body, 64)
	body = append(body, 'p')
	field("STORE")
	field("last")
	field("written by the benchmark")
	body = binary.LittleEndian.AppendUint64(body, 0)
	want := binary.LittleEndian.AppendUint32(nil, uint32(len(hot)))
	want = append(want, hot...)
	want = binary.LittleEndian.AppendUint32(want, 0)
	if err := checkKVAnswer(p.Edge, body, want); err != nil {
		return err
	}
	script := filepath.Join(work, "kv.lua")
	if err := writeKVScript(script, "kv-bench.localhost", body); err != nil {
		return err
	}
	// Each round's writes are the difference of the write-latency
	// histogram around it; the best round's are reported.
	var best wrkResult
	var bestP50, bestP99 float64
	var bestWrites int64
	for round := range wrkRounds {
		runWrk(ctx, wrkCore, p.Edge, script, time.Second)
		before, err := scrapeHistogram(ctx, p, "pier_kv_write_seconds")
		if err != nil {
			return err
		}
		r, err := runWrk(ctx, wrkCore, p.Edge, script, wrkTime)
		if err != nil {
			return err
		}
		after, err := scrapeHistogram(ctx, p, "pier_kv_write_seconds")
		if err != nil {
			return err
		}
		p50, _ := after.quantile(before, 0.5)
		p99, writes := after.quantile(before, 0.99)
		if r.ReqPerSec > best.ReqPerSec {
			best, bestP50, bestP99, bestWrites = r, p50, p99, writes
		}
		if os.Getenv("PIER_BENCH_VERBOSE") != "" {
			fmt.Printf("  round %d %.0f req/s (p99 %v), %d puts: p50 %s, p99 %s\n", round+1, r.ReqPerSec, r.P99, writes, fmtBound(p50), fmtBound(p99))
		}
	}
	fmt.Println("KV benchmark: a worker doing one get of a hot key and one put per request, pier serve on SQLite (GOMAXPROCS=1), pro plan")
	fmt.Printf("  wrk (1 thread, 64 connections), best of %d interleaved %v rounds: %.0f req/s, p99 %v%s\n",
		wrkRounds, wrkTime, best.ReqPerSec, best.P99, best.Errors)
	fmt.Printf("  the put inside the guest (call to durable acknowledgement, pier_kv_write_seconds), same round: %d puts, p50 %s, p99 %s (target ≤ 1 ms p99 under load)\n",
		bestWrites, fmtBound(bestP50), fmtBound(bestP99))
	fmt.Println("  (every put is synced to disk, in a group commit with the puts queued meanwhile; the request's p99 adds the wait for a worker instance)")
	fmt.Println("  get of a hot key inside the guest: go test -run '^$' -bench KVGet ./hosting/worker (target ≤ 5 µs); the node cache's hit: -bench KVCacheHit ./hosting")
	return nil
}

// checkKVAnswer sends body once and checks the guest's answer.
func checkKVAnswer(edge string, body, want []byte) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequest("POST", "http://"+edge+"/", bytes.NewReader(body))
		req.Host = "kv-bench.localhost"
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Equal(got, want) {
				return nil
			}
			err = fmt.Errorf("status %d, answer %q, want %q", resp.StatusCode, got, want)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the KV worker: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeKVScript writes a wrk script POSTing body to host.
func writeKVScript(path, host string, body []byte) error {
	var b strings.Builder
	b.WriteString(`wrk.method = "POST"` + "\n")
	fmt.Fprintf(&b, "wrk.headers[\"Host\"] = %q\n", host)
	b.WriteString(`wrk.headers["Content-Type"] = "application/octet-stream"` + "\n")
	b.WriteString(`wrk.body = "`)
	for _, c := range body {
		fmt.Fprintf(&b, "\\%d", c) // Lua's decimal escape: any byte
	}
	b.WriteString("\"\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// api calls the admin API as the operator; out, when not nil, receives
// the JSON answer.
func (p *pierProc) api(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, p.API+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// histogram is a Prometheus histogram's cumulative buckets, by upper
// bound (seconds; +Inf last), as /metrics shows them.
type histogram struct {
	bounds []float64
	counts []int64
}

// scrapeHistogram reads name's buckets from pier's /metrics.
func scrapeHistogram(ctx context.Context, p *pierProc, name string) (histogram, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", p.API+"/metrics", nil)
	if err != nil {
		return histogram{}, err
	}
	req.Header.Set("Authorization", "Bearer "+p.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return histogram{}, err
	}
	var h histogram
	prefix := name + `_bucket{le="`
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		le, count, ok := strings.Cut(strings.TrimSpace(rest), `"} `)
		if !ok {
			continue
		}
		bound := math.Inf(1)
		if le != "+Inf" {
			if bound, err = strconv.ParseFloat(le, 64); err != nil {
				return histogram{}, fmt.Errorf("%s: bucket %q: %w", name, le, err)
			}
		}
		n, err := strconv.ParseInt(count, 10, 64)
		if err != nil {
			return histogram{}, fmt.Errorf("%s: bucket %q: %w", name, le, err)
		}
		h.bounds, h.counts = append(h.bounds, bound), append(h.counts, n)
	}
	return h, nil
}

// quantile is the upper bound of the bucket holding quantile q of the
// observations made between before and h, and how many there were.
func (h histogram) quantile(before histogram, q float64) (float64, int64) {
	delta := func(i int) int64 {
		if i < len(before.counts) {
			return h.counts[i] - before.counts[i]
		}
		return h.counts[i]
	}
	if len(h.counts) == 0 {
		return math.NaN(), 0
	}
	total := delta(len(h.counts) - 1)
	for i := range h.counts {
		if float64(delta(i)) >= q*float64(total) {
			return h.bounds[i], total
		}
	}
	return math.Inf(1), total
}

// fmtBound formats a bucket bound in seconds for the report.
func fmtBound(s float64) string {
	if math.IsInf(s, 1) {
		return "> 1 s"
	}
	return "≤ " + time.Duration(s*float64(time.Second)).String()
}
