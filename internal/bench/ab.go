package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchAB compares two pier binaries on the same deployments: each in
// turn serves one data directory, pinned to one core with GOMAXPROCS=1,
// and wrk on the other core measures a static file and the example
// workers' hello-worlds; rounds alternate the binaries so that a busy
// neighbour on the machine hits both alike.
//
//	go run ./internal/bench ab -a OLD_BINARY -b NEW_BINARY [-rounds 5]
//
// The data directory is made by the newer binary (-b), so that its
// migrations have run; -a must be able to open it.
func benchAB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ab", flag.ContinueOnError)
	binA := fs.String("a", "", "the baseline pier binary")
	binB := fs.String("b", "", "the pier binary to compare with it")
	rounds := fs.Int("rounds", 5, "turns of each binary")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binA == "" || *binB == "" || *rounds < 1 {
		return errors.New("usage: bench ab -a OLD_BINARY -b NEW_BINARY [-rounds N]")
	}
	root := repoRoot()
	others := []otherWorker{
		{site: "worker-rust", lang: "Rust", path: "/rust/hello", kvNamespace: "rust-demo"},
		{site: "worker-wat", lang: "WAT", path: "/wat"},
	}
	for i := range others {
		_, err := os.Stat(filepath.Join(root, "examples", others[i].site, "build", "worker.wasm"))
		others[i].built = err == nil
	}
	if _, err := os.Stat(filepath.Join(root, "examples", "worker-go", "build", "worker.wasm")); err != nil {
		return errors.New("examples/worker-go is not built: run make examples")
	}
	serverCore, wrkCore := pinCores()
	work, err := os.MkdirTemp("", "pier-bench-ab")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "data")
	// B's server migrates the data directory and B's CLI deploys.
	p, err := startPierServeBin(ctx, *binB, data, nil, []string{"GOMAXPROCS=1"})
	if err != nil {
		return err
	}
	err = deployExamples(ctx, p, root, others)
	p.Stop()
	if err != nil {
		return err
	}

	type target struct{ name, host, path string }
	targets := []target{{"static file", "worker-go.localhost", "/index.html"}}
	for _, o := range others {
		if o.built {
			targets = append(targets, target{o.lang + " worker", o.site + ".localhost", o.path})
		}
	}
	targets = append(targets, target{"Go SDK worker", "worker-go.localhost", "/api/ping"})
	for i, tg := range targets {
		if err := writeWrkScript(filepath.Join(work, fmt.Sprintf("t%d.lua", i)), []string{tg.path}, []string{tg.host}); err != nil {
			return err
		}
	}
	bins := []string{*binA, *binB}
	got := make([][2][]float64, len(targets)) // req/s per target, binary, round
	for round := range *rounds {
		for b, bin := range bins {
			p, err := startBinPinned(ctx, bin, serverCore, data)
			if err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
			for i, tg := range targets {
				if err := waitHTTP(p.Edge, tg.host, tg.path); err != nil {
					p.Stop()
					return err
				}
				script := filepath.Join(work, fmt.Sprintf("t%d.lua", i))
				runWrk(ctx, wrkCore, p.Edge, script, time.Second)
				r, err := runWrk(ctx, wrkCore, p.Edge, script, wrkTime)
				if err != nil {
					p.Stop()
					return err
				}
				if r.Errors != "" {
					p.Stop()
					return fmt.Errorf("%s, %s: %s", bin, tg.name, r.Errors)
				}
				got[i][b] = append(got[i][b], r.ReqPerSec)
			}
			p.Stop()
			if os.Getenv("PIER_BENCH_VERBOSE") != "" {
				fmt.Printf("  round %d of %d: %s done\n", round+1, *rounds, bin)
			}
		}
	}
	fmt.Printf("A/B: A = %s, B = %s, %d rounds in turns on one data directory\n", *binA, *binB, *rounds)
	fmt.Printf("pier serve pinned to core %s with GOMAXPROCS=1, wrk -t1 -c64 on core %s, %v per figure after a 1 s warm-up (req/s)\n", serverCore, wrkCore, wrkTime)
	for i, tg := range targets {
		a, b := got[i][0], got[i][1]
		fmt.Printf("  %-14s %-12s A %s\n", tg.name, tg.path, kreqs(a))
		fmt.Printf("  %-14s %-12s B %s   B/A of the medians %.2f×\n", "", "", kreqs(b), medianFloat(b)/medianFloat(a))
	}
	return nil
}

// kreqs formats figures in thousands, with their median.
func kreqs(v []float64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%.1fk", x/1000)
	}
	fmt.Fprintf(&b, " (median %.1fk)", medianFloat(v)/1000)
	return b.String()
}
