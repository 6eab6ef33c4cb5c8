package storetest

import (
	"slices"
	"testing"

	"github.com/pierhq/pier/tenants"
)

// testSitesSearch checks SitesPage's name search: a case-insensitive
// substring match, combined with the tenant filter and paginated with
// cursors that stay valid for the same search, and LIKE wildcards that
// match only themselves.
func testSitesSearch(t *testing.T, h *harness) {
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "beta")
	for i, n := range []string{"blog", "my-blog", "shop", "blog-2", "docs", "shop-blog", "x1y"} {
		tid := "t1"
		if i%2 == 1 {
			tid = "t2"
		}
		h.site(t, "s"+n, tid, n)
	}
	for _, tc := range []struct {
		name string
		f    tenants.SiteFilter
		want []string
	}{
		{"no search lists all", tenants.SiteFilter{}, []string{"blog", "blog-2", "docs", "my-blog", "shop", "shop-blog", "x1y"}},
		{"substring anywhere", tenants.SiteFilter{Search: "blog"}, []string{"blog", "blog-2", "my-blog", "shop-blog"}},
		{"case-insensitive", tenants.SiteFilter{Search: "BLOG"}, []string{"blog", "blog-2", "my-blog", "shop-blog"}},
		{"hyphen", tenants.SiteFilter{Search: "-"}, []string{"blog-2", "my-blog", "shop-blog"}},
		{"with tenant", tenants.SiteFilter{TenantID: "t1", Search: "blog"}, []string{"blog"}},
		{"with other tenant", tenants.SiteFilter{TenantID: "t2", Search: "blog"}, []string{"blog-2", "my-blog", "shop-blog"}},
		{"whole name", tenants.SiteFilter{Search: "x1y"}, []string{"x1y"}},
		{"no match", tenants.SiteFilter{Search: "nothing"}, []string{}},
		{"percent is literal", tenants.SiteFilter{Search: "%"}, []string{}},
		{"underscore is literal", tenants.SiteFilter{Search: "x_y"}, []string{}},
		{"lone underscore is literal", tenants.SiteFilter{Search: "_"}, []string{}},
		{"backslash is literal", tenants.SiteFilter{Search: `\`}, []string{}},
		{"escaped wildcard is literal", tenants.SiteFilter{Search: `\%`}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 3, 0} {
				got := keys(walk(t, "SitesPage", limit, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
					return h.s.SitesPage(h.ctx, tc.f, p)
				}, nil), siteName)
				if !slices.Equal(got, tc.want) {
					t.Errorf("limit %d: sites = %v, want %v", limit, got, tc.want)
				}
			}
		})
	}
	t.Run("cursor stays valid while sites are added", func(t *testing.T) {
		f := tenants.SiteFilter{Search: "blog"}
		got := keys(walk(t, "SitesPage", 2, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
			return h.s.SitesPage(h.ctx, f, p)
		}, func(i int) {
			if i == 0 {
				h.site(t, "sa-blog", "t1", "a-blog")     // before the cursor: not seen
				h.site(t, "szz-blog", "t2", "zz-blog")   // after it: seen
				h.site(t, "szz-other", "t2", "zz-other") // not matching
			}
		}), siteName)
		want := []string{"blog", "blog-2", "my-blog", "shop-blog", "zz-blog"}
		if !slices.Equal(got, want) {
			t.Errorf("sites = %v, want %v", got, want)
		}
	})
}
