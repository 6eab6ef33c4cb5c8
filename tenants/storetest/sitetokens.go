package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pierhq/pier/tenants"
)

func (h *harness) siteToken(t *testing.T, id, tenantID, siteID, secret string, created time.Time) tenants.Token {
	t.Helper()
	tk := tenants.Token{ID: id, TenantID: tenantID, SiteID: siteID, Name: "site token " + id, Hash: tokenHash(secret), Created: created}
	if err := h.s.CreateToken(h.ctx, tk); err != nil {
		t.Fatalf("CreateToken(%s): %v", id, err)
	}
	return tk
}

// siteTokensWorld creates tenants t1 (sites s1, s2) and t2 (site s3), a
// tenant token k1 of t1, site tokens k1a, k1b of s1 and k2 of s2, and a
// site token k3 of s3.
func (h *harness) siteTokensWorld(t *testing.T) map[string]tenants.Token {
	t.Helper()
	h.tenant(t, "t1", "acme")
	h.tenant(t, "t2", "other")
	h.site(t, "s1", "t1", "site-one")
	h.site(t, "s2", "t1", "site-two")
	h.site(t, "s3", "t2", "site-three")
	return map[string]tenants.Token{
		"k1":  h.token(t, "k1", "t1", "tenant-one"),
		"k1a": h.siteToken(t, "k1a", "t1", "s1", "site-one-a", baseTime.Add(time.Second)),
		"k1b": h.siteToken(t, "k1b", "t1", "s1", "site-one-b", baseTime.Add(2*time.Second)),
		"k2":  h.siteToken(t, "k2", "t1", "s2", "site-two", baseTime.Add(3*time.Second)),
		"k3":  h.siteToken(t, "k3", "t2", "s3", "site-three", baseTime),
	}
}

func testSiteTokens(t *testing.T, h *harness) {
	toks := h.siteTokensWorld(t)
	norm := func(tk tenants.Token) tenants.Token { tk.Created = ms(tk.Created); return tk }

	t.Run("by hash carries the site", func(t *testing.T) {
		for _, id := range []string{"k1", "k1a", "k3"} {
			got, err := h.s.TokenByHash(h.ctx, toks[id].Hash)
			mustNil(t, "TokenByHash", err)
			if want := norm(toks[id]); !reflect.DeepEqual(got, want) {
				t.Errorf("TokenByHash(%s) = %+v, want %+v", id, got, want)
			}
			if got.SiteScoped() != (id != "k1") {
				t.Errorf("TokenByHash(%s).SiteScoped() = %v", id, got.SiteScoped())
			}
		}
	})
	t.Run("tenant listing includes its site tokens", func(t *testing.T) {
		got, err := h.s.Tokens(h.ctx, "t1")
		mustNil(t, "Tokens", err)
		if ids := keys(got, tokenID); !slices.Equal(ids, []string{"k1", "k1a", "k1b", "k2"}) {
			t.Errorf("Tokens(t1) = %v, want [k1 k1a k1b k2]", ids)
		}
		page := walk(t, "TokensPage", 2, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
			return h.s.TokensPage(h.ctx, "t1", p)
		}, nil)
		if !reflect.DeepEqual(page, got) {
			t.Errorf("TokensPage(t1) walk = %v, want %v", keys(page, tokenID), keys(got, tokenID))
		}
	})
	lists := []struct {
		name string
		site string
		want []string
	}{
		{"two tokens", "s1", []string{"k1a", "k1b"}},
		{"one token", "s2", []string{"k2"}},
		{"other tenant's site", "s3", []string{"k3"}},
		{"unknown site", "s9", []string{}},
	}
	for _, tc := range lists {
		for _, limit := range []int{1, 100} {
			t.Run(fmt.Sprintf("SiteTokensPage %s limit %d", tc.name, limit), func(t *testing.T) {
				got := walk(t, "SiteTokensPage", limit, func(p tenants.PageRequest) ([]tenants.Token, string, error) {
					return h.s.SiteTokensPage(h.ctx, tc.site, p)
				}, nil)
				if ids := keys(got, tokenID); !slices.Equal(ids, tc.want) {
					t.Errorf("SiteTokensPage(%s) = %v, want %v", tc.site, ids, tc.want)
				}
				for _, tk := range got {
					if want := norm(toks[tk.ID]); !reflect.DeepEqual(tk, want) {
						t.Errorf("SiteTokensPage(%s) row %+v, want %+v", tc.site, tk, want)
					}
				}
			})
		}
	}
	t.Run("SiteTokensPage bad cursor", func(t *testing.T) {
		_, _, err := h.s.SiteTokensPage(h.ctx, "s1", tenants.PageRequest{Cursor: "garbage"})
		wantErr(t, "SiteTokensPage", err, tenants.ErrInvalidCursor)
		siteCursor := tenants.Cursor{Kind: tenants.CursorSites, Key: "site-one"}.Encode()
		_, _, err = h.s.SiteTokensPage(h.ctx, "s1", tenants.PageRequest{Cursor: siteCursor})
		wantErr(t, "SiteTokensPage with a sites cursor", err, tenants.ErrInvalidCursor)
	})
}

func testSiteTokenErrors(t *testing.T, h *harness) {
	h.siteTokensWorld(t)
	create := func(id, tenantID, siteID string) func() error {
		return func() error {
			return h.s.CreateToken(h.ctx, tenants.Token{ID: id, TenantID: tenantID, SiteID: siteID, Name: "x", Hash: tokenHash("secret of " + id)})
		}
	}
	tests := []struct {
		name   string
		call   func() error
		target error
	}{
		{"site of another tenant", create("k10", "t1", "s3"), tenants.ErrInvalid},
		{"unknown site", create("k11", "t1", "s9"), tenants.ErrNotFound},
		{"site without tenant", create("k12", "", "s1"), tenants.ErrInvalid},
		{"duplicate id", create("k1a", "t1", "s1"), tenants.ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.name, tc.call(), tc.target) })
	}
	t.Run("nothing stored", func(t *testing.T) {
		for _, id := range []string{"k10", "k11", "k12"} {
			_, err := h.s.TokenByHash(h.ctx, tokenHash("secret of "+id))
			wantErr(t, "TokenByHash("+id+")", err, tenants.ErrNotFound)
		}
	})
}

func testSiteTokensEndWithSite(t *testing.T, h *harness) {
	toks := h.siteTokensWorld(t)
	idle, abs := baseTime.Add(time.Hour), baseTime.Add(2*time.Hour)
	sessA := h.consoleSession(t, "sess-k1a", "k1a", idle, abs)
	sessT := h.consoleSession(t, "sess-k1", "k1", idle, abs)
	present := func(t *testing.T, id string, want bool) {
		t.Helper()
		_, err := h.s.TokenByHash(h.ctx, toks[id].Hash)
		if want {
			mustNil(t, "TokenByHash("+id+")", err)
		} else {
			wantErr(t, "TokenByHash("+id+")", err, tenants.ErrNotFound)
		}
	}
	t.Run("site deleted", func(t *testing.T) {
		mustNil(t, "DeleteSite", h.s.DeleteSite(h.ctx, "s1"))
		present(t, "k1a", false)
		present(t, "k1b", false)
		present(t, "k2", true)
		present(t, "k1", true)
		present(t, "k3", true)
		_, err := h.s.ConsoleSession(h.ctx, sessA.Hash)
		wantErr(t, "ConsoleSession of a deleted site's token", err, tenants.ErrNotFound)
		_, err = h.s.ConsoleSession(h.ctx, sessT.Hash)
		mustNil(t, "ConsoleSession of the tenant token", err)
		got, next, err := h.s.SiteTokensPage(h.ctx, "s1", tenants.PageRequest{})
		mustNil(t, "SiteTokensPage", err)
		if len(got) != 0 || next != "" {
			t.Errorf("deleted site lists tokens %v (next %q)", keys(got, tokenID), next)
		}
		list, err := h.s.Tokens(h.ctx, "t1")
		mustNil(t, "Tokens", err)
		if ids := keys(list, tokenID); !slices.Equal(ids, []string{"k1", "k2"}) {
			t.Errorf("Tokens(t1) after deleting s1 = %v, want [k1 k2]", ids)
		}
	})
	t.Run("token deleted", func(t *testing.T) {
		mustNil(t, "DeleteToken", h.s.DeleteToken(h.ctx, "k2"))
		present(t, "k2", false)
		if _, err := h.s.Site(h.ctx, "s2"); err != nil {
			t.Errorf("deleting a site token deleted its site: %v", err)
		}
	})
	t.Run("tenant deleted", func(t *testing.T) {
		h.siteToken(t, "k2b", "t1", "s2", "site-two-b", baseTime)
		mustNil(t, "DeleteTenant", h.s.DeleteTenant(h.ctx, "t1"))
		_, err := h.s.TokenByHash(h.ctx, tokenHash("site-two-b"))
		wantErr(t, "TokenByHash of a deleted tenant's site token", err, tenants.ErrNotFound)
		present(t, "k3", true)
	})
}
