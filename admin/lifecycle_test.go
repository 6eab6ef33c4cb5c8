package admin_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

func withGarbageWait(d time.Duration) envOption {
	return func(s *envSetup) { s.cfg.GarbageWait = d }
}

// deploymentIDs lists a site's deployments, newest first.
func (e *env) deploymentIDs(t *testing.T, site string) []string {
	t.Helper()
	st, err := e.store.Site(context.Background(), site)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.store.Deployments(context.Background(), st.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	return ids
}

func TestDeploymentsQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"limits": map[string]any{"deployments": 3}}), 200)

	d1 := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "1"}, nil), 201).str("id")
	d2 := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "2"}, map[string]any{"activate": false}), 201).str("id")
	d3 := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "3"}, map[string]any{"activate": false}), 201).str("id")
	before := len(e.acts.list())

	// The site holds 3: the 4th deploy deletes the oldest that is not
	// live (d1 is), d2, and the edge is told.
	d4 := must(t, e.publish(t, tok, "www", salt, files{"/index.html": "4"}, map[string]any{"activate": false}), 201).str("id")
	if got, want := e.deploymentIDs(t, "www"), []string{d4, d3, d1}; !slices.Equal(got, want) {
		t.Errorf("deployments after the 4th deploy = %v, want %v", got, want)
	}
	if len(e.acts.list()) == before {
		t.Errorf("deleting a deployment for the quota did not tell the edge (OnActivate)")
	}
	wantErr(t, e.do(t, "GET", "/api/v1/sites/www/deployments/"+d2, tok, nil), 404, "not_found")

	// Quota 1 and only the live deployment left after deleting what can
	// be: refused, naming the quota, the use and the limit.
	must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"limits": map[string]any{"deployments": 1}}), 200)
	r := e.publish(t, tok, "www", salt, files{"/index.html": "5"}, nil)
	wantErr(t, r, 403, "quota_exceeded")
	if r.errField("quota") != "deployments" || r.errField("used") != float64(1) || r.errField("limit") != float64(1) {
		t.Errorf("quota error %s: want quota deployments, used 1, limit 1", r.raw)
	}
	if got, want := e.deploymentIDs(t, "www"), []string{d1}; !slices.Equal(got, want) {
		t.Errorf("deployments after the refusal = %v, want only the live one %v", got, want)
	}
	if got := e.activeDeployment(t, tok, "www"); got != d1 {
		t.Errorf("live deployment %s after the refusal, want %s", got, d1)
	}
}

// collect queues blob hash of the tenant for deletion, as the sweeper
// does.
func (e *env) collect(t *testing.T, tenantID, hash string) tenants.LifecycleStore {
	t.Helper()
	ctx := context.Background()
	ls := e.store.(tenants.LifecycleStore)
	gen, err := ls.PublishGeneration(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ls.CollectBlobs(ctx, tenantID, gen, []string{hash}); err != nil || len(got) != 1 {
		t.Fatalf("CollectBlobs = %v, %v", got, err)
	}
	return ls
}

func TestUploadOfQueuedBlob(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, withGarbageWait(time.Minute))
	tid, tok := e.tenant(t, "acme")
	salt := e.site(t, tok, "www")
	content := "<p>collected, then wanted again</p>"
	h := assets.Hash(salt, []byte(content))
	must(t, e.publish(t, tok, "www", salt, files{"/a.html": content}, nil), 201)

	t.Run("pending: the upload cancels the deletion", func(t *testing.T) {
		ls := e.collect(t, tid, h)
		up, missing := e.startUpload(t, tok, "www", salt, files{"/a.html": content})
		if !slices.Equal(missing, []string{h}) {
			t.Fatalf("missing = %v, want the collected blob %s", missing, h)
		}
		must(t, e.putBlob(t, tok, up, h, []byte(content)), 204)
		if g, _ := ls.GarbagePage(ctx, -time.Hour, "", 10); len(g) != 0 {
			t.Errorf("still queued after the upload: %+v", g)
		}
		if have, _ := e.store.Blobs(ctx, tid, []string{h}); len(have) != 1 {
			t.Errorf("blob not recorded after the upload")
		}
	})

	t.Run("claimed: the upload waits for the sweeper", func(t *testing.T) {
		ls := e.collect(t, tid, h)
		key := assets.Key(tid, h, "")
		if got, err := ls.ClaimGarbage(ctx, []string{key}); err != nil || len(got) != 1 {
			t.Fatalf("ClaimGarbage = %v, %v", got, err)
		}
		up, _ := e.startUpload(t, tok, "www", salt, files{"/a.html": content})
		done := make(chan resp, 1)
		go func() { done <- e.putBlob(t, tok, up, h, []byte(content)) }()
		// The sweeper deletes the object, then removes the entry; the
		// upload, before or after, writes it afterwards.
		if err := e.blobs.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if err := ls.FinishGarbage(ctx, []tenants.Garbage{{Key: key, TenantID: tid, Hash: h}}); err != nil {
			t.Fatal(err)
		}
		must(t, <-done, 204)
		if _, err := e.blobs.Size(ctx, key); err != nil {
			t.Errorf("the object the upload wrote after the sweep is gone: %v", err)
		}
		if have, _ := e.store.Blobs(ctx, tid, []string{h}); len(have) != 1 {
			t.Errorf("blob not recorded after the upload")
		}
	})

	t.Run("claimed for too long: 503, retry later", func(t *testing.T) {
		e := newEnv(t, withGarbageWait(time.Millisecond))
		tid, tok := e.tenant(t, "acme")
		salt := e.site(t, tok, "www")
		h := assets.Hash(salt, []byte(content))
		must(t, e.publish(t, tok, "www", salt, files{"/a.html": content}, nil), 201)
		ls := e.collect(t, tid, h)
		if got, err := ls.ClaimGarbage(ctx, []string{assets.Key(tid, h, "")}); err != nil || len(got) != 1 {
			t.Fatalf("ClaimGarbage = %v, %v", got, err)
		}
		up, _ := e.startUpload(t, tok, "www", salt, files{"/a.html": content})
		wantErr(t, e.putBlob(t, tok, up, h, []byte(content)), 503, "storage_unavailable")
	})
}
