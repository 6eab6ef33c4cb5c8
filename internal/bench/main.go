// Command bench produces Pier's end-to-end figures (`make bench`):
//
//	go run ./internal/bench edge     # edge vs nginx and Caddy, wrk, one core each
//	go run ./internal/bench deploy   # 10,000-file / 200 MB deploy to MinIO, then a one-file redeploy
//	go run ./internal/bench memory   # RSS of `pier serve` with 10,000 sites routed and 100 warm
//	go run ./internal/bench worker   # the Go example worker through pier vs the same handler natively
//	go run ./internal/bench tls      # TLS handshakes/s, pier vs nginx (same certificate); verify → certificate time against Pebble
//	go run ./internal/bench git      # git push of a 10,000-file / 200 MB repository (time, RSS), then one-file pushes vs pier deploy
//	go run ./internal/bench ratelimit # edge static req/s with per-site rate limits on vs off, same run
//	go run ./internal/bench gc       # garbage collection of 1,000 tenants × 10 deployments × 1,000 files (time, peak heap)
//	go run ./internal/bench neighbour # a tenant's static p99 while another tenant's runaway workers and slow bodies attack, vs quiet
//	go run ./internal/bench kv       # a worker doing one KV get of a hot key and one put per request: req/s, p99
//	go run ./internal/bench ab -a OLD -b NEW # two pier binaries in turns: a static file and the hello-world workers
//
// Every figure it prints is measured in that run on this machine; nothing
// is hard-coded. It needs bin/pier (make build), wrk, nginx and caddy (make
// bench-tools), MinIO and Pebble (.cache/bin, make tools), and git.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench edge|deploy|memory|worker|tls|git|ratelimit|gc|neighbour|kv|ab")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "edge":
		err = benchEdge(ctx)
	case "bare-server":
		err = runBareServer(ctx, os.Args[2:])
	case "edge-server":
		err = runEdgeServer(ctx, os.Args[2:])
	case "ratelimit":
		err = benchRateLimit(ctx)
	case "ab":
		err = benchAB(ctx, os.Args[2:])
	case "worker":
		err = benchWorker(ctx)
	case "neighbour":
		err = benchNeighbour(ctx)
	case "kv":
		err = benchKV(ctx)
	case "deploy":
		err = benchDeploy(ctx)
	case "memory":
		err = benchMemory(ctx)
	case "tls":
		err = benchTLS(ctx, os.Args[2:])
	case "git":
		err = benchGitPush(ctx, os.Args[2:])
	case "gc":
		err = benchGC(ctx, os.Args[2:])
	case "tls-load":
		err = runTLSLoad(ctx, os.Args[2:])
	case "tls-bare-server":
		err = runBareTLSServer(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown benchmark %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// repoRoot finds the directory holding go.mod.
func repoRoot() string {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

func pierBin() string {
	if b := os.Getenv("PIER_BIN"); b != "" {
		return b
	}
	return filepath.Join(repoRoot(), "bin", "pier")
}

func minioBin() string {
	if b := os.Getenv("PIER_TEST_MINIO_BIN"); b != "" {
		return b
	}
	return filepath.Join(repoRoot(), ".cache", "bin", "minio")
}

func cores() int { return runtime.NumCPU() }

// pinCores names the CPU the server under test is pinned to and the one
// the load generator gets (taskset lists): different cores when there
// are two, the same one otherwise.
func pinCores() (server, load string) {
	if cores() < 2 {
		return "0", "0"
	}
	return "0", "1"
}
