package admin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/tenants"
)

func TestProductionBranch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, acme := e.tenant(t, "acme")
	_, other := e.tenant(t, "other")
	e.site(t, acme, "blog")

	t.Run("a new site's is main", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/blog", acme, nil), 200)
		if r.str("production_branch") != "main" {
			t.Fatalf("production_branch %q, want main: %s", r.str("production_branch"), r.raw)
		}
	})
	t.Run("set", func(t *testing.T) {
		r := must(t, e.do(t, "PATCH", "/api/v1/sites/blog", acme, map[string]any{"production_branch": "release/2.x"}), 200)
		if r.str("production_branch") != "release/2.x" || r.str("name") != "blog" || r.str("hash_salt") == "" {
			t.Fatalf("answer %s", r.raw)
		}
		if got := must(t, e.do(t, "GET", "/api/v1/sites/blog", acme, nil), 200).str("production_branch"); got != "release/2.x" {
			t.Fatalf("after PATCH, GET says %q", got)
		}
		if got := must(t, e.do(t, "GET", "/api/v1/sites/blog/git", acme, nil), 200).str("production_branch"); got != "release/2.x" {
			t.Fatalf("after PATCH, …/git says %q", got)
		}
	})
	t.Run("an empty body changes nothing", func(t *testing.T) {
		r := must(t, e.do(t, "PATCH", "/api/v1/sites/blog", acme, map[string]any{}), 200)
		if r.str("production_branch") != "release/2.x" {
			t.Fatalf("answer %s", r.raw)
		}
	})
	for _, bad := range []string{"", "-x", "a b", "a..b", "x.lock", "feat/", "/x", "a~1", "a:b", "@", ".hidden", "a\x00b", strings.Repeat("b", tenants.MaxBranchName+1)} {
		t.Run("refused "+strings.ToValidUTF8(bad[:min(len(bad), 12)], "?"), func(t *testing.T) {
			r := e.do(t, "PATCH", "/api/v1/sites/blog", acme, map[string]any{"production_branch": bad})
			wantErr(t, r, 400, "invalid")
			if r.errField("field") != "production_branch" {
				t.Fatalf("field %v, want production_branch: %s", r.errField("field"), r.raw)
			}
		})
	}
	t.Run("unknown field", func(t *testing.T) {
		wantErr(t, e.do(t, "PATCH", "/api/v1/sites/blog", acme, map[string]any{"name": "renamed"}), 400, "invalid")
	})
	t.Run("another tenant's site is not found", func(t *testing.T) {
		wantErr(t, e.do(t, "PATCH", "/api/v1/sites/blog", other, map[string]any{"production_branch": "x"}), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/sites/blog/git", other, nil), 404, "not_found")
	})
	t.Run("admin", func(t *testing.T) {
		r := must(t, e.do(t, "PATCH", "/api/v1/sites/blog", e.admin, map[string]any{"production_branch": "main"}), 200)
		if r.str("production_branch") != "main" {
			t.Fatalf("answer %s", r.raw)
		}
	})
}

// gitAnswer is GET …/git, decoded.
type gitAnswer struct {
	Remote           *string `json:"remote"`
	ProductionBranch string  `json:"production_branch"`
	Branches         []struct {
		Name       string  `json:"name"`
		Commit     string  `json:"commit"`
		Deployment string  `json:"deployment"`
		Alias      string  `json:"alias"`
		URL        *string `json:"url"`
		Production bool    `json:"production"`
	} `json:"branches"`
}

func getGit(t *testing.T, e *env, token, site string) (gitAnswer, resp) {
	t.Helper()
	r := must(t, e.do(t, "GET", "/api/v1/sites/"+site+"/git", token, nil), 200)
	var g gitAnswer
	if err := json.Unmarshal(r.raw, &g); err != nil {
		t.Fatal(err)
	}
	return g, r
}

func TestSiteGit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withConfig(func(c *admin.Config) {
		c.GitURL = func(site string) string { return "http://pier.test:8081/git/" + site + ".git" }
	}))
	_, acme := e.tenant(t, "acme")
	e.site(t, acme, "blog")
	ctx := context.Background()
	site, err := e.store.Site(ctx, "blog")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("no branches yet", func(t *testing.T) {
		g, r := getGit(t, e, acme, "blog")
		if g.Remote == nil || *g.Remote != "http://pier.test:8081/git/blog.git" || g.ProductionBranch != "main" {
			t.Fatalf("answer %s", r.raw)
		}
		if g.Branches == nil || len(g.Branches) != 0 || !strings.Contains(string(r.raw), `"branches":[]`) {
			t.Fatalf("branches: want an empty list: %s", r.raw)
		}
	})

	c1, c2, c3 := strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)
	err = e.store.ApplyGitPush(ctx, tenants.GitPush{SiteID: site.ID, Refs: []tenants.GitRefUpdate{
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/heads/feature/x", Commit: c2, Deployment: "d2", Alias: "feature-x"}},
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/heads/main", Commit: c1, Deployment: "d1"}},
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/heads/docs", Commit: c3, Deployment: "d3", Alias: "docs"}},
		{Ref: tenants.GitRef{SiteID: site.ID, Name: "refs/tags/v1", Commit: c3}},
	}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("branches, production first", func(t *testing.T) {
		g, r := getGit(t, e, acme, "blog")
		var names []string
		for _, b := range g.Branches {
			names = append(names, b.Name)
		}
		if strings.Join(names, " ") != "main docs feature/x" {
			t.Fatalf("branches %v, want main docs feature/x (tags left out): %s", names, r.raw)
		}
		main, feat := g.Branches[0], g.Branches[2]
		if !main.Production || main.Commit != c1 || main.Deployment != "d1" || main.URL != nil || main.Alias != "" {
			t.Errorf("main %+v", main)
		}
		if !strings.Contains(string(r.raw), `"url":null`) {
			t.Errorf("the production branch's url is not null: %s", r.raw)
		}
		if feat.Production || feat.Commit != c2 || feat.Deployment != "d2" || feat.Alias != "feature-x" ||
			feat.URL == nil || *feat.URL != "http://feature-x--blog.pier.test:8080/" {
			t.Errorf("feature/x %+v (url %v)", feat, feat.URL)
		}
	})
	t.Run("another production branch", func(t *testing.T) {
		must(t, e.do(t, "PATCH", "/api/v1/sites/blog", acme, map[string]any{"production_branch": "docs"}), 200)
		g, r := getGit(t, e, acme, "blog")
		if g.ProductionBranch != "docs" || g.Branches[0].Name != "docs" || !g.Branches[0].Production || g.Branches[1].Production {
			t.Fatalf("answer %s", r.raw)
		}
	})
}

func TestSiteGitWithoutGitURL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, acme := e.tenant(t, "acme")
	e.site(t, acme, "blog")
	g, r := getGit(t, e, acme, "blog")
	if g.Remote != nil || strings.Contains(string(r.raw), "remote") {
		t.Fatalf("remote shown while git push is disabled: %s", r.raw)
	}
	empty := newEnv(t, withConfig(func(c *admin.Config) { c.GitURL = func(string) string { return "" } }))
	_, tok := empty.tenant(t, "acme")
	empty.site(t, tok, "blog")
	if _, r := getGit(t, empty, tok, "blog"); strings.Contains(string(r.raw), "remote") {
		t.Fatalf("GitURL answering \"\" shows a remote: %s", r.raw)
	}
}

// A client cannot set the git tree a deployment records (only a push
// does, and DeploymentByTree trusts it); source.type git stays accepted.
func TestClientSourceTreeIgnored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, acme := e.tenant(t, "acme")
	salt := e.site(t, acme, "blog")
	tree := strings.Repeat("a", 40)
	r := must(t, e.publish(t, acme, "blog", salt, files{"/index.html": "hi"}, map[string]any{
		"source": map[string]any{"type": "git", "branch": "main", "commit": strings.Repeat("c", 40), "tree": tree},
	}), 201)
	src, _ := r.body["source"].(map[string]any)
	if src["type"] != "git" || src["branch"] != "main" || src["tree"] != nil {
		t.Fatalf("source %v", src)
	}
	site, err := e.store.Site(context.Background(), "blog")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := e.store.DeploymentByTree(context.Background(), site.ID, tree); err == nil {
		t.Fatalf("DeploymentByTree found %s from a client's tree", d.ID)
	}
}

func TestGitLimitsRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := must(t, e.do(t, "POST", "/api/v1/tenants", e.admin, map[string]any{"name": "acme", "limits": map[string]any{"gitRepoMB": 300}}), 201)
	id := r.str("id")
	check := func(t *testing.T, r resp, repo, push, effRepo, effPush float64) {
		t.Helper()
		l, _ := r.body["limits"].(map[string]any)
		eff, _ := r.body["effective_limits"].(map[string]any)
		if num(l["gitRepoMB"]) != repo || num(l["gitPushMB"]) != push || eff["gitRepoMB"] != effRepo || eff["gitPushMB"] != effPush {
			t.Fatalf("limits %v, effective %v", l, eff)
		}
	}
	check(t, r, 300, 0, 300, 256)
	check(t, must(t, e.do(t, "GET", "/api/v1/tenants/"+id, e.admin, nil), 200), 300, 0, 300, 256)
	r = must(t, e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"plan": "pro", "limits": map[string]any{"gitPushMB": 50}}), 200)
	check(t, r, 0, 50, 4096, 50)
	check(t, must(t, e.do(t, "GET", "/api/v1/tenants/"+id, e.admin, nil), 200), 0, 50, 4096, 50)
	for _, l := range []map[string]any{{"gitRepoMB": -1}, {"gitPushMB": -5}} {
		wantErr(t, e.do(t, "PATCH", "/api/v1/tenants/"+id, e.admin, map[string]any{"limits": l}), 400, "invalid")
	}
}

// num is a JSON number, 0 when absent.
func num(v any) float64 {
	f, _ := v.(float64)
	return f
}
