package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/apiclient"
)

// benchMemory measures the resident memory of a real `pier serve` (SQLite +
// local disk) with 10,000 sites routed (each with a small deployment,
// each requested once) and 100 of them warm (serving the 1,000-file
// benchmark site, every file requested).
func benchMemory(ctx context.Context) error {
	work, err := os.MkdirTemp("", "pier-bench-memory")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	p, err := startPierServe(ctx, filepath.Join(work, "data"), nil, nil)
	if err != nil {
		return err
	}
	defer p.Stop()
	c := apiclient.New(p.API, p.Token, &http.Client{Timeout: time.Minute})
	// Quotas sized for the benchmark: every site, 16 uploads at once; and a
	// request rate above the 1,000 concurrent asks its warm-up makes of each site.
	limits := benchRateOverride
	limits.Quotas.Sites, limits.Quotas.UploadSessions = benchSites, 64
	if _, err := c.CreateTenant(ctx, apiclient.CreateTenant{Name: "bench", Limits: &limits}); err != nil {
		return err
	}
	rssStart, _ := rss(p.cmd.Process.Pid)

	big := makeSite(1)
	small := []benchFile{{Path: "/index.html", Data: []byte("<!doctype html><h1>hello</h1>")}}
	started := time.Now()
	var done atomic.Int64
	err = parallel(ctx, 16, benchSites, func(i int) error {
		name := benchSiteName(i)
		site, err := c.CreateSite(ctx, name, "bench")
		if err != nil {
			return err
		}
		files := small
		if i < 100 {
			files = big
		}
		if err := publish(ctx, c, site, files); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if n := done.Add(1); n%1000 == 0 {
			fmt.Fprintf(os.Stderr, "  %d sites created and deployed (%v)\n", n, time.Since(started).Round(time.Second))
		}
		return nil
	})
	if err != nil {
		return err
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	get := func(host, path string) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.Edge+path, nil)
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s%s: %d", host, path, resp.StatusCode)
		}
		return nil
	}
	// Route every site once.
	if err := parallel(ctx, 32, benchSites, func(i int) error {
		path := "/"
		if i < 100 {
			path = "/s/0000" // the big site has no index.html
		}
		return get(benchSiteName(i)+".localhost", path)
	}); err != nil {
		return err
	}
	// Warm 100 sites: every file.
	if err := parallel(ctx, 32, 100*len(big), func(i int) error {
		f := big[i%len(big)]
		return get(benchSiteName(i/len(big))+".localhost", strings.TrimSuffix(f.Path, ".html"))
	}); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	rssEnd, err := rss(p.cmd.Process.Pid)
	if err != nil {
		return err
	}
	fmt.Println("memory benchmark: pier serve (SQLite + local disk), 10,000 sites routed, 100 warm with the 1,000-file site")
	fmt.Printf("  RSS at start %d MB, after routing and warming %d MB   (target < 300 MB; set-up took %v)\n",
		rssStart>>20, rssEnd>>20, time.Since(started).Round(time.Second))
	return nil
}

// publish deploys files to site through the API, uploading only what is missing.
func publish(ctx context.Context, c *apiclient.Client, site *apiclient.Site, files []benchFile) error {
	salt, err := hex.DecodeString(site.HashSalt)
	if err != nil {
		return fmt.Errorf("hash_salt: %w", err)
	}
	manifest := make(map[string]apiclient.ManifestEntry, len(files))
	byHash := make(map[string][]byte, len(files))
	for _, f := range files {
		h := assets.Hash(salt, f.Data)
		manifest[f.Path] = apiclient.ManifestEntry{Hash: h, Size: int64(len(f.Data))}
		byHash[h] = f.Data
	}
	up, err := c.CreateUpload(ctx, site.Name, manifest)
	if err != nil {
		return err
	}
	for _, h := range up.Missing {
		if err := c.PutBlob(ctx, up.ID, h, bytes.NewReader(byHash[h]), int64(len(byHash[h]))); err != nil {
			return err
		}
	}
	_, err = c.CreateDeployment(ctx, site.Name, apiclient.CreateDeployment{Upload: up.ID, Source: apiclient.Source{Type: "api"}})
	return err
}

func parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// rss returns the resident set size of pid in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, err := strconv.ParseInt(f[1], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("VmRSS not found for pid %d", pid)
}
