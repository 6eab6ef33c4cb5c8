package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

// pageFunc is one paginated listing under test.
type pageFunc[T any] func(p tenants.PageRequest) ([]T, string, error)

// walk lists every page of list at limit, calling between(i) after page
// i (from 0) before asking for the next one, and returns the rows in
// order. It fails on an empty page that is not the only one, a page
// larger than limit, or a walk that does not end.
func walk[T any](t *testing.T, what string, limit int, list pageFunc[T], between func(i int)) []T {
	t.Helper()
	var all []T
	cursor := ""
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatalf("%s: walk with limit %d does not end", what, limit)
		}
		page, next, err := list(tenants.PageRequest{Limit: limit, Cursor: cursor})
		mustNil(t, fmt.Sprintf("%s page %d", what, i), err)
		nonNil(t, what, page == nil)
		if size := (tenants.PageRequest{Limit: limit}).Size(); len(page) > size {
			t.Fatalf("%s page %d: %d rows, limit %d", what, i, len(page), size)
		}
		if len(page) == 0 && i > 0 {
			t.Errorf("%s page %d: empty page after a next cursor", what, i)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if len(page) < (tenants.PageRequest{Limit: limit}).Size() {
			t.Errorf("%s page %d: %d rows (< limit %d) yet a next cursor", what, i, len(page), limit)
		}
		if between != nil {
			between(i)
		}
		cursor = next
	}
}

func keys[T any](list []T, key func(T) string) []string {
	out := make([]string, 0, len(list))
	for _, x := range list {
		out = append(out, key(x))
	}
	return out
}

func tenantName(x tenants.Tenant) string              { return x.Name }
func siteName(x tenants.Site) string                  { return x.Name }
func deploymentID(x tenants.DeploymentSummary) string { return x.ID }
func domainHost(x tenants.Domain) string              { return x.Hostname }
func tokenID(x tenants.Token) string                  { return x.ID }

// pagesWorld creates 2 tenants, 7 sites, 7 deployments (three created at
// the same instant), 7 domains and 4+3 tokens.
func (h *harness) pagesWorld(t *testing.T) {
	h.tenant(t, "t1", "acme", "env:prod")
	h.tenant(t, "t2", "beta")
	for i, n := range []string{"g", "c", "e", "a", "f", "b", "d"} {
		tid := "t1"
		if i%2 == 1 {
			tid = "t2"
		}
		h.site(t, "s-"+n, tid, "site-"+n)
	}
	for i := range 7 {
		created := baseTime.Add(time.Duration(i%4) * time.Second) // 0,1,2,3,0,1,2: ties
		h.deployment(t, fmt.Sprintf("d%d", i), "s-a", created, 1)
	}
	for _, n := range []string{"q", "m", "z", "b", "x", "k", "c"} {
		h.domain(t, n+".example.com", "s-a", baseTime)
	}
	for i := range 4 {
		h.token(t, fmt.Sprintf("k1-%d", i), "t1", fmt.Sprintf("secret-t1-%d", i))
	}
	for i := range 3 {
		h.token(t, fmt.Sprintf("ka-%d", i), "", fmt.Sprintf("secret-admin-%d", i))
	}
}

// testPagesMatchListings checks that walking every paginated listing,
// at every page size, yields exactly the unpaginated listing.
func testPagesMatchListings(t *testing.T, h *harness) {
	h.pagesWorld(t)
	type listing struct {
		name string
		full func() ([]string, error)
		walk func(t *testing.T, limit int) []string
	}
	ls := []listing{
		{"tenants", func() ([]string, error) {
			l, err := h.s.Tenants(h.ctx, tenants.TenantFilter{})
			return keys(l, tenantName), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "TenantsPage", limit, func(p tenants.PageRequest) ([]tenants.Tenant, string, error) {
				return h.s.TenantsPage(h.ctx, tenants.TenantFilter{}, p)
			}, nil), tenantName)
		}},
		{"tenants by tag", func() ([]string, error) {
			l, err := h.s.Tenants(h.ctx, tenants.TenantFilter{Tag: "env:prod"})
			return keys(l, tenantName), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "TenantsPage", limit, func(p tenants.PageRequest) ([]tenants.Tenant, string, error) {
				return h.s.TenantsPage(h.ctx, tenants.TenantFilter{Tag: "env:prod"}, p)
			}, nil), tenantName)
		}},
		{"all sites", func() ([]string, error) {
			l, err := h.s.Sites(h.ctx, "")
			return keys(l, siteName), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "SitesPage", limit, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
				return h.s.SitesPage(h.ctx, tenants.SiteFilter{}, p)
			}, nil), siteName)
		}},
		{"sites of a tenant", func() ([]string, error) {
			l, err := h.s.Sites(h.ctx, "t1")
			return keys(l, siteName), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "SitesPage", limit, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
				return h.s.SitesPage(h.ctx, tenants.SiteFilter{TenantID: "t1"}, p)
			}, nil), siteName)
		}},
		{"deployments", func() ([]string, error) {
			l, err := h.s.Deployments(h.ctx, "s-a")
			return keys(l, deploymentID), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "DeploymentsPage", limit, func(p tenants.PageRequest) ([]tenants.DeploymentSummary, string, error) {
				return h.s.DeploymentsPage(h.ctx, "s-a", p)
			}, nil), deploymentID)
		}},
		{"domains", func() ([]string, error) {
			l, err := h.s.Domains(h.ctx, "s-a")
			return keys(l, domainHost), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "DomainsPage", limit, func(p tenants.PageRequest) ([]tenants.Domain, string, error) {
				return h.s.DomainsPage(h.ctx, "s-a", p)
			}, nil), domainHost)
		}},
		{"tenant tokens", func() ([]string, error) {
			l, err := h.s.Tokens(h.ctx, "t1")
			return keys(l, tokenID), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "TokensPage", limit, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
				return h.s.TokensPage(h.ctx, "t1", p)
			}, nil), tokenID)
		}},
		{"admin tokens", func() ([]string, error) {
			l, err := h.s.Tokens(h.ctx, "")
			return keys(l, tokenID), err
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "TokensPage", limit, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
				return h.s.TokensPage(h.ctx, "", p)
			}, nil), tokenID)
		}},
		{"empty: sites of a site-less tenant", func() ([]string, error) {
			h.tenant(t, "t9", "lonely")
			return []string{}, nil
		}, func(t *testing.T, limit int) []string {
			return keys(walk(t, "SitesPage", limit, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
				return h.s.SitesPage(h.ctx, tenants.SiteFilter{TenantID: "t9"}, p)
			}, nil), siteName)
		}},
	}
	for _, l := range ls {
		t.Run(l.name, func(t *testing.T) {
			want, err := l.full()
			mustNil(t, "unpaginated listing", err)
			if l.name != "tenants by tag" && !strings.HasPrefix(l.name, "empty") && len(want) < 2 {
				t.Fatalf("world too small: %v", want)
			}
			for _, limit := range []int{1, 2, 3, len(want), len(want) + 1, 0} {
				t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
					got := l.walk(t, limit)
					if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
						t.Errorf("pages = %v, want %v", got, want)
					}
				})
			}
		})
	}
}

// testPagesStableWhileAdding checks that rows added between pages, before
// and after the cursor, neither repeat nor skip rows present all along.
func testPagesStableWhileAdding(t *testing.T, h *harness) {
	h.pagesWorld(t)
	t.Run("tenants", func(t *testing.T) {
		got := keys(walk(t, "TenantsPage", 1, func(p tenants.PageRequest) ([]tenants.Tenant, string, error) {
			return h.s.TenantsPage(h.ctx, tenants.TenantFilter{}, p)
		}, func(i int) {
			if i == 0 { // after "acme": one before it, one after the cursor
				h.tenant(t, "t0", "aaa")
				h.tenant(t, "t5", "zulu")
			}
		}), tenantName)
		if want := []string{"acme", "beta", "zulu"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("sites", func(t *testing.T) {
		got := keys(walk(t, "SitesPage", 2, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
			return h.s.SitesPage(h.ctx, tenants.SiteFilter{}, p)
		}, func(i int) {
			if i == 0 { // after site-a, site-b
				h.site(t, "s-aa", "t1", "site-aa")
				h.site(t, "s-bb", "t2", "site-bb")
			}
		}), siteName)
		want := []string{"site-a", "site-b", "site-bb", "site-c", "site-d", "site-e", "site-f", "site-g"}
		if !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("deployments", func(t *testing.T) {
		before, err := h.s.Deployments(h.ctx, "s-a")
		mustNil(t, "Deployments", err)
		got := keys(walk(t, "DeploymentsPage", 2, func(p tenants.PageRequest) ([]tenants.DeploymentSummary, string, error) {
			return h.s.DeploymentsPage(h.ctx, "s-a", p)
		}, func(i int) {
			// A new deployment is newest: it lands on a page already read.
			h.deployment(t, fmt.Sprintf("new%d", i), "s-a", baseTime.Add(time.Hour), 1)
		}), deploymentID)
		if want := keys(before, deploymentID); !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("domains", func(t *testing.T) {
		got := keys(walk(t, "DomainsPage", 3, func(p tenants.PageRequest) ([]tenants.Domain, string, error) {
			return h.s.DomainsPage(h.ctx, "s-a", p)
		}, func(i int) {
			if i == 0 { // after b, c, k
				h.domain(t, "a.example.com", "s-a", baseTime)
				h.domain(t, "y.example.com", "s-a", baseTime)
			}
		}), domainHost)
		want := []string{"b.example.com", "c.example.com", "k.example.com", "m.example.com", "q.example.com", "x.example.com", "y.example.com", "z.example.com"}
		if !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		got := keys(walk(t, "TokensPage", 3, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
			return h.s.TokensPage(h.ctx, "t1", p)
		}, func(i int) {
			if i == 0 { // oldest first: a new token comes last
				h.token(t, "k1-new", "t1", "secret-t1-new")
			}
		}), tokenID)
		if want := []string{"k1-0", "k1-1", "k1-2", "k1-3", "k1-new"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
}

// testPagesDeletedBetween checks that deleting rows between pages,
// including the row the cursor points after, skips nothing else.
func testPagesDeletedBetween(t *testing.T, h *harness) {
	h.pagesWorld(t)
	t.Run("sites", func(t *testing.T) {
		got := keys(walk(t, "SitesPage", 2, func(p tenants.PageRequest) ([]tenants.Site, string, error) {
			return h.s.SitesPage(h.ctx, tenants.SiteFilter{}, p)
		}, func(i int) {
			if i == 0 { // the cursor's own row, and one of the next page
				mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s-b"))
				mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s-d"))
			}
		}), siteName)
		if want := []string{"site-a", "site-b", "site-c", "site-e", "site-f", "site-g"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("tenants", func(t *testing.T) {
		got := keys(walk(t, "TenantsPage", 1, func(p tenants.PageRequest) ([]tenants.Tenant, string, error) {
			return h.s.TenantsPage(h.ctx, tenants.TenantFilter{}, p)
		}, func(i int) {
			if i == 0 {
				mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1")) // the cursor's row
			}
		}), tenantName)
		if want := []string{"acme", "beta"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("domains", func(t *testing.T) {
		h.tenant(t, "t7", "gamma")
		h.site(t, "s-x", "t7", "site-x")
		for _, n := range []string{"a", "b", "c", "d", "e"} {
			h.domain(t, n+".example.org", "s-x", baseTime)
		}
		got := keys(walk(t, "DomainsPage", 2, func(p tenants.PageRequest) ([]tenants.Domain, string, error) {
			return h.s.DomainsPage(h.ctx, "s-x", p)
		}, func(i int) {
			if i == 0 {
				mustNil(t, "DeleteDomain", h.s.DeleteDomain(h.ctx, "s-x", "b.example.org"))
				mustNil(t, "DeleteDomain", h.s.DeleteDomain(h.ctx, "s-x", "c.example.org"))
			}
		}), domainHost)
		if want := []string{"a.example.org", "b.example.org", "d.example.org", "e.example.org"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		got := keys(walk(t, "TokensPage", 2, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
			return h.s.TokensPage(h.ctx, "", p)
		}, func(i int) {
			if i == 0 {
				mustNil(t, "DeleteToken", h.s.DeleteToken(h.ctx, "ka-1")) // the cursor's row
			}
		}), tokenID)
		if want := []string{"ka-0", "ka-1", "ka-2"}; !slices.Equal(got, want) {
			t.Errorf("pages = %v, want %v", got, want)
		}
	})
}

// testPagesBadCursor checks that cursors a listing did not issue are
// refused with ErrInvalidCursor.
func testPagesBadCursor(t *testing.T, h *harness) {
	h.pagesWorld(t)
	_, siteCursor, err := h.s.SitesPage(h.ctx, tenants.SiteFilter{}, tenants.PageRequest{Limit: 1})
	mustNil(t, "SitesPage", err)
	if siteCursor == "" {
		t.Fatal("SitesPage with limit 1 of 7 sites: no next cursor")
	}
	tampered := []byte(siteCursor)
	tampered[len(tampered)/2] ^= 0x01
	if tampered[len(tampered)/2] == '-'^1 || tampered[len(tampered)/2] == '_'^1 {
		tampered[len(tampered)/2] = 'A'
	}
	bad := []struct{ name, cursor string }{
		{"garbage", "not a cursor!"},
		{"base64 of nothing useful", "AAAA"},
		{"tampered", string(tampered)},
		{"truncated", siteCursor[:len(siteCursor)-3]},
		{"forged without checksum", tenants.Cursor{Kind: tenants.CursorTenants, Key: "x"}.Encode()[:8]},
	}
	calls := []struct {
		name string
		call func(c string) error
	}{
		{"TenantsPage", func(c string) error {
			_, _, err := h.s.TenantsPage(h.ctx, tenants.TenantFilter{}, tenants.PageRequest{Cursor: c})
			return err
		}},
		{"SitesPage", func(c string) error {
			_, _, err := h.s.SitesPage(h.ctx, tenants.SiteFilter{}, tenants.PageRequest{Cursor: c})
			return err
		}},
		{"DeploymentsPage", func(c string) error {
			_, _, err := h.s.DeploymentsPage(h.ctx, "s-a", tenants.PageRequest{Cursor: c})
			return err
		}},
		{"DomainsPage", func(c string) error {
			_, _, err := h.s.DomainsPage(h.ctx, "s-a", tenants.PageRequest{Cursor: c})
			return err
		}},
		{"TokensPage", func(c string) error {
			_, _, err := h.s.TokensPage(h.ctx, "t1", tenants.PageRequest{Cursor: c})
			return err
		}},
	}
	for _, c := range calls {
		for _, b := range bad {
			t.Run(c.name+"/"+b.name, func(t *testing.T) {
				err := c.call(b.cursor)
				wantErr(t, c.name, err, tenants.ErrInvalidCursor)
				wantErr(t, c.name, err, tenants.ErrInvalid)
			})
		}
		if c.name != "SitesPage" {
			t.Run(c.name+"/cursor of another listing", func(t *testing.T) {
				wantErr(t, c.name, c.call(siteCursor), tenants.ErrInvalidCursor)
			})
		}
	}
	t.Run("SitesPage/own cursor", func(t *testing.T) {
		mustNil(t, "SitesPage", calls[1].call(siteCursor))
	})
}
