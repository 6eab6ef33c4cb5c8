// Package storetest is the conformance suite every tenants.Store
// implementation must pass, plus the benchmarks shared by them. It is
// imported only by the tests of those implementations (sqlitestore,
// pgstore).
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/assets"
	"github.com/pierhq/pier/tenants"
)

// Open returns a store on a fresh, empty database and a function that opens
// another store on that same database; the suite calls reopen only after it
// has closed the first store. Both report failures through tb. The suite
// closes every store it is given.
type Open func(tb testing.TB) (s tenants.Store, reopen func() tenants.Store)

// Run runs the conformance suite against the stores open returns, one fresh
// database per subtest.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"TenantCreateAndGet", testTenantCreateAndGet},
		{"TenantSalt", testTenantSalt},
		{"TenantConflict", testTenantConflict},
		{"TenantInvalid", testTenantInvalid},
		{"TenantNotFound", testTenantNotFound},
		{"TenantsOrderAndTagFilter", testTenantsFilter},
		{"TenantUpdate", testTenantUpdate},
		{"TenantsUpdateAtomic", testTenantsUpdateAtomic},
		{"TenantDeleteCascades", testTenantDeleteCascades},
		{"SiteCreateAndGet", testSiteCreateAndGet},
		{"SiteConflict", testSiteConflict},
		{"SiteNotFound", testSiteNotFound},
		{"SitesList", testSitesList},
		{"SiteDeleteCascades", testSiteDeleteCascades},
		{"DeploymentRoundTrip", testDeploymentRoundTrip},
		{"DeploymentLargeManifest", testDeploymentLargeManifest},
		{"DeploymentErrors", testDeploymentErrors},
		{"DeploymentSummaries", testDeploymentSummaries},
		{"Activate", testActivate},
		{"ActivateConcurrent", testActivateConcurrent},
		{"Tokens", testTokens},
		{"TokenErrors", testTokenErrors},
		{"SiteTokens", testSiteTokens},
		{"SiteTokenErrors", testSiteTokenErrors},
		{"SiteTokensEndWithSite", testSiteTokensEndWithSite},
		{"UploadSessions", testUploadSessions},
		{"UploadSessionWorker", testUploadSessionWorker},
		{"UploadSessionExpiry", testUploadSessionExpiry},
		{"ConsoleSessions", testConsoleSessions},
		{"ConsoleSessionsEndWithToken", testConsoleSessionsEndWithToken},
		{"ConsoleSessionExpiry", testConsoleSessionExpiry},
		{"Blobs", testBlobs},
		{"BlobsLarge", testBlobsLarge},
		{"DomainRoundTrip", testDomainRoundTrip},
		{"DomainErrors", testDomainErrors},
		{"DomainMove", testDomainMove},
		{"DomainsListAndDue", testDomainsListAndDue},
		{"DomainsNeedingAttention", testDomainsNeedingAttention},
		{"PagesMatchListings", testPagesMatchListings},
		{"PagesStableWhileAdding", testPagesStableWhileAdding},
		{"PagesDeletedBetween", testPagesDeletedBetween},
		{"PagesBadCursor", testPagesBadCursor},
		{"SitesSearch", testSitesSearch},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Reopen", testReopen},
		{"UsageAdd", testUsageAdd},
		{"UsageRollUpAndRetention", testUsageRollUpAndRetention},
		{"GitRefs", testGitRefs},
		{"GitPushConflict", testGitPushConflict},
		{"GitPushErrors", testGitPushErrors},
		{"GitPushConcurrent", testGitPushConcurrent},
		{"GitPacks", testGitPacks},
		{"GitShallow", testGitShallow},
		{"GitBlobs", testGitBlobs},
		{"DeploymentByTree", testDeploymentByTree},
		{"ProductionBranch", testProductionBranch},
		{"GitDeleteCascades", testGitDeleteCascades},
		{"TenantUsage", testTenantUsage},
		{"Leases", testLeases},
		{"RetentionDeletes", testRetentionDeletes},
		{"PublishGeneration", testPublishGeneration},
		{"CollectBlobs", testCollectBlobs},
		{"DeleteQueuesGarbage", testDeleteQueuesGarbage},
		{"Secrets", testSecrets},
		{"SecretsLimit", testSecretsLimit},
		{"SecretsRekey", testSecretsRekey},
	}
	tests = append(tests, kvTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, reopen := open(t)
			h := &harness{ctx: context.Background(), s: s, reopen: reopen}
			t.Cleanup(h.close)
			tc.fn(t, h)
		})
	}
}

// harness holds the store under test and closes it exactly once.
type harness struct {
	ctx    context.Context
	s      tenants.Store
	reopen func() tenants.Store
	closed bool
}

func (h *harness) close() {
	if !h.closed {
		h.closed = true
		h.s.Close()
	}
}

// A time with nanoseconds in a non-UTC zone: stores keep milliseconds and
// return UTC.
var baseTime = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("UTC+1", 3600))

func ms(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// hashOf returns a valid, distinct content hash for i.
func hashOf(i int) string { return fmt.Sprintf("%016x", uint64(i)*0x9e3779b97f4a7c15+1) }

func tokenHash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

func salt(b byte) []byte {
	s := make([]byte, 16)
	for i := range s {
		s[i] = b + byte(i)
	}
	return s
}

func (h *harness) tenant(t *testing.T, id, name string, tags ...string) tenants.Tenant {
	t.Helper()
	tn := tenants.Tenant{ID: id, Name: name, Plan: tenants.PlanFree, Tags: tags, Salt: salt(byte(len(id))), Created: baseTime}
	if err := h.s.CreateTenant(h.ctx, tn); err != nil {
		t.Fatalf("CreateTenant(%s): %v", name, err)
	}
	return tn
}

func (h *harness) site(t *testing.T, id, tenantID, name string) tenants.Site {
	t.Helper()
	s := tenants.Site{ID: id, TenantID: tenantID, Name: name, Created: baseTime}
	if err := h.s.CreateSite(h.ctx, s); err != nil {
		t.Fatalf("CreateSite(%s): %v", name, err)
	}
	s.ProductionBranch = tenants.DefaultProductionBranch // what stores return for a site created without one
	return s
}

func manifest(n int, seed int) assets.Manifest {
	m := make(assets.Manifest, n)
	for i := range n {
		m[fmt.Sprintf("/dir%d/file-%d.html", i%17, i)] = assets.Entry{
			Hash:        hashOf(seed*1_000_000 + i),
			Size:        int64(100 + i),
			ContentType: "text/html; charset=utf-8",
			BrSize:      int64(i % 3 * 10),
			GzSize:      int64(i % 5 * 10),
		}
	}
	return m
}

func (h *harness) deployment(t *testing.T, id, siteID string, created time.Time, files int) tenants.Deployment {
	t.Helper()
	d := tenants.Deployment{
		ID:       id,
		SiteID:   siteID,
		Manifest: manifest(files, len(id)),
		Config:   tenants.DeploymentConfig{HTMLHandling: tenants.HTMLAutoTrailingSlash, NotFoundHandling: tenants.NotFoundNone},
		Source:   tenants.Source{Type: "cli"},
		Created:  created,
	}
	if err := h.s.CreateDeployment(h.ctx, d); err != nil {
		t.Fatalf("CreateDeployment(%s): %v", id, err)
	}
	return d
}

func (h *harness) token(t *testing.T, id, tenantID, secret string) tenants.Token {
	t.Helper()
	tk := tenants.Token{ID: id, TenantID: tenantID, Name: "token " + id, Hash: tokenHash(secret), Created: baseTime}
	if err := h.s.CreateToken(h.ctx, tk); err != nil {
		t.Fatalf("CreateToken(%s): %v", id, err)
	}
	return tk
}

func (h *harness) session(t *testing.T, id, siteID string, expires time.Time) tenants.UploadSession {
	t.Helper()
	u := tenants.UploadSession{ID: id, SiteID: siteID, Manifest: manifest(3, 7), Expires: expires, Created: baseTime}
	if err := h.s.CreateUploadSession(h.ctx, u); err != nil {
		t.Fatalf("CreateUploadSession(%s): %v", id, err)
	}
	return u
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// nonNil reports a nil list: empty lists are non-nil so that they encode
// as [] rather than null in JSON answers.
func nonNil(t *testing.T, what string, isNil bool) {
	t.Helper()
	if isNil {
		t.Errorf("%s returned a nil slice, want an empty one", what)
	}
}

func normTenant(tn tenants.Tenant) tenants.Tenant {
	tn.Created = ms(tn.Created)
	if len(tn.Tags) == 0 {
		tn.Tags = nil
	}
	return tn
}

func equalTenant(t *testing.T, what string, got, want tenants.Tenant) {
	t.Helper()
	if g, w := normTenant(got), normTenant(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
}

func equalSite(t *testing.T, what string, got, want tenants.Site) {
	t.Helper()
	want.Created = ms(want.Created)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func equalDeployment(t *testing.T, what string, got, want tenants.Deployment) {
	t.Helper()
	want.Created = ms(want.Created)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: deployment does not round-trip:\n got  %+v %+v %q %+v %v (%d files)\n want %+v %+v %q %+v %v (%d files)", what,
			got.ID, got.SiteID+"/"+got.TenantID, got.Worker, got.Config, got.Source, len(got.Manifest),
			want.ID, want.SiteID+"/"+want.TenantID, want.Worker, want.Config, want.Source, len(want.Manifest))
	}
}

func testTenantCreateAndGet(t *testing.T, h *harness) {
	want := tenants.Tenant{
		ID:       "t1",
		Name:     "acme",
		Plan:     tenants.PlanPro,
		Limits:   tenants.Limits{CPUMs: 30, SubRequests: 0, MemoryMB: 512, GitRepoMB: 2048, GitPushMB: 64, Quotas: tenants.Quotas{RequestsPerSecond: 7, Sites: 3, KeepDays: 2}},
		Tags:     []string{"env:prod", "region:eu"},
		Salt:     salt(1),
		Disabled: true,
		Created:  baseTime,
	}
	mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, want))
	for _, ref := range []string{"t1", "acme"} {
		t.Run("by "+ref, func(t *testing.T) {
			got, err := h.s.Tenant(h.ctx, ref)
			mustNil(t, "Tenant", err)
			equalTenant(t, "Tenant("+ref+")", got, want)
			if got.Created.Location() != time.UTC {
				t.Errorf("Created is in %v, want UTC", got.Created.Location())
			}
			if !got.Created.Equal(ms(baseTime)) {
				t.Errorf("Created = %v, want %v (milliseconds kept)", got.Created, ms(baseTime))
			}
		})
	}
	t.Run("zero created defaults to now", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, tenants.Tenant{ID: "t2", Name: "beta", Plan: tenants.PlanFree}))
		got, err := h.s.Tenant(h.ctx, "t2")
		mustNil(t, "Tenant", err)
		if got.Created.Before(before) || got.Created.After(time.Now().Add(time.Second)) {
			t.Errorf("Created = %v, want about now", got.Created)
		}
	})
	t.Run("id preferred over name", func(t *testing.T) {
		// A tenant named like another tenant's ID: the ID wins.
		mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, tenants.Tenant{ID: "t3", Name: "t1", Plan: tenants.PlanFree}))
		got, err := h.s.Tenant(h.ctx, "t1")
		mustNil(t, "Tenant", err)
		if got.ID != "t1" {
			t.Errorf("Tenant(t1) = %s, want the tenant whose ID is t1", got.ID)
		}
	})
}

func testTenantSalt(t *testing.T, h *harness) {
	mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, tenants.Tenant{ID: "a", Name: "a", Plan: tenants.PlanFree}))
	mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, tenants.Tenant{ID: "b", Name: "b", Plan: tenants.PlanFree}))
	a, err := h.s.Tenant(h.ctx, "a")
	mustNil(t, "Tenant", err)
	b, err := h.s.Tenant(h.ctx, "b")
	mustNil(t, "Tenant", err)
	if len(a.Salt) != 16 || len(b.Salt) != 16 {
		t.Fatalf("drawn salts are %d and %d bytes, want 16", len(a.Salt), len(b.Salt))
	}
	if slices.Equal(a.Salt, b.Salt) {
		t.Errorf("two tenants got the same salt %x", a.Salt)
	}
	a2, err := h.s.Tenant(h.ctx, "a")
	mustNil(t, "Tenant", err)
	if !slices.Equal(a.Salt, a2.Salt) {
		t.Errorf("salt changed between reads: %x then %x", a.Salt, a2.Salt)
	}
	// A salt with zero and high bytes round-trips exactly.
	s := []byte{0, 0xff, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0}
	mustNil(t, "CreateTenant", h.s.CreateTenant(h.ctx, tenants.Tenant{ID: "c", Name: "c", Plan: tenants.PlanFree, Salt: s}))
	c, err := h.s.Tenant(h.ctx, "c")
	mustNil(t, "Tenant", err)
	if !slices.Equal(c.Salt, s) {
		t.Errorf("salt = %x, want %x", c.Salt, s)
	}
}

func testTenantConflict(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	tests := []struct {
		name string
		t    tenants.Tenant
	}{
		{"same name", tenants.Tenant{ID: "t2", Name: "acme", Plan: tenants.PlanFree}},
		{"same id", tenants.Tenant{ID: "t1", Name: "other", Plan: tenants.PlanFree}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateTenant", h.s.CreateTenant(h.ctx, tc.t), tenants.ErrConflict)
		})
	}
	all, err := h.s.Tenants(h.ctx, tenants.TenantFilter{})
	mustNil(t, "Tenants", err)
	if len(all) != 1 {
		t.Errorf("after conflicts %d tenants exist, want 1", len(all))
	}
}

func testTenantInvalid(t *testing.T, h *harness) {
	good := tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree}
	tests := []struct {
		name   string
		modify func(*tenants.Tenant)
	}{
		{"empty id", func(x *tenants.Tenant) { x.ID = "" }},
		{"bad name", func(x *tenants.Tenant) { x.Name = "Acme Corp" }},
		{"double dash name", func(x *tenants.Tenant) { x.Name = "a--b" }},
		{"unknown plan", func(x *tenants.Tenant) { x.Plan = "gold" }},
		{"bad tag", func(x *tenants.Tenant) { x.Tags = []string{"novalue"} }},
		{"too many tags", func(x *tenants.Tenant) {
			x.Tags = []string{"a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1", "i:1"}
		}},
		{"short salt", func(x *tenants.Tenant) { x.Salt = []byte{1, 2, 3} }},
		{"negative limit", func(x *tenants.Tenant) { x.Limits.CPUMs = -1 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := good
			tc.modify(&x)
			wantErr(t, "CreateTenant", h.s.CreateTenant(h.ctx, x), tenants.ErrInvalid)
		})
	}
	mustNil(t, "CreateTenant(valid)", h.s.CreateTenant(h.ctx, good))
}

func testTenantNotFound(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	tests := []struct {
		name string
		call func() error
	}{
		{"Tenant by id", func() error { _, err := h.s.Tenant(h.ctx, "t9"); return err }},
		{"Tenant by name", func() error { _, err := h.s.Tenant(h.ctx, "nobody"); return err }},
		{"Tenant empty ref", func() error { _, err := h.s.Tenant(h.ctx, ""); return err }},
		{"UpdateTenant", func() error {
			return h.s.UpdateTenant(h.ctx, tenants.Tenant{ID: "t9", Name: "x", Plan: tenants.PlanFree})
		}},
		{"DeleteTenant", func() error { return h.s.DeleteTenant(h.ctx, "t9") }},
		{"DeleteTenant by name", func() error { return h.s.DeleteTenant(h.ctx, "acme") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tenants.ErrNotFound) })
	}
	if _, err := h.s.Tenant(h.ctx, "t1"); err != nil {
		t.Errorf("tenant t1 is gone after failed calls: %v", err)
	}
}

func testTenantsFilter(t *testing.T, h *harness) {
	h.tenant(t, "t3", "zeta", "env:prod", "team:web")
	h.tenant(t, "t1", "alpha", "env:prod")
	h.tenant(t, "t2", "mid", "env:dev")
	h.tenant(t, "t4", "bare")
	tests := []struct {
		name string
		tag  string
		want []string
	}{
		{"all ordered by name", "", []string{"alpha", "bare", "mid", "zeta"}},
		{"tag shared by two", "env:prod", []string{"alpha", "zeta"}},
		{"tag of one", "team:web", []string{"zeta"}},
		{"no match", "env:test", nil},
		{"prefix is not a match", "env:pro", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.s.Tenants(h.ctx, tenants.TenantFilter{Tag: tc.tag})
			mustNil(t, "Tenants", err)
			nonNil(t, "Tenants", got == nil)
			var names []string
			for _, x := range got {
				names = append(names, x.Name)
				if len(x.Salt) != 16 {
					t.Errorf("listed tenant %s has a %d-byte salt", x.Name, len(x.Salt))
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("Tenants(tag=%q) = %v, want %v", tc.tag, names, tc.want)
			}
		})
	}
}

func testTenantUpdate(t *testing.T, h *harness) {
	orig := h.tenant(t, "t1", "acme", "env:dev")
	h.tenant(t, "t2", "other", "env:dev")
	upd := orig
	upd.Plan = tenants.PlanEnterprise
	upd.Limits = tenants.Limits{CPUMs: 99, CPUMsPerSecond: 321, SubRequests: 7, GitRepoMB: 5, GitPushMB: 6, KVOps: 11, KVValueKB: 12, Quotas: tenants.Quotas{StorageMB: 9, Deployments: 4, UploadEntries: 1_000_000, KVNamespaces: 13}}
	upd.Tags = []string{"env:prod", "tier:gold"}
	upd.Disabled = true
	// Name, salt and creation time are not updatable: these are ignored.
	upd.Name = "renamed"
	upd.Salt = salt(200)
	upd.Created = baseTime.Add(time.Hour)
	mustNil(t, "UpdateTenant", h.s.UpdateTenant(h.ctx, upd))

	want := orig
	want.Plan, want.Limits, want.Tags, want.Disabled = upd.Plan, upd.Limits, upd.Tags, upd.Disabled
	got, err := h.s.Tenant(h.ctx, "t1")
	mustNil(t, "Tenant", err)
	equalTenant(t, "after update", got, want)

	t.Run("tag filter sees new tags", func(t *testing.T) {
		got, err := h.s.Tenants(h.ctx, tenants.TenantFilter{Tag: "tier:gold"})
		mustNil(t, "Tenants", err)
		if len(got) != 1 || got[0].ID != "t1" {
			t.Errorf("Tenants(tier:gold) = %v, want [t1]", got)
		}
		got, err = h.s.Tenants(h.ctx, tenants.TenantFilter{Tag: "env:dev"})
		mustNil(t, "Tenants", err)
		if len(got) != 1 || got[0].ID != "t2" {
			t.Errorf("Tenants(env:dev) = %v, want [t2]", got)
		}
	})
	t.Run("clear tags and re-enable", func(t *testing.T) {
		u := want
		u.Tags = nil
		u.Disabled = false
		u.Limits = tenants.Limits{}
		mustNil(t, "UpdateTenant", h.s.UpdateTenant(h.ctx, u))
		got, err := h.s.Tenant(h.ctx, "t1")
		mustNil(t, "Tenant", err)
		equalTenant(t, "after second update", got, u)
	})
	t.Run("invalid update", func(t *testing.T) {
		u := want
		u.Plan = "platinum"
		wantErr(t, "UpdateTenant", h.s.UpdateTenant(h.ctx, u), tenants.ErrInvalid)
	})
	t.Run("other tenant untouched", func(t *testing.T) {
		got, err := h.s.Tenant(h.ctx, "t2")
		mustNil(t, "Tenant", err)
		if got.Plan != tenants.PlanFree || got.Disabled || !slices.Equal(got.Tags, []string{"env:dev"}) {
			t.Errorf("tenant t2 changed: %+v", got)
		}
	})
}

// world is a populated store: two tenants, each with two sites, a
// deployment on each site, tokens, upload sessions and blobs.
func (h *harness) world(t *testing.T) {
	t.Helper()
	for _, tn := range []string{"a", "b"} {
		h.tenant(t, "t"+tn, "tenant-"+tn)
		for _, sn := range []string{"1", "2"} {
			site := "s" + tn + sn
			h.site(t, site, "t"+tn, "site-"+tn+sn)
			h.deployment(t, "d"+tn+sn, site, baseTime, 5)
			mustNil(t, "Activate", h.s.Activate(h.ctx, site, "d"+tn+sn))
			h.session(t, "u"+tn+sn, site, time.Now().Add(time.Hour))
		}
		h.token(t, "k"+tn, "t"+tn, "secret-"+tn)
		mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t"+tn, []tenants.Blob{{Hash: hashOf(1), Size: 1}, {Hash: hashOf(2), Size: 2}}))
	}
	h.token(t, "kadmin", "", "secret-admin")
}

func (h *harness) checkTenantData(t *testing.T, tn string, present bool) {
	t.Helper()
	check := func(what string, err error) {
		t.Helper()
		switch {
		case present && err != nil:
			t.Errorf("%s of tenant %s: %v, want it present", what, tn, err)
		case !present && !errors.Is(err, tenants.ErrNotFound):
			t.Errorf("%s of tenant %s: %v, want ErrNotFound", what, tn, err)
		}
	}
	_, err := h.s.Tenant(h.ctx, "t"+tn)
	check("Tenant", err)
	for _, sn := range []string{"1", "2"} {
		_, err := h.s.Site(h.ctx, "s"+tn+sn)
		check("Site", err)
		_, err = h.s.Deployment(h.ctx, "s"+tn+sn, "d"+tn+sn)
		check("Deployment", err)
		_, err = h.s.UploadSession(h.ctx, "u"+tn+sn)
		check("UploadSession", err)
	}
	_, err = h.s.TokenByHash(h.ctx, tokenHash("secret-"+tn))
	check("TokenByHash", err)
	blobs, err := h.s.Blobs(h.ctx, "t"+tn, []string{hashOf(1), hashOf(2)})
	mustNil(t, "Blobs", err)
	if want := map[bool]int{true: 2, false: 0}[present]; len(blobs) != want {
		t.Errorf("tenant %s has %d blobs recorded, want %d", tn, len(blobs), want)
	}
}

func testTenantDeleteCascades(t *testing.T, h *harness) {
	h.world(t)
	mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "ta"))
	h.checkTenantData(t, "a", false)
	h.checkTenantData(t, "b", true)
	if _, err := h.s.TokenByHash(h.ctx, tokenHash("secret-admin")); err != nil {
		t.Errorf("admin token gone after deleting a tenant: %v", err)
	}
	sites, err := h.s.Sites(h.ctx, "")
	mustNil(t, "Sites", err)
	if len(sites) != 2 {
		t.Errorf("%d sites left, want 2", len(sites))
	}
	wantErr(t, "DeleteTenant again", h.s.DeleteTenant(h.ctx, "ta"), tenants.ErrNotFound)

	t.Run("names are free again", func(t *testing.T) {
		h.tenant(t, "ta2", "tenant-a")
		h.site(t, "sa12", "ta2", "site-a1")
		blobs, err := h.s.Blobs(h.ctx, "ta2", []string{hashOf(1)})
		mustNil(t, "Blobs", err)
		if len(blobs) != 0 {
			t.Errorf("new tenant sees %d blobs", len(blobs))
		}
	})
}

func testSiteCreateAndGet(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	want := h.site(t, "s1", "t1", "blog")
	for _, ref := range []string{"s1", "blog"} {
		t.Run("by "+ref, func(t *testing.T) {
			got, err := h.s.Site(h.ctx, ref)
			mustNil(t, "Site", err)
			equalSite(t, "Site("+ref+")", got, want)
		})
	}
	t.Run("invalid", func(t *testing.T) {
		tests := []struct {
			name string
			s    tenants.Site
		}{
			{"bad name", tenants.Site{ID: "s2", TenantID: "t1", Name: "Blog!"}},
			{"preview separator", tenants.Site{ID: "s2", TenantID: "t1", Name: "my--blog"}},
			{"no id", tenants.Site{TenantID: "t1", Name: "blog2"}},
			{"no tenant", tenants.Site{ID: "s2", Name: "blog2"}},
			{"active deployment set", tenants.Site{ID: "s2", TenantID: "t1", Name: "blog2", ActiveDeployment: "d1"}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, "CreateSite", h.s.CreateSite(h.ctx, tc.s), tenants.ErrInvalid)
			})
		}
	})
}

func testSiteConflict(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	h.site(t, "s1", "t1", "blog")
	tests := []struct {
		name string
		s    tenants.Site
	}{
		{"same name same tenant", tenants.Site{ID: "s2", TenantID: "t1", Name: "blog"}},
		{"same name other tenant", tenants.Site{ID: "s2", TenantID: "t2", Name: "blog"}},
		{"same id", tenants.Site{ID: "s1", TenantID: "t2", Name: "shop"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateSite", h.s.CreateSite(h.ctx, tc.s), tenants.ErrConflict)
		})
	}
}

func testSiteNotFound(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateSite unknown tenant", func() error {
			return h.s.CreateSite(h.ctx, tenants.Site{ID: "s2", TenantID: "t9", Name: "shop"})
		}},
		{"Site by id", func() error { _, err := h.s.Site(h.ctx, "s9"); return err }},
		{"Site by name", func() error { _, err := h.s.Site(h.ctx, "shop"); return err }},
		{"DeleteSite", func() error { return h.s.DeleteSite(h.ctx, "s9") }},
		{"DeleteSite by name", func() error { return h.s.DeleteSite(h.ctx, "blog") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tenants.ErrNotFound) })
	}
}

func testSitesList(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	h.tenant(t, "t3", "empty")
	h.site(t, "s1", "t1", "zoo")
	h.site(t, "s2", "t2", "bar")
	h.site(t, "s3", "t1", "apple")
	tests := []struct {
		name   string
		tenant string
		want   []string
	}{
		{"all", "", []string{"apple", "bar", "zoo"}},
		{"one tenant", "t1", []string{"apple", "zoo"}},
		{"other tenant", "t2", []string{"bar"}},
		{"tenant without sites", "t3", nil},
		{"unknown tenant", "t9", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.s.Sites(h.ctx, tc.tenant)
			mustNil(t, "Sites", err)
			nonNil(t, "Sites", got == nil)
			var names []string
			for _, s := range got {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("Sites(%q) = %v, want %v", tc.tenant, names, tc.want)
			}
		})
	}
}

func testSiteDeleteCascades(t *testing.T, h *harness) {
	h.world(t)
	mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "sa1"))
	tests := []struct {
		name    string
		call    func() error
		present bool
	}{
		{"site", func() error { _, err := h.s.Site(h.ctx, "sa1"); return err }, false},
		{"its deployment", func() error { _, err := h.s.Deployment(h.ctx, "sa1", "da1"); return err }, false},
		{"its session", func() error { _, err := h.s.UploadSession(h.ctx, "ua1"); return err }, false},
		{"sibling site", func() error { _, err := h.s.Site(h.ctx, "sa2"); return err }, true},
		{"sibling deployment", func() error { _, err := h.s.Deployment(h.ctx, "sa2", "da2"); return err }, true},
		{"sibling session", func() error { _, err := h.s.UploadSession(h.ctx, "ua2"); return err }, true},
		{"tenant", func() error { _, err := h.s.Tenant(h.ctx, "ta"); return err }, true},
		{"tenant token", func() error { _, err := h.s.TokenByHash(h.ctx, tokenHash("secret-a")); return err }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if tc.present {
				mustNil(t, tc.name, err)
			} else {
				wantErr(t, tc.name, err, tenants.ErrNotFound)
			}
		})
	}
	list, err := h.s.Deployments(h.ctx, "sa1")
	mustNil(t, "Deployments", err)
	nonNil(t, "Deployments", list == nil)
	if len(list) != 0 {
		t.Errorf("deleted site still lists %d deployments", len(list))
	}
	blobs, err := h.s.Blobs(h.ctx, "ta", []string{hashOf(1), hashOf(2)})
	mustNil(t, "Blobs", err)
	if len(blobs) != 2 {
		t.Errorf("deleting a site dropped the tenant's blob index: %d left", len(blobs))
	}
	t.Run("site name reusable", func(t *testing.T) {
		h.site(t, "sa1b", "ta", "site-a1")
		got, err := h.s.Site(h.ctx, "site-a1")
		mustNil(t, "Site", err)
		if got.ActiveDeployment != "" {
			t.Errorf("recreated site has active deployment %q", got.ActiveDeployment)
		}
	})
}

func testDeploymentRoundTrip(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	m := manifest(1000, 1)
	m["/"+string(rune(0x00e9))+"t"+string(rune(0x00e9))+"/caf\u00e9 \"quoted\" <tag> & \\.txt"] = assets.Entry{Hash: hashOf(42), Size: 0}
	m["/big.bin"] = assets.Entry{Hash: hashOf(43), Size: 25 << 30, ContentType: "application/octet-stream"}
	want := tenants.Deployment{
		ID:       "d1",
		SiteID:   "s1",
		TenantID: "t1",
		Manifest: m,
		Worker:   hashOf(99),
		Config: tenants.DeploymentConfig{
			HTMLHandling:     tenants.HTMLDropTrailingSlash,
			NotFoundHandling: tenants.NotFoundSPA,
			RunWorkerFirst:   []string{"/api/*", "!/api/static/*"},
			Vars:             map[string]string{"API_URL": "https://example.com/\u00fc", "EMPTY": ""},
			Headers:          "/*\n  X-Frame-Options: DENY\n",
			Redirects:        "/old /new 301\n/spa/* /index.html 200\n",
		},
		Source:  tenants.Source{Type: "git", Commit: "0123456789abcdef0123456789abcdef01234567", Branch: "main"},
		Created: baseTime,
	}
	mustNil(t, "CreateDeployment", h.s.CreateDeployment(h.ctx, want))
	got, err := h.s.Deployment(h.ctx, "s1", "d1")
	mustNil(t, "Deployment", err)
	equalDeployment(t, "full deployment", got, want)

	t.Run("minimal", func(t *testing.T) {
		d := tenants.Deployment{ID: "d2", SiteID: "s1", Manifest: assets.Manifest{}, Source: tenants.Source{Type: "api"}, Created: baseTime}
		mustNil(t, "CreateDeployment", h.s.CreateDeployment(h.ctx, d))
		got, err := h.s.Deployment(h.ctx, "s1", "d2")
		mustNil(t, "Deployment", err)
		d.TenantID = "t1"
		equalDeployment(t, "minimal deployment", got, d)
	})
	t.Run("tenant id mismatch", func(t *testing.T) {
		h.tenant(t, "t2", "other")
		d := tenants.Deployment{ID: "d3", SiteID: "s1", TenantID: "t2", Source: tenants.Source{Type: "api"}}
		wantErr(t, "CreateDeployment", h.s.CreateDeployment(h.ctx, d), tenants.ErrInvalid)
	})
}

// testDeploymentLargeManifest stores a deployment at the default file
// limit (100,000 files).
func testDeploymentLargeManifest(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	want := h.deployment(t, "d1", "s1", baseTime, 100_000)
	want.TenantID = "t1"
	got, err := h.s.Deployment(h.ctx, "s1", "d1")
	mustNil(t, "Deployment", err)
	equalDeployment(t, "100,000-file deployment", got, want)
	list, err := h.s.Deployments(h.ctx, "s1")
	mustNil(t, "Deployments", err)
	if len(list) != 1 || list[0].Files != 100_000 {
		t.Errorf("Deployments = %+v, want one summary of 100,000 files", list)
	}
}

func testDeploymentErrors(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	h.deployment(t, "d1", "s1", baseTime, 2)
	tests := []struct {
		name   string
		call   func() error
		target error
	}{
		{"Deployment of another site", func() error { _, err := h.s.Deployment(h.ctx, "s2", "d1"); return err }, tenants.ErrNotFound},
		{"Deployment unknown id", func() error { _, err := h.s.Deployment(h.ctx, "s1", "d9"); return err }, tenants.ErrNotFound},
		{"Deployment unknown site", func() error { _, err := h.s.Deployment(h.ctx, "s9", "d1"); return err }, tenants.ErrNotFound},
		{"CreateDeployment unknown site", func() error {
			return h.s.CreateDeployment(h.ctx, tenants.Deployment{ID: "d2", SiteID: "s9", Source: tenants.Source{Type: "cli"}})
		}, tenants.ErrNotFound},
		{"CreateDeployment duplicate id", func() error {
			return h.s.CreateDeployment(h.ctx, tenants.Deployment{ID: "d1", SiteID: "s1", Source: tenants.Source{Type: "cli"}})
		}, tenants.ErrConflict},
		{"CreateDeployment id not DNS-safe", func() error {
			return h.s.CreateDeployment(h.ctx, tenants.Deployment{ID: "D_1", SiteID: "s1", Source: tenants.Source{Type: "cli"}})
		}, tenants.ErrInvalid},
		{"CreateDeployment bad manifest hash", func() error {
			return h.s.CreateDeployment(h.ctx, tenants.Deployment{ID: "d3", SiteID: "s1", Manifest: assets.Manifest{"/a": {Hash: "xyz"}}})
		}, tenants.ErrInvalid},
		{"Deployments unknown site", func() error {
			l, err := h.s.Deployments(h.ctx, "s9")
			if err == nil && len(l) != 0 {
				return fmt.Errorf("listed %d deployments of an unknown site", len(l))
			}
			if err == nil {
				return tenants.ErrNotFound // an empty list is as good as not found
			}
			return err
		}, tenants.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.target) })
	}
}

func testDeploymentSummaries(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	// Created out of order, and two with the same timestamp (insertion
	// order breaks the tie: the later insert is newer).
	d1 := h.deployment(t, "d1", "s1", baseTime, 3)
	d3 := h.deployment(t, "d3", "s1", baseTime.Add(2*time.Hour), 1)
	d2 := h.deployment(t, "d2", "s1", baseTime.Add(time.Hour), 10)
	d4 := h.deployment(t, "d4", "s1", baseTime.Add(time.Hour), 0)
	h.deployment(t, "dx", "s2", baseTime.Add(3*time.Hour), 1)

	got, err := h.s.Deployments(h.ctx, "s1")
	mustNil(t, "Deployments", err)
	var want []tenants.DeploymentSummary
	for _, d := range []tenants.Deployment{d3, d4, d2, d1} {
		s := d.Summary()
		s.Created = ms(s.Created)
		want = append(want, s)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Deployments:\n got  %+v\n want %+v", got, want)
	}
	if want[2].Files != 10 || want[2].Bytes != 10*100+45 {
		t.Fatalf("test bug: summary of d2 = %+v", want[2])
	}
}

func testActivate(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	h.site(t, "s2", "t1", "shop")
	h.deployment(t, "d1", "s1", baseTime, 1)
	h.deployment(t, "d2", "s1", baseTime.Add(time.Minute), 1)
	h.deployment(t, "dx", "s2", baseTime, 1)

	active := func(t *testing.T, site, want string) {
		t.Helper()
		s, err := h.s.Site(h.ctx, site)
		mustNil(t, "Site", err)
		if s.ActiveDeployment != want {
			t.Errorf("site %s active deployment = %q, want %q", site, s.ActiveDeployment, want)
		}
	}
	steps := []struct {
		name     string
		site, id string
		err      error
		want     string // s1's active deployment afterwards
	}{
		{"activate", "s1", "d2", nil, "d2"},
		{"rollback", "s1", "d1", nil, "d1"},
		{"again is fine", "s1", "d1", nil, "d1"},
		{"deployment of another site", "s1", "dx", tenants.ErrNotFound, "d1"},
		{"unknown deployment", "s1", "d9", tenants.ErrNotFound, "d1"},
		{"unknown site", "s9", "d1", tenants.ErrNotFound, "d1"},
		{"site by name is not an id", "blog", "d2", tenants.ErrNotFound, "d1"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := h.s.Activate(h.ctx, st.site, st.id)
			if st.err == nil {
				mustNil(t, "Activate", err)
			} else {
				wantErr(t, "Activate", err, st.err)
			}
			active(t, "s1", st.want)
		})
	}
	active(t, "s2", "")
}

func testActivateConcurrent(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	const n = 16
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%d", i)
		h.deployment(t, ids[i], "s1", baseTime, 1)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n*5)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				if err := h.s.Activate(h.ctx, "s1", ids[(i+j)%n]); err != nil {
					errs <- err
				}
				if _, err := h.s.Site(h.ctx, "s1"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Activate/Site: %v", err)
	}
	s, err := h.s.Site(h.ctx, "s1")
	mustNil(t, "Site", err)
	if !slices.Contains(ids, s.ActiveDeployment) {
		t.Errorf("after concurrent activations the site points at %q, not one of %v", s.ActiveDeployment, ids)
	}
}

func testTokens(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	admin := h.token(t, "k0", "", "admin-secret")
	k1 := h.token(t, "k1", "t1", "one")
	k2 := h.token(t, "k2", "t1", "two")
	h.token(t, "k3", "t2", "three")
	norm := func(tk tenants.Token) tenants.Token { tk.Created = ms(tk.Created); return tk }

	t.Run("by hash", func(t *testing.T) {
		for _, want := range []tenants.Token{admin, k1, k2} {
			got, err := h.s.TokenByHash(h.ctx, want.Hash)
			mustNil(t, "TokenByHash", err)
			if !reflect.DeepEqual(got, norm(want)) {
				t.Errorf("TokenByHash = %+v, want %+v", got, norm(want))
			}
		}
		got, _ := h.s.TokenByHash(h.ctx, admin.Hash)
		if !got.Admin() {
			t.Errorf("admin token came back scoped to %q", got.TenantID)
		}
	})
	lists := []struct {
		name   string
		tenant string
		want   []string
	}{
		{"admin tokens", "", []string{"k0"}},
		{"tenant tokens", "t1", []string{"k1", "k2"}},
		{"other tenant", "t2", []string{"k3"}},
		{"unknown tenant", "t9", nil},
	}
	for _, tc := range lists {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.s.Tokens(h.ctx, tc.tenant)
			mustNil(t, "Tokens", err)
			nonNil(t, "Tokens", got == nil)
			var ids []string
			for _, tk := range got {
				ids = append(ids, tk.ID)
				if tk.TenantID != tc.tenant {
					t.Errorf("Tokens(%q) listed %s of tenant %q", tc.tenant, tk.ID, tk.TenantID)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Tokens(%q) = %v, want %v", tc.tenant, ids, tc.want)
			}
		})
	}
	t.Run("delete", func(t *testing.T) {
		mustNil(t, "DeleteToken", h.s.DeleteToken(h.ctx, "k1"))
		_, err := h.s.TokenByHash(h.ctx, k1.Hash)
		wantErr(t, "TokenByHash deleted", err, tenants.ErrNotFound)
		if _, err := h.s.TokenByHash(h.ctx, k2.Hash); err != nil {
			t.Errorf("sibling token gone: %v", err)
		}
		wantErr(t, "DeleteToken again", h.s.DeleteToken(h.ctx, "k1"), tenants.ErrNotFound)
	})
}

func testTokenErrors(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.token(t, "k1", "t1", "one")
	tests := []struct {
		name   string
		call   func() error
		target error
	}{
		{"duplicate hash", func() error {
			return h.s.CreateToken(h.ctx, tenants.Token{ID: "k2", Name: "x", Hash: tokenHash("one")})
		}, tenants.ErrConflict},
		{"duplicate id", func() error {
			return h.s.CreateToken(h.ctx, tenants.Token{ID: "k1", Name: "x", Hash: tokenHash("other")})
		}, tenants.ErrConflict},
		{"unknown tenant", func() error {
			return h.s.CreateToken(h.ctx, tenants.Token{ID: "k3", TenantID: "t9", Name: "x", Hash: tokenHash("nine")})
		}, tenants.ErrNotFound},
		{"hash is not sha256 hex", func() error {
			return h.s.CreateToken(h.ctx, tenants.Token{ID: "k4", Name: "x", Hash: "pier_plaintext"})
		}, tenants.ErrInvalid},
		{"unknown hash", func() error { _, err := h.s.TokenByHash(h.ctx, tokenHash("nope")); return err }, tenants.ErrNotFound},
		{"DeleteToken unknown", func() error { return h.s.DeleteToken(h.ctx, "k9") }, tenants.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.target) })
	}
}

func testUploadSessions(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	expires := time.Now().Add(time.Hour)
	u := h.session(t, "u1", "s1", expires)
	got, err := h.s.UploadSession(h.ctx, "u1")
	mustNil(t, "UploadSession", err)
	want := u
	want.TenantID = "t1"
	want.Expires = ms(expires)
	want.Created = ms(u.Created)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("UploadSession:\n got  %+v\n want %+v", got, want)
	}
	tests := []struct {
		name   string
		call   func() error
		target error
	}{
		{"unknown session", func() error { _, err := h.s.UploadSession(h.ctx, "u9"); return err }, tenants.ErrNotFound},
		{"unknown site", func() error {
			return h.s.CreateUploadSession(h.ctx, tenants.UploadSession{ID: "u2", SiteID: "s9", Expires: expires})
		}, tenants.ErrNotFound},
		{"duplicate id", func() error {
			return h.s.CreateUploadSession(h.ctx, tenants.UploadSession{ID: "u1", SiteID: "s1", Expires: expires})
		}, tenants.ErrConflict},
		{"no expiry", func() error {
			return h.s.CreateUploadSession(h.ctx, tenants.UploadSession{ID: "u3", SiteID: "s1"})
		}, tenants.ErrInvalid},
		{"delete unknown", func() error { return h.s.DeleteUploadSession(h.ctx, "u9") }, tenants.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.target) })
	}
	t.Run("delete", func(t *testing.T) {
		mustNil(t, "DeleteUploadSession", h.s.DeleteUploadSession(h.ctx, "u1"))
		_, err := h.s.UploadSession(h.ctx, "u1")
		wantErr(t, "UploadSession after delete", err, tenants.ErrNotFound)
	})
}

func testUploadSessionWorker(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	expires := time.Now().Add(time.Hour)
	worker := &tenants.WorkerBlob{Hash: hashOf(4_242_001), Size: 32 << 20}
	tests := []struct {
		name    string
		session tenants.UploadSession
	}{
		{"with manifest", tenants.UploadSession{ID: "uw1", SiteID: "s1", Manifest: manifest(2, 9), Worker: worker, Expires: expires, Created: baseTime}},
		{"worker only", tenants.UploadSession{ID: "uw2", SiteID: "s1", Manifest: assets.Manifest{}, Worker: worker, Expires: expires, Created: baseTime}},
		{"empty worker", tenants.UploadSession{ID: "uw3", SiteID: "s1", Manifest: assets.Manifest{}, Worker: &tenants.WorkerBlob{Hash: hashOf(4_242_002)}, Expires: expires, Created: baseTime}},
		{"no worker", tenants.UploadSession{ID: "uw4", SiteID: "s1", Manifest: manifest(1, 3), Expires: expires, Created: baseTime}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustNil(t, "CreateUploadSession", h.s.CreateUploadSession(h.ctx, tc.session))
			got, err := h.s.UploadSession(h.ctx, tc.session.ID)
			mustNil(t, "UploadSession", err)
			want := tc.session
			want.TenantID = "t1"
			want.Expires = ms(expires)
			want.Created = ms(tc.session.Created)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("UploadSession:\n got  %+v (worker %+v)\n want %+v (worker %+v)", got, got.Worker, want, want.Worker)
			}
		})
	}
	t.Run("invalid worker", func(t *testing.T) {
		err := h.s.CreateUploadSession(h.ctx, tenants.UploadSession{ID: "uw9", SiteID: "s1", Expires: expires,
			Worker: &tenants.WorkerBlob{Hash: "app.wasm", Size: 1}})
		wantErr(t, "CreateUploadSession", err, tenants.ErrInvalid)
	})
}

func testUploadSessionExpiry(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.site(t, "s1", "t1", "blog")
	now := time.Now()
	h.session(t, "old1", "s1", now.Add(-time.Hour))
	h.session(t, "old2", "s1", now.Add(-time.Second))
	h.session(t, "live", "s1", now.Add(time.Hour))
	edge := now.Add(3 * time.Hour).Truncate(time.Millisecond)
	h.session(t, "edge", "s1", edge)

	for _, id := range []string{"old1", "old2"} {
		_, err := h.s.UploadSession(h.ctx, id)
		wantErr(t, "UploadSession("+id+")", err, tenants.ErrNotFound)
	}
	if _, err := h.s.UploadSession(h.ctx, "live"); err != nil {
		t.Errorf("live session: %v", err)
	}
	steps := []struct {
		name string
		now  time.Time
		want int
	}{
		{"before anything expired", now.Add(-2 * time.Hour), 0},
		{"two expired", now, 2},
		{"nothing left to expire", now, 0},
		{"live one expires later", now.Add(2 * time.Hour), 1},
		// Times are kept to the millisecond: within the millisecond of
		// expiry a session is not yet expired.
		{"at expiry", edge, 0},
		{"within the millisecond of expiry", edge.Add(999 * time.Microsecond), 0},
		{"next millisecond", edge.Add(time.Millisecond), 1},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			n, err := h.s.DeleteExpiredUploadSessions(h.ctx, st.now)
			mustNil(t, "DeleteExpiredUploadSessions", err)
			if n != st.want {
				t.Errorf("DeleteExpiredUploadSessions(%v) = %d, want %d", st.now, n, st.want)
			}
		})
	}
	wantErr(t, "DeleteUploadSession of a swept one", h.s.DeleteUploadSession(h.ctx, "old1"), tenants.ErrNotFound)
}

func testBlobs(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t1", []tenants.Blob{
		{Hash: hashOf(1), Size: 10},
		{Hash: hashOf(2), Size: 20, BrSize: 5, GzSize: 7},
	}))
	mustNil(t, "PutBlobs empty", h.s.PutBlobs(h.ctx, "t1", nil))
	// Upsert: sizes of variants computed later replace the old record; a
	// hash given twice in one call keeps the last record.
	mustNil(t, "PutBlobs upsert", h.s.PutBlobs(h.ctx, "t1", []tenants.Blob{
		{Hash: hashOf(1), Size: 10, BrSize: 3},
		{Hash: hashOf(3), Size: 1},
		{Hash: hashOf(3), Size: 30, GzSize: 9},
	}))
	mustNil(t, "PutBlobs t2", h.s.PutBlobs(h.ctx, "t2", []tenants.Blob{{Hash: hashOf(4), Size: 40}}))

	tests := []struct {
		name   string
		tenant string
		hashes []string
		want   map[string]tenants.Blob
	}{
		{"mixed present and absent", "t1", []string{hashOf(1), hashOf(2), hashOf(3), hashOf(4), hashOf(5)}, map[string]tenants.Blob{
			hashOf(1): {Hash: hashOf(1), Size: 10, BrSize: 3},
			hashOf(2): {Hash: hashOf(2), Size: 20, BrSize: 5, GzSize: 7},
			hashOf(3): {Hash: hashOf(3), Size: 30, GzSize: 9},
		}},
		{"other tenant's blobs are invisible", "t2", []string{hashOf(1), hashOf(4)}, map[string]tenants.Blob{
			hashOf(4): {Hash: hashOf(4), Size: 40},
		}},
		{"duplicates in the query", "t1", []string{hashOf(2), hashOf(2)}, map[string]tenants.Blob{
			hashOf(2): {Hash: hashOf(2), Size: 20, BrSize: 5, GzSize: 7},
		}},
		{"empty query", "t1", nil, map[string]tenants.Blob{}},
		{"unknown tenant", "t9", []string{hashOf(1)}, map[string]tenants.Blob{}},
		{"garbage hashes", "t1", []string{"", "'; drop table blobs; --", "\"]"}, map[string]tenants.Blob{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := h.s.Blobs(h.ctx, tc.tenant, tc.hashes)
			mustNil(t, "Blobs", err)
			if got == nil {
				t.Errorf("Blobs returned a nil map")
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("Blobs = %v, want %v", got, tc.want)
			}
		})
	}
	errTests := []struct {
		name   string
		tenant string
		blobs  []tenants.Blob
		target error
	}{
		{"unknown tenant", "t9", []tenants.Blob{{Hash: hashOf(1), Size: 1}}, tenants.ErrNotFound},
		{"invalid hash", "t1", []tenants.Blob{{Hash: hashOf(8), Size: 1}, {Hash: "NOTAHASH", Size: 1}}, tenants.ErrInvalid},
		{"negative size", "t1", []tenants.Blob{{Hash: hashOf(9), Size: -1}}, tenants.ErrInvalid},
	}
	for _, tc := range errTests {
		t.Run("PutBlobs "+tc.name, func(t *testing.T) {
			wantErr(t, "PutBlobs", h.s.PutBlobs(h.ctx, tc.tenant, tc.blobs), tc.target)
		})
	}
	got, err := h.s.Blobs(h.ctx, "t1", []string{hashOf(8)})
	mustNil(t, "Blobs", err)
	if len(got) != 0 {
		t.Errorf("a rejected PutBlobs recorded part of its batch: %v", got)
	}
}

func testBlobsLarge(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	const n = 20_000
	blobs := make([]tenants.Blob, n)
	hashes := make([]string, 0, 2*n)
	for i := range blobs {
		blobs[i] = tenants.Blob{Hash: hashOf(i), Size: int64(i)}
		hashes = append(hashes, hashOf(i), hashOf(n+i)) // every other one absent
	}
	mustNil(t, "PutBlobs", h.s.PutBlobs(h.ctx, "t1", blobs))
	got, err := h.s.Blobs(h.ctx, "t1", hashes)
	mustNil(t, "Blobs", err)
	if len(got) != n {
		t.Fatalf("Blobs found %d of %d", len(got), n)
	}
	for _, b := range blobs {
		if got[b.Hash] != b {
			t.Fatalf("Blobs[%s] = %+v, want %+v", b.Hash, got[b.Hash], b)
		}
	}
}

func testConcurrentWriters(t *testing.T, h *harness) {
	const n = 12
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tid, name := fmt.Sprintf("t%d", i), fmt.Sprintf("tenant-%d", i)
			if err := h.s.CreateTenant(h.ctx, tenants.Tenant{ID: tid, Name: name, Plan: tenants.PlanFree}); err != nil {
				errs <- err
				return
			}
			for j := range 3 {
				sid := fmt.Sprintf("s%d-%d", i, j)
				if err := h.s.CreateSite(h.ctx, tenants.Site{ID: sid, TenantID: tid, Name: fmt.Sprintf("site-%d-%d", i, j)}); err != nil {
					errs <- err
					return
				}
				d := tenants.Deployment{ID: fmt.Sprintf("d%d-%d", i, j), SiteID: sid, Manifest: manifest(50, i), Source: tenants.Source{Type: "cli"}}
				if err := h.s.CreateDeployment(h.ctx, d); err != nil {
					errs <- err
					return
				}
				if err := h.s.Activate(h.ctx, sid, d.ID); err != nil {
					errs <- err
					return
				}
				if err := h.s.PutBlobs(h.ctx, tid, []tenants.Blob{{Hash: hashOf(j), Size: 1}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent writer: %v", err)
	}
	sites, err := h.s.Sites(h.ctx, "")
	mustNil(t, "Sites", err)
	if len(sites) != n*3 {
		t.Errorf("%d sites after concurrent writes, want %d", len(sites), n*3)
	}
}

func testReopen(t *testing.T, h *harness) {
	h.world(t)
	before, err := h.s.Tenant(h.ctx, "ta")
	mustNil(t, "Tenant", err)
	dep, err := h.s.Deployment(h.ctx, "sa1", "da1")
	mustNil(t, "Deployment", err)
	h.close()
	h.s = h.reopen()
	h.closed = false

	after, err := h.s.Tenant(h.ctx, "ta")
	mustNil(t, "Tenant after reopen", err)
	equalTenant(t, "tenant after reopen", after, before)
	got, err := h.s.Deployment(h.ctx, "sa1", "da1")
	mustNil(t, "Deployment after reopen", err)
	equalDeployment(t, "deployment after reopen", got, dep)
	site, err := h.s.Site(h.ctx, "site-a1")
	mustNil(t, "Site after reopen", err)
	if site.ActiveDeployment != "da1" {
		t.Errorf("active deployment after reopen = %q, want da1", site.ActiveDeployment)
	}
	h.checkTenantData(t, "a", true)
	h.checkTenantData(t, "b", true)
	// The reopened store still writes.
	h.tenant(t, "tc", "tenant-c")
}

// testTenantsUpdateAtomic: UpdateTenants applies every update, or none
// when one fails.
func testTenantsUpdateAtomic(t *testing.T, h *harness) {
	a := h.tenant(t, "t1", "acme", "env:dev")
	b := h.tenant(t, "t2", "beta", "env:dev")
	c := h.tenant(t, "t3", "gamma", "env:prod")
	a.Plan, b.Plan = tenants.PlanPro, tenants.PlanPro
	b.Disabled = true
	mustNil(t, "UpdateTenants", h.s.UpdateTenants(h.ctx, []tenants.Tenant{b, a}))
	for _, want := range []tenants.Tenant{a, b, c} {
		got, err := h.s.Tenant(h.ctx, want.ID)
		mustNil(t, "Tenant", err)
		equalTenant(t, "after UpdateTenants", got, want)
	}
	mustNil(t, "UpdateTenants (none)", h.s.UpdateTenants(h.ctx, nil))

	t.Run("one missing changes nothing", func(t *testing.T) {
		a2 := a
		a2.Plan = tenants.PlanEnterprise
		err := h.s.UpdateTenants(h.ctx, []tenants.Tenant{a2, {ID: "nope", Name: "nope", Plan: tenants.PlanFree}})
		wantErr(t, "UpdateTenants", err, tenants.ErrNotFound)
		got, err := h.s.Tenant(h.ctx, "t1")
		mustNil(t, "Tenant", err)
		equalTenant(t, "after a failed UpdateTenants", got, a)
	})
	t.Run("one invalid changes nothing", func(t *testing.T) {
		a2, c2 := a, c
		a2.Plan = tenants.PlanEnterprise
		c2.Plan = "platinum"
		wantErr(t, "UpdateTenants", h.s.UpdateTenants(h.ctx, []tenants.Tenant{a2, c2}), tenants.ErrInvalid)
		got, err := h.s.Tenant(h.ctx, "t1")
		mustNil(t, "Tenant", err)
		equalTenant(t, "after an invalid UpdateTenants", got, a)
	})
}
