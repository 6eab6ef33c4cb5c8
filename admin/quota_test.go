package admin_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// setLimits overrides the tenant's limits (the whole object, as PATCH
// takes it).
func (e *env) setLimits(t testing.TB, tenantID string, limits map[string]int) {
	t.Helper()
	must(t, e.do(t, "PATCH", "/api/v1/tenants/"+tenantID, e.admin, map[string]any{"limits": limits}), 200)
}

// wantQuota asserts a quota_exceeded answer and its details.
func wantQuota(t testing.TB, r resp, status int, quota string, used, limit int) {
	t.Helper()
	wantErr(t, r, status, "quota_exceeded")
	if r.errField("quota") != quota || r.errField("used") != float64(used) || r.errField("limit") != float64(limit) {
		t.Errorf("quota %v used %v limit %v, want %s %d %d; body %s",
			r.errField("quota"), r.errField("used"), r.errField("limit"), quota, used, limit, r.raw)
	}
	msg, _ := r.errField("message").(string)
	if !strings.Contains(msg, quota) {
		t.Errorf("message %q does not name the quota %s", msg, quota)
	}
}

func (e *env) usage(t testing.TB, tenantID string) tenants.QuotaUsage {
	t.Helper()
	u, err := e.store.TenantUsage(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestQuotaSites is issue 11's measured problem: one free-plan token
// created sites without end. It is refused at the plan's 10.
func TestQuotaSites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	for i := range 10 {
		must(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": fmt.Sprintf("site%d", i)}), 201)
	}
	r := e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "site10"})
	wantQuota(t, r, 403, "sites", 10, 10)
	if msg := r.errField("message").(string); !strings.Contains(msg, "10 of 10 used") {
		t.Errorf("message %q", msg)
	}
	wantErr(t, e.do(t, "GET", "/api/v1/sites/site10", e.admin, nil), 404, "not_found")

	t.Run("an admin creating for the tenant is refused too", func(t *testing.T) {
		wantQuota(t, e.do(t, "POST", "/api/v1/sites", e.admin, map[string]any{"name": "site10", "tenant": "acme"}), 403, "sites", 10, 10)
	})
	t.Run("an override raises it, 0 goes back to the plan's", func(t *testing.T) {
		e.setLimits(t, id, map[string]int{"sites": 11})
		must(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "site10"}), 201)
		wantQuota(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "site11"}), 403, "sites", 11, 11)
		e.setLimits(t, id, map[string]int{"sites": 0})
		wantQuota(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "site11"}), 403, "sites", 11, 10)
	})
	t.Run("deleting a site frees its place", func(t *testing.T) {
		must(t, e.do(t, "DELETE", "/api/v1/sites/site0", tok, nil), 204)
		must(t, e.do(t, "DELETE", "/api/v1/sites/site1", tok, nil), 204)
		must(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "site11"}), 201)
	})
	t.Run("another tenant is not affected", func(t *testing.T) {
		_, other := e.tenant(t, "globex")
		must(t, e.do(t, "POST", "/api/v1/sites", other, map[string]any{"name": "elsewhere"}), 201)
	})
}

// TestQuotaSitesConcurrent: concurrent creates of one tenant never pass
// the quota together on one node.
func TestQuotaSitesConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	e.setLimits(t, id, map[string]int{"sites": 3})
	var wg sync.WaitGroup
	statuses := make([]int, 12)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": fmt.Sprintf("s%d", i)}).status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 403:
		default:
			t.Errorf("status %d", s)
		}
	}
	if created != 3 || e.usage(t, id).Sites != 3 {
		t.Errorf("%d sites created (%d stored), want 3: %v", created, e.usage(t, id).Sites, statuses)
	}
}

func TestQuotaDomains(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	e.site(t, tok, "blog")
	e.site(t, tok, "shop")
	e.setLimits(t, id, map[string]int{"domains": 2})
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	must(t, e.do(t, "POST", "/api/v1/sites/shop/domains", tok, map[string]any{"hostname": "shop.example.com"}), 201)
	// The limit is the tenant's, over all its sites.
	wantQuota(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "example.com"}), 403, "domains", 2, 2)
	wantQuota(t, e.do(t, "POST", "/api/v1/sites/blog/domains", e.admin, map[string]any{"hostname": "example.com"}), 403, "domains", 2, 2)
	wantErr(t, e.do(t, "GET", "/api/v1/sites/blog/domains/example.com", tok, nil), 404, "not_found")
	must(t, e.do(t, "DELETE", "/api/v1/sites/shop/domains/shop.example.com", tok, nil), 204)
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "example.com"}), 201)
}

func TestQuotaUploadSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	// The free plan's open sessions.
	free, _ := tenants.PlanLimits(tenants.PlanFree)
	n := free.UploadSessions
	for i := range n {
		e.startUpload(t, tok, "blog", salt, files{"/index.html": fmt.Sprint("v", i)})
	}
	wantQuota(t, e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, manifestOf(salt, files{"/index.html": "over"})), 403, "uploadSessions", n, n)
	if u := e.usage(t, id); u.UploadSessions != n {
		t.Errorf("open sessions %d after a refusal, want %d", u.UploadSessions, n)
	}
	t.Run("a deployed session is no longer open", func(t *testing.T) {
		e.setLimits(t, id, map[string]int{"uploadSessions": n + 1})
		must(t, e.publish(t, tok, "blog", salt, files{"/index.html": "v5"}, nil), 201)
		must(t, e.publish(t, tok, "blog", salt, files{"/index.html": "v6"}, nil), 201)
	})
	t.Run("an expired session is no longer open", func(t *testing.T) {
		e.setLimits(t, id, map[string]int{"uploadSessions": n})
		wantQuota(t, e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, manifestOf(salt, files{"/index.html": "v7"})), 403, "uploadSessions", n, n)
		expired, err := e.store.DeleteExpiredUploadSessions(context.Background(), e.clock.Now().Add(2*admin.DefaultUploadTTL))
		if err != nil || expired != n {
			t.Fatalf("DeleteExpiredUploadSessions = %d, %v; want %d", expired, err, n)
		}
		e.startUpload(t, tok, "blog", salt, files{"/index.html": "v7"})
	})
}

// TestQuotaUploadEntries: sessions' entries together are bounded, the
// new session's included.
func TestQuotaUploadEntries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	e.setLimits(t, id, map[string]int{"uploadEntries": 10})
	many := func(n, seed int) files {
		fs := files{}
		for i := range n {
			fs[fmt.Sprintf("/f%d.txt", i)] = fmt.Sprint(seed, "-", i)
		}
		return fs
	}
	e.startUpload(t, tok, "blog", salt, many(6, 1))
	r := e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, manifestOf(salt, many(5, 2)))
	wantQuota(t, r, 413, "uploadEntries", 6, 10)
	if r.errField("requested") != 5.0 {
		t.Errorf("requested %v, want 5", r.errField("requested"))
	}
	e.startUpload(t, tok, "blog", salt, many(4, 3)) // exactly at the limit
	if u := e.usage(t, id); u.UploadEntries != 10 || u.UploadSessions != 2 {
		t.Errorf("usage %+v", u)
	}
}

// TestQuotaUploadEntriesFreePlan is issue 11's measured problem: upload
// sessions of 100,000 entries each, refused at the free plan's 200,000.
func TestQuotaUploadEntriesFreePlan(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 300,000 entries")
	}
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	body := func(seed int) map[string]any {
		m := make(map[string]any, 100_000)
		for i := range 100_000 {
			m[fmt.Sprintf("/d%d/f%d.html", i%100, i)] = map[string]any{"hash": assets.Hash(salt, []byte(fmt.Sprint(seed, i))), "size": 10}
		}
		return map[string]any{"manifest": m}
	}
	must(t, e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, body(1)), 201)
	must(t, e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, body(2)), 201)
	r := e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, body(3))
	wantQuota(t, r, 413, "uploadEntries", 200_000, 200_000)
	if u := e.usage(t, id); u.UploadEntries != 200_000 || u.UploadSessions != 2 {
		t.Errorf("usage %+v after the refusal", u)
	}
}

func TestQuotaStorage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	e.setLimits(t, id, map[string]int{"storageMB": 1})
	// Text blobs: their br/gz variants are stored too but not counted.
	big := func(c byte) string { return strings.Repeat(string(c), 600<<10) }
	must(t, e.publish(t, tok, "blog", salt, files{"/a.html": big('a')}, nil), 201)
	if u := e.usage(t, id); u.StorageBytes != 600<<10 {
		t.Fatalf("stored %d bytes, want %d (raw size only)", u.StorageBytes, 600<<10)
	}

	t.Run("refused at upload start before any upload", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/sites/blog/uploads", tok, manifestOf(salt, files{"/a.html": big('a'), "/b.html": big('b')}))
		wantQuota(t, r, 413, "storageMB", 1, 1)
		if r.errField("requested") != 1.0 {
			t.Errorf("requested %v", r.errField("requested"))
		}
		if u := e.usage(t, id); u.UploadSessions != 0 {
			t.Errorf("a refused upload left %d sessions", u.UploadSessions)
		}
	})
	t.Run("blobs already stored cost nothing", func(t *testing.T) {
		must(t, e.publish(t, tok, "blog", salt, files{"/a.html": big('a'), "/copy.html": big('a'), "/small.html": "x"}, nil), 201)
	})
	t.Run("PutBlob refuses what sessions admitted together would overshoot", func(t *testing.T) {
		e.setLimits(t, id, map[string]int{"storageMB": 2})
		// 600 KiB stored: each session alone fits, both do not.
		c, d := strings.Repeat("c", 800<<10), strings.Repeat("d", 800<<10)
		up1, missing1 := e.startUpload(t, tok, "blog", salt, files{"/c.html": c})
		up2, missing2 := e.startUpload(t, tok, "blog", salt, files{"/d.html": d})
		must(t, e.putBlob(t, tok, up1, missing1[0], []byte(c)), 204)
		r := e.putBlob(t, tok, up2, missing2[0], []byte(d))
		wantQuota(t, r, 413, "storageMB", 2, 2)
		have, err := e.store.Blobs(context.Background(), id, missing2)
		if err != nil || len(have) != 0 {
			t.Errorf("the refused blob is recorded: %v %v", have, err)
		}
	})
}

func TestQuotaWorker(t *testing.T) {
	t.Parallel()
	v := &validator{}
	e := newEnv(t, withWorkers(v.validate))
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	e.setLimits(t, id, map[string]int{"workerMB": 1})
	wasm := append(bytes.Clone(wasmMagic), make([]byte, 1<<20)...)
	body := manifestOf(salt, files{"/index.html": "home"})
	body["worker"] = workerField(salt, wasm)
	wantQuota(t, e.do(t, "POST", "/api/v1/sites/www/uploads", tok, body), 413, "workerMB", 2, 1)
	if u := e.usage(t, id); u.UploadSessions != 0 {
		t.Errorf("a refused upload left %d sessions", u.UploadSessions)
	}
	must(t, e.publishWorker(t, tok, "www", salt, files{"/index.html": "home"}, wasm[:1<<20], nil), 201)
}

// TestTenantShowsUsage: GET and PATCH of one tenant show its usage beside
// its effective limits; listings do not.
func TestTenantShowsUsage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "blog")
	e.site(t, tok, "shop")
	must(t, e.do(t, "POST", "/api/v1/sites/blog/domains", tok, map[string]any{"hostname": "www.example.com"}), 201)
	must(t, e.publish(t, tok, "blog", salt, files{"/index.html": "hello"}, nil), 201)
	e.startUpload(t, tok, "blog", salt, files{"/index.html": "hello", "/about.html": "about"})
	want := map[string]any{"sites": 2.0, "domains": 1.0, "uploadSessions": 1.0, "uploadEntries": 2.0, "storageBytes": 5.0}
	for _, tc := range []struct {
		name string
		r    resp
	}{
		{"GET by tenant token", e.do(t, "GET", "/api/v1/tenants/"+id, tok, nil)},
		{"GET by admin", e.do(t, "GET", "/api/v1/tenants/acme", e.admin, nil)},
		{"PATCH", e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"limits": map[string]int{"sites": 20}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := must(t, tc.r, 200)
			u, _ := r.body["usage"].(map[string]any)
			for k, v := range want {
				if u[k] != v {
					t.Errorf("usage.%s = %v, want %v; body %s", k, u[k], v, r.raw)
				}
			}
		})
	}
	r := must(t, e.do(t, "GET", "/api/v1/tenants/"+id, tok, nil), 200)
	if eff := r.body["effective_limits"].(map[string]any); eff["sites"] != 20.0 || eff["storageMB"] != 2048.0 {
		t.Errorf("effective_limits %v", eff)
	}
	list := must(t, e.do(t, "GET", "/api/v1/tenants", e.admin, nil), 200)
	if strings.Contains(string(list.raw), `"usage"`) {
		t.Errorf("the listing shows usage: %s", list.raw)
	}
}
