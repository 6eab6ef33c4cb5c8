package admin_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestSiteSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, acmeTok := e.tenant(t, "acme")
	_, globexTok := e.tenant(t, "globex")
	for _, n := range []string{"blog", "my-blog", "shop", "blog-2"} {
		e.site(t, acmeTok, n)
	}
	for _, n := range []string{"globex-blog", "docs"} {
		e.site(t, globexTok, n)
	}

	for _, tc := range []struct {
		name, token, path string
		want              []string
	}{
		{"admin sees every tenant's matches", e.admin, "/api/v1/sites?q=blog", []string{"blog", "blog-2", "globex-blog", "my-blog"}},
		{"case-insensitive", e.admin, "/api/v1/sites?q=BLoG", []string{"blog", "blog-2", "globex-blog", "my-blog"}},
		{"with the tenant filter", e.admin, "/api/v1/sites?tenant=globex&q=blog", []string{"globex-blog"}},
		{"a tenant token sees only its own", acmeTok, "/api/v1/sites?q=blog", []string{"blog", "blog-2", "my-blog"}},
		{"other tenant token", globexTok, "/api/v1/sites?q=o", []string{"docs", "globex-blog"}},
		{"empty q lists all", globexTok, "/api/v1/sites?q=", []string{"docs", "globex-blog"}},
		{"no match", e.admin, "/api/v1/sites?q=zzz", nil},
		{"63 characters", e.admin, "/api/v1/sites?q=" + strings.Repeat("a", 63), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, limit := range []int{1, 2, 1000} {
				got := e.listAll(t, tc.token, tc.path, "sites", "name", limit, nil)
				if !slices.Equal(got, tc.want) {
					t.Errorf("limit %d: %v, want %v", limit, got, tc.want)
				}
			}
		})
	}

	t.Run("a tenant token cannot search another tenant", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/sites?tenant=globex&q=blog", acmeTok, nil)
		if r.status != 403 && r.status != 404 {
			t.Errorf("status %d, want 403 or 404: %s", r.status, r.raw)
		}
	})

	for _, tc := range []struct{ name, q string }{
		{"too long", strings.Repeat("a", 64)},
		{"percent", "%"},
		{"underscore", "a_b"},
		{"space", "a b"},
		{"dot", "a.b"},
		{"backslash", `\`},
		{"non-ASCII", "blög"},
	} {
		t.Run("q "+tc.name+" is refused", func(t *testing.T) {
			r := e.do(t, "GET", "/api/v1/sites?q="+url.QueryEscape(tc.q), e.admin, nil)
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != "q" {
				t.Errorf("error %s, want field q", r.raw)
			}
		})
	}
}
