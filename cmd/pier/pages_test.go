package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

// TestListsShowEveryPage checks that list commands read past the API's
// default page of 100 rows.
func TestListsShowEveryPage(t *testing.T) {
	api := newRealAPI(t)
	ctx := context.Background()
	c := apiclient.New(api.url, api.admin, nil)
	if _, err := c.CreateTenant(ctx, apiclient.CreateTenant{Name: "acme", Limits: &tenants.Limits{Quotas: tenants.Quotas{Sites: 1000}}}); err != nil {
		t.Fatal(err)
	}
	const n = 230 // three pages of the default 100
	for i := range n {
		if _, err := c.CreateSite(ctx, fmt.Sprintf("site-%03d", i), "acme"); err != nil {
			t.Fatal(err)
		}
	}
	var listed struct {
		Sites []struct {
			Name string `json:"name"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(api.must(t, api.admin, "sites", "list", "--json")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed.Sites) != n {
		t.Fatalf("pier sites list shows %d sites, want %d", len(listed.Sites), n)
	}
	for i, s := range listed.Sites {
		if want := fmt.Sprintf("site-%03d", i); s.Name != want {
			t.Fatalf("site %d is %s, want %s", i, s.Name, want)
		}
	}
}
