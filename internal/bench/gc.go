package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/assets/fsblob"
	"github.com/pierhq/pier/assets/s3blob"
	"github.com/pierhq/pier/internal/lifecycle"
	"github.com/pierhq/pier/tenants"
	"github.com/pierhq/pier/tenants/sqlitestore"
)

// benchGC: the garbage collector over T tenants × D deployments × F
// files, rows written straight into a SQLite store. Each deployment
// shares 90% of its files with the others of its site and has 10% of
// its own; every deployment is older than keepDays, retention keeps the
// newest half, so the sweep deletes half the deployments and collects
// their own blobs. Three sweeps are timed: retention + mark + collection
// (grace 1 h: nothing deleted from the backend), the deletion of the
// queued objects (grace 0; it marks everything again), and a sweep with
// nothing to do (the steady state). Objects exist in the backend for the
// first -objects tenants' collected blobs; deleting an absent one costs
// the backend's delete all the same.
func benchGC(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gc", flag.ContinueOnError)
	nt := fs.Int("tenants", 1000, "tenants (one site each)")
	nd := fs.Int("deployments", 10, "deployments per site")
	nf := fs.Int("files", 1000, "files per deployment")
	objTenants := fs.Int("objects", 100, "tenants whose collected blobs exist as objects")
	backends := fs.String("backend", "fs", "fs, minio or fs,minio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, b := range strings.Split(*backends, ",") {
		if err := benchGCOn(ctx, b, *nt, *nd, *nf, *objTenants); err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

func benchGCOn(ctx context.Context, backend string, nt, nd, nf, objTenants int) error {
	work, err := os.MkdirTemp("", "pier-bench-gc")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	blobs, stop, err := gcBackend(ctx, backend, work)
	if err != nil {
		return err
	}
	defer stop()
	store, err := sqlitestore.Open(ctx, filepath.Join(work, "pier.db"))
	if err != nil {
		return err
	}
	defer store.Close()

	start := time.Now()
	if err := fillGC(ctx, store, blobs, nt, nd, nf, objTenants); err != nil {
		return err
	}
	fmt.Printf("gc on %s: %d tenants × %d deployments × %d files (%d blob index rows) written in %s\n",
		backend, nt, nd, nf, nt*(nf+(nd-1)*nf/10), time.Since(start).Round(time.Second))

	sw := &lifecycle.Sweeper{Store: store, Blobs: blobs, Grace: time.Hour, Holder: "bench",
		Now: func() time.Time { return time.Now().Add(48 * time.Hour) }}
	for _, phase := range []struct {
		name string
		zero bool
	}{
		{"retention + mark + collection", false},
		{"deleting the queued objects (with a full mark)", true},
		{"steady state (nothing to do)", false},
	} {
		sw.ZeroGrace = phase.zero
		rep, took, peak, err := measureSweep(ctx, sw)
		if err != nil {
			return err
		}
		fmt.Printf("  %-48s %8s  peak heap %6.1f MB  deployments %d, blobs %d (%.1f MB), objects %d\n",
			phase.name, took.Round(time.Millisecond), float64(peak)/(1<<20), rep.Deployments, rep.Blobs, float64(rep.BlobBytes)/(1<<20), rep.Objects)
	}
	return nil
}

// measureSweep runs one sweep, sampling the heap every 20 ms.
func measureSweep(ctx context.Context, sw *lifecycle.Sweeper) (lifecycle.Report, time.Duration, uint64, error) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	start := time.Now()
	rep, err := sw.Run(ctx, false)
	took := time.Since(start)
	close(done)
	wg.Wait()
	return rep, took, peak.Load(), err
}

func gcBackend(ctx context.Context, backend, work string) (assets.Backend, func(), error) {
	switch backend {
	case "fs":
		b, err := fsblob.New(filepath.Join(work, "blobs"))
		return b, func() {}, err
	case "minio":
		m, err := startMinIO(ctx, filepath.Join(work, "minio"))
		if err != nil {
			return nil, nil, err
		}
		b, err := s3blob.New(ctx, s3blob.Config{Endpoint: m.Endpoint, Bucket: "pier-gc", AccessKeyID: m.User, SecretAccessKey: m.Key, PathStyle: true})
		if err == nil {
			err = b.EnsureBucket(ctx)
		}
		if err != nil {
			m.stop()
			return nil, nil, err
		}
		return b, m.stop, nil
	}
	return nil, nil, fmt.Errorf("unknown backend %q (fs or minio)", backend)
}

// gcHash is the content hash of file id of tenant t.
func gcHash(t, id int) string { return fmt.Sprintf("%08x%08x", t, id) }

// fillGC writes the tenants, sites, deployments and blob index rows,
// and the objects of the blobs a sweep collects for the first objTenants
// tenants. Deployment d of a site has files 0…0.9F-1 (shared) and its own
// 0.1F; the older half is past retention.
func fillGC(ctx context.Context, store *sqlitestore.Store, blobs assets.Backend, nt, nd, nf, objTenants int) error {
	shared := nf * 9 / 10
	own := nf - shared
	old := time.Now().Add(-72 * time.Hour)
	for t := range nt {
		tn := tenants.Tenant{ID: fmt.Sprintf("t_%05d", t), Name: fmt.Sprintf("tenant%05d", t), Plan: tenants.PlanFree,
			Limits: tenants.Limits{Quotas: tenants.Quotas{KeepDeployments: (nd + 1) / 2, KeepDays: 1}}}
		st := tenants.Site{ID: fmt.Sprintf("s_%05d", t), TenantID: tn.ID, Name: fmt.Sprintf("site%05d", t)}
		if err := store.CreateTenant(ctx, tn); err != nil {
			return err
		}
		if err := store.CreateSite(ctx, st); err != nil {
			return err
		}
		var index []tenants.Blob
		for id := range shared + nd*own {
			index = append(index, tenants.Blob{Hash: gcHash(t, id), Size: 1000})
		}
		if err := store.PutBlobs(ctx, tn.ID, index); err != nil {
			return err
		}
		var last string
		for d := range nd {
			m := make(assets.Manifest, nf)
			for j := range nf {
				id := j
				if j >= shared {
					id = shared + d*own + (j - shared)
				}
				m[fmt.Sprintf("/d/file-%d.html", j)] = assets.Entry{Hash: gcHash(t, id), Size: 1000, ContentType: "text/html; charset=utf-8"}
				if t < objTenants && j >= shared && d < nd-(nd+1)/2 {
					if err := blobs.Put(ctx, assets.Key(tn.ID, gcHash(t, id), ""), strings.NewReader(strings.Repeat("x", 1000)), 1000); err != nil {
						return err
					}
				}
			}
			last = fmt.Sprintf("d%05d%03d", t, d)
			dep := tenants.Deployment{ID: last, SiteID: st.ID, Manifest: m, Source: tenants.Source{Type: "cli"},
				Config:  tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFoundNone},
				Created: old.Add(time.Duration(d) * time.Minute)}
			if err := store.CreateDeployment(ctx, dep); err != nil {
				return err
			}
		}
		if err := store.Activate(ctx, st.ID, last); err != nil {
			return err
		}
	}
	return nil
}
