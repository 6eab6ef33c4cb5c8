package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/internal/apiclient"
	"github.com/pierhq/pier/tenants"
)

// TestSitesGit drives the git side of the site commands against the real
// admin API: set-branch, and get printing the remote, the production
// branch and the branches with their alias URLs.
func TestSitesGit(t *testing.T) {
	api := newRealAPI(t, func(c *admin.Config) {
		c.GitURL = func(site string) string { return "http://127.0.0.1:8081/git/" + site + ".git" }
	})
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	api.must(t, adm, "sites", "create", "blog", "--tenant", "acme")

	out := api.must(t, adm, "sites", "get", "blog")
	for _, want := range []string{"Production branch:  main", "Git remote:         http://127.0.0.1:8081/git/blog.git"} {
		if !strings.Contains(out, want) {
			t.Errorf("sites get lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "BRANCH") {
		t.Errorf("sites get lists branches before any push:\n%s", out)
	}

	if out := api.must(t, adm, "sites", "set-branch", "blog", "release"); out != "production branch of blog: release\n" {
		t.Errorf("set-branch printed %q", out)
	}
	res := api.pier(t, adm, "sites", "set-branch", "blog", "bad..name")
	if res.code != 1 || !strings.Contains(res.stderr, "production_branch") {
		t.Errorf("set-branch bad..name: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := api.pier(t, adm, "sites", "set-branch", "blog"); res.code != exitUsage {
		t.Errorf("set-branch without a branch: exit %d", res.code)
	}

	ctx := context.Background()
	site, err := api.store.Site(ctx, "blog")
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := "1234567"+strings.Repeat("0", 33), "abcdef1"+strings.Repeat("0", 33)
	err = api.store.ApplyGitPush(ctx, tenants.GitPush{SiteID: site.ID, Refs: []tenants.GitRefUpdate{
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/heads/release", Commit: c1, Deployment: "d1"}},
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/heads/feature/x", Commit: c2, Deployment: "d2", Alias: "feature-x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out = api.must(t, adm, "sites", "get", "blog")
	lines := strings.Split(out, "\n")
	var rows []string
	for i, l := range lines {
		if strings.Contains(l, "BRANCH") {
			rows = lines[i+1:]
		}
	}
	if len(rows) < 2 || !strings.HasPrefix(rows[0], "*") || !strings.Contains(rows[0], "release") ||
		!strings.Contains(rows[0], "1234567") || strings.Contains(rows[0], c1) || !strings.Contains(rows[0], "(production)") ||
		!strings.Contains(rows[1], "feature/x") || !strings.Contains(rows[1], "http://feature-x--blog.localhost:8080/") {
		t.Errorf("sites get branches:\n%s", out)
	}

	var j struct {
		ProductionBranch string            `json:"production_branch"`
		Git              apiclient.SiteGit `json:"git"`
	}
	if err := json.Unmarshal([]byte(api.must(t, adm, "sites", "get", "blog", "--json")), &j); err != nil {
		t.Fatal(err)
	}
	if j.ProductionBranch != "release" || j.Git.Remote != "http://127.0.0.1:8081/git/blog.git" || len(j.Git.Branches) != 2 {
		t.Errorf("sites get --json: %+v", j)
	}
}

func TestFormatSource(t *testing.T) {
	commit := "abc1234def5678abc1234def5678abc1234def56"
	tests := []struct {
		name string
		src  apiclient.Source
		want string
	}{
		{"git push", apiclient.Source{Type: "git", Branch: "main", Commit: commit}, "git main@abc1234"},
		{"git without branch", apiclient.Source{Type: "git", Commit: commit}, "git abc1234"},
		{"git without commit", apiclient.Source{Type: "git", Branch: "feature/x"}, "git feature/x"},
		{"bare git", apiclient.Source{Type: "git"}, "git"},
		{"cli", apiclient.Source{Type: "cli"}, "cli"},
		{"cli with ref", apiclient.Source{Type: "cli", Branch: "main", Commit: commit}, "cli main @abc1234def56"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatSource(tc.src); got != tc.want {
				t.Errorf("formatSource(%+v) = %q, want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestTenantLimitsLine(t *testing.T) {
	api := newRealAPI(t)
	out := api.must(t, api.admin, "tenants", "create", "acme", "--plan", "pro")
	if !strings.Contains(out, "gitRepoMB 4096, gitPushMB 1024") {
		t.Errorf("tenants create does not show the git limits:\n%s", out)
	}
}
