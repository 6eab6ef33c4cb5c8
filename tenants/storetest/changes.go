package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// OpenNodes returns two stores on one fresh database, as two nodes
// sharing it have; watcher implements tenants.ChangeWatcher. The suite
// closes both.
type OpenNodes func(tb testing.TB) (writer, watcher tenants.Store)

// ChangeTimeout bounds how long the change suites wait for a change that
// must come. It is generous: the machine may be busy, and the suites never
// fail for a change that comes late within it.
var ChangeTimeout = 2 * time.Minute

// RunChanges runs the change-feed suite of tenants.ChangeWatcher: the
// watcher's feed starts with a resync; each write made through writer
// reaches it with the kinds and keys the contract lists; writes that
// change nothing a node caches, and writes that fail, send nothing; the
// feed ends, returning ctx.Err(), when its context does.
//
// Steps are checked exactly and without timing: after each step's writes
// the suite creates a marker site, and what came before the marker's
// change (notifications arrive in commit order) must be the step's
// changes.
func RunChanges(t *testing.T, open OpenNodes) {
	a, b := open(t)
	h := &harness{ctx: context.Background(), s: a}
	t.Cleanup(h.close)
	t.Cleanup(func() { b.Close() })
	w, ok := b.(tenants.ChangeWatcher)
	if !ok {
		t.Fatalf("%T does not implement tenants.ChangeWatcher", b)
	}
	f := Watch(t, w)
	first := f.Next(t)
	if first.Kind != tenants.ChangeResync || first.Err != nil {
		t.Fatalf("first change %+v, want a resync without error", first)
	}
	c := &changeSteps{h: h, f: f}
	site := func(name string) tenants.Change { return tenants.Change{Kind: tenants.ChangeSite, Key: name} }
	dom := func(host string) tenants.Change { return tenants.Change{Kind: tenants.ChangeDomain, Key: host} }
	ten := func(id string) tenants.Change { return tenants.Change{Kind: tenants.ChangeTenant, Key: id} }
	ctx := h.ctx
	const host, other = "www.example.com", "pending.example.com"

	h.tenant(t, "tmark", "markers")
	t1 := h.tenant(t, "t1", "acme")
	c.step(t, "tenants created")

	h.site(t, "s1", "t1", "blog")
	c.step(t, "site created", site("blog"))

	h.deployment(t, "d1", "s1", baseTime, 3)
	h.deployment(t, "d2", "s1", baseTime.Add(time.Second), 3)
	c.step(t, "deployments created")

	mustNil(t, "Activate d1", a.Activate(ctx, "s1", "d1"))
	c.step(t, "deployment activated", site("blog"))
	mustNil(t, "Activate d2", a.Activate(ctx, "s1", "d2"))
	mustNil(t, "Activate d1 (rollback)", a.Activate(ctx, "s1", "d1"))
	c.step(t, "deployment activated, rolled back", site("blog"))
	wantErr(t, "Activate missing deployment", a.Activate(ctx, "s1", "nope"), tenants.ErrNotFound)
	wantErr(t, "Activate on missing site", a.Activate(ctx, "nope", "d1"), tenants.ErrNotFound)
	c.step(t, "failed activations")

	gitChangeSteps(t, c)
	secretChangeSteps(t, c)

	h.token(t, "k1", "t1", "secret")
	mustNil(t, "DeleteToken", a.DeleteToken(ctx, "k1"))
	h.session(t, "u1", "s1", baseTime.Add(time.Hour))
	mustNil(t, "DeleteUploadSession", a.DeleteUploadSession(ctx, "u1"))
	if _, err := a.DeleteExpiredUploadSessions(ctx, baseTime.Add(2*time.Hour)); err != nil {
		t.Fatalf("DeleteExpiredUploadSessions: %v", err)
	}
	mustNil(t, "PutBlobs", a.PutBlobs(ctx, "t1", []tenants.Blob{{Hash: hashOf(1), Size: 1}}))
	c.step(t, "tokens, sessions, blobs")

	d1 := h.domain(t, host, "s1", baseTime)
	c.step(t, "domain claimed", dom(host))
	h.domain(t, other, "s1", baseTime)
	c.step(t, "second domain claimed", dom(other))

	d1.CheckedAt, d1.Error = baseTime.Add(time.Minute), "no TXT record yet"
	mustNil(t, "UpdateDomain (re-check, pending)", a.UpdateDomain(ctx, d1))
	c.step(t, "pending claim re-checked")

	d1.Status, d1.VerifiedAt, d1.Error = tenants.DomainActive, baseTime.Add(2*time.Minute), ""
	mustNil(t, "UpdateDomain (verified)", a.UpdateDomain(ctx, d1))
	c.step(t, "domain verified", dom(host))

	mustNil(t, "UpdateDomainCert", a.UpdateDomainCert(ctx, host, tenants.CertActive, "", time.Time{}))
	d1.CheckedAt = baseTime.Add(3 * time.Minute)
	mustNil(t, "UpdateDomain (re-check, active)", a.UpdateDomain(ctx, d1))
	c.step(t, "certificate status, active claim re-checked")

	h.site(t, "s2", "t1", "shop")
	c.step(t, "second site", site("shop"))
	d2 := h.domain(t, host, "s2", baseTime.Add(time.Hour))
	c.step(t, "competing claim", dom(host))
	d2.Status, d2.VerifiedAt = tenants.DomainActive, baseTime.Add(time.Hour)
	mustNil(t, "UpdateDomain (takeover)", a.UpdateDomain(ctx, d2))
	c.step(t, "domain moved to another site", dom(host))
	if got, err := a.Domain(ctx, "s1", host); err != nil || got.Status != tenants.DomainMoved {
		t.Fatalf("after the move the old claim is %+v, %v; want moved", got, err)
	}

	gone := d1
	gone.Hostname = "gone.example.com"
	wantErr(t, "UpdateDomain on missing claim", a.UpdateDomain(ctx, gone), tenants.ErrNotFound)
	wantErr(t, "DeleteDomain missing", a.DeleteDomain(ctx, "s1", "gone.example.com"), tenants.ErrNotFound)
	c.step(t, "failed domain writes")

	mustNil(t, "DeleteDomain", a.DeleteDomain(ctx, "s1", host))
	c.step(t, "moved claim deleted", dom(host))

	t1.Tags = []string{"tier:gold"}
	mustNil(t, "UpdateTenant (tags)", a.UpdateTenant(ctx, t1))
	c.step(t, "tenant tagged", ten("t1"))

	// Disabling stops the tenant's sites and active domains (not its
	// pending claims, which serve nothing); enabling starts them again.
	t1.Disabled = true
	mustNil(t, "UpdateTenant (disable)", a.UpdateTenant(ctx, t1))
	c.step(t, "tenant disabled", ten("t1"), site("blog"), site("shop"), dom(host))
	t1.Disabled = false
	mustNil(t, "UpdateTenant (enable)", a.UpdateTenant(ctx, t1))
	c.step(t, "tenant enabled", ten("t1"), site("blog"), site("shop"), dom(host))
	wantErr(t, "UpdateTenant missing", a.UpdateTenant(ctx, tenants.Tenant{ID: "nope", Name: "nope", Plan: tenants.PlanFree}), tenants.ErrNotFound)
	c.step(t, "failed tenant update")

	kvChangeSteps(t, c)

	mustNil(t, "DeleteSite", a.DeleteSite(ctx, "s2"))
	c.step(t, "site deleted", site("shop"), dom(host))
	wantErr(t, "DeleteSite missing", a.DeleteSite(ctx, "s2"), tenants.ErrNotFound)
	wantErr(t, "CreateSite taken name", a.CreateSite(ctx, tenants.Site{ID: "s3", TenantID: "t1", Name: "blog"}), tenants.ErrConflict)
	wantErr(t, "CreateSite missing tenant", a.CreateSite(ctx, tenants.Site{ID: "s3", TenantID: "nope", Name: "fresh"}), tenants.ErrNotFound)
	wantErr(t, "CreateDomain taken", a.CreateDomain(ctx, tenants.Domain{Hostname: other, SiteID: "s1", Status: tenants.DomainPending, Token: "t", CertStatus: tenants.CertNone}), tenants.ErrConflict)
	c.step(t, "failed site and domain writes")

	h.site(t, "s4", "t1", "docs")
	c.step(t, "third site", site("docs"))
	mustNil(t, "DeleteTenant", a.DeleteTenant(ctx, "t1"))
	c.step(t, "tenant deleted", ten("t1"), site("blog"), site("docs"), dom(other))
	wantErr(t, "DeleteTenant missing", a.DeleteTenant(ctx, "t1"), tenants.ErrNotFound)
	c.step(t, "failed tenant delete")

	if err := f.Stop(t); !errors.Is(err, context.Canceled) {
		t.Errorf("WatchChanges returned %v after its context was canceled, want context.Canceled", err)
	}
}

// kvChangeSteps: every KV write that changes a key notifies it; a
// namespace's deletion and a large bulk write notify the whole namespace;
// what changes nothing (a failed swap, deleting an absent key, creating a
// namespace, sweeping keys whose expiry already hid them) notifies
// nothing.
func kvChangeSteps(t *testing.T, c *changeSteps) {
	kv := c.h.kv(t)
	ctx := c.h.ctx
	key := func(ns, k string) tenants.Change {
		return tenants.Change{Kind: tenants.ChangeKV, Key: tenants.KVChangeKey(ns, k)}
	}
	c.h.namespace(t, "ns1", "t1", "data")
	c.step(t, "kv namespace created")
	c.h.put(t, "ns1", "a:b/c", "1", time.Time{})
	c.step(t, "kv put", key("ns1", "a:b/c"))
	mustNil(t, "KVPutMany", kv.KVPutMany(ctx, "ns1", []tenants.KVEntry{{Key: "x"}, {Key: "y", Expires: time.Now().Add(-time.Second)}}))
	c.step(t, "kv put many", key("ns1", "x"), key("ns1", "y"))
	big := make([]tenants.KVEntry, 200)
	for i := range big {
		big[i] = tenants.KVEntry{Key: fmt.Sprintf("k%d", i)}
	}
	mustNil(t, "KVPutMany (200)", kv.KVPutMany(ctx, "ns1", big))
	c.step(t, "kv put many keys", key("ns1", ""))
	if ok, err := kv.KVCompareAndSwap(ctx, "ns1", []byte("0"), true, tenants.KVEntry{Key: "a:b/c", Value: []byte("2")}); err != nil || ok {
		t.Fatalf("KVCompareAndSwap (stale) = %v, %v; want no write", ok, err)
	}
	if ok, err := kv.KVCompareAndSwap(ctx, "ns1", nil, false, tenants.KVEntry{Key: "x", Value: []byte("2")}); err != nil || ok {
		t.Fatalf("KVCompareAndSwap (absent expected) = %v, %v; want no write", ok, err)
	}
	mustNil(t, "KVDelete absent", kv.KVDelete(ctx, "ns1", "absent"))
	if _, err := kv.SweepExpiredKV(ctx, time.Now(), 100); err != nil {
		t.Fatalf("SweepExpiredKV: %v", err)
	}
	c.step(t, "kv writes that change nothing")
	if ok, err := kv.KVCompareAndSwap(ctx, "ns1", []byte("1"), true, tenants.KVEntry{Key: "a:b/c", Value: []byte("2")}); err != nil || !ok {
		t.Fatalf("KVCompareAndSwap = %v, %v; want a write", ok, err)
	}
	c.step(t, "kv compare and swap", key("ns1", "a:b/c"))
	mustNil(t, "KVDelete", kv.KVDelete(ctx, "ns1", "x"))
	c.step(t, "kv delete", key("ns1", "x"))
	mustNil(t, "DeleteKVNamespace", kv.DeleteKVNamespace(ctx, "ns1"))
	c.step(t, "kv namespace deleted", key("ns1", ""))
}

// changeSteps checks RunChanges' steps.
type changeSteps struct {
	h     *harness
	f     *Feed
	marks int
}

// step creates a marker site and checks that the changes before its own
// are want, in any order (duplicates allowed).
func (c *changeSteps) step(t *testing.T, what string, want ...tenants.Change) {
	t.Helper()
	c.marks++
	mark := fmt.Sprintf("mark-%d", c.marks)
	c.h.site(t, "m"+mark, "tmark", mark)
	var got []tenants.Change
	for {
		ch := c.f.Next(t)
		if ch.Kind == tenants.ChangeSite && ch.Key == mark {
			break
		}
		if ch.Kind == tenants.ChangeResync {
			t.Fatalf("%s: unexpected resync (the feed reconnected: %v): changes may have been missed", what, ch.Err)
		}
		if !slices.Contains(got, ch) {
			got = append(got, ch)
		}
	}
	key := func(ch tenants.Change) string { return ch.Kind + ":" + ch.Key }
	g, w := changeKeys(got, key), changeKeys(want, key)
	if !slices.Equal(g, w) {
		t.Errorf("%s: changes %v, want %v", what, g, w)
	}
}

func changeKeys(cs []tenants.Change, key func(tenants.Change) string) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, key(c))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Feed records what a WatchChanges call delivers, for tests.
type Feed struct {
	mu     sync.Mutex
	got    []tenants.Change
	read   int           // how many Next returned
	more   chan struct{} // signalled after each append
	done   chan struct{} // closed when WatchChanges returned
	err    error         // what it returned
	cancel context.CancelFunc
}

// Watch starts w.WatchChanges in a goroutine and stops it (Stop) when tb
// ends, if it was not stopped before.
func Watch(tb testing.TB, w tenants.ChangeWatcher) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{more: make(chan struct{}, 1), done: make(chan struct{}), cancel: cancel}
	go func() {
		err := w.WatchChanges(ctx, f.add)
		f.mu.Lock()
		f.err = err
		f.mu.Unlock()
		close(f.done)
	}()
	tb.Cleanup(func() { f.Stop(tb) })
	return f
}

func (f *Feed) add(c tenants.Change) {
	f.mu.Lock()
	f.got = append(f.got, c)
	f.mu.Unlock()
	select {
	case f.more <- struct{}{}:
	default:
	}
}

// Next returns the next change delivered, waiting for it up to
// ChangeTimeout.
func (f *Feed) Next(tb testing.TB) tenants.Change {
	tb.Helper()
	deadline := time.NewTimer(ChangeTimeout)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		if f.read < len(f.got) {
			c := f.got[f.read]
			f.read++
			f.mu.Unlock()
			return c
		}
		f.mu.Unlock()
		select {
		case <-f.more:
		case <-f.done:
			// Drain what came before it returned, then fail.
			f.mu.Lock()
			n, err := len(f.got), f.err
			f.mu.Unlock()
			if f.read >= n {
				tb.Fatalf("WatchChanges returned (%v) while a change was awaited", err)
			}
		case <-deadline.C:
			tb.Fatalf("no change within %v", ChangeTimeout)
		}
	}
}

// NextMatching skips changes until one for which match is true, and
// returns it.
func (f *Feed) NextMatching(tb testing.TB, what string, match func(tenants.Change) bool) tenants.Change {
	tb.Helper()
	var skipped []string
	deadline := time.Now().Add(ChangeTimeout)
	for time.Now().Before(deadline) {
		c := f.Next(tb)
		if match(c) {
			return c
		}
		skipped = append(skipped, c.Kind+":"+c.Key)
	}
	tb.Fatalf("no %s within %v (skipped %s)", what, ChangeTimeout, strings.Join(skipped, ", "))
	return tenants.Change{}
}

// Stop cancels the watch and waits up to ChangeTimeout for WatchChanges
// to return; it returns what WatchChanges did.
func (f *Feed) Stop(tb testing.TB) error {
	tb.Helper()
	f.cancel()
	select {
	case <-f.done:
	case <-time.After(ChangeTimeout):
		tb.Fatalf("WatchChanges did not return within %v of its context's end", ChangeTimeout)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
