package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/apiclient"
)

func TestSitesListSearch(t *testing.T) {
	api := newRealAPI(t)
	ctx := context.Background()
	c := apiclient.New(api.url, api.admin, nil)
	for _, tn := range []string{"acme", "globex"} {
		if _, err := c.CreateTenant(ctx, apiclient.CreateTenant{Name: tn}); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range [][2]string{{"blog", "acme"}, {"my-blog", "acme"}, {"shop", "acme"}, {"globex-blog", "globex"}} {
		if _, err := c.CreateSite(ctx, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"search", []string{"--search", "blog"}, []string{"blog", "globex-blog", "my-blog"}},
		{"case-insensitive", []string{"--search", "BLOG"}, []string{"blog", "globex-blog", "my-blog"}},
		{"with tenant", []string{"--tenant", "acme", "--search", "blog"}, []string{"blog", "my-blog"}},
		{"no match", []string{"--search", "zzz"}, []string{}},
		{"empty search lists all", []string{"--search", ""}, []string{"blog", "globex-blog", "my-blog", "shop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var listed struct {
				Sites []struct {
					Name string `json:"name"`
				} `json:"sites"`
			}
			out := api.must(t, api.admin, append([]string{"sites", "list", "--json"}, tc.args...)...)
			if err := json.Unmarshal([]byte(out), &listed); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, s := range listed.Sites {
				got = append(got, s.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("sites %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("table output", func(t *testing.T) {
		out := api.must(t, api.admin, "sites", "list", "--search", "shop")
		if !strings.Contains(out, "shop") || strings.Contains(out, "blog") {
			t.Errorf("sites list --search shop:\n%s", out)
		}
	})
	t.Run("a bad search names q", func(t *testing.T) {
		res := api.pier(t, api.admin, "sites", "list", "--search", "a_b")
		if res.code != 1 || !strings.Contains(res.stderr, "q") || !strings.Contains(res.stderr, "(invalid)") {
			t.Errorf("bad search: exit %d, stderr %q", res.code, res.stderr)
		}
	})
}
