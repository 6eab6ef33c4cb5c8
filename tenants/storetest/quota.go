package storetest

import (
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func (h *harness) wantUsage(t *testing.T, what, tenantID string, want tenants.QuotaUsage) {
	t.Helper()
	got, err := h.s.TenantUsage(h.ctx, tenantID)
	mustNil(t, "TenantUsage "+what, err)
	if got != want {
		t.Errorf("TenantUsage(%s) %s:\n got  %+v\n want %+v", tenantID, what, got, want)
	}
}

// testTenantUsage checks what TenantUsage counts: a tenant's own sites,
// claims, unexpired sessions and their entries, and the raw size of its
// unique blobs; never another tenant's, an expired session's or a
// variant's.
func testTenantUsage(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "globex")
	h.wantUsage(t, "new tenant", "t1", tenants.QuotaUsage{})
	h.wantUsage(t, "unknown tenant", "t9", tenants.QuotaUsage{})

	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	h.site(t, "s3", "t2", "news")
	h.domain(t, "www.example.com", "s1", baseTime)
	h.domain(t, "example.com", "s1", baseTime)
	h.domain(t, "shop.example.com", "s2", baseTime)
	h.domain(t, "www.example.com", "s3", baseTime) // another tenant's claim on the same name

	future := time.Now().Add(time.Hour)
	h.session(t, "u1", "s1", future) // 3 entries
	u2 := tenants.UploadSession{ID: "u2", SiteID: "s2", Manifest: manifest(5, 8), Expires: future, Created: baseTime,
		Worker: &tenants.WorkerBlob{Hash: hashOf(99), Size: 1000}} // the worker is no entry
	mustNil(t, "CreateUploadSession u2", h.s.CreateUploadSession(h.ctx, u2))
	h.session(t, "u3", "s1", time.Now().Add(-time.Minute)) // expired
	h.session(t, "u4", "s3", future)                       // t2's

	mustNil(t, "PutBlobs t1", h.s.PutBlobs(h.ctx, "t1", []tenants.Blob{
		{Hash: hashOf(1), Size: 1000, BrSize: 300, GzSize: 400},
		{Hash: hashOf(2), Size: 20},
	}))
	mustNil(t, "PutBlobs t1 again", h.s.PutBlobs(h.ctx, "t1", []tenants.Blob{{Hash: hashOf(1), Size: 1000, BrSize: 300, GzSize: 400}}))
	mustNil(t, "PutBlobs t2", h.s.PutBlobs(h.ctx, "t2", []tenants.Blob{{Hash: hashOf(1), Size: 7}}))

	h.wantUsage(t, "populated", "t1", tenants.QuotaUsage{Sites: 2, Domains: 3, UploadSessions: 2, UploadEntries: 8, StorageBytes: 1020})
	h.wantUsage(t, "other tenant", "t2", tenants.QuotaUsage{Sites: 1, Domains: 1, UploadSessions: 1, UploadEntries: 3, StorageBytes: 7})

	t.Run("deployed session", func(t *testing.T) {
		mustNil(t, "DeleteUploadSession", h.s.DeleteUploadSession(h.ctx, "u1"))
		h.wantUsage(t, "after deleting u1", "t1", tenants.QuotaUsage{Sites: 2, Domains: 3, UploadSessions: 1, UploadEntries: 5, StorageBytes: 1020})
	})
	t.Run("site deleted", func(t *testing.T) {
		mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s2"))
		h.wantUsage(t, "after deleting s2", "t1", tenants.QuotaUsage{Sites: 1, Domains: 2, StorageBytes: 1020})
	})
	t.Run("domain deleted", func(t *testing.T) {
		mustNil(t, "DeleteDomain", h.s.DeleteDomain(h.ctx, "s1", "example.com"))
		h.wantUsage(t, "after deleting a claim", "t1", tenants.QuotaUsage{Sites: 1, Domains: 1, StorageBytes: 1020})
	})
	t.Run("tenant deleted", func(t *testing.T) {
		mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
		h.wantUsage(t, "deleted tenant", "t1", tenants.QuotaUsage{})
		h.wantUsage(t, "other tenant unchanged", "t2", tenants.QuotaUsage{Sites: 1, Domains: 1, UploadSessions: 1, UploadEntries: 3, StorageBytes: 7})
	})
}
