package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pierhq/pier/internal/apiclient"
)

// TestSiteTokensCLI: a tenant creates a site token with the CLI, a CI job
// deploys and rolls back that one site with it, and nothing else.
func TestSiteTokensCLI(t *testing.T) {
	api := newRealAPI(t)
	adm := api.admin
	api.must(t, adm, "tenants", "create", "acme")
	tenantTok := strings.TrimSpace(api.must(t, adm, "tokens", "create", "--tenant", "acme", "--name", "owner"))
	api.must(t, tenantTok, "sites", "create", "blog")
	api.must(t, tenantTok, "sites", "create", "docs")

	var created apiclient.Token
	if err := json.Unmarshal([]byte(api.must(t, tenantTok, "tokens", "create", "--site", "blog", "--name", "ci", "--json")), &created); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(created.Secret, "pier_") || created.Site != "blog" || created.SiteID == "" || created.Name != "ci" {
		t.Fatalf("tokens create --site --json: %+v", created)
	}
	res := api.pier(t, tenantTok, "tokens", "create", "--site", "blog", "--name", "spare")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "pier_") || !strings.Contains(res.stderr, "not shown again") {
		t.Fatalf("tokens create --site: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	siteTok := created.Secret

	t.Run("list", func(t *testing.T) {
		out := api.must(t, tenantTok, "tokens", "list", "--site", "blog")
		if !strings.Contains(out, created.ID) || !strings.Contains(out, "spare") || strings.Contains(out, "pier_") {
			t.Errorf("tokens list --site:\n%s", out)
		}
		if out := api.must(t, tenantTok, "tokens", "list", "--site", "docs"); strings.Contains(out, created.ID) {
			t.Errorf("tokens list --site docs shows blog's token:\n%s", out)
		}
		if out := api.must(t, tenantTok, "tokens", "list", "--tenant", "acme"); !strings.Contains(out, created.ID) || !strings.Contains(out, "site "+created.SiteID) {
			t.Errorf("tokens list --tenant omits the site token or its scope:\n%s", out)
		}
	})
	t.Run("deploy and roll back its site", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"index.html": "v1"})
		var first deployResult
		if err := json.Unmarshal([]byte(api.must(t, siteTok, "deploy", dir, "--site", "blog", "--json")), &first); err != nil {
			t.Fatal(err)
		}
		writeTree(t, dir, map[string]string{"index.html": "v2"})
		api.must(t, siteTok, "deploy", dir, "--site", "blog")
		if out := api.must(t, siteTok, "rollback", "--site", "blog", first.Deployment); !strings.Contains(out, first.Deployment) {
			t.Errorf("rollback:\n%s", out)
		}
		if out := api.must(t, siteTok, "sites", "list"); !strings.Contains(out, "blog") || strings.Contains(out, "docs") {
			t.Errorf("sites list with a site token:\n%s", out)
		}
	})
	other := t.TempDir()
	writeTree(t, other, map[string]string{"index.html": "not mine"})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"deploy another site", []string{"deploy", other, "--site", "docs"}, "(not_found)"},
		{"create a site", []string{"sites", "create", "more"}, "(site_token_forbidden)"},
		{"delete its site", []string{"sites", "delete", "blog"}, "(site_token_forbidden)"},
		{"mint a token", []string{"tokens", "create", "--site", "blog", "--name", "x"}, "(site_token_forbidden)"},
		{"revoke a token", []string{"tokens", "delete", created.ID}, "(site_token_forbidden)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := api.pier(t, siteTok, tc.args...)
			if res.code != 1 || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("pier %s: exit %d, stderr %q; want exit 1 and %s", strings.Join(tc.args, " "), res.code, res.stderr, tc.want)
			}
		})
	}
	t.Run("revoked", func(t *testing.T) {
		api.must(t, tenantTok, "tokens", "delete", created.ID)
		if res := api.pier(t, siteTok, "sites", "list"); res.code != 1 || !strings.Contains(res.stderr, "(unauthorized)") {
			t.Errorf("revoked site token: exit %d, stderr %q", res.code, res.stderr)
		}
	})
}

func TestTokensFlagsExclude(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"site and tenant", []string{"tokens", "create", "--site", "blog", "--tenant", "acme", "--name", "x"}, "exclude each other"},
		{"site and admin", []string{"tokens", "create", "--site", "blog", "--admin", "--name", "x"}, "exclude each other"},
		{"no owner names --site", []string{"tokens", "create", "--name", "x"}, "--site S"},
		{"list needs one", []string{"tokens", "list"}, "--tenant is required"},
		{"list site and tenant", []string{"tokens", "list", "--site", "blog", "--tenant", "acme"}, "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCLI(t, nil, false, tt.args...)
			if res.code != exitUsage || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", res.code, res.stderr, exitUsage, tt.want)
			}
		})
	}
}
