package storetest

import (
	"bytes"
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

// kvTests are the KVStore cases of the suite (Run adds them).
var kvTests = []struct {
	name string
	fn   func(t *testing.T, h *harness)
}{
	{"KVNamespaces", testKVNamespaces},
	{"KVNamespaceErrors", testKVNamespaceErrors},
	{"KVGetPutDelete", testKVGetPutDelete},
	{"KVPutMany", testKVPutMany},
	{"KVCompareAndSwap", testKVCompareAndSwap},
	{"KVCompareAndSwapConcurrent", testKVCompareAndSwapConcurrent},
	{"KVExpiry", testKVExpiry},
	{"KVList", testKVList},
	{"KVListBadCursor", testKVListBadCursor},
	{"KVSweep", testKVSweep},
	{"KVDeleteCascades", testKVDeleteCascades},
	{"KVUsage", testKVUsage},
}

// kv returns the store under test as a tenants.KVStore.
func (h *harness) kv(t *testing.T) tenants.KVStore {
	t.Helper()
	kv, ok := h.s.(tenants.KVStore)
	if !ok {
		t.Fatalf("%T does not implement tenants.KVStore", h.s)
	}
	return kv
}

func (h *harness) namespace(t *testing.T, id, tenantID, name string) tenants.KVNamespace {
	t.Helper()
	n := tenants.KVNamespace{ID: id, TenantID: tenantID, Name: name, Created: baseTime}
	mustNil(t, "CreateKVNamespace "+name, h.kv(t).CreateKVNamespace(h.ctx, n))
	n.Created = ms(n.Created)
	return n
}

func (h *harness) put(t *testing.T, nsID, key, value string, expires time.Time) {
	t.Helper()
	mustNil(t, "KVPut "+key, h.kv(t).KVPut(h.ctx, nsID, tenants.KVEntry{Key: key, Value: []byte(value), Expires: expires}))
}

// wantValue checks that key holds value (or, with value "", is absent).
func (h *harness) wantValue(t *testing.T, what, nsID, key, value string) {
	t.Helper()
	e, err := h.kv(t).KVGet(h.ctx, nsID, key)
	if value == "" {
		wantErr(t, what+": KVGet "+key, err, tenants.ErrNotFound)
		return
	}
	if err != nil {
		t.Errorf("%s: KVGet %s: %v", what, key, err)
		return
	}
	if string(e.Value) != value || e.Key != key {
		t.Errorf("%s: KVGet %s = %q (key %q), want %q", what, key, e.Value, e.Key, value)
	}
}

func testKVNamespaces(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "globex")
	blog := h.namespace(t, "ns1", "t1", "blog-data")
	shop := h.namespace(t, "ns2", "t1", "another")
	other := h.namespace(t, "ns3", "t2", "blog-data") // the same name in another tenant

	for _, tc := range []struct {
		name, tenant, ref string
		want              tenants.KVNamespace
	}{
		{"by name", "t1", "blog-data", blog},
		{"by id", "t1", "ns1", blog},
		{"same name, other tenant", "t2", "blog-data", other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kv.KVNamespace(h.ctx, tc.tenant, tc.ref)
			mustNil(t, "KVNamespace", err)
			if got != tc.want {
				t.Errorf("KVNamespace(%s, %s) = %+v, want %+v", tc.tenant, tc.ref, got, tc.want)
			}
		})
	}
	got, err := kv.KVNamespaceByID(h.ctx, "ns3")
	mustNil(t, "KVNamespaceByID", err)
	if got != other {
		t.Errorf("KVNamespaceByID(ns3) = %+v, want %+v", got, other)
	}
	list, err := kv.KVNamespaces(h.ctx, "t1")
	mustNil(t, "KVNamespaces", err)
	if !slices.Equal(list, []tenants.KVNamespace{shop, blog}) {
		t.Errorf("KVNamespaces(t1) = %+v, want another then blog-data", list)
	}
	empty, err := kv.KVNamespaces(h.ctx, "t9")
	mustNil(t, "KVNamespaces of an unknown tenant", err)
	nonNil(t, "KVNamespaces of an unknown tenant", empty == nil)
	if len(empty) != 0 {
		t.Errorf("KVNamespaces(t9) = %+v, want none", empty)
	}

	h.put(t, "ns1", "k", "v", time.Time{})
	mustNil(t, "DeleteKVNamespace", kv.DeleteKVNamespace(h.ctx, "ns1"))
	_, err = kv.KVNamespace(h.ctx, "t1", "blog-data")
	wantErr(t, "KVNamespace after delete", err, tenants.ErrNotFound)
	h.namespace(t, "ns4", "t1", "blog-data") // the name is free again
	h.wantValue(t, "a recreated namespace", "ns4", "k", "")
	h.wantValue(t, "the other tenant's namespace of that name", "ns3", "k", "")
}

func testKVNamespaceErrors(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "globex")
	h.namespace(t, "ns1", "t1", "blog-data")
	h.namespace(t, "ns2", "t2", "private")
	ctx := h.ctx
	create := func(id, tenant, name string) error {
		return kv.CreateKVNamespace(ctx, tenants.KVNamespace{ID: id, TenantID: tenant, Name: name})
	}
	wantErr(t, "name taken in the tenant", create("ns9", "t1", "blog-data"), tenants.ErrConflict)
	wantErr(t, "id taken", create("ns1", "t2", "fresh"), tenants.ErrConflict)
	wantErr(t, "unknown tenant", create("ns9", "t9", "fresh"), tenants.ErrNotFound)
	for _, bad := range []struct{ id, tenant, name string }{
		{"", "t1", "fresh"}, {"ns/9", "t1", "fresh"}, {"ns9", "", "fresh"},
		{"ns9", "t1", ""}, {"ns9", "t1", "Upper"}, {"ns9", "t1", "a_b"}, {"ns9", "t1", strings.Repeat("a", 64)},
	} {
		wantErr(t, fmt.Sprintf("invalid namespace %+v", bad), create(bad.id, bad.tenant, bad.name), tenants.ErrInvalid)
	}
	// Another tenant's namespace is not found, by name or by ID.
	_, err := kv.KVNamespace(ctx, "t1", "private")
	wantErr(t, "another tenant's namespace by name", err, tenants.ErrNotFound)
	_, err = kv.KVNamespace(ctx, "t1", "ns2")
	wantErr(t, "another tenant's namespace by id", err, tenants.ErrNotFound)
	_, err = kv.KVNamespaceByID(ctx, "nope")
	wantErr(t, "KVNamespaceByID unknown", err, tenants.ErrNotFound)
	wantErr(t, "DeleteKVNamespace unknown", kv.DeleteKVNamespace(ctx, "nope"), tenants.ErrNotFound)
	wantErr(t, "KVPut to an unknown namespace", kv.KVPut(ctx, "nope", tenants.KVEntry{Key: "k", Value: []byte("v")}), tenants.ErrNotFound)
}

func testKVGetPutDelete(t *testing.T, h *harness) {
	kv := h.kv(t)
	ctx := h.ctx
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	h.namespace(t, "ns2", "t1", "other")

	h.wantValue(t, "empty namespace", "ns1", "k", "")
	before := time.Now().Add(-time.Second)
	h.put(t, "ns1", "k", "one", time.Time{})
	h.put(t, "ns2", "k", "elsewhere", time.Time{})
	e, err := kv.KVGet(ctx, "ns1", "k")
	mustNil(t, "KVGet", err)
	if string(e.Value) != "one" || !e.Expires.IsZero() || e.Updated.Before(before) || e.Updated.Location() != time.UTC {
		t.Errorf("KVGet = %+v, want one, no expiry, updated now in UTC", e)
	}
	h.put(t, "ns1", "k", "two", time.Time{})
	h.wantValue(t, "overwritten", "ns1", "k", "two")
	h.wantValue(t, "other namespace untouched", "ns2", "k", "elsewhere")

	// Keys are bytes of UTF-8: "/" and the like are ordinary, an empty
	// value is a value.
	for _, key := range []string{"a/b", "ünïcødé ☃", "%2F", strings.Repeat("k", tenants.MaxKVKeyBytes)} {
		h.put(t, "ns1", key, "v-"+key, time.Time{})
		h.wantValue(t, "key "+key, "ns1", key, "v-"+key)
	}
	mustNil(t, "KVPut empty value", kv.KVPut(ctx, "ns1", tenants.KVEntry{Key: "empty"}))
	e, err = kv.KVGet(ctx, "ns1", "empty")
	if err != nil || e.Value == nil || len(e.Value) != 0 {
		t.Errorf("KVGet of an empty value = %#v, %v; want an empty non-nil value", e.Value, err)
	}
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 1<<18) // 1 MiB of binary
	mustNil(t, "KVPut 1 MiB", kv.KVPut(ctx, "ns1", tenants.KVEntry{Key: "big", Value: big}))
	if e, err := kv.KVGet(ctx, "ns1", "big"); err != nil || !bytes.Equal(e.Value, big) {
		t.Errorf("KVGet of 1 MiB of binary: %d bytes, %v; want the bytes put", len(e.Value), err)
	}

	for _, bad := range []string{"", strings.Repeat("k", tenants.MaxKVKeyBytes+1), "nul\x00", "\xff"} {
		wantErr(t, fmt.Sprintf("KVPut key %.20q", bad), kv.KVPut(ctx, "ns1", tenants.KVEntry{Key: bad, Value: []byte("v")}), tenants.ErrInvalid)
	}

	mustNil(t, "KVDelete", kv.KVDelete(ctx, "ns1", "k"))
	h.wantValue(t, "deleted", "ns1", "k", "")
	h.wantValue(t, "other namespace's key of that name", "ns2", "k", "elsewhere")
	mustNil(t, "KVDelete absent", kv.KVDelete(ctx, "ns1", "k"))
}

func testKVPutMany(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	h.put(t, "ns1", "a", "old", time.Time{})
	mustNil(t, "KVPutMany", kv.KVPutMany(h.ctx, "ns1", []tenants.KVEntry{
		{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}, // the last of a key wins
	}))
	h.wantValue(t, "overwritten, last wins", "ns1", "a", "3")
	h.wantValue(t, "new", "ns1", "b", "2")

	// All or none: an invalid entry or a missing namespace writes nothing.
	wantErr(t, "KVPutMany with an invalid key", kv.KVPutMany(h.ctx, "ns1", []tenants.KVEntry{
		{Key: "c", Value: []byte("x")}, {Key: "", Value: []byte("y")},
	}), tenants.ErrInvalid)
	h.wantValue(t, "after a refused batch", "ns1", "c", "")
	wantErr(t, "KVPutMany to a missing namespace", kv.KVPutMany(h.ctx, "nope", []tenants.KVEntry{{Key: "c"}}), tenants.ErrNotFound)
	mustNil(t, "KVPutMany of nothing", kv.KVPutMany(h.ctx, "ns1", nil))

	many := make([]tenants.KVEntry, 2000)
	for i := range many {
		many[i] = tenants.KVEntry{Key: fmt.Sprintf("m%05d", i), Value: []byte(fmt.Sprint(i))}
	}
	mustNil(t, "KVPutMany of 2000", kv.KVPutMany(h.ctx, "ns1", many))
	h.wantValue(t, "last of 2000", "ns1", "m01999", "1999")
}

func testKVCompareAndSwap(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	cas := func(what string, old []byte, oldExists bool, key, value string, expires time.Time, want bool) {
		t.Helper()
		got, err := kv.KVCompareAndSwap(h.ctx, "ns1", old, oldExists, tenants.KVEntry{Key: key, Value: []byte(value), Expires: expires})
		mustNil(t, what, err)
		if got != want {
			t.Errorf("%s: wrote %v, want %v", what, got, want)
		}
	}
	cas("present expected, absent", []byte("x"), true, "k", "1", time.Time{}, false)
	h.wantValue(t, "after a failed swap", "ns1", "k", "")
	cas("absent expected, absent", nil, false, "k", "1", time.Time{}, true)
	h.wantValue(t, "created", "ns1", "k", "1")
	cas("absent expected, present", nil, false, "k", "2", time.Time{}, false)
	cas("wrong old value", []byte("0"), true, "k", "2", time.Time{}, false)
	h.wantValue(t, "after failed swaps", "ns1", "k", "1")
	cas("right old value", []byte("1"), true, "k", "2", time.Time{}, true)
	h.wantValue(t, "swapped", "ns1", "k", "2")

	// An empty value is present and differs from absent.
	cas("to empty", []byte("2"), true, "k", "", time.Time{}, true)
	cas("absent expected, empty present", nil, false, "k", "3", time.Time{}, false)
	cas("empty expected", []byte{}, true, "k", "3", time.Time{}, true)
	h.wantValue(t, "from empty", "ns1", "k", "3")

	// An expired key counts as absent.
	h.put(t, "ns1", "gone", "old", time.Now().Add(-time.Second))
	cas("old value of an expired key", []byte("old"), true, "gone", "new", time.Time{}, false)
	cas("absent expected, expired", nil, false, "gone", "new", time.Now().Add(time.Hour), true)
	e, err := kv.KVGet(h.ctx, "ns1", "gone")
	if err != nil || string(e.Value) != "new" || e.Expires.IsZero() {
		t.Errorf("after a swap over an expired key: %+v, %v; want new with its expiry", e, err)
	}

	_, err = kv.KVCompareAndSwap(h.ctx, "ns1", nil, false, tenants.KVEntry{Key: ""})
	wantErr(t, "KVCompareAndSwap invalid key", err, tenants.ErrInvalid)
	_, err = kv.KVCompareAndSwap(h.ctx, "nope", nil, false, tenants.KVEntry{Key: "k"})
	wantErr(t, "KVCompareAndSwap missing namespace", err, tenants.ErrNotFound)
}

// testKVCompareAndSwapConcurrent: concurrent read-modify-write loops
// lose no update.
func testKVCompareAndSwapConcurrent(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				e, err := kv.KVGet(h.ctx, "ns1", "n")
				exists := err == nil
				if err != nil && !isNotFound(err) {
					errs <- err
					return
				}
				var n int
				fmt.Sscan(string(e.Value), &n)
				ok, err := kv.KVCompareAndSwap(h.ctx, "ns1", e.Value, exists, tenants.KVEntry{Key: "n", Value: []byte(fmt.Sprint(n + 1))})
				if err != nil {
					errs <- err
					return
				}
				if ok {
					i++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent counter: %v", err)
	}
	h.wantValue(t, "counter", "ns1", "n", fmt.Sprint(workers*each))
}

func testKVExpiry(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	past, future := time.Now().Add(-time.Millisecond*10), time.Now().Add(time.Hour)
	h.put(t, "ns1", "expired", "x", past)
	h.put(t, "ns1", "later", "y", future)
	h.wantValue(t, "expired", "ns1", "expired", "")
	e, err := kv.KVGet(h.ctx, "ns1", "later")
	mustNil(t, "KVGet later", err)
	if !e.Expires.Equal(ms(future)) {
		t.Errorf("Expires = %v, want %v (milliseconds, UTC)", e.Expires, ms(future))
	}
	keys, _, err := kv.KVList(h.ctx, "ns1", "", tenants.PageRequest{})
	mustNil(t, "KVList", err)
	if len(keys) != 1 || keys[0].Key != "later" || !keys[0].Expires.Equal(ms(future)) || keys[0].Size != 1 {
		t.Errorf("KVList = %+v, want only later with its expiry and size", keys)
	}
	// A put without expiry over an expiring key makes it permanent.
	h.put(t, "ns1", "later", "z", time.Time{})
	if e, err := kv.KVGet(h.ctx, "ns1", "later"); err != nil || !e.Expires.IsZero() {
		t.Errorf("after a put without expiry: %+v, %v; want no expiry", e, err)
	}
	// A key expiring soon disappears at its time.
	soon := time.Now().Add(300 * time.Millisecond)
	h.put(t, "ns1", "soon", "s", soon)
	time.Sleep(time.Until(soon) + 10*time.Millisecond)
	h.wantValue(t, "after its expiry", "ns1", "soon", "")
}

func keyNames(keys []tenants.KVKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Key
	}
	return out
}

func testKVList(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	h.namespace(t, "ns2", "t1", "other")
	all := []string{"a", "a/1", "a/2", "a/3", "a0", "a\u00ff", "a\U0010ffff", "a\U0010ffffz", "b", "user:1", "user:10", "user:2", "\u00e9t\u00e9"}
	for _, k := range all {
		h.put(t, "ns1", k, "value of "+k, time.Time{})
	}
	h.put(t, "ns1", "a/gone", "x", time.Now().Add(-time.Second))
	h.put(t, "ns2", "a/other", "x", time.Time{})

	for _, tc := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"", 0, all}, // bytewise order: "é" after the ASCII keys
		{"", 5, all},
		{"a/", 2, []string{"a/1", "a/2", "a/3"}},
		{"a", 1, all[:8]},
		{"a\U0010ffff", 1, []string{"a\U0010ffff", "a\U0010ffffz"}},
		{"user:1", 1, []string{"user:1", "user:10"}},
		{"\u00e9", 0, []string{"\u00e9t\u00e9"}},
		{"zzz", 0, []string{}},
		{"a%", 0, []string{}}, // no wildcards
		{"a_", 0, []string{}},
	} {
		t.Run(fmt.Sprintf("prefix %q limit %d", tc.prefix, tc.limit), func(t *testing.T) {
			var got []string
			p := tenants.PageRequest{Limit: tc.limit}
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatal("KVList does not end")
				}
				keys, next, err := kv.KVList(h.ctx, "ns1", tc.prefix, p)
				mustNil(t, "KVList", err)
				nonNil(t, "KVList", keys == nil)
				if tc.limit > 0 && len(keys) > tc.limit {
					t.Fatalf("a page of %d keys, limit %d", len(keys), tc.limit)
				}
				got = append(got, keyNames(keys)...)
				for _, k := range keys {
					if want := len("value of " + k.Key); k.Size != want || k.Updated.IsZero() || !k.Expires.IsZero() {
						t.Errorf("key %+v: want size %d, updated set, no expiry", k, want)
					}
				}
				if next == "" {
					break
				}
				p.Cursor = next
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %q, want %q", got, tc.want)
			}
		})
	}

	// A cursor stays valid while keys are added and deleted.
	keys, next, err := kv.KVList(h.ctx, "ns1", "a/", tenants.PageRequest{Limit: 1})
	mustNil(t, "KVList first page", err)
	mustNil(t, "KVDelete a/1", kv.KVDelete(h.ctx, "ns1", "a/1"))
	h.put(t, "ns1", "a/0", "new", time.Time{})
	h.put(t, "ns1", "a/25", "new", time.Time{})
	rest, _, err := kv.KVList(h.ctx, "ns1", "a/", tenants.PageRequest{Cursor: next})
	mustNil(t, "KVList next page", err)
	if got := keyNames(append(keys, rest...)); !slices.Equal(got, []string{"a/1", "a/2", "a/25", "a/3"}) {
		t.Errorf("pages across changes = %q, want a/1 then the keys after it", got)
	}
}

func testKVListBadCursor(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	h.put(t, "ns1", "a", "1", time.Time{})
	h.put(t, "ns1", "b", "2", time.Time{})
	_, next, err := kv.KVList(h.ctx, "ns1", "", tenants.PageRequest{Limit: 1})
	mustNil(t, "KVList", err)
	if next == "" {
		t.Fatal("KVList with limit 1 of 2 keys: no next cursor")
	}
	_, siteCursor, err := h.s.SitesPage(h.ctx, tenants.SiteFilter{}, tenants.PageRequest{Limit: 1})
	mustNil(t, "SitesPage", err)
	for _, c := range []string{"garbage!", next[:len(next)-2], tenants.Cursor{Kind: tenants.CursorSites, Key: "a"}.Encode(), siteCursor} {
		if c == "" {
			continue
		}
		_, _, err := kv.KVList(h.ctx, "ns1", "", tenants.PageRequest{Cursor: c})
		wantErr(t, fmt.Sprintf("KVList with cursor %q", c), err, tenants.ErrInvalidCursor)
	}
}

func testKVSweep(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.namespace(t, "ns1", "t1", "data")
	h.namespace(t, "ns2", "t1", "other")
	now := time.Now()
	for i := range 5 {
		h.put(t, "ns1", fmt.Sprintf("old%d", i), "x", now.Add(-time.Duration(i+1)*time.Minute))
	}
	h.put(t, "ns2", "old", "x", now.Add(-time.Hour))
	h.put(t, "ns1", "later", "y", now.Add(time.Hour))
	h.put(t, "ns1", "forever", "z", time.Time{})

	n, err := kv.SweepExpiredKV(h.ctx, now, 4)
	mustNil(t, "SweepExpiredKV", err)
	if n != 4 {
		t.Errorf("SweepExpiredKV(limit 4) = %d, want 4", n)
	}
	n, err = kv.SweepExpiredKV(h.ctx, now, 100)
	mustNil(t, "SweepExpiredKV", err)
	if n != 2 {
		t.Errorf("second SweepExpiredKV = %d, want the 2 left", n)
	}
	n, err = kv.SweepExpiredKV(h.ctx, now, 100)
	if err != nil || n != 0 {
		t.Errorf("third SweepExpiredKV = %d, %v; want 0", n, err)
	}
	h.wantValue(t, "unexpired after sweeps", "ns1", "later", "y")
	h.wantValue(t, "permanent after sweeps", "ns1", "forever", "z")
	// Swept keys are gone, not just hidden: a sweep as of later finds
	// only the key that expires in an hour.
	n, err = kv.SweepExpiredKV(h.ctx, now.Add(2*time.Hour), 100)
	if err != nil || n != 1 {
		t.Errorf("SweepExpiredKV two hours later = %d, %v; want 1", n, err)
	}
}

// testKVDeleteCascades: a namespace's keys go with it, and a tenant's
// namespaces with the tenant.
func testKVDeleteCascades(t *testing.T, h *harness) {
	kv := h.kv(t)
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "globex")
	h.namespace(t, "ns1", "t1", "data")
	h.namespace(t, "ns2", "t1", "more")
	h.namespace(t, "ns3", "t2", "data")
	for _, ns := range []string{"ns1", "ns2", "ns3"} {
		h.put(t, ns, "k", "v", time.Time{})
	}
	mustNil(t, "DeleteKVNamespace", kv.DeleteKVNamespace(h.ctx, "ns1"))
	h.wantValue(t, "deleted namespace's key", "ns1", "k", "")
	mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
	_, err := kv.KVNamespaceByID(h.ctx, "ns2")
	wantErr(t, "namespace of a deleted tenant", err, tenants.ErrNotFound)
	h.wantValue(t, "key of a deleted tenant's namespace", "ns2", "k", "")
	h.wantValue(t, "other tenant's key", "ns3", "k", "v")
	if u, err := h.s.TenantUsage(h.ctx, "t1"); err != nil || u.KVNamespaces != 0 || u.KVBytes != 0 {
		t.Errorf("TenantUsage of the deleted tenant = %+v, %v; want no KV", u, err)
	}
}

// testKVUsage: TenantUsage counts namespaces and the bytes of unexpired
// keys and values, inside StorageBytes.
func testKVUsage(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "globex")
	h.namespace(t, "ns1", "t1", "data")
	h.namespace(t, "ns2", "t1", "more")
	h.namespace(t, "ns3", "t2", "data")
	mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t1", []tenants.Blob{{Hash: hashOf(1), Size: 1000}}))
	h.put(t, "ns1", "key", "value", time.Time{})                  // 8
	h.put(t, "ns2", "é", "ü", time.Time{})                        // 4 (bytes, not characters)
	h.put(t, "ns2", "gone", "xxxx", time.Now().Add(-time.Second)) // expired: not counted
	h.put(t, "ns3", "other", "tenant", time.Time{})
	h.wantUsage(t, "with KV", "t1", tenants.QuotaUsage{StorageBytes: 1012, KVNamespaces: 2, KVBytes: 12})
	h.wantUsage(t, "other tenant", "t2", tenants.QuotaUsage{StorageBytes: 11, KVNamespaces: 1, KVBytes: 11})
	type stats interface {
		KVNamespaceStats(ctx context.Context, id string) (int, int64, error)
	}
	st, ok := h.s.(stats)
	if !ok {
		t.Fatalf("%T has no KVNamespaceStats (admin's namespace view needs it)", h.s)
	}
	keys, size, err := st.KVNamespaceStats(h.ctx, "ns2")
	if err != nil || keys != 1 || size != 4 {
		t.Errorf("KVNamespaceStats(ns2) = %d, %d, %v; want 1 key of 4 bytes", keys, size, err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, tenants.ErrNotFound) }
