package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/internal/lifecycle"
	"github.com/pierhq/pier/internal/testenv"
	"github.com/pierhq/pier/tenants"
)

// slowMark slows the sweeper's reads of deployments down, so that
// deploys land between its mark and its collection.
type slowMark struct{ lifecycle.Store }

func (s slowMark) Deployment(ctx context.Context, siteID, id string) (tenants.Deployment, error) {
	time.Sleep(3 * time.Millisecond)
	return s.Store.Deployment(ctx, siteID, id)
}

// testGrace is the grace period of the tests that see it pass: long
// enough for a sweep to look before it ends.
const testGrace = 3 * time.Second

// sweepUntil sweeps until done, and returns what the sweeps deleted.
func sweepUntil(t *testing.T, n *node, done func() bool) lifecycle.Report {
	t.Helper()
	var sum lifecycle.Report
	testenv.WaitFor(t, testenv.Patience, func() error {
		rep, err := n.gc.Run(context.Background(), false)
		if err != nil {
			return err
		}
		sum.Deployments += rep.Deployments
		sum.Blobs += rep.Blobs
		sum.Objects += rep.Objects
		sum.Bytes += rep.Bytes
		if !done() {
			return errors.New("not yet deleted")
		}
		return nil
	})
	return sum
}

// page is a compressible file: it gets br and gz variants.
func page(name string) string {
	return "<!doctype html><title>" + name + "</title>" + strings.Repeat("<p>"+name+" is a page of the site</p>\n", 40)
}

func TestRetentionAndCollection(t *testing.T) {
	for _, b := range []struct {
		name string
		new  func(testing.TB) assets.Backend
	}{{"fs", fsBackend}, {"minio", minioBackend}} {
		t.Run(b.name, func(t *testing.T) { testRetentionAndCollection(t, b.new(t)) })
	}
}

func testRetentionAndCollection(t *testing.T, blobs assets.Backend) {
	ctx := context.Background()
	n := newNode(t, sqliteStore(t), blobs, "a")
	n.gc.Grace = testGrace
	tn := tenant(t, n.store, "acme", 2)
	st := site(t, n.store, tn, "blog")
	deploy := func(fs files, activate bool) tenants.Deployment {
		t.Helper()
		d, err := n.deploy(ctx, tn, st, fs, activate)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	v1 := deploy(files{"/index.html": page("a"), "/b.html": page("b")}, true)
	v2 := deploy(files{"/b.html": page("b"), "/x.html": page("x")}, false) // x: only v2's
	v3 := deploy(files{"/c.html": page("c")}, false)
	v4 := deploy(files{"/d.html": page("d")}, false)
	x := assets.Hash(tn.Salt, []byte(page("x")))
	xKey := assets.Key(tn.ID, x, "")
	for _, k := range []string{xKey, xKey + ".br", xKey + ".gz"} {
		if !exists(t, blobs, k) {
			t.Fatalf("%s was not stored", k)
		}
	}

	// Two days later every deployment is older than keepDays (1): the
	// live one (v1) and the newest 2 (v4, v3) stay, v2 goes, and x with it.
	now := time.Now().Add(48 * time.Hour)
	n.gc.Now = func() time.Time { return now }

	dry, err := n.gc.Run(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || dry.Deployments != 1 || dry.Blobs != 1 || dry.Objects != 0 {
		t.Errorf("dry run = %+v, want 1 deployment and 1 blob", dry)
	}
	if _, err := n.store.Deployment(ctx, st.ID, v2.ID); err != nil {
		t.Fatalf("the dry run deleted v2: %v", err)
	}

	rep, err := n.gc.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deployments != 1 || rep.Blobs != 1 || rep.Objects != 0 || len(rep.Tenants) != 1 || rep.Tenants[0].Tenant != "acme" {
		t.Errorf("report = %+v, want v2 deleted and x collected, no object deleted yet (grace)", rep)
	}
	ids := []string{}
	ds, _ := n.store.Deployments(ctx, st.ID)
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if want := []string{v4.ID, v3.ID, v1.ID}; !slices.Equal(ids, want) {
		t.Errorf("deployments kept = %v, want %v", ids, want)
	}
	if !slices.Contains(n.changed, "blog") {
		t.Errorf("OnSiteChanged not called for the site whose deployment was deleted")
	}
	if have, _ := n.store.Blobs(ctx, tn.ID, []string{x}); len(have) != 0 {
		t.Errorf("x is still in the blob index")
	}
	if !exists(t, blobs, xKey) {
		t.Errorf("x's object was deleted before its grace period ended")
	}

	// After the grace period a sweep deletes x's objects, and only those.
	swept := sweepUntil(t, n, func() bool { return !exists(t, blobs, xKey) })
	if swept.Objects != 1 || swept.Bytes == 0 || swept.Deployments != 0 || swept.Blobs != 0 {
		t.Errorf("reports after the grace period add up to %+v, want x's object deleted", swept)
	}
	for _, k := range []string{xKey, xKey + ".br", xKey + ".gz"} {
		if exists(t, blobs, k) {
			t.Errorf("%s survived the sweep after the grace period", k)
		}
	}
	if nd, nf := checkServable(t, n.store, blobs); nd != 3 || nf != 4 {
		t.Errorf("%d deployments and %d files checked, want 3 and 4", nd, nf)
	}
}

func TestDeletedSiteAndTenant(t *testing.T) {
	ctx := context.Background()
	blobs := fsBackend(t)
	n := newNode(t, sqliteStore(t), blobs, "a")
	n.gc.Grace = testGrace
	acme := tenant(t, n.store, "acme", 5)
	other := tenant(t, n.store, "other", 5)
	blog := site(t, n.store, acme, "blog")
	shop := site(t, n.store, acme, "shop")
	elsewhere := site(t, n.store, other, "elsewhere")
	shared, own := page("shared"), page("blog's own")
	for _, d := range []struct {
		tn tenants.Tenant
		st tenants.Site
		fs files
	}{
		{acme, blog, files{"/s.html": shared, "/o.html": own}},
		{acme, shop, files{"/s.html": shared}},
		{other, elsewhere, files{"/o.html": own}},
	} {
		if _, err := n.deploy(ctx, d.tn, d.st, d.fs, true); err != nil {
			t.Fatal(err)
		}
	}
	// A git pack of blog's repository.
	pack := tenants.GitPack{Name: "pack-" + strings.Repeat("ab", 20), Size: 4}
	for _, k := range []string{tenants.GitPackKey(blog.ID, pack.Name), tenants.GitIndexKey(blog.ID, pack.Name)} {
		if err := blobs.Put(ctx, k, strings.NewReader("pack"), 4); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.store.ApplyGitPush(ctx, tenants.GitPush{SiteID: blog.ID, Packs: []tenants.GitPack{pack}}); err != nil {
		t.Fatal(err)
	}
	key := func(tn tenants.Tenant, content string) string {
		return assets.Key(tn.ID, assets.Hash(tn.Salt, []byte(content)), "")
	}

	if err := n.store.DeleteSite(ctx, blog.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.gc.Run(ctx, false); err != nil {
		t.Fatal(err)
	}
	if !exists(t, blobs, key(acme, own)) || !exists(t, blobs, tenants.GitPackKey(blog.ID, pack.Name)) {
		t.Errorf("the deleted site's objects went before the grace period ended")
	}
	rep := sweepUntil(t, n, func() bool {
		return !exists(t, blobs, key(acme, own)) && !exists(t, blobs, tenants.GitPackKey(blog.ID, pack.Name))
	})
	for _, k := range []string{key(acme, own), key(acme, own) + ".br", tenants.GitPackKey(blog.ID, pack.Name), tenants.GitIndexKey(blog.ID, pack.Name)} {
		if exists(t, blobs, k) {
			t.Errorf("%s of the deleted site survived the grace period", k)
		}
	}
	if rep.Objects != 3 {
		t.Errorf("report = %+v, want 3 objects (a blob, a pack and its index)", rep)
	}
	if !exists(t, blobs, key(acme, shared)) || !exists(t, blobs, key(other, own)) {
		t.Errorf("a blob another site uses was deleted with the site")
	}

	if err := n.store.DeleteTenant(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	sweepUntil(t, n, func() bool { return !exists(t, blobs, key(acme, shared)) })
	for _, k := range []string{key(acme, shared), key(acme, shared) + ".gz"} {
		if exists(t, blobs, k) {
			t.Errorf("%s of the deleted tenant survived", k)
		}
	}
	if !exists(t, blobs, key(other, own)) {
		t.Errorf("another tenant's blob was deleted with the tenant")
	}
	if g, _ := n.store.GarbagePage(ctx, -time.Hour, "", 10); len(g) != 0 {
		t.Errorf("still queued: %+v", g)
	}
}

func TestDeployRacingSweeper(t *testing.T) {
	for _, b := range []struct {
		name string
		new  func(testing.TB) assets.Backend
	}{{"fs", fsBackend}, {"minio", minioBackend}} {
		t.Run(b.name, func(t *testing.T) {
			blobs := b.new(t)
			n := newNode(t, sqliteStore(t), blobs, "a")
			race(t, []*node{n}, 4, 15)
		})
	}
}

// race runs writers deploying random subsets of a small pool of files
// to a few sites through the nodes in turn, while every node's sweeper
// sweeps without a grace period and with retention keeping 2
// deployments; then every file of every deployment left must be whole.
func race(t *testing.T, nodes []*node, writers, deploys int) {
	ctx := context.Background()
	s := nodes[0].store
	tn := tenant(t, s, "acme", 2)
	var sites []tenants.Site
	for i := range 4 {
		sites = append(sites, site(t, s, tn, fmt.Sprintf("site%d", i)))
	}
	pool := make([]string, 40)
	for i := range pool {
		pool[i] = page(fmt.Sprint("file ", i))
	}
	for _, n := range nodes {
		n.gc.Store = slowMark{n.store} // a wider window between the mark and the collection
		n.gc.ZeroGrace = true
		n.gc.Now = func() time.Time { return time.Now().Add(48 * time.Hour) } // every deployment is past keepDays
	}

	stop := make(chan struct{})
	var (
		sweeps sync.WaitGroup
		mu     sync.Mutex
		total  lifecycle.Report
	)
	for _, n := range nodes {
		sweeps.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rep, err := n.gc.Run(ctx, false)
				if errors.Is(err, lifecycle.ErrLeaseHeld) {
					continue
				}
				if err != nil {
					t.Errorf("sweep: %v", err)
					return
				}
				mu.Lock()
				total.Deployments += rep.Deployments
				total.Blobs += rep.Blobs
				total.Objects += rep.Objects
				mu.Unlock()
			}
		})
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 42))
			for i := range deploys {
				n := nodes[(w+i)%len(nodes)]
				fs := files{}
				for range 4 {
					j := r.IntN(len(pool))
					fs[fmt.Sprintf("/f%d.html", j)] = pool[j]
				}
				if _, err := n.deploy(ctx, tn, sites[r.IntN(len(sites))], fs, r.IntN(3) == 0); err != nil {
					t.Errorf("writer %d deploy %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	sweeps.Wait()
	// One more sweep after the last deploy, then nothing may be missing.
	if _, err := nodes[0].gc.Run(ctx, false); err != nil {
		t.Fatal(err)
	}
	nd, nf := checkServable(t, s, nodes[0].blobs)
	t.Logf("swept: %+v; %d deployments and %d files left, all whole", total, nd, nf)
	if total.Deployments == 0 || total.Objects == 0 {
		t.Errorf("the sweepers deleted %d deployments and %d objects during the race: it proves nothing", total.Deployments, total.Objects)
	}
}

// TestRulesFilesAreKept: a kept deployment's _headers and _redirects live
// on as text in its config, not in its manifest; their blobs are kept
// too, so the next deploy of the same rules uploads nothing.
func TestRulesFilesAreKept(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	blobs := fsBackend(t)
	n := newNode(t, sqliteStore(t), blobs, "a")
	n.gc.ZeroGrace = true
	n.gc.Grace = 0
	tn := tenant(t, n.store, "acme", 2)
	st := site(t, n.store, tn, "blog")
	fs := files{"/index.html": page("a"), "/_redirects": "/old /new 301\n", "/_headers": "/*\n  X-Test: 1\n"}
	if _, err := n.deploy(ctx, tn, st, fs, true); err != nil {
		t.Fatal(err)
	}
	rep, err := n.gc.Run(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blobs != 0 {
		t.Errorf("collected %d blobs of a live deployment (its rules files?)", rep.Blobs)
	}
	m := assets.Manifest{}
	for p, c := range fs {
		m[p] = assets.Entry{Hash: assets.Hash(tn.Salt, []byte(c)), Size: int64(len(c))}
	}
	up, err := n.api.StartUpload(ctx, st, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Missing) != 0 {
		t.Errorf("a redeploy of the same files after a sweep must upload %v", up.Missing)
	}
}
