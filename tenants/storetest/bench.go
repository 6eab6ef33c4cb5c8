package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// BenchSiteLookup measures Site by name among 1,000 sites of 100 tenants.
func BenchSiteLookup(b *testing.B, s tenants.Store) {
	ctx := context.Background()
	const nTenants, perTenant = 100, 10
	for i := range nTenants {
		tid := fmt.Sprintf("t%d", i)
		if err := s.CreateTenant(ctx, tenants.Tenant{ID: tid, Name: fmt.Sprintf("tenant-%d", i), Plan: tenants.PlanFree}); err != nil {
			b.Fatal(err)
		}
		for j := range perTenant {
			if err := s.CreateSite(ctx, tenants.Site{ID: fmt.Sprintf("s%d-%d", i, j), TenantID: tid, Name: fmt.Sprintf("site-%d-%d", i, j)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	names := make([]string, 0, nTenants*perTenant)
	for i := range nTenants {
		for j := range perTenant {
			names = append(names, fmt.Sprintf("site-%d-%d", i, j))
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := s.Site(ctx, names[i%len(names)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchDeploymentLoad measures loading a deployment with a 10,000-entry
// manifest.
func BenchDeploymentLoad(b *testing.B, s tenants.Store) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree}); err != nil {
		b.Fatal(err)
	}
	if err := s.CreateSite(ctx, tenants.Site{ID: "s1", TenantID: "t1", Name: "blog"}); err != nil {
		b.Fatal(err)
	}
	d := tenants.Deployment{ID: "d1", SiteID: "s1", Manifest: manifest(10_000, 1), Source: tenants.Source{Type: "cli"}}
	if err := s.CreateDeployment(ctx, d); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Deployment(ctx, "s1", "d1")
		if err != nil {
			b.Fatal(err)
		}
		if len(got.Manifest) != 10_000 {
			b.Fatalf("manifest has %d entries", len(got.Manifest))
		}
	}
}

// BenchBlobsLookup measures looking up 10,000 hashes of which half are
// recorded, among 20,000 recorded blobs of the tenant.
func BenchBlobsLookup(b *testing.B, s tenants.Store) {
	ctx := context.Background()
	if err := s.CreateTenant(ctx, tenants.Tenant{ID: "t1", Name: "acme", Plan: tenants.PlanFree}); err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	blobs := make([]tenants.Blob, 0, 2*n)
	for i := range 2 * n {
		blobs = append(blobs, tenants.Blob{Hash: hashOf(i), Size: int64(i)})
	}
	if err := s.PutBlobs(ctx, "t1", blobs); err != nil {
		b.Fatal(err)
	}
	hashes := make([]string, 0, n)
	for i := range n {
		hashes = append(hashes, hashOf(i*4)) // every other one recorded
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.Blobs(ctx, "t1", hashes)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != n/2 {
			b.Fatalf("found %d blobs, want %d", len(got), n/2)
		}
	}
}

// PagesData is what BenchPages lists: 10,000 tenants (every tenth tagged
// env:prod), 10,000 sites (1,000 of each of the first ten tenants) and 5,000
// deployments of site Sites[0], some created in the same millisecond.
type PagesData struct {
	Tenants     []tenants.Tenant
	Sites       []tenants.Site
	Deployments []tenants.DeploymentSummary
}

// NewPagesData builds the data of BenchPages.
func NewPagesData() PagesData {
	const nTenants, nSites, nDeployments = 10_000, 10_000, 5_000
	var d PagesData
	for i := range nTenants {
		t := tenants.Tenant{ID: fmt.Sprintf("t%05d", i), Name: fmt.Sprintf("tenant-%05d", (i*7919)%nTenants),
			Plan: tenants.PlanFree, Tags: []string{}, Salt: salt(byte(i)), Created: baseTime}
		if i%10 == 0 {
			t.Tags = []string{"env:prod"}
		}
		d.Tenants = append(d.Tenants, t)
	}
	for i := range nSites {
		d.Sites = append(d.Sites, tenants.Site{ID: fmt.Sprintf("s%05d", i), TenantID: d.Tenants[i%10].ID,
			Name: fmt.Sprintf("site-%05d", (i*7907)%nSites), Created: baseTime})
	}
	for i := range nDeployments {
		d.Deployments = append(d.Deployments, tenants.DeploymentSummary{ID: fmt.Sprintf("d%05d", i), SiteID: d.Sites[0].ID,
			Files: 10, Bytes: 1000, Source: tenants.Source{Type: "cli"}, Created: baseTime.Add(time.Duration(i/3) * time.Second)})
	}
	return d
}

// BenchSiteSearch is the search of BenchPages' "sites by search": 3,439
// of the 10,000 site names contain it, spread over the whole name order.
const BenchSiteSearch = "7"

// BenchPages measures one page (limit 100) of each paginated listing of
// a store holding NewPagesData (and of the sites whose name contains
// BenchSiteSearch, whose last page is short): each iteration reads the next page of a
// walk that starts again after the last page. ns/op is the time of one
// page; ms/page says the same in milliseconds.
func BenchPages(b *testing.B, s tenants.Store, d PagesData) {
	ctx := context.Background()
	p0 := d.Sites[0]
	listings := []struct {
		name string
		page func(p tenants.PageRequest) (int, string, error)
	}{
		{"tenants", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.TenantsPage(ctx, tenants.TenantFilter{}, p)
			return len(l), next, err
		}},
		{"tenants by tag", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.TenantsPage(ctx, tenants.TenantFilter{Tag: "env:prod"}, p)
			return len(l), next, err
		}},
		{"sites", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.SitesPage(ctx, tenants.SiteFilter{}, p)
			return len(l), next, err
		}},
		{"sites of a tenant", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.SitesPage(ctx, tenants.SiteFilter{TenantID: p0.TenantID}, p)
			return len(l), next, err
		}},
		{"sites by search", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.SitesPage(ctx, tenants.SiteFilter{Search: BenchSiteSearch}, p)
			return len(l), next, err
		}},
		{"deployments", func(p tenants.PageRequest) (int, string, error) {
			l, next, err := s.DeploymentsPage(ctx, p0.ID, p)
			return len(l), next, err
		}},
	}
	for _, l := range listings {
		b.Run(l.name, func(b *testing.B) {
			cursor, pages := "", 0
			b.ReportAllocs()
			for b.Loop() {
				n, next, err := l.page(tenants.PageRequest{Limit: 100, Cursor: cursor})
				if err != nil {
					b.Fatal(err)
				}
				if n != 100 && (next != "" || n == 0) {
					b.Fatalf("page %d after cursor %q has %d rows, want 100 (or 1 to 100 on the last)", pages, cursor, n)
				}
				cursor = next
				pages++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/page")
		})
	}
}
