package storetest

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Conformance of tenants.LifecycleStore: leases, retention's deletes,
// the publish generation and the blob garbage queue.

func (h *harness) lifecycle(t *testing.T) tenants.LifecycleStore {
	t.Helper()
	ls, ok := h.s.(tenants.LifecycleStore)
	if !ok {
		t.Fatalf("%T does not implement tenants.LifecycleStore", h.s)
	}
	return ls
}

func testLeases(t *testing.T, h *harness) {
	ls := h.lifecycle(t)
	acquire := func(holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := ls.AcquireLease(h.ctx, "gc", holder, ttl)
		mustNil(t, "AcquireLease "+holder, err)
		if got != want {
			t.Errorf("AcquireLease(%s) = %v, want %v", holder, got, want)
		}
	}
	renew := func(holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := ls.RenewLease(h.ctx, "gc", holder, ttl)
		mustNil(t, "RenewLease "+holder, err)
		if got != want {
			t.Errorf("RenewLease(%s) = %v, want %v", holder, got, want)
		}
	}
	acquire("a", time.Hour, true)
	acquire("a", time.Hour, true) // its own: renewed
	acquire("b", time.Hour, false)
	renew("a", time.Hour, true)
	renew("b", time.Hour, false)
	mustNil(t, "ReleaseLease by another", ls.ReleaseLease(h.ctx, "gc", "b"))
	acquire("b", time.Hour, false)
	if ok, err := ls.AcquireLease(h.ctx, "other", "b", time.Hour); err != nil || !ok {
		t.Errorf("AcquireLease of another lease = %v, %v; want true", ok, err)
	}

	// Expired (renewed into the past): another takes it over, and the
	// old holder can no longer renew it.
	renew("a", -time.Second, true)
	acquire("b", time.Hour, true)
	renew("a", time.Hour, false)
	acquire("a", time.Hour, false)

	mustNil(t, "ReleaseLease", ls.ReleaseLease(h.ctx, "gc", "b"))
	acquire("a", time.Hour, true)
}

func testRetentionDeletes(t *testing.T, h *harness) {
	ls := h.lifecycle(t)
	h.gitWorld(t) // s1: d1 (active, main), d2 (feature), d3; s2: e1
	h.deployment(t, "d4", "s1", baseTime.Add(time.Hour), 1)
	h.deployment(t, "d5", "s1", baseTime.Add(2*time.Hour), 1)
	count := func(site string, want int) {
		t.Helper()
		n, err := ls.CountDeployments(h.ctx, site)
		mustNil(t, "CountDeployments", err)
		if n != want {
			t.Errorf("CountDeployments(%s) = %d, want %d", site, n, want)
		}
	}
	count("s1", 5)
	count("nope", 0)

	got, err := ls.DeleteDeployments(h.ctx, "s1", []string{"d1", "d2", "d3", "e1", "nope"})
	mustNil(t, "DeleteDeployments", err)
	if want := []string{"d3"}; !slices.Equal(got, want) {
		t.Errorf("DeleteDeployments deleted %v, want %v (d1 is active, d2 a branch's, e1 another site's)", got, want)
	}
	count("s1", 4)
	count("s2", 1)
	_, err = h.s.Deployment(h.ctx, "s1", "d3")
	wantErr(t, "Deployment after its deletion", err, tenants.ErrNotFound)

	got, err = ls.DeleteOldestDeployments(h.ctx, "s1", 1)
	mustNil(t, "DeleteOldestDeployments", err)
	if want := []string{"d4"}; !slices.Equal(got, want) {
		t.Errorf("DeleteOldestDeployments(1) = %v, want %v", got, want)
	}
	got, err = ls.DeleteOldestDeployments(h.ctx, "s1", 5)
	mustNil(t, "DeleteOldestDeployments", err)
	if want := []string{"d5"}; !slices.Equal(got, want) {
		t.Errorf("DeleteOldestDeployments(5) = %v, want %v", got, want)
	}
	count("s1", 2)

	// Activated after the branch moved away: d2 is the active one now,
	// d1 no branch's and no longer active.
	mustNil(t, "Activate", h.s.Activate(h.ctx, "s1", "d2"))
	h.push(t, "s1", oid(2), gitRef("s1", "feature", oid(3), "", ""), "")
	h.push(t, "s1", oid(1), gitRef("s1", "main", oid(4), "", ""), "")
	got, err = ls.DeleteDeployments(h.ctx, "s1", []string{"d1", "d2"})
	mustNil(t, "DeleteDeployments", err)
	if want := []string{"d1"}; !slices.Equal(got, want) {
		t.Errorf("DeleteDeployments = %v, want %v", got, want)
	}
}

func testPublishGeneration(t *testing.T, h *harness) {
	ls := h.lifecycle(t)
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	h.site(t, "s1", "t1", "blog")
	gen := func(tenant string) int64 {
		t.Helper()
		g, err := ls.PublishGeneration(h.ctx, tenant)
		mustNil(t, "PublishGeneration", err)
		return g
	}
	g0, other := gen("t1"), gen("t2")
	h.session(t, "u1", "s1", baseTime.Add(time.Hour))
	g1 := gen("t1")
	if g1 <= g0 {
		t.Errorf("publish generation %d after an upload session, was %d", g1, g0)
	}
	h.deployment(t, "d1", "s1", baseTime, 1)
	if g2 := gen("t1"); g2 <= g1 {
		t.Errorf("publish generation %d after a deployment, was %d", g2, g1)
	}
	if g := gen("t2"); g != other {
		t.Errorf("another tenant's publish generation moved from %d to %d", other, g)
	}
	_, err := ls.PublishGeneration(h.ctx, "nope")
	wantErr(t, "PublishGeneration of a missing tenant", err, tenants.ErrNotFound)

	ids, err := ls.UploadSessionIDs(h.ctx, "t1")
	mustNil(t, "UploadSessionIDs", err)
	if !slices.Equal(ids, []string{"u1"}) {
		t.Errorf("UploadSessionIDs = %v, want [u1]", ids)
	}
	hashes, err := ls.UploadSessionHashes(h.ctx, "u1")
	mustNil(t, "UploadSessionHashes", err)
	var want []string
	for _, e := range manifest(3, 7) {
		want = append(want, e.Hash)
	}
	slices.Sort(hashes)
	slices.Sort(want)
	if !slices.Equal(hashes, want) {
		t.Errorf("UploadSessionHashes = %v, want %v", hashes, want)
	}
	_, err = ls.UploadSessionHashes(h.ctx, "nope")
	wantErr(t, "UploadSessionHashes of a missing session", err, tenants.ErrNotFound)
}

func testCollectBlobs(t *testing.T, h *harness) {
	ls := h.lifecycle(t)
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	var blobs []tenants.Blob
	for i := range 5 {
		blobs = append(blobs, tenants.Blob{Hash: hashOf(i), Size: int64(10 + i), BrSize: int64(i), GzSize: 1})
	}
	slices.SortFunc(blobs, func(a, b tenants.Blob) int { return strings.Compare(a.Hash, b.Hash) })
	mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t1", blobs))
	mustNil(t, "PutBlobs t2", h.s.PutBlobs(h.ctx, "t2", blobs[:1]))
	mustNil(t, "PutGitBlobs", h.s.PutGitBlobs(h.ctx, "t1", []tenants.GitBlob{{OID: oid(1), Hash: blobs[0].Hash, Size: blobs[0].Size}, {OID: oid(2), Hash: blobs[1].Hash, Size: blobs[1].Size}}))

	// Paging.
	var all []tenants.Blob
	for after := ""; ; {
		page, err := ls.BlobsPage(h.ctx, "t1", after, 2)
		mustNil(t, "BlobsPage", err)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Hash
	}
	if !slices.Equal(all, blobs) {
		t.Errorf("BlobsPage pages = %+v, want %+v", all, blobs)
	}

	// An upload session created after the mark read the generation
	// references blob 0: a collection of that mark keeps it.
	h.site(t, "s1", "t1", "blog")
	gen, err := ls.PublishGeneration(h.ctx, "t1")
	mustNil(t, "PublishGeneration", err)
	mustNil(t, "CreateUploadSession", h.s.CreateUploadSession(h.ctx, tenants.UploadSession{ID: "u1", SiteID: "s1",
		Manifest: assets.Manifest{"/a.html": {Hash: blobs[0].Hash, Size: blobs[0].Size}}, Expires: time.Now().Add(time.Hour)}))
	got, err := ls.CollectBlobs(h.ctx, "t1", gen, []string{blobs[0].Hash, blobs[2].Hash, hashOf(99)})
	mustNil(t, "CollectBlobs (stale generation)", err)
	if len(got) != 1 || got[0] != blobs[2] {
		t.Fatalf("CollectBlobs with a generation older than a session = %+v, want blob 2 only", got)
	}
	gen, err = ls.PublishGeneration(h.ctx, "t1")
	mustNil(t, "PublishGeneration", err)
	got, err = ls.CollectBlobs(h.ctx, "t1", gen, []string{blobs[0].Hash})
	mustNil(t, "CollectBlobs", err)
	if len(got) != 1 || got[0] != blobs[0] {
		t.Fatalf("CollectBlobs of the current generation = %+v, want blob 0", got)
	}
	have, err := h.s.Blobs(h.ctx, "t1", []string{blobs[0].Hash, blobs[1].Hash, blobs[2].Hash})
	mustNil(t, "Blobs", err)
	if _, ok := have[blobs[1].Hash]; len(have) != 1 || !ok {
		t.Errorf("Blobs after a collection = %v, want only blob 1", have)
	}
	if have, _ := h.s.Blobs(h.ctx, "t2", []string{blobs[0].Hash}); len(have) != 1 {
		t.Errorf("another tenant's blob of the same hash is gone: %v", have)
	}
	gb, err := h.s.GitBlobs(h.ctx, "t1", []string{oid(1), oid(2)})
	mustNil(t, "GitBlobs", err)
	if _, ok := gb[oid(2)]; len(gb) != 1 || !ok {
		t.Errorf("GitBlobs after a collection = %v, want only the mapping to blob 1", gb)
	}

	queued := h.garbage(t, ls, 0)
	variants := func(b tenants.Blob) []string {
		var v []string
		if b.BrSize > 0 {
			v = append(v, assets.VariantBrotli)
		}
		return append(v, assets.VariantGzip) // every blob here has a gz copy
	}
	want := []tenants.Garbage{
		{Key: assets.Key("t1", blobs[0].Hash, ""), TenantID: "t1", Hash: blobs[0].Hash, Size: blobs[0].Size + blobs[0].BrSize + blobs[0].GzSize, Variants: variants(blobs[0])},
		{Key: assets.Key("t1", blobs[2].Hash, ""), TenantID: "t1", Hash: blobs[2].Hash, Size: blobs[2].Size + blobs[2].BrSize + blobs[2].GzSize, Variants: variants(blobs[2])},
	}
	slices.SortFunc(want, func(a, b tenants.Garbage) int { return strings.Compare(a.Key, b.Key) })
	sameGarbage(t, "queued after CollectBlobs", queued, want)
	if early := h.garbage(t, ls, time.Hour); len(early) != 0 {
		t.Errorf("GarbagePage of entries queued an hour ago = %+v", early)
	}

	// An upload writing blob 0 again cancels its entry; blob 2's is
	// claimed, so an upload must wait for it.
	claimed, err := ls.CancelGarbage(h.ctx, "t1", blobs[0].Hash)
	mustNil(t, "CancelGarbage", err)
	if claimed {
		t.Errorf("CancelGarbage of a pending entry says claimed")
	}
	k0, k2 := assets.Key("t1", blobs[0].Hash, ""), assets.Key("t1", blobs[2].Hash, "")
	if got, err := ls.ClaimGarbage(h.ctx, []string{k0, k2, "t/t1/nope"}); err != nil || !slices.Equal(got, []string{k2}) {
		t.Fatalf("ClaimGarbage of a cancelled, a pending and a missing entry = %v, %v; want the pending one", got, err)
	}
	if got, err := ls.ClaimGarbage(h.ctx, []string{k2}); err != nil || len(got) != 0 {
		t.Errorf("ClaimGarbage of an entry claimed just now = %v, %v; want none (another sweeper has it)", got, err)
	}
	if claimed, err := ls.CancelGarbage(h.ctx, "t1", blobs[2].Hash); err != nil || !claimed {
		t.Errorf("CancelGarbage of a claimed entry = %v, %v; want claimed", claimed, err)
	}
	// An index record written back meanwhile is hidden while queued and
	// removed with the entry.
	mustNil(t, "PutBlobs (written back)", h.s.PutBlobs(h.ctx, "t1", blobs[2:3]))
	if have, _ := h.s.Blobs(h.ctx, "t1", []string{blobs[2].Hash}); len(have) != 0 {
		t.Errorf("Blobs shows a blob queued for deletion: %v", have)
	}
	g := tenants.Garbage{Key: assets.Key("t1", blobs[2].Hash, ""), TenantID: "t1", Hash: blobs[2].Hash}
	mustNil(t, "FinishGarbage", ls.FinishGarbage(h.ctx, []tenants.Garbage{g}))
	if left := h.garbage(t, ls, -time.Hour); len(left) != 0 {
		t.Errorf("queued after FinishGarbage: %+v", left)
	}
	if page, _ := ls.BlobsPage(h.ctx, "t1", "", 10); len(page) != 3 {
		t.Errorf("blob index after FinishGarbage = %+v, want blobs 1, 3 and 4", page)
	}
	if claimed, err := ls.CancelGarbage(h.ctx, "t1", blobs[2].Hash); err != nil || claimed {
		t.Errorf("CancelGarbage after FinishGarbage = %v, %v", claimed, err)
	}
	if got, err := ls.ClaimGarbage(h.ctx, []string{g.Key}); err != nil || len(got) != 0 {
		t.Errorf("ClaimGarbage of a finished entry = %v, %v; want none", got, err)
	}
}

func testDeleteQueuesGarbage(t *testing.T, h *harness) {
	ls := h.lifecycle(t)
	h.gitWorld(t) // s1 has packs 1 and 2
	b := []tenants.Blob{{Hash: hashOf(1), Size: 10, GzSize: 3}, {Hash: hashOf(2), Size: 20}}
	mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t1", b))
	mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s1"))
	var want []tenants.Garbage
	for _, p := range []struct {
		name string
		size int64
	}{{packName(1), 100}, {packName(2), 200}} {
		want = append(want,
			tenants.Garbage{Key: tenants.GitPackKey("s1", p.name), TenantID: "t1", Size: p.size},
			tenants.Garbage{Key: tenants.GitIndexKey("s1", p.name), TenantID: "t1"})
	}
	slices.SortFunc(want, func(a, b tenants.Garbage) int { return strings.Compare(a.Key, b.Key) })
	sameGarbage(t, "queued after DeleteSite", h.garbage(t, ls, -time.Hour), want)

	mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
	want = append(want,
		tenants.Garbage{Key: assets.Key("t1", b[0].Hash, ""), TenantID: "t1", Hash: b[0].Hash, Size: 13, Variants: []string{assets.VariantGzip}},
		tenants.Garbage{Key: assets.Key("t1", b[1].Hash, ""), TenantID: "t1", Hash: b[1].Hash, Size: 20})
	slices.SortFunc(want, func(a, b tenants.Garbage) int { return strings.Compare(a.Key, b.Key) })
	sameGarbage(t, "queued after DeleteTenant", h.garbage(t, ls, -time.Hour), want)
}

// garbage lists every entry queued at least grace ago, two at a time.
func (h *harness) garbage(t *testing.T, ls tenants.LifecycleStore, grace time.Duration) []tenants.Garbage {
	t.Helper()
	var out []tenants.Garbage
	for after := ""; ; {
		page, err := ls.GarbagePage(h.ctx, grace, after, 2)
		mustNil(t, "GarbagePage", err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Key
	}
}

// sameGarbage compares entries but their queue time, which must be
// recent.
func sameGarbage(t *testing.T, what string, got, want []tenants.Garbage) {
	t.Helper()
	for i := range got {
		if q := got[i].Queued; q.Location() != time.UTC || time.Since(q) > time.Hour {
			t.Errorf("%s: entry %s queued at %v, want about now in UTC", what, got[i].Key, q)
		}
		got[i].Queued = time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}
