package storetest

import (
	"context"
	"fmt"
	"testing"

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
