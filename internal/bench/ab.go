package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// benchAB compares two pier binaries on the same deployments: both run
// at once, each on its own copy of one data directory, pinned to the same
// core with GOMAXPROCS=1, and wrk on the other core measures a static
// file and the example workers' hello-worlds against one and then the
// other (the idle one costs the core nothing). Each round measures every
// target on both, in the order AB, then BA in the next round, so that a
// busy neighbour on the machine, or a drift of the host's speed, hits
// both alike: seconds apart rather than a whole sweep apart.
//
//	go run ./internal/bench ab -a OLD_BINARY -b NEW_BINARY [-rounds 5] [-time 5s]
//
// The data directory is made by the newer binary (-b), so that its
// migrations have run; -a must be able to open it.
func benchAB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ab", flag.ContinueOnError)
	binA := fs.String("a", "", "the baseline pier binary")
	binB := fs.String("b", "", "the pier binary to compare with it")
	rounds := fs.Int("rounds", 5, "measurements of each target on each binary")
	measure := fs.Duration("time", wrkTime, "each measurement's length, after a 1 s warm-up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binA == "" || *binB == "" || *rounds < 1 || *measure < time.Second {
		return errors.New("usage: bench ab -a OLD_BINARY -b NEW_BINARY [-rounds N] [-time D ≥ 1s]")
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
	var procs [2]*pierProc
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.Stop()
			}
		}
	}()
	for b, bin := range bins {
		dir := filepath.Join(work, fmt.Sprintf("data-%c", 'a'+b))
		if out, err := exec.CommandContext(ctx, "cp", "-a", data, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("copying the data directory: %v: %s", err, out)
		}
		if procs[b], err = startBinPinned(ctx, bin, serverCore, dir); err != nil {
			return fmt.Errorf("%s: %w", bin, err)
		}
		for _, tg := range targets {
			if err := waitHTTP(procs[b].Edge, tg.host, tg.path); err != nil {
				return fmt.Errorf("%s: %w", bin, err)
			}
		}
	}
	got := make([][2][]float64, len(targets)) // req/s per target, binary, round
	for round := range *rounds {
		for i, tg := range targets {
			script := filepath.Join(work, fmt.Sprintf("t%d.lua", i))
			for k := range 2 {
				b := k ^ round%2 // AB, then BA
				runWrk(ctx, wrkCore, procs[b].Edge, script, time.Second)
				r, err := runWrk(ctx, wrkCore, procs[b].Edge, script, *measure)
				if err != nil {
					return err
				}
				if r.Errors != "" {
					return fmt.Errorf("%s, %s: %s", bins[b], tg.name, r.Errors)
				}
				got[i][b] = append(got[i][b], r.ReqPerSec)
			}
		}
		if os.Getenv("PIER_BENCH_VERBOSE") != "" {
			fmt.Printf("  round %d of %d done\n", round+1, *rounds)
		}
	}
	fmt.Printf("A/B: A = %s, B = %s, %d rounds (AB, BA, …), each on a copy of one data directory\n", *binA, *binB, *rounds)
	fmt.Printf("both pier serve pinned to core %s with GOMAXPROCS=1, wrk -t1 -c64 on core %s, %v per figure after a 1 s warm-up (req/s)\n", serverCore, wrkCore, *measure)
	for i, tg := range targets {
		a, b := got[i][0], got[i][1]
		fmt.Printf("  %-14s %-12s A %s\n", tg.name, tg.path, kreqs(a))
		ratios := make([]float64, len(a)) // each round's pair, measured seconds apart
		for r := range a {
			ratios[r] = b[r] / a[r]
		}
		fmt.Printf("  %-14s %-12s B %s\n", "", "", kreqs(b))
		fmt.Printf("  %-27s B/A: of the medians %.2f×, median of the rounds' %.2f× (%.2f–%.2f)\n", "", medianFloat(b)/medianFloat(a),
			medianFloat(ratios), slices.Min(ratios), slices.Max(ratios))
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
