package admin_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pierhq/pier/admin"
	"github.com/pierhq/pier/tenants"
)

func TestHealthzAndOpenAPINeedNoToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := must(t, e.do(t, "GET", "/healthz", "", nil), 200)
	if r.str("status") != "ok" {
		t.Errorf("healthz body %s", r.raw)
	}
	r = must(t, e.do(t, "GET", "/api/v1/openapi.json", "", nil), 200)
	if r.str("openapi") != "3.1.0" {
		t.Errorf("openapi version %q", r.str("openapi"))
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name, header string
	}{
		{"no header", ""},
		{"unknown token", "Bearer " + admin.NewTokenSecret()},
		{"wrong scheme", "Basic " + e.admin},
		{"empty bearer", "Bearer "},
		{"overlong", "Bearer " + strings.Repeat("x", 300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/tenants", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			r := e.send(t, req)
			wantErr(t, r, 401, "unauthorized")
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("scheme is case-insensitive", func(t *testing.T) {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/tenants", nil)
		req.Header.Set("Authorization", "bearer "+e.admin)
		must(t, e.send(t, req), 200)
	})
	t.Run("unknown route is a JSON 404", func(t *testing.T) {
		wantErr(t, e.do(t, "GET", "/api/v1/nope", e.admin, nil), 404, "not_found")
	})
}

func TestHashTokenAndSecret(t *testing.T) {
	t.Parallel()
	s1, s2 := admin.NewTokenSecret(), admin.NewTokenSecret()
	if !strings.HasPrefix(s1, "pier_") || len(s1) != len("pier_")+43 || s1 == s2 {
		t.Fatalf("secrets %q %q", s1, s2)
	}
	// sha256("abc")
	if got := admin.HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashToken = %s", got)
	}
}

func TestTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tenantTok := e.tenant(t, "acme")

	t.Run("create defaults plan to free and shows effective limits", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/tenants", e.admin, map[string]any{
			"name": "globex", "tags": []string{"env:prod"}, "limits": map[string]int{"cpuMs": 30},
		}), 201)
		if r.str("plan") != "free" || !strings.HasPrefix(r.str("id"), "t_") {
			t.Fatalf("tenant %s", r.raw)
		}
		eff := r.body["effective_limits"].(map[string]any)
		if eff["cpuMs"] != 30.0 || eff["subRequests"] != 5.0 {
			t.Errorf("effective_limits %v", eff)
		}
		if strings.Contains(string(r.raw), "salt") {
			t.Errorf("tenant answer shows the salt: %s", r.raw)
		}
	})
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"bad name", map[string]any{"name": "Bad_Name"}, 400, "invalid", "name"},
		{"name with --", map[string]any{"name": "a--b"}, 400, "invalid", "name"},
		{"unknown plan", map[string]any{"name": "x1", "plan": "gold"}, 400, "invalid", "plan"},
		{"bad tag", map[string]any{"name": "x2", "tags": []string{"nocolon"}}, 400, "invalid", "tags"},
		{"too many tags", map[string]any{"name": "x3", "tags": []string{"a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7", "a:8", "a:9"}}, 400, "invalid", "tags"},
		{"negative limit", map[string]any{"name": "x4", "limits": map[string]int{"memoryMB": -1}}, 400, "invalid", "limits.memoryMB"},
		{"negative quota", map[string]any{"name": "x4", "limits": map[string]int{"sites": -1}}, 400, "invalid", "limits.sites"},
		{"unknown field", map[string]any{"name": "x5", "colour": "red"}, 400, "invalid", "colour"},
		{"wrong type", map[string]any{"name": 5}, 400, "invalid", "name"},
		{"malformed JSON", "{", 400, "invalid", "body"},
		{"duplicate name", map[string]any{"name": "acme"}, 409, "conflict", ""},
	} {
		t.Run("create rejects "+tc.name, func(t *testing.T) {
			r := e.do(t, "POST", "/api/v1/tenants", e.admin, tc.body)
			wantErr(t, r, tc.status, tc.code)
			if tc.field != "" && r.errField("field") != tc.field {
				t.Errorf("field %v, want %s", r.errField("field"), tc.field)
			}
		})
	}
	t.Run("tenant token cannot create, update or delete tenants", func(t *testing.T) {
		wantErr(t, e.do(t, "POST", "/api/v1/tenants", tenantTok, map[string]any{"name": "mine"}), 403, "forbidden")
		wantErr(t, e.do(t, "PATCH", "/api/v1/tenants/acme", tenantTok, map[string]any{"plan": "pro"}), 403, "forbidden")
		wantErr(t, e.do(t, "DELETE", "/api/v1/tenants/acme", tenantTok, nil), 403, "forbidden")
	})
	t.Run("list by tag", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants?tag=env:prod", e.admin, nil), 200)
		list := r.body["tenants"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["name"] != "globex" {
			t.Fatalf("tenants %s", r.raw)
		}
		r = must(t, e.do(t, "GET", "/api/v1/tenants", e.admin, nil), 200)
		if n := len(r.body["tenants"].([]any)); n != 2 {
			t.Fatalf("%d tenants, want 2", n)
		}
	})
	t.Run("tenant token lists only itself", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants", tenantTok, nil), 200)
		list := r.body["tenants"].([]any)
		if len(list) != 1 || list[0].(map[string]any)["name"] != "acme" {
			t.Fatalf("tenants %s", r.raw)
		}
		r = must(t, e.do(t, "GET", "/api/v1/tenants?tag=env:prod", tenantTok, nil), 200)
		if n := len(r.body["tenants"].([]any)); n != 0 {
			t.Fatalf("%d tenants, want 0", n)
		}
	})
	t.Run("get by name and id", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants/acme", tenantTok, nil), 200)
		must(t, e.do(t, "GET", "/api/v1/tenants/"+r.str("id"), e.admin, nil), 200)
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/nobody", e.admin, nil), 404, "not_found")
	})
	t.Run("update", func(t *testing.T) {
		r := must(t, e.do(t, "PATCH", "/api/v1/tenants/globex", e.admin, map[string]any{
			"plan": "pro", "tags": []string{"env:dev"}, "limits": map[string]int{},
		}), 200)
		eff := r.body["effective_limits"].(map[string]any)
		if r.str("plan") != "pro" || eff["cpuMs"] != 20.0 {
			t.Fatalf("tenant %s", r.raw)
		}
		r = must(t, e.do(t, "GET", "/api/v1/tenants/globex", e.admin, nil), 200)
		if r.str("plan") != "pro" || r.body["tags"].([]any)[0] != "env:dev" {
			t.Fatalf("stored tenant %s", r.raw)
		}
		wantErr(t, e.do(t, "PATCH", "/api/v1/tenants/globex", e.admin, map[string]any{"plan": "gold"}), 400, "invalid")
		wantErr(t, e.do(t, "PATCH", "/api/v1/tenants/globex", e.admin, map[string]any{"limits": map[string]int{"cpuMs": -5}}), 400, "invalid")
		wantErr(t, e.do(t, "PATCH", "/api/v1/tenants/nobody", e.admin, map[string]any{"plan": "pro"}), 404, "not_found")
	})
	t.Run("delete", func(t *testing.T) {
		e.site(t, e.tokenFor(t, "globex"), "globex-www")
		before := len(e.acts.list())
		must(t, e.do(t, "DELETE", "/api/v1/tenants/globex", e.admin, nil), 204)
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/globex", e.admin, nil), 404, "not_found")
		wantErr(t, e.do(t, "GET", "/api/v1/sites/globex-www", e.admin, nil), 404, "not_found")
		if acts := e.acts.list(); len(acts) != before+1 || acts[len(acts)-1].Name != "globex-www" {
			t.Errorf("OnActivate calls %v", acts)
		}
		wantErr(t, e.do(t, "DELETE", "/api/v1/tenants/globex", e.admin, nil), 404, "not_found")
	})
}

// tokenFor creates a tenant token for tenant ref.
func (e *env) tokenFor(t testing.TB, ref string) string {
	t.Helper()
	return must(t, e.do(t, "POST", "/api/v1/tenants/"+ref+"/tokens", e.admin, map[string]any{"name": "t"}), 201).str("token")
}

func TestTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acmeID, acmeTok := e.tenant(t, "acme")
	_, otherTok := e.tenant(t, "other")

	t.Run("tenant creates and uses its own token", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/tenants/acme/tokens", acmeTok, map[string]any{"name": "deploy"}), 201)
		if !strings.HasPrefix(r.str("token"), "pier_") || !strings.HasPrefix(r.str("id"), "tok_") || r.str("tenant_id") != acmeID {
			t.Fatalf("token %s", r.raw)
		}
		must(t, e.do(t, "GET", "/api/v1/tenants/acme", r.str("token"), nil), 200)
		stored, err := e.store.TokenByHash(context.Background(), admin.HashToken(r.str("token")))
		if err != nil || stored.ID != r.str("id") {
			t.Fatalf("stored token %+v, %v", stored, err)
		}
	})
	t.Run("listing never shows secrets", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/tenants/acme/tokens", acmeTok, nil), 200)
		if n := len(r.body["tokens"].([]any)); n != 2 {
			t.Fatalf("%d tokens, want 2: %s", n, r.raw)
		}
		if strings.Contains(string(r.raw), "pier_") || strings.Contains(string(r.raw), `"token"`) {
			t.Fatalf("listing shows a secret: %s", r.raw)
		}
	})
	t.Run("name is required", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/tenants/acme/tokens", acmeTok, map[string]any{"name": ""})
		wantErr(t, r, 400, "invalid")
		if r.errField("field") != "name" {
			t.Errorf("field %v", r.errField("field"))
		}
	})
	t.Run("admin tokens are admin-only", func(t *testing.T) {
		wantErr(t, e.do(t, "POST", "/api/v1/tokens", acmeTok, map[string]any{"name": "root"}), 403, "forbidden")
		wantErr(t, e.do(t, "GET", "/api/v1/tokens", acmeTok, nil), 403, "forbidden")
		r := must(t, e.do(t, "POST", "/api/v1/tokens", e.admin, map[string]any{"name": "ops"}), 201)
		if _, ok := r.body["tenant_id"]; ok {
			t.Errorf("admin token has a tenant: %s", r.raw)
		}
		must(t, e.do(t, "POST", "/api/v1/tenants", r.str("token"), map[string]any{"name": "made-by-ops"}), 201)
		l := must(t, e.do(t, "GET", "/api/v1/tokens", e.admin, nil), 200)
		if n := len(l.body["tokens"].([]any)); n != 2 {
			t.Fatalf("%d admin tokens, want 2", n)
		}
	})
	t.Run("delete", func(t *testing.T) {
		victim := must(t, e.do(t, "POST", "/api/v1/tenants/acme/tokens", e.admin, map[string]any{"name": "old"}), 201)
		wantErr(t, e.do(t, "DELETE", "/api/v1/tokens/"+victim.str("id"), otherTok, nil), 404, "not_found")
		must(t, e.do(t, "DELETE", "/api/v1/tokens/"+victim.str("id"), acmeTok, nil), 204)
		wantErr(t, e.do(t, "GET", "/api/v1/tenants/acme", victim.str("token"), nil), 401, "unauthorized")
		wantErr(t, e.do(t, "DELETE", "/api/v1/tokens/"+victim.str("id"), e.admin, nil), 404, "not_found")
		wantErr(t, e.do(t, "DELETE", "/api/v1/tokens/tok_boot", acmeTok, nil), 404, "not_found")
	})
}

func TestSites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acmeID, acmeTok := e.tenant(t, "acme")
	_, otherTok := e.tenant(t, "other")
	acme, err := e.store.Tenant(context.Background(), acmeID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tenant token creates without naming the tenant", func(t *testing.T) {
		r := must(t, e.do(t, "POST", "/api/v1/sites", acmeTok, map[string]any{"name": "www"}), 201)
		if r.str("url") != "http://www.pier.test:8080/" || r.str("tenant_id") != acmeID || !strings.HasPrefix(r.str("id"), "s_") {
			t.Fatalf("site %s", r.raw)
		}
		if got := mustHex(t, r.str("hash_salt")); string(got) != string(acme.Salt) {
			t.Fatalf("hash_salt is not the tenant's salt")
		}
	})
	t.Run("admin names the tenant", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/sites", e.admin, map[string]any{"name": "blog"})
		wantErr(t, r, 400, "invalid")
		if r.errField("field") != "tenant" {
			t.Errorf("field %v", r.errField("field"))
		}
		r = must(t, e.do(t, "POST", "/api/v1/sites", e.admin, map[string]any{"name": "blog", "tenant": "acme"}), 201)
		if r.str("tenant_id") != acmeID {
			t.Fatalf("site %s", r.raw)
		}
	})
	for _, tc := range []struct {
		name   string
		token  string
		body   map[string]any
		status int
		code   string
	}{
		{"bad name", acmeTok, map[string]any{"name": "WWW"}, 400, "invalid"},
		{"preview separator in name", acmeTok, map[string]any{"name": "a--b"}, 400, "invalid"},
		{"name taken by own tenant", acmeTok, map[string]any{"name": "www"}, 409, "conflict"},
		{"name taken platform-wide", otherTok, map[string]any{"name": "www"}, 409, "conflict"},
		{"unknown tenant", e.admin, map[string]any{"name": "x", "tenant": "nobody"}, 404, "not_found"},
	} {
		t.Run("create rejects "+tc.name, func(t *testing.T) {
			wantErr(t, e.do(t, "POST", "/api/v1/sites", tc.token, tc.body), tc.status, tc.code)
		})
	}
	t.Run("list", func(t *testing.T) {
		e.site(t, otherTok, "other-www")
		for _, tc := range []struct {
			name, token, query string
			want               []string
		}{
			{"admin sees all", e.admin, "", []string{"blog", "other-www", "www"}},
			{"admin filters by tenant", e.admin, "?tenant=other", []string{"other-www"}},
			{"tenant sees its own", acmeTok, "", []string{"blog", "www"}},
			{"tenant names itself", acmeTok, "?tenant=acme", []string{"blog", "www"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := must(t, e.do(t, "GET", "/api/v1/sites"+tc.query, tc.token, nil), 200)
				var got []string
				for _, s := range r.body["sites"].([]any) {
					s := s.(map[string]any)
					got = append(got, s["name"].(string))
					if s["hash_salt"] == "" || s["url"] == "" {
						t.Errorf("site %v lacks url or hash_salt", s)
					}
				}
				if strings.Join(got, ",") != strings.Join(tc.want, ",") {
					t.Fatalf("sites %v, want %v", got, tc.want)
				}
			})
		}
	})
	t.Run("get by name and id", func(t *testing.T) {
		r := must(t, e.do(t, "GET", "/api/v1/sites/www", acmeTok, nil), 200)
		must(t, e.do(t, "GET", "/api/v1/sites/"+r.str("id"), e.admin, nil), 200)
		wantErr(t, e.do(t, "GET", "/api/v1/sites/nope", acmeTok, nil), 404, "not_found")
	})
	t.Run("delete invalidates the edge", func(t *testing.T) {
		must(t, e.do(t, "DELETE", "/api/v1/sites/blog", acmeTok, nil), 204)
		wantErr(t, e.do(t, "GET", "/api/v1/sites/blog", acmeTok, nil), 404, "not_found")
		acts := e.acts.list()
		if len(acts) == 0 || acts[len(acts)-1].Name != "blog" {
			t.Fatalf("OnActivate calls %v", acts)
		}
		wantErr(t, e.do(t, "DELETE", "/api/v1/sites/blog", acmeTok, nil), 404, "not_found")
	})
}

// TestTenantIsolation checks that a tenant token gets 404 — never 403 — for
// everything of another tenant.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aID, aTok := e.tenant(t, "alpha")
	_, bTok := e.tenant(t, "bravo")
	salt := e.site(t, aTok, "alpha-www")
	fs := files{"/index.html": "<h1>alpha</h1>", "/b.txt": "pending"}
	dep := must(t, e.publish(t, aTok, "alpha-www", salt, files{"/index.html": "<h1>alpha</h1>"}, nil), 201)
	up, missing := e.startUpload(t, aTok, "alpha-www", salt, fs)
	if len(missing) != 1 {
		t.Fatalf("missing %v", missing)
	}
	aTokID := must(t, e.do(t, "GET", "/api/v1/tenants/alpha/tokens", aTok, nil), 200).body["tokens"].([]any)[0].(map[string]any)["id"].(string)
	dpath := "/api/v1/sites/alpha-www/deployments/" + dep.str("id")
	pending := []byte("pending")

	for _, tc := range []struct {
		name, method, path string
		body               any
	}{
		{"tenant by name", "GET", "/api/v1/tenants/alpha", nil},
		{"tenant by id", "GET", "/api/v1/tenants/" + aID, nil},
		{"tenant tokens", "GET", "/api/v1/tenants/alpha/tokens", nil},
		{"create tenant token", "POST", "/api/v1/tenants/alpha/tokens", map[string]any{"name": "x"}},
		{"delete tenant token", "DELETE", "/api/v1/tokens/" + aTokID, nil},
		{"site", "GET", "/api/v1/sites/alpha-www", nil},
		{"sites of tenant", "GET", "/api/v1/sites?tenant=alpha", nil},
		{"create site for tenant", "POST", "/api/v1/sites", map[string]any{"name": "sneaky", "tenant": "alpha"}},
		{"delete site", "DELETE", "/api/v1/sites/alpha-www", nil},
		{"upload session on site", "POST", "/api/v1/sites/alpha-www/uploads", manifestOf(salt, fs)},
		{"blob upload", "PUT", "/api/v1/uploads/" + up + "/blobs/" + missing[0], pending},
		{"deployments", "GET", "/api/v1/sites/alpha-www/deployments", nil},
		{"deployment", "GET", dpath, nil},
		{"activate", "POST", dpath + "/activate", nil},
		{"deploy", "POST", "/api/v1/sites/alpha-www/deployments", map[string]any{"upload": up}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, tc.method, tc.path, bTok, tc.body)
			wantErr(t, r, 404, "not_found")
			if !strings.Contains(tc.path, aID) && strings.Contains(string(r.raw), aID) {
				t.Errorf("answer leaks the tenant id: %s", r.raw)
			}
		})
	}
	t.Run("deploy the other tenant's session to an own site", func(t *testing.T) {
		e.site(t, bTok, "bravo-www")
		wantErr(t, e.do(t, "POST", "/api/v1/sites/bravo-www/deployments", bTok, map[string]any{"upload": up}), 404, "not_found")
	})
	t.Run("nothing of alpha changed", func(t *testing.T) {
		must(t, e.do(t, "GET", "/api/v1/sites/alpha-www", aTok, nil), 200)
		must(t, e.do(t, "GET", "/api/v1/tenants/alpha/tokens", aTok, nil), 200)
		must(t, e.putBlob(t, aTok, up, missing[0], pending), 204)
		if got := e.activeDeployment(t, aTok, "alpha-www"); got != dep.str("id") {
			t.Fatalf("active %s, want %s", got, dep.str("id"))
		}
	})
}

func TestDisabledTenantMayOnlyRead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	before := len(e.acts.list())
	must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"disabled": true}), 200)
	if len(e.acts.list()) != before+1 {
		t.Errorf("disabling did not invalidate the tenant's sites")
	}
	must(t, e.do(t, "GET", "/api/v1/sites/www", tok, nil), 200)
	for _, tc := range []struct{ name, method, path string }{
		{"create site", "POST", "/api/v1/sites"},
		{"delete site", "DELETE", "/api/v1/sites/www"},
		{"upload", "POST", "/api/v1/sites/www/uploads"},
		{"token", "POST", "/api/v1/tenants/acme/tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, e.do(t, tc.method, tc.path, tok, map[string]any{"name": "x"}), 403, "tenant_disabled")
		})
	}
	must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, map[string]any{"disabled": false}), 200)
	must(t, e.do(t, "POST", "/api/v1/sites", tok, map[string]any{"name": "www2"}), 201)
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("X-Request-Id", "req-42")
	r := must(t, e.send(t, req), 200)
	if r.header.Get("X-Request-Id") != "req-42" {
		t.Errorf("X-Request-Id %q", r.header.Get("X-Request-Id"))
	}
	wantErr(t, e.do(t, "GET", "/api/v1/tenants", "pier_not-a-real-token", nil), 401, "unauthorized")
	log := e.logBuf.String()
	for _, want := range []string{`"request_id":"req-42"`, `"method":"GET"`, `"path":"/api/v1/tenants"`, `"status":200`, `"status":401`, `"token_id":"tok_boot"`, `"duration"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s:\n%s", want, log)
		}
	}
	for _, secret := range []string{e.admin, "pier_not-a-real-token"} {
		if strings.Contains(log, secret) {
			t.Fatalf("log contains a token secret")
		}
	}
}

// brokenStore fails Tenants and TenantsPage with an error whose text must not reach the
// client.
type brokenStore struct{ tenants.Store }

func (brokenStore) Tenants(context.Context, tenants.TenantFilter) ([]tenants.Tenant, error) {
	return nil, errors.New("database file /secret/path is corrupt")
}

func (brokenStore) TenantsPage(context.Context, tenants.TenantFilter, tenants.PageRequest) ([]tenants.Tenant, string, error) {
	return nil, "", errors.New("database file /secret/path is corrupt")
}

func TestInternalErrorsAreHiddenAndLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withStore(func(s tenants.Store) tenants.Store { return brokenStore{s} }))
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/tenants", nil)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("X-Request-Id", "req-500")
	r := e.send(t, req)
	wantErr(t, r, 500, "internal")
	if strings.Contains(string(r.raw), "secret") {
		t.Fatalf("answer shows the internal cause: %s", r.raw)
	}
	log := e.logBuf.String()
	if n := strings.Count(log, "/secret/path is corrupt"); n != 1 {
		t.Fatalf("cause logged %d times, want once:\n%s", n, log)
	}
	if !strings.Contains(log, `"request_id":"req-500"`) {
		t.Errorf("log lacks the request id:\n%s", log)
	}
}

// TestLimitChangeInvalidatesSites: a changed plan or override reaches the
// edge at once (its routes carry the worker limits and the request rate);
// a PATCH that changes no effective limit does not invalidate.
func TestLimitChangeInvalidatesSites(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, tok := e.tenant(t, "acme")
	e.site(t, tok, "www")
	for _, tc := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"override", map[string]any{"limits": map[string]int{"requestsPerSecond": 5}}, 1},
		{"same override", map[string]any{"limits": map[string]int{"requestsPerSecond": 5}}, 0},
		{"plan", map[string]any{"plan": "pro"}, 1},
		{"tags only", map[string]any{"tags": []string{"env:dev"}}, 0},
	} {
		before := len(e.acts.list())
		must(t, e.do(t, "PATCH", "/api/v1/tenants/acme", e.admin, tc.body), 200)
		if got := len(e.acts.list()) - before; got != tc.want {
			t.Errorf("%s: %d sites invalidated, want %d", tc.name, got, tc.want)
		}
	}
}
